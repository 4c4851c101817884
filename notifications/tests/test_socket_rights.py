"""/ws/alerts/ follows the account's rights while the socket is open (security test, issue #26 item 3):
a revoked role stops the hospital's alerts at once, a granted one starts them, a deactivated account is let go."""

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.db import transaction
from django.db.models import Q
from rest_framework_simplejwt.tokens import AccessToken

from config.asgi import application
from healthsync import invitations
from healthsync import services as core_services
from healthsync.models import Membership
from lib.realtime import hospital_group, rights_changed
from notifications import services

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]


async def _open(user):
    communicator = WebsocketCommunicator(application, f"/ws/alerts/?token={AccessToken.for_user(user)}")
    connected, _ = await communicator.connect(timeout=5)
    assert connected
    return communicator


def _hospital_alert(key, hospital):
    return services.alert_raise(
        kind="shortage",
        title=f"{hospital.name} only",
        body="b",
        severity="warning",
        event_key=key,
        audience=Q(memberships__hospital=hospital),
        groups=[hospital_group(hospital.pk)],
    )


async def test_a_socket_opened_before_the_role_was_revoked_stops_hearing_the_hospital(alice, bob, hospital_a):
    bob_socket, alice_socket = await _open(bob), await _open(alice)
    await sync_to_async(_hospital_alert)("before", hospital_a)
    assert (await bob_socket.receive_json_from(timeout=5))["title"] == "Alpha General only"
    assert (await alice_socket.receive_json_from(timeout=5))["title"] == "Alpha General only"

    membership = await sync_to_async(Membership.objects.get)(user=bob, hospital=hospital_a)
    await sync_to_async(core_services.membership_revoke)(membership=membership, by=alice)
    await sync_to_async(_hospital_alert)("after", hospital_a)

    assert (await alice_socket.receive_json_from(timeout=5))[
        "title"
    ] == "Alpha General only"  # it was sent to the hospital
    assert await bob_socket.receive_nothing(timeout=0.5)
    await bob_socket.disconnect()
    await alice_socket.disconnect()


def _invited_and_accepted(hospital, user, *, by):
    invitation = invitations.invitation_send(
        hospital=hospital, email=user.email, role="medical_staff", by=by, site="http://testserver"
    )
    invitations.invitation_accept(invitation=invitation, user=user)


async def test_a_role_granted_while_the_socket_is_open_is_heard_at_once(bob, carol, hospital_b):
    bob_socket = await _open(bob)
    await sync_to_async(_invited_and_accepted)(hospital_b, bob, by=carol)
    # The socket joins once it has read the new role, a moment after the grant: an alert raised before
    # that is in bob's inbox (replayed on reconnecting), not on this socket. So ask a few times.
    for attempt in range(20):
        await sync_to_async(_hospital_alert)(f"beta-{attempt}", hospital_b)
        if not await bob_socket.receive_nothing(timeout=0.25):  # (a timed-out receive would end the application)
            heard = await bob_socket.receive_json_from(timeout=5)
            break
    else:
        pytest.fail("the socket never heard the hospital it was given a role at")
    assert heard["title"] == "Beta Infirmary only"
    await bob_socket.disconnect()


async def test_a_deactivated_account_is_let_go(bob, hospital_a):
    bob_socket = await _open(bob)

    def deactivate():
        with transaction.atomic():
            bob.is_active = False
            bob.save(update_fields=["is_active"])
            rights_changed(bob.pk)  # as the console's account page does on saving is_active

    await sync_to_async(deactivate)()
    assert (await bob_socket.receive_output(timeout=5)) == {"type": "websocket.close", "code": 4403}
