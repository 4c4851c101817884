"""Red cells and whole blood are issued only after a compatible crossmatch on a recent, identified
sample of the recipient (21 CFR 606.151(b)-(c)); other components, and emergency release, need none."""

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from bloodbank import rules, services
from bloodbank.models import Allocation, AllocationStatus, BloodUnit, Component, UnitEvent, UnitStatus
from conftest import PASSWORD
from healthsync.errors import Conflict, DomainError

pytestmark = pytest.mark.django_db

BASE = "/api/blood-bank/"


def _reserve(hospital, stock, bob, *, group="A+", component=Component.RED_CELLS, units=1):
    stock(hospital, group, units, component=component)
    request = services.request_create(
        hospital=hospital, blood_group=group, units=units, urgency=3, component=component, by=bob
    )
    return request, services.request_fulfil(request=request, by=bob)


def _crossmatch(allocation, bob, *, compatible=True, hours_ago=2, sample_id="S-0042"):
    return services.allocation_crossmatch(
        allocation=allocation,
        method="serological",
        sample_id=sample_id,
        sample_drawn_at=timezone.now() - timedelta(hours=hours_ago),
        compatible=compatible,
        by=bob,
    )


@pytest.mark.parametrize(
    "component, needed",
    [
        (Component.RED_CELLS, True),
        (Component.WHOLE_BLOOD, True),
        (Component.PLATELETS, False),
        (Component.PLASMA, False),
        (Component.CRYOPRECIPITATE, False),
    ],
)
def test_which_components_are_crossmatched(component, needed):
    assert rules.needs_crossmatch(component) is needed


@pytest.mark.parametrize(
    "age, problem",
    [
        (timedelta(0), None),
        (timedelta(days=3) - timedelta(minutes=1), None),
        (timedelta(minutes=-4), None),
        (timedelta(days=3, minutes=1), "more than 3 days ago"),
        (timedelta(hours=-1), "in the future"),
    ],
)
def test_sample_age(age, problem):
    now = timezone.now()
    if problem is None:
        assert rules.check_crossmatch_sample(drawn_at=now - age, now=now, max_days=3) == now - age
    else:
        with pytest.raises(ValueError, match=problem):
            rules.check_crossmatch_sample(drawn_at=now - age, now=now, max_days=3)


def test_red_cells_are_not_issued_without_a_crossmatch(hospital_a, stock, bob):
    _, [allocation] = _reserve(hospital_a, stock, bob)
    with pytest.raises(Conflict) as refused:
        services.allocation_issue(allocation=allocation, by=bob)
    assert refused.value.code == "not_crossmatched" and "crossmatch" in refused.value.message
    assert BloodUnit.objects.get(pk=allocation.unit_id).status == UnitStatus.RESERVED


def test_a_compatible_crossmatch_is_recorded_and_the_unit_then_issues(hospital_a, stock, bob):
    _, [allocation] = _reserve(hospital_a, stock, bob, component=Component.WHOLE_BLOOD)
    recorded = _crossmatch(allocation, bob)
    assert (recorded.crossmatch_method, recorded.crossmatch_sample_id, recorded.crossmatch_compatible) == (
        "serological",
        "S-0042",
        True,
    )
    assert recorded.crossmatched_by == bob and recorded.crossmatched_at is not None
    issued = services.allocation_issue(allocation=allocation, by=bob)
    assert issued.status == AllocationStatus.ISSUED and issued.unit.status == UnitStatus.ISSUED


def test_issue_is_refused_once_the_sample_has_grown_too_old(hospital_a, stock, bob, settings):
    settings.HEALTHSYNC_CROSSMATCH_SAMPLE_DAYS = 3
    _, [allocation] = _reserve(hospital_a, stock, bob)
    _crossmatch(allocation, bob, hours_ago=71)
    Allocation.objects.filter(pk=allocation.pk).update(
        crossmatch_sample_drawn_at=timezone.now() - timedelta(days=3, hours=1)
    )
    with pytest.raises(Conflict) as refused:
        services.allocation_issue(allocation=allocation, by=bob)
    assert refused.value.code == "sample_too_old" and "new sample" in refused.value.message
    _crossmatch(allocation, bob, hours_ago=1, sample_id="S-0043")  # a new sample, crossmatched again
    assert services.allocation_issue(allocation=allocation, by=bob).status == AllocationStatus.ISSUED


def test_an_incompatible_crossmatch_returns_the_unit_to_stock_and_the_request_is_short_again(hospital_a, stock, bob):
    request, [allocation] = _reserve(hospital_a, stock, bob)
    request.refresh_from_db()
    assert request.status == "fulfilled"
    result = _crossmatch(allocation, bob, compatible=False)
    assert result.status == AllocationStatus.CANCELLED and result.crossmatch_compatible is False
    assert Allocation.objects.get(pk=allocation.pk).crossmatch_sample_id == "S-0042"
    assert BloodUnit.objects.get(pk=allocation.unit_id).status == UnitStatus.AVAILABLE
    request.refresh_from_db()
    assert request.status == "pending"
    assert (
        UnitEvent.objects.filter(unit_id=allocation.unit_id, to_status="available").last().reason
        == "Crossmatch incompatible (sample S-0042)"
    )
    with pytest.raises(Conflict) as refused:
        services.allocation_issue(allocation=allocation, by=bob)
    assert refused.value.code == "not_reserved"


@pytest.mark.parametrize(
    "change, field",
    [
        ({"method": "guesswork"}, "method"),
        ({"sample_id": "  "}, "sample_id"),
        ({"sample_drawn_at": None}, "sample_drawn_at"),
        ({"sample_drawn_at": "future"}, "sample_drawn_at"),
        ({"sample_drawn_at": "old"}, "sample_drawn_at"),
    ],
)
def test_a_crossmatch_needs_a_method_an_identified_sample_and_a_recent_draw(hospital_a, stock, bob, change, field):
    _, [allocation] = _reserve(hospital_a, stock, bob)
    now = timezone.now()
    when = {"future": now + timedelta(hours=1), "old": now - timedelta(days=4)}
    arguments = {
        "method": "electronic",
        "sample_id": "S-1",
        "sample_drawn_at": now - timedelta(hours=1),
        "compatible": True,
    }
    arguments.update({key: when.get(value, value) for key, value in change.items()})
    with pytest.raises(DomainError) as refused:
        services.allocation_crossmatch(allocation=allocation, by=bob, **arguments)
    assert field in refused.value.fields and refused.value.status_code == 400
    assert Allocation.objects.get(pk=allocation.pk).crossmatch_compatible is None


def test_only_a_reserved_allocation_is_crossmatched(hospital_a, stock, bob):
    _, [allocation] = _reserve(hospital_a, stock, bob)
    services.allocation_cancel(allocation=allocation, by=bob, reason="Not needed")
    with pytest.raises(Conflict) as refused:
        _crossmatch(allocation, bob)
    assert refused.value.code == "not_reserved"


def test_platelets_issue_without_a_crossmatch(hospital_a, stock, bob):
    _, [allocation] = _reserve(hospital_a, stock, bob, component=Component.PLATELETS)
    assert services.allocation_issue(allocation=allocation, by=bob).status == AllocationStatus.ISSUED


def test_emergency_release_still_issues_uncrossmatched_group_o(hospital_a, stock, bob):
    stock(hospital_a, "O-", 1)
    request = services.request_create(hospital=hospital_a, blood_group="A-", units=1, urgency=5, by=bob)
    [allocation] = services.emergency_release(request=request, physician="Dr Jane Moss", by=bob)
    assert (
        allocation.emergency
        and allocation.status == AllocationStatus.ISSUED
        and allocation.crossmatch_compatible is None
    )
    assert BloodUnit.objects.get(pk=allocation.unit_id).status == UnitStatus.ISSUED


def test_the_api_records_a_crossmatch_then_issues(api, bob, hospital_a, stock):
    _, [allocation] = _reserve(hospital_a, stock, bob)
    client = api(bob)
    refused = client.post(f"{BASE}allocations/{allocation.pk}/issue")
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "not_crossmatched"
    drawn = timezone.now() - timedelta(hours=3)
    response = client.post(
        f"{BASE}allocations/{allocation.pk}/crossmatch",
        {
            "method": "electronic",
            "sample_id": "S-77",
            "sample_drawn_at": drawn.isoformat(),
            "compatible": True,
        },
        format="json",
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert (
        body["status"] == "reserved"
        and body["crossmatch_method"] == "electronic"
        and body["crossmatch_sample_id"] == "S-77"
    )
    assert (
        body["crossmatch_compatible"] is True
        and body["crossmatched_by"] == bob.pk
        and body["unit"]["id"] == allocation.unit_id
    )
    issued = client.post(f"{BASE}allocations/{allocation.pk}/issue")
    assert issued.status_code == 200 and issued.json()["status"] == "issued"


@pytest.mark.parametrize(
    "payload, field",
    [
        ({"method": "electronic", "sample_id": "S-1", "compatible": True}, "sample_drawn_at"),
        ({"method": "telepathy", "sample_id": "S-1", "sample_drawn_at": "now", "compatible": True}, "method"),
        ({"method": "electronic", "sample_id": "", "sample_drawn_at": "now", "compatible": True}, "sample_id"),
        ({"method": "electronic", "sample_id": "S-1", "sample_drawn_at": "now"}, "compatible"),
        ({"method": "electronic", "sample_id": "S-1", "sample_drawn_at": "old", "compatible": True}, "sample_drawn_at"),
        (
            {"method": "electronic", "sample_id": "S-1", "sample_drawn_at": "future", "compatible": True},
            "sample_drawn_at",
        ),
    ],
)
def test_the_api_refuses_an_incomplete_or_out_of_date_crossmatch(api, bob, hospital_a, stock, payload, field):
    _, [allocation] = _reserve(hospital_a, stock, bob)
    now = timezone.now()
    when = {"now": now, "old": now - timedelta(days=5), "future": now + timedelta(days=1)}
    if "sample_drawn_at" in payload:
        payload = {**payload, "sample_drawn_at": when[payload["sample_drawn_at"]].isoformat()}
    response = api(bob).post(f"{BASE}allocations/{allocation.pk}/crossmatch", payload, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()["error"]["fields"]
    assert Allocation.objects.get(pk=allocation.pk).crossmatch_compatible is None


def test_the_api_is_scoped_to_the_users_hospitals(api, bob, carol, hospital_a, stock):
    _, [allocation] = _reserve(hospital_a, stock, bob)
    response = api(carol).post(
        f"{BASE}allocations/{allocation.pk}/crossmatch",
        {
            "method": "electronic",
            "sample_id": "S-1",
            "sample_drawn_at": timezone.now().isoformat(),
            "compatible": True,
        },
        format="json",
    )
    assert response.status_code == 404


def _admin_form(drawn_at, **extra):
    local = timezone.localtime(drawn_at)
    return {
        "crossmatch_method": "serological",
        "crossmatch_sample_id": "S-9",
        "crossmatch_sample_drawn_at_0": local.date().isoformat(),
        "crossmatch_sample_drawn_at_1": local.strftime("%H:%M:%S"),
        "crossmatch_compatible": "true",
        **extra,
    }


def test_the_console_records_a_crossmatch_on_the_allocation_page_then_issues(bob, hospital_a, stock):
    _, [allocation] = _reserve(hospital_a, stock, bob)
    client = Client()
    assert client.login(email=bob.email, password=PASSWORD)
    page = f"/admin/bloodbank/allocation/{allocation.pk}/change/"
    assert b'name="crossmatch_sample_id"' in client.get(page).content

    refused = client.post(page, _admin_form(timezone.now() - timedelta(days=5)), follow=True)
    assert b"more than 3 days ago" in refused.content
    assert Allocation.objects.get(pk=allocation.pk).crossmatch_compatible is None

    saved = client.post(page, _admin_form(timezone.now() - timedelta(hours=2)))
    assert saved.status_code == 302
    recorded = Allocation.objects.get(pk=allocation.pk)
    assert (
        recorded.crossmatch_compatible is True
        and recorded.crossmatch_sample_id == "S-9"
        and recorded.crossmatched_by == bob
    )

    client.post("/admin/bloodbank/allocation/", {"action": "issue", "_selected_action": [allocation.pk]})
    assert Allocation.objects.get(pk=allocation.pk).status == AllocationStatus.ISSUED
    assert b'name="crossmatch_sample_id"' not in client.get(page).content  # read-only once issued


def test_the_console_issue_action_refuses_an_uncrossmatched_unit(bob, hospital_a, stock):
    _, [allocation] = _reserve(hospital_a, stock, bob)
    client = Client()
    assert client.login(email=bob.email, password=PASSWORD)
    page = client.post(
        "/admin/bloodbank/allocation/", {"action": "issue", "_selected_action": [allocation.pk]}, follow=True
    )
    assert b"no compatible crossmatch" in page.content
    assert Allocation.objects.get(pk=allocation.pk).status == AllocationStatus.RESERVED


def test_an_incompatible_crossmatch_in_the_console_puts_the_unit_back(bob, hospital_a, stock):
    request, [allocation] = _reserve(hospital_a, stock, bob)
    client = Client()
    assert client.login(email=bob.email, password=PASSWORD)
    page = client.post(
        f"/admin/bloodbank/allocation/{allocation.pk}/change/",
        _admin_form(timezone.now() - timedelta(hours=1), crossmatch_compatible="false"),
        follow=True,
    )
    assert b"back in stock" in page.content
    assert Allocation.objects.get(pk=allocation.pk).status == AllocationStatus.CANCELLED
    assert BloodUnit.objects.get(pk=allocation.unit_id).status == UnitStatus.AVAILABLE
