"""The JWT flow at the seed's endpoints: register, login, call, refresh, logout, refresh refused."""

import pytest

from conftest import PASSWORD
from healthsync.models import User

pytestmark = pytest.mark.django_db


def test_register_login_call_refresh_logout(client):
    response = client.post(
        "/api/auth/register",
        {"email": "Erin@Example.com", "password": PASSWORD, "name": "Erin Walsh"},
        content_type="application/json",
    )
    assert response.status_code == 201, response.content
    assert response.json()["email"] == "erin@example.com"
    assert response.json()["roles"] == []
    user = User.objects.get(email="erin@example.com")
    assert not user.is_staff and not user.memberships.exists()
    assert user.password.startswith("argon2")

    tokens = client.post(
        "/api/auth/login", {"email": "erin@example.com", "password": PASSWORD}, content_type="application/json"
    ).json()
    assert set(tokens) == {"access", "refresh"}

    me = client.get("/api/me", HTTP_AUTHORIZATION=f"Bearer {tokens['access']}")
    assert me.status_code == 200
    assert me.json()["name"] == "Erin Walsh"

    refreshed = client.post("/api/auth/refresh", {"refresh": tokens["refresh"]}, content_type="application/json")
    assert refreshed.status_code == 200
    assert client.get("/api/me", HTTP_AUTHORIZATION=f"Bearer {refreshed.json()['access']}").status_code == 200

    logout = client.post("/api/auth/logout", {"refresh": tokens["refresh"]}, content_type="application/json")
    assert logout.status_code == 200

    refused = client.post("/api/auth/refresh", {"refresh": tokens["refresh"]}, content_type="application/json")
    assert refused.status_code == 401
    assert refused.json()["error"]["code"] in {"token_not_valid", "not_authenticated"}


def test_anonymous_call_is_refused_in_the_error_shape(client):
    response = client.get("/api/me")
    assert response.status_code == 401
    error = response.json()["error"]
    assert error["code"] == "not_authenticated"
    assert error["message"]


def test_wrong_password_gives_401(client, dave):
    response = client.post(
        "/api/auth/login", {"email": dave.email, "password": "wrong-password-1"}, content_type="application/json"
    )
    assert response.status_code == 401
    assert response.json()["error"]["message"]


@pytest.mark.parametrize(
    "payload, field",
    [
        ({"password": PASSWORD, "name": "No Email"}, "email"),
        ({"email": "not-an-email", "password": PASSWORD}, "email"),
        ({"email": "a" * 64 + "@" + ".".join(["b" * 60] * 4) + ".org", "password": PASSWORD}, "email"),  # over 254
        ({"email": "short@example.com", "password": "short"}, "password"),
        ({"email": "common@example.com", "password": "password123"}, "password"),
        ({"email": "nopass@example.com"}, "password"),
    ],
)
def test_register_refuses_bad_input_naming_the_field(client, payload, field):
    response = client.post("/api/auth/register", payload, content_type="application/json")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid"
    assert field in error["fields"]


def test_register_twice_with_one_email_is_a_conflict(client, dave):
    response = client.post(
        "/api/auth/register", {"email": "DAVE@example.com", "password": PASSWORD}, content_type="application/json"
    )
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "email_taken"
    assert User.objects.filter(email__iexact="dave@example.com").count() == 1


def test_login_is_rate_limited_with_retry_after(client, dave, monkeypatch):
    from rest_framework.throttling import ScopedRateThrottle

    monkeypatch.setitem(ScopedRateThrottle.THROTTLE_RATES, "login", "3/min")
    statuses = [
        client.post(
            "/api/auth/login", {"email": dave.email, "password": "wrong-password-1"}, content_type="application/json"
        ).status_code
        for _ in range(3)
    ]
    assert statuses == [401, 401, 401]
    limited = client.post(
        "/api/auth/login", {"email": dave.email, "password": PASSWORD}, content_type="application/json"
    )
    assert limited.status_code == 429
    assert int(limited["Retry-After"]) > 0
    assert limited.json()["error"]["code"] == "throttled"
    assert limited.json()["error"]["details"]["retry_after_seconds"] > 0


def test_login_documents_the_optional_second_factor(client):
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    body = schema["paths"]["/api/auth/login"]["post"]["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    component = schema["components"]["schemas"][body.rsplit("/", 1)[-1]]
    assert "otp" in component["properties"] and "otp" not in component.get("required", [])
    assert {"email", "password"} <= set(component["required"])


def _login(client, email, password=PASSWORD) -> dict:
    response = client.post("/api/auth/login", {"email": email, "password": password}, content_type="application/json")
    assert response.status_code == 200, response.content
    return response.json()


def test_a_changed_password_ends_the_tokens_issued_before_it(client, dave):
    before = _login(client, dave.email)
    dave.set_password("a-new-long-passphrase-2026")
    dave.save()  # as the admin's password form or `changepassword` would

    called = client.get("/api/me", HTTP_AUTHORIZATION=f"Bearer {before['access']}")
    assert called.status_code == 401 and called.json()["error"]["code"] == "password_changed"
    refreshed = client.post("/api/auth/refresh", {"refresh": before["refresh"]}, content_type="application/json")
    assert refreshed.status_code == 401 and refreshed.json()["error"]["code"] == "password_changed"

    after = _login(client, dave.email, "a-new-long-passphrase-2026")
    assert client.get("/api/me", HTTP_AUTHORIZATION=f"Bearer {after['access']}").status_code == 200
    assert (
        client.post("/api/auth/refresh", {"refresh": after["refresh"]}, content_type="application/json").status_code
        == 200
    )


def test_changing_the_password_in_the_web_pages_blacklists_the_refresh_tokens(client, dave):
    from django.test import Client
    from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken

    before = _login(client, dave.email)
    web = Client()
    assert web.login(email=dave.email, password=PASSWORD)
    changed = web.post(
        "/accounts/password/change/",
        {"oldpassword": PASSWORD, "password1": "a-new-long-passphrase-2026", "password2": "a-new-long-passphrase-2026"},
    )
    assert changed.status_code == 302, changed.content
    assert (
        BlacklistedToken.objects.filter(token__user=dave).count()
        == OutstandingToken.objects.filter(user=dave).count()
        == 1
    )
    refused = client.post("/api/auth/refresh", {"refresh": before["refresh"]}, content_type="application/json")
    assert refused.status_code == 401


def test_a_refresh_token_of_a_deleted_account_is_refused(client, dave):
    before = _login(client, dave.email)
    dave.delete()
    refused = client.post("/api/auth/refresh", {"refresh": before["refresh"]}, content_type="application/json")
    assert refused.status_code == 401 and refused.json()["error"]["code"] == "no_active_account"
