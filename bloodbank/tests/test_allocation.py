"""Allocation follows the compatibility tables, the preference order, first-expired-first-out and the
O-negative reserve."""

from datetime import timedelta

import pytest
from django.utils import timezone

from bloodbank import events, services
from bloodbank.models import Allocation, AllocationStatus, BloodUnit, Component, UnitEvent, UnitStatus
from healthsync.errors import Conflict, DomainError

pytestmark = pytest.mark.django_db


def _request(hospital, group, units, *, urgency=3, component=Component.RED_CELLS, by=None):
    return services.request_create(
        hospital=hospital, blood_group=group, units=units, urgency=urgency, component=component, by=by
    )


def _groups(allocations):
    return [a.unit.blood_group for a in allocations]


def test_identical_group_first_then_the_documented_preference(hospital_a, stock, bob):
    stock(hospital_a, "O+", 1)
    stock(hospital_a, "A-", 1)
    stock(hospital_a, "A+", 1)
    allocations = services.request_fulfil(request=_request(hospital_a, "A+", 3), by=bob)
    assert _groups(allocations) == ["A+", "A-", "O+"]


def test_earliest_expiry_first_within_a_group(hospital_a, stock, bob):
    now = timezone.now()
    late = stock(hospital_a, "B+", 1, expires_at=now + timedelta(days=20))[0]
    early = stock(hospital_a, "B+", 1, expires_at=now + timedelta(days=2))[0]
    allocations = services.request_fulfil(request=_request(hospital_a, "B+", 1), by=bob)
    assert [a.unit_id for a in allocations] == [early.pk]
    assert BloodUnit.objects.get(pk=late.pk).status == UnitStatus.AVAILABLE


@pytest.mark.parametrize("urgency", [1, 4, 5])
def test_rhd_negative_recipient_never_gets_rhd_positive_red_cells_from_routine_fulfilment(
    hospital_a, stock, bob, urgency
):
    # RhD-positive red cells to an RhD-negative patient need a physician's documented emergency release.
    stock(hospital_a, "A+", 2)
    stock(hospital_a, "O+", 2)
    request = _request(hospital_a, "A-", 1, urgency=urgency)
    with pytest.raises(Conflict) as refused:
        services.request_fulfil(request=request, by=bob)
    assert refused.value.code == "no_compatible_stock"
    assert not Allocation.objects.exists()
    assert BloodUnit.objects.filter(status=UnitStatus.AVAILABLE).count() == 4


def test_plasma_goes_the_reverse_way(hospital_a, stock, bob):
    stock(hospital_a, "O+", 1, component=Component.PLASMA)
    stock(hospital_a, "AB-", 1, component=Component.PLASMA)
    allocations = services.request_fulfil(request=_request(hospital_a, "A+", 2, component=Component.PLASMA), by=bob)
    assert _groups(allocations) == ["AB-"]  # O plasma cannot go to an A recipient


def test_whole_blood_is_abo_identical_only(hospital_a, stock, bob):
    stock(hospital_a, "O-", 6, component=Component.WHOLE_BLOOD)
    with pytest.raises(Conflict):
        services.request_fulfil(request=_request(hospital_a, "A+", 1, component=Component.WHOLE_BLOOD), by=bob)


def test_o_negative_reserve_is_kept_for_others_but_not_for_o_negative_or_emergencies(hospital_a, stock, bob, settings):
    settings.HEALTHSYNC_O_NEGATIVE_RESERVE = 3
    stock(hospital_a, "O-", 5)
    first = services.request_fulfil(request=_request(hospital_a, "B-", 4), by=bob)
    assert _groups(first) == ["O-", "O-"]  # 5 in stock, 3 kept back
    o_neg = services.request_fulfil(request=_request(hospital_a, "O-", 2), by=bob)
    assert _groups(o_neg) == ["O-", "O-"]
    emergency = services.request_fulfil(request=_request(hospital_a, "AB-", 1, urgency=5), by=bob)
    assert _groups(emergency) == ["O-"]
    assert BloodUnit.objects.filter(blood_group="O-", status=UnitStatus.AVAILABLE).count() == 0


def test_partial_then_complete_and_units_are_never_reused(hospital_a, stock, bob):
    stock(hospital_a, "AB+", 1)
    request = _request(hospital_a, "AB+", 2)
    assert len(services.request_fulfil(request=request, by=bob)) == 1
    request.refresh_from_db()
    assert request.status == "partially_fulfilled"
    stock(hospital_a, "AB+", 2)
    assert len(services.request_fulfil(request=request, by=bob)) == 1
    request.refresh_from_db()
    assert request.status == "fulfilled" and request.fulfilled_at is not None
    assert services.request_fulfil(request=request, by=bob) == []
    assert Allocation.objects.values("unit").distinct().count() == Allocation.objects.count() == 2


def test_issue_checks_expiry_again_and_history_is_recorded(hospital_a, stock, bob):
    stock(hospital_a, "O+", 2)
    allocations = services.request_fulfil(request=_request(hospital_a, "O+", 2), by=bob)
    for allocation in allocations:
        services.allocation_crossmatch(
            allocation=allocation,
            method="electronic",
            sample_id="S-1",
            sample_drawn_at=timezone.now() - timedelta(hours=1),
            compatible=True,
            by=bob,
        )
    issued = services.allocation_issue(allocation=allocations[0], by=bob)
    assert issued.status == AllocationStatus.ISSUED and issued.unit.status == UnitStatus.ISSUED

    BloodUnit.objects.filter(pk=allocations[1].unit_id).update(expires_at=timezone.now() - timedelta(minutes=1))
    with pytest.raises(Conflict, match="expired"):
        services.allocation_issue(allocation=allocations[1], by=bob)

    path = list(UnitEvent.objects.filter(unit=issued.unit).values_list("from_status", "to_status"))
    assert path == [("", "available"), ("available", "reserved"), ("reserved", "issued")]
    assert UnitEvent.objects.filter(unit=issued.unit, to_status="issued").get().by == bob


def test_discard_needs_a_reason_and_frees_the_reservation(hospital_a, stock, bob):
    stock(hospital_a, "A+", 1)
    request = _request(hospital_a, "A+", 1)
    allocation = services.request_fulfil(request=request, by=bob)[0]
    with pytest.raises(DomainError):
        services.unit_discard(unit=allocation.unit, by=bob, reason="  ")
    services.unit_discard(unit=allocation.unit, by=bob, reason="Bag leaking")
    allocation.refresh_from_db()
    assert allocation.status == AllocationStatus.CANCELLED
    event = UnitEvent.objects.get(unit=allocation.unit, to_status="discarded")
    assert event.reason == "Bag leaking" and event.by == bob


def test_discarding_a_reserved_unit_puts_the_request_back_to_what_it_still_needs(hospital_a, stock, bob):
    stock(hospital_a, "A+", 2)
    request = _request(hospital_a, "A+", 2)
    allocations = services.request_fulfil(request=request, by=bob)
    request.refresh_from_db()
    assert request.status == "fulfilled"
    services.unit_discard(unit=allocations[0].unit, by=bob, reason="Bag leaking")
    request.refresh_from_db()
    assert request.status == "partially_fulfilled" and request.fulfilled_at is None
    services.unit_discard(unit=allocations[1].unit, by=bob, reason="Clots seen")
    request.refresh_from_db()
    assert request.status == "pending"


def test_expired_units_cannot_be_issued_after_the_sweep(hospital_a, stock, bob):
    unit = stock(hospital_a, "A+", 1)[0]
    BloodUnit.objects.filter(pk=unit.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert services.units_expire_due() == 1
    assert services.units_expire_due() == 0  # safe to run twice
    unit.refresh_from_db()
    assert unit.status == UnitStatus.EXPIRED
    with pytest.raises(Conflict):
        services.moves._move(unit, to_status=UnitStatus.ISSUED, by=bob)


def test_emergency_release_issues_group_o_with_the_physician_recorded(hospital_a, stock, bob):
    stock(hospital_a, "O-", 1)
    stock(hospital_a, "O+", 1)
    negative = _request(hospital_a, "B-", 2, urgency=5)
    allocations = services.emergency_release(request=negative, physician="Dr Jane Moss", by=bob)
    assert _groups(allocations) == ["O-"]
    assert all(a.emergency and a.status == AllocationStatus.ISSUED for a in allocations)
    negative.refresh_from_db()
    assert negative.emergency_physician == "Dr Jane Moss" and negative.emergency_released_by == bob
    assert "Dr Jane Moss" in UnitEvent.objects.filter(unit=allocations[0].unit, to_status="issued").get().reason
    with pytest.raises(Conflict):
        services.emergency_release(request=_request(hospital_a, "B+", 1, urgency=4), physician="Dr X", by=bob)


def test_emergency_release_gives_no_more_than_the_request_still_needs(hospital_a, stock, bob):
    stock(hospital_a, "B-", 1)
    request = _request(hospital_a, "B-", 2, urgency=5)
    services.request_fulfil(request=request, by=bob)
    stock(hospital_a, "O-", 5)
    allocations = services.emergency_release(request=request, physician="Dr Jane Moss", by=bob, units=4)
    assert len(allocations) == 1
    request.refresh_from_db()
    assert request.status == "fulfilled"
    assert BloodUnit.objects.filter(blood_group="O-", status=UnitStatus.AVAILABLE).count() == 4


def test_emergency_release_refuses_a_fulfilled_or_cancelled_request(hospital_a, stock, bob):
    stock(hospital_a, "O-", 4)
    fulfilled = _request(hospital_a, "O-", 1, urgency=5)
    services.request_fulfil(request=fulfilled, by=bob)
    with pytest.raises(Conflict) as refused:
        services.emergency_release(request=fulfilled, physician="Dr Jane Moss", by=bob)
    assert refused.value.code == "request_fulfilled"
    cancelled = services.request_cancel(request=_request(hospital_a, "O-", 1, urgency=5), by=bob)
    with pytest.raises(Conflict) as refused:
        services.emergency_release(request=cancelled, physician="Dr Jane Moss", by=bob)
    assert refused.value.code == "request_cancelled"
    assert Allocation.objects.count() == 1 and BloodUnit.objects.filter(status=UnitStatus.AVAILABLE).count() == 3


def test_platelets_for_an_rhd_negative_recipient_are_abo_identical_first(hospital_a, stock, bob):
    stock(hospital_a, "O-", 1, component=Component.PLATELETS)
    stock(hospital_a, "A+", 1, component=Component.PLATELETS)
    allocations = services.request_fulfil(request=_request(hospital_a, "A-", 1, component=Component.PLATELETS), by=bob)
    assert _groups(allocations) == ["A+"]  # group O plasma to an A patient risks haemolysis


def test_level_changes_are_published_after_commit(hospital_a, stock, bob, django_capture_on_commit_callbacks):
    heard = []

    def receiver(sender, signal, **payload):
        heard.append(payload)

    events.inventory_level_changed.connect(receiver)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            stock(hospital_a, "AB-", 1)
    finally:
        events.inventory_level_changed.disconnect(receiver)
    assert heard == [
        {
            "hospital_id": hospital_a.pk,
            "blood_group": "AB-",
            "component": "red_cells",
            "level": "critical",
            "available_units": 1,
        }
    ]
