"""Every action that can discard units or defer a donor needs a recent login, and results are recorded
under managed marker names only (security test, issue #26 item 7: with a stale token, discarding a unit
was refused but a positive "made-up-marker" result discarded all of a donation's units and deferred the
donor permanently)."""

import time

import pytest
from django.utils import timezone
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import RefreshToken

from bloodbank.models import BloodUnit, UnitStatus
from conftest import PASSWORD, console_logged_in_ago
from donors.models import MarkerResult
from donors.tests.conftest import GOOD_SCREENING

pytestmark = pytest.mark.django_db

BASE = "/api/blood-bank"


def _stale(user) -> APIClient:
    """A client whose token comes from a login an hour ago (the recent-login window is 15 minutes)."""
    token = RefreshToken.for_user(user)
    token["auth_time"] = int(time.time()) - 3600
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token.access_token}")
    return client


def _units(donation):
    return sorted(BloodUnit.objects.filter(din=donation.din).values_list("status", flat=True))


@pytest.mark.parametrize("marker", ["made-up-marker", "HIV"])
def test_a_stale_token_cannot_record_a_marker_result(bob, erin, collected, marker):
    refused = _stale(bob).post(
        f"{BASE}/staff/donations/{collected.pk}/test-results", {"marker": marker, "result": "positive"}, format="json"
    )
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "reauthentication_required"
    assert _units(collected) == [UnitStatus.QUARANTINED] and not erin.deferrals.exists()


def test_a_made_up_marker_is_refused_and_managed_ones_are_recorded_under_their_name(api, bob, erin, collected):
    client = api(bob)
    unknown = client.post(
        f"{BASE}/staff/donations/{collected.pk}/test-results",
        {"marker": "made-up-marker", "result": "positive"},
        format="json",
    )
    assert unknown.status_code == 400
    assert unknown.json()["error"]["code"] == "unknown_marker" and "marker" in unknown.json()["error"]["fields"]
    assert _units(collected) == [UnitStatus.QUARANTINED] and not erin.deferrals.exists()

    further = client.post(
        f"{BASE}/staff/donations/{collected.pk}/test-results", {"marker": " wnv ", "result": "negative"}, format="json"
    )
    assert further.status_code == 201, further.content
    assert list(MarkerResult.objects.filter(donation=collected).values_list("marker", flat=True)) == ["WNV"]


def test_a_stale_token_cannot_defer_a_donor_by_screening_or_deferral(bob, erin, visit, hospital_a):
    stale = _stale(bob)
    failing = {**GOOD_SCREENING, "haemoglobin_g_dl": 9.0}
    screening = stale.post(f"{BASE}/staff/donations/{visit.pk}/screening", failing, format="json")
    assert screening.status_code == 403 and screening.json()["error"]["code"] == "reauthentication_required"
    deferral = stale.post(
        f"{BASE}/staff/donors/{erin.pk}/deferrals",
        {"reason": "Made up", "starts_on": timezone.localdate().isoformat()},
        format="json",
    )
    assert deferral.status_code == 403 and deferral.json()["error"]["code"] == "reauthentication_required"
    visit.refresh_from_db()
    assert visit.status == "awaiting_screening" and not erin.deferrals.exists()


def test_the_console_asks_for_a_recent_login_before_a_result_a_screening_or_a_deferral(
    bob, erin, collected, hospital_a
):
    from donors import services

    console = console_logged_in_ago(bob)
    result = console.post(
        "/admin/donors/markerresult/add/", {"donation": collected.pk, "marker": "HIV", "result": "positive"}
    )
    assert result.status_code == 200 and b"Log in again to do this" in result.content
    deferral = console.post(
        "/admin/donors/deferral/add/",
        {
            "donor": erin.pk,
            "hospital": hospital_a.pk,
            "reason": "Made up",
            "starts_on": timezone.localdate().isoformat(),
            "ends_on": "",
        },
    )
    assert deferral.status_code == 200 and b"Log in again to do this" in deferral.content
    visit = services.donation_register_walk_in(
        donor=services.donor_register(
            name="Fay",
            email="fay@donor.example",
            password=PASSWORD,
            blood_group="A+",
            date_of_birth=collected.donor.date_of_birth,
            sex="female",
            weight_kg=60,
        ),
        hospital=hospital_a,
    )
    screening = console.post(
        "/admin/donors/screening/add/",
        {"donation": visit.pk, **{k: str(v) for k, v in GOOD_SCREENING.items()}, "haemoglobin_g_dl": "9.0"},
    )
    assert screening.status_code == 200 and b"Log in again to do this" in screening.content
    assert (
        _units(collected) == [UnitStatus.QUARANTINED]
        and not erin.deferrals.exists()
        and not visit.donor.deferrals.exists()
    )
