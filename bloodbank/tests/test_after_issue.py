"""An issued unit's last step: transfused to the request's patient (start, end, any suspected
reaction) or returned unused, back to stock only when the cold chain and the bag allow it."""

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from bloodbank import rules, services
from bloodbank.models import Allocation, AllocationStatus, BloodRequest, BloodRequestStatus, BloodUnit, Component, UnitEvent, UnitStatus
from conftest import PASSWORD
from healthsync.errors import Conflict, DomainError

pytestmark = pytest.mark.django_db

BASE = "/api/blood-bank/"


def _issued(hospital, stock, bob, *, component=Component.RED_CELLS, group="A+"):
    stock(hospital, group, 1, component=component)
    request = services.request_create(hospital=hospital, blood_group=group, units=1, urgency=3, component=component, by=bob)
    [allocation] = services.request_fulfil(request=request, by=bob)
    if rules.needs_crossmatch(component):
        services.allocation_crossmatch(allocation=allocation, method="electronic", sample_id="S-1",
                                       sample_drawn_at=timezone.now() - timedelta(hours=1), compatible=True, by=bob)
    return services.allocation_issue(allocation=allocation, by=bob)


def _issued_minutes_ago(allocation, minutes):
    Allocation.objects.filter(pk=allocation.pk).update(issued_at=timezone.now() - timedelta(minutes=minutes))
    return Allocation.objects.get(pk=allocation.pk)


@pytest.mark.parametrize("component, minutes, seal, expired, refusal", [
    (Component.RED_CELLS, 29, True, False, None),
    (Component.RED_CELLS, 30, True, False, None),
    (Component.RED_CELLS, 31, True, False, "31 minutes, more than the 30"),
    (Component.WHOLE_BLOOD, 45, True, False, "45 minutes"),
    (Component.RED_CELLS, 5, False, False, "seal is not intact"),
    (Component.RED_CELLS, 5, True, True, "expired"),
    (Component.PLATELETS, 120, True, False, None),  # kept at room temperature
    (Component.PLATELETS, 5, False, False, "seal is not intact"),
    (Component.PLASMA, 1, True, False, "cannot be frozen again"),
    (Component.CRYOPRECIPITATE, 1, True, False, "cannot be frozen again"),
])
def test_which_returned_units_may_go_back_to_stock(component, minutes, seal, expired, refusal):
    found = rules.return_to_stock_refusal(component=component, minutes_out=minutes, seal_intact=seal, expired=expired, limit_minutes=30)
    if refusal is None:
        assert found is None
    else:
        assert refusal in found


HOUR = timedelta(hours=1)
MINUTE = timedelta(minutes=1)


@pytest.mark.parametrize("started, ended, problems", [  # offsets from now; the unit was issued an hour ago
    (-50 * MINUTE, -10 * MINUTE, {}),
    (4 * MINUTE, None, {}),  # a ward clock a little ahead of the server's
    (30 * MINUTE, None, {"started_at": "start is in the future"}),
    (-50 * MINUTE, -55 * MINUTE, {"ended_at": "end before it started"}),
    (-50 * MINUTE, HOUR, {"ended_at": "end is in the future"}),
    (-2 * HOUR, None, {"started_at": "before the unit was issued"}),
])
def test_transfusion_times(started, ended, problems):
    now = timezone.now()
    found = rules.transfusion_time_problems(started_at=now + started, ended_at=None if ended is None else now + ended,
                                            issued_at=now - HOUR, now=now)
    assert found.keys() == problems.keys()
    for field, words in problems.items():
        assert words in found[field]


def test_a_transfusion_before_issue_is_refused_naming_the_field(hospital_a, stock, bob):
    allocation = _issued(hospital_a, stock, bob)
    with pytest.raises(DomainError) as refused:
        services.allocation_transfuse(allocation=allocation, by=bob, started_at=timezone.now() - 2 * HOUR,
                                      ended_at=timezone.now() + 2 * HOUR)
    assert set(refused.value.fields) == {"started_at", "ended_at"}
    assert Allocation.objects.get(pk=allocation.pk).status == AllocationStatus.ISSUED


def test_a_transfusion_is_the_units_last_step_and_the_request_stays_fulfilled(hospital_a, stock, bob):
    allocation = _issued(hospital_a, stock, bob)
    started = timezone.now() - timedelta(minutes=1)
    done = services.allocation_transfuse(allocation=allocation, by=bob, started_at=started, ended_at=None)
    assert done.status == AllocationStatus.TRANSFUSED and done.transfusion_started_at == started and done.transfusion_recorded_by == bob
    unit = BloodUnit.objects.get(pk=allocation.unit_id)
    assert unit.status == UnitStatus.TRANSFUSED
    last = UnitEvent.objects.filter(unit=unit).latest("at")
    assert (last.from_status, last.to_status, last.request_id) == (UnitStatus.ISSUED, UnitStatus.TRANSFUSED, allocation.request_id)
    assert BloodRequest.objects.get(pk=allocation.request_id).status == BloodRequestStatus.FULFILLED
    with pytest.raises(Conflict) as again:
        services.allocation_transfuse(allocation=allocation, by=bob, started_at=started)
    assert again.value.code == "not_issued"
    with pytest.raises(Conflict):
        services.allocation_return(allocation=allocation, by=bob, seal_intact=True)


def test_a_suspected_reaction_needs_a_description(hospital_a, stock, bob):
    allocation = _issued(hospital_a, stock, bob)
    started = timezone.now() - timedelta(minutes=1)
    with pytest.raises(DomainError) as refused:
        services.allocation_transfuse(allocation=allocation, by=bob, started_at=started, reaction=True, note="  ")
    assert refused.value.fields == {"note": ["Describe the suspected reaction."]}
    assert Allocation.objects.get(pk=allocation.pk).status == AllocationStatus.ISSUED
    done = services.allocation_transfuse(allocation=allocation, by=bob, started_at=started, reaction=True, note="Fever 38.9 °C, rigors")
    assert done.transfusion_reaction is True and done.transfusion_note == "Fever 38.9 °C, rigors"
    assert "suspected reaction" in UnitEvent.objects.filter(unit_id=allocation.unit_id).latest("at").reason


def test_a_unit_returned_in_time_goes_back_to_stock_and_the_request_is_short_again(hospital_a, stock, bob):
    allocation = _issued_minutes_ago(_issued(hospital_a, stock, bob), 20)
    returned = services.allocation_return(allocation=allocation, by=bob, seal_intact=True)
    assert returned.status == AllocationStatus.RETURNED and returned.returned_by == bob and returned.returned_at is not None
    unit = BloodUnit.objects.get(pk=allocation.unit_id)
    assert unit.status == UnitStatus.AVAILABLE
    assert "back to stock" in UnitEvent.objects.filter(unit=unit).latest("at").reason
    assert BloodRequest.objects.get(pk=allocation.request_id).status == BloodRequestStatus.PENDING
    again = services.request_fulfil(request=BloodRequest.objects.get(pk=allocation.request_id), by=bob)
    assert [a.unit_id for a in again] == [unit.pk]  # the returned bag serves again, under a new crossmatch


def test_a_unit_returned_too_late_is_discarded_with_the_reason(hospital_a, stock, bob, settings):
    settings.HEALTHSYNC_RETURN_TO_STOCK_MINUTES = 30
    allocation = _issued_minutes_ago(_issued(hospital_a, stock, bob), 40)
    services.allocation_return(allocation=allocation, by=bob, seal_intact=True)
    unit = BloodUnit.objects.get(pk=allocation.unit_id)
    assert unit.status == UnitStatus.DISCARDED
    assert "Out of controlled storage for 40 minutes" in UnitEvent.objects.filter(unit=unit).latest("at").reason


def test_the_return_limit_comes_from_settings(hospital_a, stock, bob, settings):
    settings.HEALTHSYNC_RETURN_TO_STOCK_MINUTES = 60
    allocation = _issued_minutes_ago(_issued(hospital_a, stock, bob), 40)
    services.allocation_return(allocation=allocation, by=bob, seal_intact=True)
    assert BloodUnit.objects.get(pk=allocation.unit_id).status == UnitStatus.AVAILABLE


def test_returned_plasma_is_discarded(hospital_a, stock, bob):
    allocation = _issued(hospital_a, stock, bob, component=Component.PLASMA)
    services.allocation_return(allocation=allocation, by=bob, seal_intact=True)
    assert BloodUnit.objects.get(pk=allocation.unit_id).status == UnitStatus.DISCARDED


def test_discarding_an_issued_unit_marks_it_returned_and_the_request_short(hospital_a, stock, bob):
    allocation = _issued(hospital_a, stock, bob)
    services.unit_discard(unit=allocation.unit, by=bob, reason="Dropped on the ward")
    after = Allocation.objects.get(pk=allocation.pk)
    assert after.status == AllocationStatus.RETURNED and after.returned_by == bob
    assert BloodRequest.objects.get(pk=allocation.request_id).status == BloodRequestStatus.PENDING


def test_the_api_records_a_transfusion(api, bob, hospital_a, stock):
    allocation = _issued(hospital_a, stock, bob)
    client = api(bob)
    refused = client.post(f"{BASE}allocations/{allocation.pk}/transfuse", {"reaction": True}, format="json")
    assert refused.status_code == 400 and "started_at" in refused.json()["error"]["fields"]
    started = timezone.now() - timedelta(minutes=2)
    response = client.post(f"{BASE}allocations/{allocation.pk}/transfuse", {
        "started_at": started.isoformat(), "ended_at": timezone.now().isoformat(), "reaction": True, "note": "Urticaria",
    }, format="json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "transfused" and body["transfusion_reaction"] is True and body["transfusion_note"] == "Urticaria"
    assert body["unit"]["status"] == "transfused" and body["transfusion_recorded_by"] == bob.pk
    again = client.post(f"{BASE}allocations/{allocation.pk}/transfuse", {"started_at": started.isoformat()}, format="json")
    assert again.status_code == 409 and again.json()["error"]["code"] == "not_issued"


def test_the_api_returns_a_unit_and_needs_the_seal_stated(api, bob, hospital_a, stock):
    allocation = _issued(hospital_a, stock, bob)
    client = api(bob)
    refused = client.post(f"{BASE}allocations/{allocation.pk}/return", {}, format="json")
    assert refused.status_code == 400 and "seal_intact" in refused.json()["error"]["fields"]
    response = client.post(f"{BASE}allocations/{allocation.pk}/return", {"seal_intact": False}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "returned" and response.json()["unit"]["status"] == "discarded"


def test_the_api_is_scoped_to_the_users_hospitals(api, bob, carol, hospital_a, stock):
    allocation = _issued(hospital_a, stock, bob)
    response = api(carol).post(f"{BASE}allocations/{allocation.pk}/return", {"seal_intact": True}, format="json")
    assert response.status_code == 404
    assert Allocation.objects.get(pk=allocation.pk).status == AllocationStatus.ISSUED


def test_the_console_records_a_transfusion_and_a_return(bob, hospital_a, stock):
    transfused, returned = _issued(hospital_a, stock, bob), _issued(hospital_a, stock, bob)
    client = Client()
    assert client.login(email=bob.email, password=PASSWORD)
    changelist = "/admin/bloodbank/allocation/"
    form = client.post(changelist, {"action": "record_transfused", "_selected_action": [transfused.pk]})
    assert form.status_code == 200 and b'name="started_at_0"' in form.content
    started = timezone.localtime(timezone.now() - timedelta(minutes=3))
    client.post(changelist, {"action": "record_transfused", "_selected_action": [transfused.pk], "apply": "1",
                             "started_at_0": started.date().isoformat(), "started_at_1": started.strftime("%H:%M:%S")})
    assert Allocation.objects.get(pk=transfused.pk).status == AllocationStatus.TRANSFUSED

    client.post(changelist, {"action": "return_unused", "_selected_action": [returned.pk], "apply": "1", "seal_intact": "yes"})
    assert Allocation.objects.get(pk=returned.pk).status == AllocationStatus.RETURNED
    assert BloodUnit.objects.get(pk=returned.unit_id).status == UnitStatus.AVAILABLE


@pytest.mark.parametrize("component, recipient, donor, advised", [
    (Component.PLATELETS, "A-", "A+", True),
    (Component.PLATELETS, "O-", "O+", True),
    (Component.PLATELETS, "A-", "A-", False),
    (Component.PLATELETS, "A+", "A+", False),
    (Component.PLATELETS, "A+", "A-", False),
    (Component.PLASMA, "A-", "A+", False),  # no red cells to immunise
])
def test_when_anti_d_is_advised(component, recipient, donor, advised):
    assert rules.anti_d_advised(component=component, recipient_group=recipient, donor_group=donor) is advised


def test_rhd_positive_platelets_for_an_rhd_negative_recipient_are_flagged_for_anti_d(api, hospital_a, stock, bob):
    stock(hospital_a, "A+", 1, component=Component.PLATELETS)  # no RhD-negative platelets in stock
    request = services.request_create(hospital=hospital_a, blood_group="A-", units=1, urgency=3, component=Component.PLATELETS, by=bob)
    [allocation] = services.request_fulfil(request=request, by=bob)
    assert allocation.unit.blood_group == "A+" and allocation.anti_d_advised is True
    issued = api(bob).post(f"{BASE}allocations/{allocation.pk}/issue")
    assert issued.status_code == 200 and issued.json()["anti_d_advised"] is True


def test_rhd_negative_platelets_need_no_anti_d(hospital_a, stock, bob):
    stock(hospital_a, "A-", 1, component=Component.PLATELETS)
    stock(hospital_a, "A+", 1, component=Component.PLATELETS)
    request = services.request_create(hospital=hospital_a, blood_group="A-", units=1, urgency=3, component=Component.PLATELETS, by=bob)
    [allocation] = services.request_fulfil(request=request, by=bob)
    assert allocation.unit.blood_group == "A-" and allocation.anti_d_advised is False
