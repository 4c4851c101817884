"""Transfers between verified network hospitals, with the chain of custody."""

from datetime import timedelta

import pytest
from django.utils import timezone

from bloodbank import services
from bloodbank.models import BloodUnit, Transfer, TransferStatus, UnitEvent, UnitStatus
from healthsync.errors import Conflict

pytestmark = pytest.mark.django_db
BASE = "/api/blood-bank"


def test_request_approve_dispatch_receive(api, bob, carol, hospital_a, hospital_b, stock):
    stock(hospital_b, "O+", 3)
    requester, holder = api(bob), api(carol)
    request_id = requester.post(
        f"{BASE}/hospital/request", {"blood_type": "A+", "units": 2, "urgency_level": 4}, format="json"
    ).json()["request_id"]
    assert requester.post(f"{BASE}/hospital/request/fulfill/{request_id}").status_code == 409

    network = requester.get(f"{BASE}/requests/{request_id}/network-stock").json()
    assert network == [
        {
            "hospital_id": hospital_b.pk,
            "hospital": hospital_b.name,
            "fin": hospital_b.fin,
            "region": "South",
            "compatible_units": 3,
        }
    ]

    created = requester.post(
        f"{BASE}/transfers/",
        {
            "from_hospital": hospital_b.pk,
            "to_hospital": hospital_a.pk,
            "request": request_id,
            "component": "red_cells",
            "blood_group": "A+",
            "units_requested": 2,
        },
        format="json",
    )
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
    response = api(bob).post(
        f"{BASE}/transfers/",
        {
            "from_hospital": hospital_b.pk,
            "to_hospital": hospital_a.pk,
            "component": "red_cells",
            "blood_group": "A+",
            "units_requested": 1,
        },
        format="json",
    )
    assert response.status_code == 403


def test_unknown_transfer_step_is_404(api, bob):
    assert api(bob).post(f"{BASE}/transfers/1/teleport").status_code == 404


def test_unit_history_is_visible_to_its_hospital_only(api, bob, carol, hospital_a, stock):
    unit = stock(hospital_a, "A-", 1)[0]
    history = api(bob).get(f"{BASE}/units/{unit.pk}/").json()["history"]
    assert history[0]["to_status"] == "available" and history[0]["by"] == bob.email
    assert api(carol).get(f"{BASE}/units/{unit.pk}/").status_code == 404
    assert api(carol).post(f"{BASE}/units/{unit.pk}/discard", {"reason": "x"}, format="json").status_code == 404


def _transfer(from_hospital, to_hospital, group, units, *, by, request=None):
    return services.transfer_request(
        from_hospital=from_hospital,
        to_hospital=to_hospital,
        component="red_cells",
        blood_group=group,
        units_requested=units,
        request=request,
        by=by,
    )


def test_approval_keeps_the_holders_o_negative_reserve(hospital_a, hospital_b, stock, bob, carol, settings):
    settings.HEALTHSYNC_O_NEGATIVE_RESERVE = 3
    stock(hospital_b, "O-", 4)
    routine = services.transfer_approve(transfer=_transfer(hospital_b, hospital_a, "B-", 3, by=bob), by=carol)
    assert routine.units.count() == 1  # 4 held, 3 kept back
    with pytest.raises(Conflict) as refused:
        services.transfer_approve(transfer=_transfer(hospital_b, hospital_a, "A-", 1, by=bob), by=carol)
    assert refused.value.code == "no_compatible_stock"
    emergency = services.request_create(hospital=hospital_a, blood_group="B-", units=3, urgency=5, by=bob)
    approved = services.transfer_approve(
        transfer=_transfer(hospital_b, hospital_a, "B-", 3, by=bob, request=emergency), by=carol
    )
    assert approved.units.count() == 3


def test_an_expired_unit_is_not_dispatched(api, hospital_a, hospital_b, stock, bob, carol):
    stock(hospital_b, "A+", 2)
    transfer = services.transfer_approve(transfer=_transfer(hospital_b, hospital_a, "A+", 2, by=bob), by=carol)
    BloodUnit.objects.filter(pk=transfer.units.first().pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    response = api(carol).post(f"{BASE}/transfers/{transfer.pk}/dispatch")
    assert response.status_code == 409 and response.json()["error"]["code"] == "unit_expired"
    assert "expired" in response.json()["error"]["message"]
    assert not BloodUnit.objects.filter(status=UnitStatus.IN_TRANSIT).exists()
    assert Transfer.objects.get(pk=transfer.pk).status == TransferStatus.APPROVED


def test_a_unit_that_expires_in_transit_is_received_then_expired(hospital_a, hospital_b, stock, bob, carol):
    stock(hospital_b, "A+", 2)
    transfer = services.transfer_approve(transfer=_transfer(hospital_b, hospital_a, "A+", 2, by=bob), by=carol)
    services.transfer_dispatch(transfer=transfer, by=carol)
    late = transfer.units.first()
    BloodUnit.objects.filter(pk=late.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    services.transfer_receive(transfer=transfer, by=bob)
    late.refresh_from_db()
    assert late.status == UnitStatus.EXPIRED and late.hospital == hospital_a
    path = list(UnitEvent.objects.filter(unit=late).values_list("to_status", flat=True))
    assert path[-3:] == ["in_transit", "available", "expired"]
    assert BloodUnit.objects.filter(hospital=hospital_a, status=UnitStatus.AVAILABLE).count() == 1


def test_a_transfer_not_yet_dispatched_can_be_cancelled_and_its_units_go_back(
    api, hospital_a, hospital_b, stock, bob, carol, dave
):
    stock(hospital_b, "A+", 2)
    transfer = services.transfer_approve(transfer=_transfer(hospital_b, hospital_a, "A+", 2, by=bob), by=carol)
    assert api(dave).post(f"{BASE}/transfers/{transfer.pk}/cancel").status_code in (403, 404)
    response = api(bob).post(f"{BASE}/transfers/{transfer.pk}/cancel")  # the requesting hospital may call it off
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "cancelled"
    assert BloodUnit.objects.filter(hospital=hospital_b, status=UnitStatus.AVAILABLE).count() == 2
    assert api(carol).post(f"{BASE}/transfers/{transfer.pk}/cancel").status_code == 409  # already cancelled


def test_a_dispatched_transfer_cannot_be_cancelled(hospital_a, hospital_b, stock, bob, carol):
    stock(hospital_b, "A+", 1)
    transfer = services.transfer_approve(transfer=_transfer(hospital_b, hospital_a, "A+", 1, by=bob), by=carol)
    services.transfer_dispatch(transfer=transfer, by=carol)
    with pytest.raises(Conflict) as refused:
        services.transfer_cancel(transfer=transfer, by=carol)
    assert refused.value.code == "transfer_state"
    assert BloodUnit.objects.get().status == UnitStatus.IN_TRANSIT
