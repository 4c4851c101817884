"""The user socket: session or JWT (query or header) authenticates; anonymous and bad tokens are refused."""

import pytest
from channels.testing import WebsocketCommunicator
from rest_framework_simplejwt.tokens import AccessToken

from config.asgi import application
from lib.realtime import push, user_group

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
    communicator, connected, _ = await _connect(
        f"/ws/system/?token={token}", headers=[(b"origin", b"https://evil.example")]
    )
    assert not connected


# --- Origin: the same scheme, host and port as the socket (security test, issue #26, item 10) ------


async def _connects(token, host: bytes, origin: bytes, *extra) -> bool:
    communicator, connected, _ = await _connect(
        f"/ws/system/?token={token}", headers=[(b"host", host), (b"origin", origin), *extra]
    )
    if connected:
        await communicator.disconnect()
    return connected


async def test_only_a_page_of_the_same_scheme_host_and_port_connects(token):
    assert await _connects(token, b"127.0.0.1:8000", b"http://127.0.0.1:8000")
    for origin in (
        b"http://127.0.0.1:9999",  # another port of an allowed host: another site
        b"http://127.0.0.1",  # port 80; the socket is on 8000
        b"https://127.0.0.1:8000",  # another scheme
        b"http://localhost:8000",  # another allowed host
        b"null",
    ):
        assert not await _connects(token, b"127.0.0.1:8000", origin), origin
    assert not await _connects(token, b"evil.example", b"http://evil.example")  # a Host outside ALLOWED_HOSTS


async def test_behind_a_tls_proxy_the_origin_is_https_on_the_default_port(settings, token):
    settings.ALLOWED_HOSTS = ["healthsync.example"]
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    proxied = (b"x-forwarded-proto", b"https")
    for origin, expected in [
        (b"https://healthsync.example", True),
        (b"https://healthsync.example:443", True),
        (b"http://healthsync.example", False),
        (b"https://healthsync.example:8443", False),
    ]:
        assert await _connects(token, b"healthsync.example", origin, proxied) is expected, origin


async def test_origins_of_csrf_trusted_origins_connect_from_elsewhere(settings, token):
    settings.ALLOWED_HOSTS = ["healthsync.example"]
    settings.CSRF_TRUSTED_ORIGINS = ["https://console.example", "https://*.wards.example"]
    for origin, expected in [
        (b"https://console.example", True),
        (b"https://a.wards.example", True),
        (b"https://console.example:8443", False),
        (b"http://a.wards.example", False),
        (b"https://evil.example", False),
    ]:
        assert await _connects(token, b"healthsync.example", origin) is expected, origin
