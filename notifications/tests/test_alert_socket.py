"""/ws/alerts/ with Channels' WebsocketCommunicator: who receives what, replay after reconnecting, refusals."""

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.db.models import Q
from rest_framework_simplejwt.tokens import AccessToken

from config.asgi import application
from lib.realtime import PLATFORM_GROUP, hospital_group, user_group
from notifications import services

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]


def _raise(key, *, audience, groups, title="Test alert"):
    return services.alert_raise(
        kind="shortage", title=title, body="b", severity="warning", event_key=key, audience=audience, groups=groups
    )


async def _open(user, last_id=None):
    path = f"/ws/alerts/?token={AccessToken.for_user(user)}" + (f"&last_id={last_id}" if last_id is not None else "")
    communicator = WebsocketCommunicator(application, path)
    connected, _ = await communicator.connect(timeout=5)
    assert connected
    return communicator


async def test_staff_receive_their_hospitals_alerts_and_not_others(bob, carol, hospital_a, hospital_b):
    bob_socket, carol_socket = await _open(bob), await _open(carol)
    alert = await sync_to_async(_raise)(
        "a1", audience=Q(memberships__hospital=hospital_a), groups=[hospital_group(hospital_a.pk)], title="Alpha only"
    )
    message = await bob_socket.receive_json_from(timeout=5)
    assert {"id", "kind", "title", "body", "severity", "created"} <= set(message)
    assert message["id"] == alert.pk and message["kind"] == "shortage" and message["title"] == "Alpha only"
    assert await carol_socket.receive_nothing(timeout=0.3)
    await bob_socket.disconnect()
    await carol_socket.disconnect()


async def test_platform_administrators_hear_everything_once(root, hospital_a):
    socket = await _open(root)
    await sync_to_async(_raise)("p1", audience=Q(pk=root.pk), groups=[hospital_group(hospital_a.pk), PLATFORM_GROUP])
    first = await socket.receive_json_from(timeout=5)
    assert first["title"] == "Test alert"
    assert await socket.receive_nothing(timeout=0.3)  # not twice, though it was sent to two of its groups
    await socket.disconnect()


async def test_reconnecting_with_the_last_id_replays_what_was_missed(dave):
    socket = await _open(dave)
    seen = await sync_to_async(_raise)("r1", audience=Q(pk=dave.pk), groups=[user_group(dave.pk)], title="first")
    assert (await socket.receive_json_from(timeout=5))["id"] == seen.pk
    await socket.disconnect()
    missed = [
        await sync_to_async(_raise)(f"r{n}", audience=Q(pk=dave.pk), groups=[user_group(dave.pk)], title=f"missed {n}")
        for n in (2, 3)
    ]
    socket = await _open(dave, last_id=seen.pk)
    replayed = [await socket.receive_json_from(timeout=5) for _ in missed]
    assert [m["id"] for m in replayed] == [a.pk for a in missed]
    assert [m["title"] for m in replayed] == ["missed 2", "missed 3"]
    assert await socket.receive_nothing(timeout=0.3)
    await socket.disconnect()


@pytest.mark.parametrize("query", ["", "?token=bad", "?token="])
async def test_anonymous_and_bad_tokens_are_refused(query):
    communicator = WebsocketCommunicator(application, f"/ws/alerts/{query}")
    connected, code = await communicator.connect(timeout=5)
    assert not connected and code == 4401


@pytest.mark.parametrize("last_id", ["²", "9" * 5000, "-1", "abc"])
async def test_a_last_id_that_is_no_id_replays_nothing_and_keeps_the_socket(dave, last_id):
    socket = await _open(dave, last_id=last_id)
    live = await sync_to_async(_raise)("l1", audience=Q(pk=dave.pk), groups=[user_group(dave.pk)], title="live")
    assert (await socket.receive_json_from(timeout=5))["id"] == live.pk
    await socket.disconnect()
