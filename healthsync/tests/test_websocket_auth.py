"""The user socket: session or JWT (query or header) authenticates; anonymous and bad tokens are refused."""

import pytest
from channels.testing import WebsocketCommunicator
from rest_framework_simplejwt.tokens import AccessToken

from healthsync.asgi import application
from healthsync.realtime import push, user_group

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]


async def _connect(path, headers=None):
    communicator = WebsocketCommunicator(application, path, headers=headers or [])
    connected, code = await communicator.connect(timeout=5)
    return communicator, connected, code


@pytest.fixture
def token(dave):
    return str(AccessToken.for_user(dave))


async def test_token_in_query_receives_its_users_pushes(dave, token):
    communicator, connected, _ = await _connect(f"/ws/system/?token={token}")
    assert connected
    from asgiref.sync import sync_to_async

    await sync_to_async(push)(user_group(dave.pk), {"kind": "test", "title": "hello"})
    assert await communicator.receive_json_from(timeout=5) == {"kind": "test", "title": "hello"}
    await communicator.disconnect()


async def test_bearer_header_authenticates(token):
    communicator, connected, _ = await _connect("/ws/system/", headers=[(b"authorization", f"Bearer {token}".encode())])
    assert connected
    await communicator.disconnect()


@pytest.mark.parametrize("path", ["/ws/system/", "/ws/system/?token=garbage", "/ws/system/?token="])
async def test_anonymous_and_bad_tokens_are_refused(db, path):
    communicator, connected, code = await _connect(path)
    assert not connected
    assert code == 4401


async def test_a_token_issued_before_a_password_change_is_refused(dave, token):
    from asgiref.sync import sync_to_async

    dave.set_password("a-new-long-passphrase-2026")
    await sync_to_async(dave.save)()
    communicator, connected, code = await _connect(f"/ws/system/?token={token}")
    assert not connected and code == 4401


async def test_cross_site_browser_origin_is_refused(token):
    communicator, connected, _ = await _connect(f"/ws/system/?token={token}", headers=[(b"origin", b"https://evil.example")])
    assert not connected
