"""The seed's hospital API, end to end through HTTP."""

from datetime import timedelta

import pytest
from django.utils import timezone

from bloodbank import rules, services
from bloodbank.models import BloodUnit, UnitStatus
from conftest import PASSWORD
from healthsync.errors import DomainError
from healthsync.models import Hospital, Membership

pytestmark = pytest.mark.django_db
BASE = "/api/blood-bank"


def test_hospital_registers_logs_in_and_manages_its_own_stock(client, settings):
    settings.HEALTHSYNC_AUTO_VERIFY_HOSPITALS = False
    response = client.post(
        f"{BASE}/hospital/register",
        {
            "name": "Gamma Hospital",
            "address": "3 High St",
            "contact_number": "+44 1234",
            "email": "bank@gamma.example",
            "password": PASSWORD,
        },
        content_type="application/json",
    )
    assert response.status_code == 201, response.content
    hospital = Hospital.objects.get(pk=response.json()["id"])
    assert len(hospital.fin) == 5 and not hospital.is_verified
    assert Membership.objects.get(hospital=hospital).role == "hospital_admin"

    tokens = client.post(
        f"{BASE}/hospital/login", {"email": "bank@gamma.example", "password": PASSWORD}, content_type="application/json"
    ).json()
    auth = {"HTTP_AUTHORIZATION": f"Bearer {tokens['access']}"}

    added = client.post(
        f"{BASE}/hospital/inventory/add",
        {"blood_type": "A+", "quantity_ml": 450, "units": 3, "collected_at": timezone.now().isoformat()},
        content_type="application/json",
        **auth,
    )
    assert added.status_code == 201, added.content
    units = added.json()["units"]
    assert len(units) == 3 and {u["din"][:5] for u in units} == {hospital.fin}
    assert len({u["din"] for u in units}) == 3
    assert units[0]["component"] == "red_cells" and units[0]["status"] == "available"

    inventory = client.get(f"{BASE}/hospital/inventory", **auth).json()["inventory"]
    assert [row["blood_type"] for row in inventory] == ["A+", "A-", "B+", "B-", "AB+", "AB-", "O+", "O-"]
    assert inventory[0] == {"blood_type": "A+", "units": 3, "quantity_ml": 1350}
    assert all(row["units"] == 0 and row["quantity_ml"] == 0 for row in inventory[1:])

    # Not verified yet: not in the public list.
    assert hospital.pk not in [h["id"] for h in client.get(f"{BASE}/hospitals").json()]


def test_request_fulfil_and_list(api, bob, hospital_a, stock):
    stock(hospital_a, "O-", 2)
    stock(hospital_a, "A+", 1)
    client = api(bob)
    created = client.post(
        f"{BASE}/hospital/request", {"blood_type": "A+", "quantity_ml": 600, "urgency_level": 3}, format="json"
    )
    assert created.status_code == 201
    assert created.json()["status"] == "Pending"
    request_id = created.json()["request_id"]

    fulfilled = client.post(f"{BASE}/hospital/request/fulfill/{request_id}")
    assert fulfilled.status_code == 200, fulfilled.content
    body = fulfilled.json()
    # 600 ml = 2 red-cell units: the A+ unit first, then O- is kept back by the reserve (default 4), so partial.
    assert body["status"] == "Partially fulfilled"
    assert [unit["blood_type"] for unit in body["allocated"]] == ["A+"]
    assert {"din", "blood_type", "component", "expiry_date"} <= set(body["allocated"][0])

    stock(hospital_a, "A-", 1)
    again = client.post(f"{BASE}/hospital/request/fulfill/{request_id}").json()
    assert again["status"] == "Fulfilled"
    assert [unit["blood_type"] for unit in again["allocated"]] == ["A-"]

    nothing_more = client.post(f"{BASE}/hospital/request/fulfill/{request_id}")
    assert nothing_more.status_code == 200
    assert nothing_more.json() == {"request_id": request_id, "status": "Fulfilled", "allocated": []}

    listed = client.get(f"{BASE}/hospital/requests").json()
    assert listed["count"] == 1 and listed["results"][0]["request_id"] == request_id
    assert BloodUnit.objects.filter(status=UnitStatus.RESERVED).count() == 2


def test_fulfil_with_nothing_compatible_is_409(api, bob, hospital_a, stock):
    stock(hospital_a, "A+", 3)
    client = api(bob)
    request_id = client.post(
        f"{BASE}/hospital/request", {"blood_type": "O-", "units": 1, "urgency_level": 4}, format="json"
    ).json()["request_id"]
    response = client.post(f"{BASE}/hospital/request/fulfill/{request_id}")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "no_compatible_stock"


def test_another_hospitals_request_is_404(api, bob, carol):
    created = api(carol).post(
        f"{BASE}/hospital/request", {"blood_type": "B+", "units": 1, "urgency_level": 2}, format="json"
    )
    request_id = created.json()["request_id"]
    assert api(bob).post(f"{BASE}/hospital/request/fulfill/{request_id}").status_code == 404
    assert api(bob).get(f"{BASE}/requests/{request_id}/").status_code == 404
    assert api(bob).get(f"{BASE}/hospital/requests").json()["count"] == 0


@pytest.mark.parametrize(
    "payload, field",
    [
        ({"blood_type": "C+", "quantity_ml": 450}, "blood_type"),
        ({"blood_type": "A+", "quantity_ml": 0}, "quantity_ml"),
        ({"blood_type": "A+", "quantity_ml": -5}, "quantity_ml"),
        ({"blood_type": "A+", "quantity_ml": 450, "expiry_date": "2020-01-01"}, "expiry_date"),
        ({"blood_type": "A+", "quantity_ml": 450, "component": "serum"}, "component"),
        ({"blood_type": "A+", "din": "G123 498 654 321 A", "collected_at": timezone.now().isoformat()}, "din"),
        ({"blood_type": "A+", "din": "G123 498 654 321 H", "units": 2}, "din"),
        ({"blood_type": "A+", "units": 0}, "units"),
    ],
)
def test_inventory_add_refuses_bad_input(api, bob, payload, field):
    response = api(bob).post(f"{BASE}/hospital/inventory/add", payload, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()["error"]["fields"]
    assert BloodUnit.objects.count() == 0


def test_inventory_add_accepts_a_din_with_its_check_character(api, bob):
    response = api(bob).post(
        f"{BASE}/hospital/inventory/add",
        {
            "blood_type": "O+",
            "din": "G123 498 654 321 H",
            "quantity_ml": 300,
            "collected_at": timezone.now().isoformat(),
        },
        format="json",
    )
    assert response.status_code == 201
    assert response.json()["units"][0]["din"] == "G123498654321"
    duplicate = api(bob).post(
        f"{BASE}/hospital/inventory/add",
        {"blood_type": "O+", "din": "G123498654321H", "collected_at": timezone.now().isoformat()},
        format="json",
    )
    assert duplicate.status_code == 409


@pytest.mark.parametrize(
    "payload, field",
    [
        ({"blood_type": "A+", "units": 1, "urgency_level": 6}, "urgency_level"),
        ({"blood_type": "A+", "units": 1, "urgency_level": 0}, "urgency_level"),
        ({"blood_type": "Z", "units": 1, "urgency_level": 3}, "blood_type"),
        ({"blood_type": "A+", "urgency_level": 3}, "units"),
        ({"blood_type": "A+", "quantity_ml": -1, "urgency_level": 3}, "quantity_ml"),
    ],
)
def test_request_refuses_bad_input(api, bob, payload, field):
    response = api(bob).post(f"{BASE}/hospital/request", payload, format="json")
    assert response.status_code == 400
    assert field in response.json()["error"]["fields"]


def test_public_endpoints(client, hospital_a, hospital_b):
    hospital_b.is_verified = False
    hospital_b.save()
    assert client.get(f"{BASE}/blood-types").json() == ["A+", "A-", "B+", "B-", "AB+", "AB-", "O+", "O-"]
    hospitals = client.get(f"{BASE}/hospitals").json()
    assert [h["id"] for h in hospitals] == [hospital_a.pk]


def test_accounts_without_a_hospital_role_are_refused(api, dave, client):
    assert api(dave).get(f"{BASE}/hospital/inventory").status_code == 403
    assert (
        api(dave)
        .post(f"{BASE}/hospital/request", {"blood_type": "A+", "units": 1, "urgency_level": 3}, format="json")
        .status_code
        == 403
    )
    assert client.get(f"{BASE}/hospital/inventory").status_code == 401
    refused = client.post(
        f"{BASE}/hospital/login", {"email": dave.email, "password": PASSWORD}, content_type="application/json"
    )
    assert refused.status_code == 403


def test_expired_stock_is_not_counted_and_cannot_be_allocated(api, bob, hospital_a, stock):
    unit = stock(hospital_a, "B+", 1)[0]
    BloodUnit.objects.filter(pk=unit.pk).update(expires_at=timezone.now())
    client = api(bob)
    inventory = {
        row["blood_type"]: row["units"] for row in client.get(f"{BASE}/hospital/inventory").json()["inventory"]
    }
    assert inventory["B+"] == 0
    request_id = client.post(
        f"{BASE}/hospital/request", {"blood_type": "B+", "units": 1, "urgency_level": 2}, format="json"
    ).json()["request_id"]
    assert client.post(f"{BASE}/hospital/request/fulfill/{request_id}").status_code == 409


def test_donor_accounts_never_see_hospital_endpoints(api, dave, hospital_a):
    dave.is_donor = True
    dave.save()
    client = api(dave)
    for path in [
        "hospital/inventory",
        "hospital/requests",
        "units/",
        "transfers/",
        "par-levels/",
        "inventory/network",
        "requests/1/",
        "units/1/",
    ]:
        assert client.get(f"{BASE}/{path}").status_code == 403, path
    for path, body in [
        ("hospital/inventory/add", {"blood_type": "A+"}),
        ("hospital/request", {"blood_type": "A+", "units": 1, "urgency_level": 3}),
        ("hospital/request/fulfill/1", None),
        ("units/1/discard", {"reason": "x"}),
    ]:
        assert client.post(f"{BASE}/{path}", body, format="json").status_code == 403, path


def test_creating_requests_is_rate_limited(api, bob, monkeypatch):
    from rest_framework.throttling import ScopedRateThrottle

    monkeypatch.setitem(ScopedRateThrottle.THROTTLE_RATES, "blood_request", "2/min")
    client = api(bob)
    made = [
        client.post(
            f"{BASE}/hospital/request", {"blood_type": "A+", "units": 1, "urgency_level": 4}, format="json"
        ).status_code
        for _ in range(3)
    ]
    assert made == [201, 201, 429]


def test_inventory_add_needs_the_expiry_date_or_the_collection_time(api, bob):
    response = api(bob).post(f"{BASE}/hospital/inventory/add", {"blood_type": "A+", "quantity_ml": 300}, format="json")
    assert response.status_code == 400, response.content
    assert {"expiry_date", "collected_at"} <= set(response.json()["error"]["fields"])
    assert BloodUnit.objects.count() == 0


def test_a_received_unit_is_dated_from_its_collection_not_its_receipt(api, bob):
    collected = timezone.now() - timedelta(days=30)
    response = api(bob).post(
        f"{BASE}/hospital/inventory/add", {"blood_type": "A+", "collected_at": collected.isoformat()}, format="json"
    )
    assert response.status_code == 201, response.content
    expected = rules.last_day_of_use(component="red_cells", collected_on=timezone.localtime(collected).date())
    assert response.json()["units"][0]["expiry_date"] == expected.isoformat()  # 42 days from collection, 12 left


@pytest.mark.parametrize(
    "payload, field",
    [
        ({"collected_at_days": -50}, "collected_at"),  # already past its 42 days
        ({"collected_at_days": 1}, "collected_at"),  # in the future
        ({"collected_at_days": -10, "anticoagulant": "heparin"}, "anticoagulant"),
        ({"collected_at_days": -10, "expiry_date_days": 35}, "expiry_date"),  # beyond 42 days from collection
    ],
)
def test_inventory_add_refuses_an_impossible_collection(api, bob, payload, field):
    now = timezone.now()
    body = {
        "blood_type": "A+",
        "collected_at": (now + timedelta(days=payload.pop("collected_at_days"))).isoformat(),
        **payload,
    }
    if "expiry_date_days" in body:
        body["expiry_date"] = (timezone.localdate() + timedelta(days=body.pop("expiry_date_days"))).isoformat()
    response = api(bob).post(f"{BASE}/hospital/inventory/add", body, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()["error"]["fields"]
    assert BloodUnit.objects.count() == 0


def test_a_unit_in_a_named_additive_solution_keeps_42_days(hospital_a, bob):
    collected = timezone.now() - timedelta(days=1)
    unit = services.unit_create(
        hospital=hospital_a,
        component="red_cells",
        blood_group="O+",
        by=bob,
        collected_at=collected,
        anticoagulant="AS-3",
    )
    assert unit.anticoagulant == "AS-3"
    assert unit.last_day_of_use == rules.last_day_of_use(
        component="red_cells", collected_on=timezone.localtime(collected).date(), anticoagulant="additive_solution"
    )
    with pytest.raises(DomainError) as refused:
        services.unit_create(hospital=hospital_a, component="red_cells", blood_group="O+", by=bob, anticoagulant="AS-9")
    assert "anticoagulant" in refused.value.fields and "AS-9" in refused.value.message
