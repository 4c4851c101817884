"""Sessions: a new id at login, logout invalidates, staff idle timeout, a recent login before sensitive actions."""

import time

import pytest
from django.test import Client
from rest_framework_simplejwt.tokens import RefreshToken

from bloodbank import services as bloodbank
from conftest import PASSWORD, console_logged_in_ago
from healthsync.security import LAST_SEEN

pytestmark = pytest.mark.django_db


def test_login_rotates_the_session_id_and_logout_invalidates_it(bob):
    client = Client()
    client.get("/accounts/login/")
    client.session["probe"] = 1
    anonymous_key = client.cookies["sessionid"].value if "sessionid" in client.cookies else None
    assert client.login(email=bob.email, password=PASSWORD)
    logged_in_key = client.session.session_key
    assert logged_in_key != anonymous_key
    assert client.get("/admin/").status_code == 200
    client.post("/admin/logout/")
    from django.contrib.sessions.models import Session

    assert not Session.objects.filter(session_key=logged_in_key).exists()
    stale = Client()
    stale.cookies["sessionid"] = logged_in_key
    assert stale.get("/admin/").status_code == 302


def test_staff_sessions_end_after_the_idle_timeout(bob, settings):
    settings.HEALTHSYNC_STAFF_IDLE_MINUTES = 30
    client = Client()
    assert client.login(email=bob.email, password=PASSWORD)
    assert client.get("/admin/").status_code == 200
    session = client.session
    session[LAST_SEEN] = int(time.time()) - 31 * 60
    session.save()
    response = client.get("/admin/")
    assert response.status_code == 302 and "/login/" in response["Location"]
    assert client.get("/api/me").status_code in (401, 403)


def test_discarding_through_the_api_needs_a_recent_login(api, bob, hospital_a, settings):
    unit = bloodbank.unit_create(
        hospital=hospital_a, component="red_cells", blood_group="A+", by=bob, status="available"
    )
    fresh = api(bob)
    stale = fresh.__class__()
    old = RefreshToken.for_user(bob)
    old["auth_time"] = int(time.time()) - 3600
    stale.credentials(HTTP_AUTHORIZATION=f"Bearer {old.access_token}")
    refused = stale.post(f"/api/blood-bank/units/{unit.pk}/discard", {"reason": "Broken seal"}, format="json")
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "reauthentication_required"
    accepted = fresh.post(f"/api/blood-bank/units/{unit.pk}/discard", {"reason": "Broken seal"}, format="json")
    assert accepted.status_code == 200 and accepted.json()["status"] == "discarded"


def test_discarding_in_the_admin_needs_a_recent_login(bob, hospital_a):
    unit = bloodbank.unit_create(
        hospital=hospital_a, component="red_cells", blood_group="A+", by=bob, status="available"
    )
    client = console_logged_in_ago(bob)
    client.post(
        "/admin/bloodbank/bloodunit/",
        {"action": "discard_units", "_selected_action": [unit.pk], "apply": "1", "reason": "x"},
    )
    unit.refresh_from_db()
    assert unit.status == "available"


def test_reauthenticating_with_the_password_allows_sensitive_actions_again(bob, hospital_a):
    """allauth's re-authentication page counts as a recent login (with an authenticator app, its code
    page does too: test_mfa.py)."""
    unit = bloodbank.unit_create(
        hospital=hospital_a, component="red_cells", blood_group="A+", by=bob, status="available"
    )
    client = console_logged_in_ago(bob)
    discard = {"action": "discard_units", "_selected_action": [unit.pk], "apply": "1", "reason": "Broken seal"}
    refused = client.post("/admin/bloodbank/bloodunit/", discard, follow=True)
    assert b"/accounts/reauthenticate/?next=%2Fadmin%2Fbloodbank%2Fbloodunit%2F" in refused.content
    unit.refresh_from_db()
    assert unit.status == "available"

    assert client.post("/accounts/reauthenticate/", {"password": PASSWORD}).status_code == 302
    client.post("/admin/bloodbank/bloodunit/", discard)
    unit.refresh_from_db()
    assert unit.status == "discarded"
