"""/ws/analyses/ pushes the status of the user's own analyses."""

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from rest_framework_simplejwt.tokens import AccessToken

from config.asgi import application
from imaging import events

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]


async def test_status_changes_reach_only_the_requester(bob, carol):
    sockets = {}
    for user in (bob, carol):
        communicator = WebsocketCommunicator(application, f"/ws/analyses/?token={AccessToken.for_user(user)}")
        assert (await communicator.connect(timeout=5))[0]
        sockets[user.pk] = communicator
    await sync_to_async(events.analyses_status_changed.send)(
        sender="imaging", analysis_ids=[41, 42], user_id=bob.pk, status="running"
    )
    assert await sockets[bob.pk].receive_json_from(timeout=5) == {"analysis_id": 41, "status": "running"}
    assert await sockets[bob.pk].receive_json_from(timeout=5) == {"analysis_id": 42, "status": "running"}
    assert await sockets[carol.pk].receive_nothing(timeout=0.3)
    for communicator in sockets.values():
        await communicator.disconnect()


async def test_anonymous_is_refused():
    communicator = WebsocketCommunicator(application, "/ws/analyses/")
    connected, code = await communicator.connect(timeout=5)
    assert not connected and code == 4401
