"""Two-factor authentication (django-allauth's MFA): optional per account. Once an authenticator
app is active, neither the console's login nor the JWT login lets a password alone in; recovery
codes work once each; accounts without it log in as before."""

import time

import pytest
from allauth.mfa.models import Authenticator
from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes
from allauth.mfa.totp.internal.auth import TOTP, format_hotp_value, generate_totp_secret, hotp_value
from django.test import Client

from bloodbank import services as bloodbank
from conftest import PASSWORD
from healthsync.security import LOGGED_IN_AT

pytestmark = pytest.mark.django_db


def code(secret: str, step: int = 0) -> str:
    """The authenticator app's code now (step 0) or for the next 30 seconds (step 1): two codes that
    stay valid for the length of a test, within the accepted drift of one step."""
    return format_hotp_value(hotp_value(secret, int(time.time()) // 30 + step))


def wrong_code(secret: str) -> str:
    valid = {code(secret, step) for step in (-1, 0, 1)}
    return next(candidate for candidate in ("000000", "111111", "222222", "333333") if candidate not in valid)


@pytest.fixture
def bob_secret(bob):
    """Bob (medical staff) has an authenticator app and recovery codes."""
    secret = generate_totp_secret()
    TOTP.activate(bob, secret)
    RecoveryCodes.activate(bob)
    return secret


def recovery_codes(user) -> list[str]:
    return RecoveryCodes(
        Authenticator.objects.get(user=user, type=Authenticator.Type.RECOVERY_CODES)
    ).get_unused_codes()


def console_login(client, user, *, next_url="/admin/"):
    return client.post(f"/admin/login/?next={next_url}", {"login": user.email, "password": PASSWORD})


def api_login(client, user, path="/api/auth/login", **extra):
    return client.post(path, {"email": user.email, "password": PASSWORD, **extra}, content_type="application/json")


# --- turning it on ----------------------------------------------------------------------------------


def test_staff_turn_on_an_authenticator_app_from_the_console(bob):
    client = Client()
    assert console_login(client, bob)["Location"] == "/admin/"
    console = client.get("/admin/")
    assert b'href="/accounts/2fa/"' in console.content  # in the user links of every console page

    page = client.get("/accounts/2fa/")
    assert page.status_code == 200
    assert b"HealthSync operations" in page.content and b"An authenticator app is not active" in page.content

    # allauth asks for the password again before a security change, then comes back.
    confirm = client.get("/accounts/2fa/totp/activate/")
    assert confirm["Location"] == "/accounts/reauthenticate/?next=%2Faccounts%2F2fa%2Ftotp%2Factivate%2F"
    assert client.post(confirm["Location"], {"password": PASSWORD})["Location"] == "/accounts/2fa/totp/activate/"
    activate = client.get("/accounts/2fa/totp/activate/")
    assert activate.status_code == 200
    assert b"HealthSync operations" in activate.content
    assert "issuer=HealthSync" in activate.context["totp_url"]
    secret = activate.context["form"].secret

    wrong = client.post("/accounts/2fa/totp/activate/", {"code": wrong_code(secret)})
    assert wrong.status_code == 200 and b"Incorrect code" in wrong.content
    assert not Authenticator.objects.filter(user=bob).exists()

    done = client.post("/accounts/2fa/totp/activate/", {"code": code(secret)})
    assert done.status_code == 302 and done["Location"] == "/accounts/2fa/recovery-codes/"
    totp = Authenticator.objects.get(user=bob, type=Authenticator.Type.TOTP)
    assert totp.data["secret"] != secret  # stored encrypted with the personal-data keys
    assert len(recovery_codes(bob)) == 10
    codes = client.get("/accounts/2fa/recovery-codes/")
    assert codes.status_code == 200 and recovery_codes(bob)[0].encode() in codes.content


def test_turning_on_an_authenticator_app_ends_the_api_sessions_opened_with_the_password_alone(
    bob, django_capture_on_commit_callbacks
):
    api = Client()
    before = api_login(api, bob).json()
    assert (
        api.post("/api/auth/refresh", {"refresh": before["refresh"]}, content_type="application/json").status_code
        == 200
    )

    console = Client()
    console_login(console, bob)
    console.post(console.get("/accounts/2fa/totp/activate/")["Location"], {"password": PASSWORD})
    secret = console.get("/accounts/2fa/totp/activate/").context["form"].secret
    with django_capture_on_commit_callbacks(
        execute=True
    ):  # allauth announces the new authenticator once it is committed
        assert console.post("/accounts/2fa/totp/activate/", {"code": code(secret)}).status_code == 302

    refused = api.post("/api/auth/refresh", {"refresh": before["refresh"]}, content_type="application/json")
    assert refused.status_code == 401 and refused.json()["error"]["code"] == "token_not_valid"
    after = api_login(api, bob, otp=code(secret, 1)).json()  # the login now asks for the code, and its tokens work
    assert (
        api.post("/api/auth/refresh", {"refresh": after["refresh"]}, content_type="application/json").status_code == 200
    )


def test_recovery_codes_alone_leave_api_sessions_open(bob):
    from allauth.mfa import signals

    api = Client()
    before = api_login(api, bob).json()
    codes = RecoveryCodes.activate(bob)
    signals.authenticator_added.send(sender=Authenticator, request=None, user=bob, authenticator=codes.instance)
    assert (
        api.post("/api/auth/refresh", {"refresh": before["refresh"]}, content_type="application/json").status_code
        == 200
    )


def test_donors_manage_it_in_the_portal_look():
    from datetime import date

    from donors import services as donors

    donor = donors.donor_register(
        name="Dora",
        email="dora@donor.example",
        password=PASSWORD,
        blood_group="O-",
        date_of_birth=date(1988, 4, 4),
        address="1 Test Street",
        contact_number="+44 7700 900123",
        sex="female",
        weight_kg=70,
    ).user
    client = Client()
    client.force_login(donor)
    page = client.get("/accounts/2fa/")
    assert page.status_code == 200
    assert b"HealthSync donors" in page.content and b"HealthSync operations" not in page.content


# --- the console's login ----------------------------------------------------------------------------


def test_console_login_with_an_authenticator_app_needs_its_code(bob, bob_secret):
    client = Client()
    password_step = console_login(client, bob)
    assert password_step.status_code == 302 and password_step["Location"] == "/accounts/2fa/authenticate/"
    # The password alone gives no session: the console still sends bob to its login.
    assert client.get("/admin/")["Location"].startswith("/admin/login/")
    assert (
        b"HealthSync operations" in client.get("/accounts/2fa/authenticate/").content
    )  # the code page, in the console's look

    wrong = client.post("/accounts/2fa/authenticate/", {"code": wrong_code(bob_secret)})
    assert wrong.status_code == 200 and b"Incorrect code" in wrong.content
    assert client.get("/admin/").status_code == 302

    right = client.post("/accounts/2fa/authenticate/", {"code": code(bob_secret)})
    assert right.status_code == 302 and right["Location"] == "/admin/"
    assert client.get("/admin/").status_code == 200


def test_console_login_page_is_allauths_login_in_the_console_look(bob, dave):
    page = Client().get("/admin/login/?next=/admin/")
    assert page.status_code == 200
    assert b"HealthSync operations" in page.content
    assert b'name="login"' in page.content and b'name="next" value="/admin/"' in page.content

    refused = Client().post("/admin/login/", {"login": bob.email, "password": "not-the-password"})
    assert refused.status_code == 200 and b"errornote" in refused.content

    # Logged in without console rights: refused rather than sent round the login again.
    donor_client = Client()
    donor_client.force_login(dave)
    assert donor_client.get("/admin/login/").status_code == 403


def test_a_recovery_code_works_once(bob, bob_secret):
    recovery = recovery_codes(bob)[0]
    first = Client()
    console_login(first, bob)
    assert first.post("/accounts/2fa/authenticate/", {"code": recovery})["Location"] == "/admin/"
    assert first.get("/admin/").status_code == 200
    assert recovery not in recovery_codes(bob) and len(recovery_codes(bob)) == 9

    again = Client()
    console_login(again, bob)
    reused = again.post("/accounts/2fa/authenticate/", {"code": recovery})
    assert reused.status_code == 200 and b"Incorrect code" in reused.content
    assert again.get("/admin/").status_code == 302


def test_accounts_without_it_log_in_with_the_password_alone(bob, client):
    assert console_login(client, bob)["Location"] == "/admin/"
    assert client.get("/admin/").status_code == 200
    tokens = api_login(Client(), bob)
    assert tokens.status_code == 200 and set(tokens.json()) == {"access", "refresh"}


# --- the JWT login -----------------------------------------------------------------------------------


def test_api_login_needs_the_code_too(bob, bob_secret, client):
    missing = api_login(client, bob)
    assert missing.status_code == 401
    error = missing.json()["error"]
    assert error["code"] == "otp_required" and "otp" in error["message"]
    assert set(missing.json()) == {"error"}  # no token of any kind

    wrong = api_login(client, bob, otp=wrong_code(bob_secret))
    assert wrong.status_code == 401 and wrong.json()["error"]["code"] == "otp_invalid"

    now = code(bob_secret)
    accepted = api_login(client, bob, otp=now)
    assert accepted.status_code == 200 and set(accepted.json()) == {"access", "refresh"}
    assert client.get("/api/me", HTTP_AUTHORIZATION=f"Bearer {accepted.json()['access']}").json()["email"] == bob.email

    replayed = api_login(client, bob, otp=now)  # a code is accepted once
    assert replayed.status_code == 401 and replayed.json()["error"]["code"] == "otp_invalid"
    assert api_login(client, bob, otp=code(bob_secret, 1)).status_code == 200

    # The role logins of the blood bank API are the same login.
    staff_login = api_login(client, bob, "/api/blood-bank/hospital/login")
    assert staff_login.status_code == 401 and staff_login.json()["error"]["code"] == "otp_required"


def test_api_login_takes_a_recovery_code_once(bob, bob_secret, client):
    recovery = recovery_codes(bob)[0]
    assert api_login(client, bob, otp=recovery).status_code == 200
    reused = api_login(client, bob, otp=recovery)
    assert reused.status_code == 401 and reused.json()["error"]["code"] == "otp_invalid"


def test_a_wrong_password_is_refused_before_any_code_is_asked_for(bob, bob_secret, client):
    response = client.post(
        "/api/auth/login",
        {"email": bob.email, "password": "wrong-password-1", "otp": code(bob_secret)},
        content_type="application/json",
    )
    assert response.status_code == 401 and response.json()["error"]["code"] == "no_active_account"


def test_guessing_codes_is_limited_per_account(bob, bob_secret, client):
    wrong = wrong_code(bob_secret)
    for _ in range(5):
        assert api_login(client, bob, otp=wrong).json()["error"]["code"] == "otp_invalid"
    locked = api_login(client, bob, otp=code(bob_secret))
    assert locked.status_code == 401 and "Too many" in locked.json()["error"]["message"]


# --- re-authentication before sensitive actions --------------------------------------------------------


def test_reauthenticating_with_the_authenticator_code_allows_sensitive_actions(bob, bob_secret, hospital_a):
    unit = bloodbank.unit_create(
        hospital=hospital_a, component="red_cells", blood_group="A+", by=bob, status="available"
    )
    client = Client()
    console_login(client, bob)
    client.post("/accounts/2fa/authenticate/", {"code": code(bob_secret)})
    session = client.session
    session[LOGGED_IN_AT] = int(time.time()) - 3600
    session["account_authentication_methods"] = []  # the login was long ago
    session.save()
    discard = {"action": "discard_units", "_selected_action": [unit.pk], "apply": "1", "reason": "Broken seal"}

    refused = client.post("/admin/bloodbank/bloodunit/", discard, follow=True)
    unit.refresh_from_db()
    assert unit.status == "available"
    assert b"/accounts/reauthenticate/?next=" in refused.content

    confirm = client.post("/accounts/2fa/reauthenticate/", {"code": code(bob_secret, 1)})
    assert confirm.status_code == 302
    client.post("/admin/bloodbank/bloodunit/", discard)
    unit.refresh_from_db()
    assert unit.status == "discarded"


def test_a_hospital_administrator_can_reset_nobodys_authenticator_but_the_platform_can(bob, bob_secret, alice, root):
    """Lost phone: a platform administrator deletes the account's authenticators in the console."""
    totp = Authenticator.objects.get(user=bob, type=Authenticator.Type.TOTP)
    hospital_admin = Client()
    hospital_admin.force_login(alice)
    assert hospital_admin.get(f"/admin/mfa/authenticator/{totp.pk}/delete/").status_code == 403
    platform = Client()
    platform.force_login(root)
    assert platform.post(f"/admin/mfa/authenticator/{totp.pk}/delete/", {"post": "yes"}).status_code == 302
    assert not Authenticator.objects.filter(user=bob, type=Authenticator.Type.TOTP).exists()
    # Left-over recovery codes do not ask for a code (as allauth's own login step decides).
    assert api_login(Client(), bob).status_code == 200
