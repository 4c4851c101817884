"""HEALTHSYNC_STAFF_SECOND_FACTOR: staff must have an authenticator app. Without one, a console
session reaches only the pages that turn it on, session API calls and sockets are refused, and
the API gives no token; donors and staff with an app work as before. Off (the default), nothing changes."""

import pytest
from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import Client

from config.asgi import application
from donors.tests.conftest import make_donor
from healthsync.tests.test_mfa import api_login, code, console_login

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def required(settings):
    settings.HEALTHSYNC_STAFF_SECOND_FACTOR = True


def test_a_console_session_without_an_authenticator_app_is_sent_to_turn_one_on(required, bob):
    client = Client()
    console_login(client, bob)
    for page in ("/admin/", "/admin/imaging/analyse/", "/admin/bloodbank/bloodunit/"):
        assert client.get(page)["Location"] == "/accounts/2fa/totp/activate/"
    refused = client.get("/api/blood-bank/hospital/inventory")
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "second_factor_required"
    assert "/accounts/2fa/" in refused.json()["error"]["message"]
    assert client.get("/accounts/2fa/").status_code == 200  # the way out stays open
    assert client.post("/admin/logout/").status_code in (200, 302)

    client = Client()
    console_login(client, bob)
    TOTP.activate(bob, generate_totp_secret())  # turned on (in the page the redirect leads to)
    assert client.get("/admin/").status_code == 200
    assert client.get("/api/blood-bank/hospital/inventory").status_code == 200

    Authenticator.objects.filter(user=bob).delete()  # a platform administrator removes it (lost phone)
    assert client.get("/admin/")["Location"] == "/accounts/2fa/totp/activate/"  # the open session too


def test_the_api_gives_staff_without_an_authenticator_app_no_token(required, bob):
    client = Client()
    refused = api_login(client, bob)
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "second_factor_required"
    assert api_login(client, bob, "/api/blood-bank/hospital/login").status_code == 403
    erin = make_donor()
    assert api_login(client, erin.user, "/api/blood-bank/donor/login").status_code == 200  # donors are not staff

    secret = generate_totp_secret()
    TOTP.activate(bob, secret)
    assert api_login(client, bob, otp=code(secret)).status_code == 200


def test_a_refresh_token_from_before_the_policy_is_refused(settings, bob):
    client = Client()
    refresh = api_login(client, bob).json()["refresh"]
    assert client.post("/api/auth/refresh", {"refresh": refresh}, content_type="application/json").status_code == 200
    settings.HEALTHSYNC_STAFF_SECOND_FACTOR = True
    refused = client.post("/api/auth/refresh", {"refresh": refresh}, content_type="application/json")
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "second_factor_required"


def test_without_the_policy_staff_work_with_the_password_alone(bob):
    client = Client()
    console_login(client, bob)
    assert client.get("/admin/").status_code == 200
    assert api_login(Client(), bob).status_code == 200


async def _socket_with_session(user) -> tuple[bool, int]:
    client = Client()
    await sync_to_async(client.force_login)(user)
    cookie = f"sessionid={client.cookies['sessionid'].value}".encode()
    communicator = WebsocketCommunicator(application, "/ws/system/", headers=[(b"cookie", cookie)])
    connected, close_code = await communicator.connect(timeout=5)
    if connected:
        await communicator.disconnect()
    return connected, close_code


@pytest.mark.asyncio
async def test_a_session_socket_of_staff_without_an_authenticator_app_is_refused(settings, bob):
    assert (await _socket_with_session(bob))[0]
    settings.HEALTHSYNC_STAFF_SECOND_FACTOR = True
    assert await _socket_with_session(bob) == (False, 4401)
    await sync_to_async(TOTP.activate)(bob, generate_totp_secret())
    assert (await _socket_with_session(bob))[0]
