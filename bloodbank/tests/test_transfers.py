"""Transfers between verified network hospitals, with the chain of custody."""

import pytest

from bloodbank.models import BloodUnit, UnitEvent, UnitStatus

pytestmark = pytest.mark.django_db
BASE = "/api/blood-bank"


def test_request_approve_dispatch_receive(api, bob, carol, hospital_a, hospital_b, stock):
    stock(hospital_b, "O+", 3)
    requester, holder = api(bob), api(carol)
    request_id = requester.post(f"{BASE}/hospital/request", {"blood_type": "A+", "units": 2, "urgency_level": 4}, format="json").json()["request_id"]
    assert requester.post(f"{BASE}/hospital/request/fulfill/{request_id}").status_code == 409

    network = requester.get(f"{BASE}/requests/{request_id}/network-stock").json()
    assert network == [{"hospital_id": hospital_b.pk, "hospital": hospital_b.name, "fin": hospital_b.fin, "region": "South", "compatible_units": 3}]

    created = requester.post(f"{BASE}/transfers/", {
        "from_hospital": hospital_b.pk, "to_hospital": hospital_a.pk, "request": request_id,
        "component": "red_cells", "blood_group": "A+", "units_requested": 2,
    }, format="json")
    assert created.status_code == 201, created.content
    transfer_id = created.json()["id"]

    # Only the holder approves and dispatches; only the requester receives.
    assert requester.post(f"{BASE}/transfers/{transfer_id}/approve").status_code == 404
    approved = holder.post(f"{BASE}/transfers/{transfer_id}/approve")
    assert approved.status_code == 200 and len(approved.json()["units"]) == 2
    assert holder.post(f"{BASE}/transfers/{transfer_id}/receive").status_code == 404
    assert holder.post(f"{BASE}/transfers/{transfer_id}/dispatch").json()["status"] == "dispatched"
    assert BloodUnit.objects.filter(status=UnitStatus.IN_TRANSIT).count() == 2
    received = requester.post(f"{BASE}/transfers/{transfer_id}/receive")
    assert received.json()["status"] == "received"

    moved = BloodUnit.objects.filter(hospital=hospital_a)
    assert moved.count() == 2 and set(moved.values_list("status", flat=True)) == {UnitStatus.AVAILABLE}
    unit = moved.first()
    custody = list(UnitEvent.objects.filter(unit=unit).values_list("to_status", "hospital__fin"))
    assert custody[-2:] == [("in_transit", hospital_b.fin), ("available", hospital_a.fin)]

    fulfilled = requester.post(f"{BASE}/hospital/request/fulfill/{request_id}").json()
    assert fulfilled["status"] == "Fulfilled"


def test_unverified_hospitals_cannot_transfer(api, bob, hospital_a, hospital_b):
    hospital_b.is_verified = False
    hospital_b.save()
    response = api(bob).post(f"{BASE}/transfers/", {
        "from_hospital": hospital_b.pk, "to_hospital": hospital_a.pk, "component": "red_cells", "blood_group": "A+", "units_requested": 1,
    }, format="json")
    assert response.status_code == 403


def test_unknown_transfer_step_is_404(api, bob):
    assert api(bob).post(f"{BASE}/transfers/1/teleport").status_code == 404


def test_unit_history_is_visible_to_its_hospital_only(api, bob, carol, hospital_a, stock):
    unit = stock(hospital_a, "A-", 1)[0]
    history = api(bob).get(f"{BASE}/units/{unit.pk}/").json()["history"]
    assert history[0]["to_status"] == "available" and history[0]["by"] == bob.email
    assert api(carol).get(f"{BASE}/units/{unit.pk}/").status_code == 404
    assert api(carol).post(f"{BASE}/units/{unit.pk}/discard", {"reason": "x"}, format="json").status_code == 404
