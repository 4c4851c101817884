"""Domain edges on every blood bank write endpoint: negative or huge quantities, dates in the past
or far future, unknown groups and components, urgency out of range, overlong text.

Each is a 400 (409 for a rule conflict) in the error shape, and not one row is written; legitimate
Unicode names round-trip intact.
"""

from datetime import date, timedelta

import pytest
from django.utils import timezone

from bloodbank import rules, services
from bloodbank.models import Allocation, BloodRequest, BloodUnit, Component, ParLevel, Transfer, UnitEvent
from healthsync.models import Hospital, Membership, User

BASE = "/api/blood-bank/"
HUGE = 10**20  # beyond any database integer
TABLES = [BloodUnit, UnitEvent, BloodRequest, Allocation, Transfer, ParLevel, Hospital, User, Membership]
UNICODE_NAMES = [
    "Zoë Ñúñez-李",
    "مستشفى الشفاء التخصصي",
    "בית החולים הדסה",
    "St Mary's 🏥🩸",
    "Ærøskøbing Sygehus – Ĳsselmonde",
]


def row_counts() -> dict[str, int]:
    return {model.__name__: model.objects.count() for model in TABLES}


def in_days(days: int) -> str:
    return (timezone.localdate() + timedelta(days=days)).isoformat()


def at_days(days: int) -> str:
    return (timezone.now() + timedelta(days=days)).isoformat()


REQUEST = {"blood_type": "A+", "units": 2, "urgency_level": 3}
RECEIPT = {"blood_type": "O-", "quantity_ml": 300, "collected_at": at_days(0)}

# (id, path, payload (given the hospitals' and the urgent request's ids), status, field named in the error)
EDGES = [
    # inventory/add
    ("add-unknown-group", "hospital/inventory/add", lambda ids: {**RECEIPT, "blood_type": "C+"}, 400, "blood_type"),
    ("add-group-without-rhd", "hospital/inventory/add", lambda ids: {**RECEIPT, "blood_type": "AB"}, 400, "blood_type"),
    ("add-negative-volume", "hospital/inventory/add", lambda ids: {**RECEIPT, "quantity_ml": -450}, 400, "quantity_ml"),
    ("add-zero-volume", "hospital/inventory/add", lambda ids: {**RECEIPT, "quantity_ml": 0}, 400, "quantity_ml"),
    ("add-huge-volume", "hospital/inventory/add", lambda ids: {**RECEIPT, "quantity_ml": HUGE}, 400, "quantity_ml"),
    ("add-zero-units", "hospital/inventory/add", lambda ids: {**RECEIPT, "units": 0}, 400, "units"),
    ("add-negative-units", "hospital/inventory/add", lambda ids: {**RECEIPT, "units": -3}, 400, "units"),
    ("add-huge-units", "hospital/inventory/add", lambda ids: {**RECEIPT, "units": HUGE}, 400, "units"),
    ("add-fractional-units", "hospital/inventory/add", lambda ids: {**RECEIPT, "units": 1.5}, 400, "units"),
    ("add-expired", "hospital/inventory/add", lambda ids: {**RECEIPT, "expiry_date": in_days(-1)}, 400, "expiry_date"),
    (
        "add-expiry-long-ago",
        "hospital/inventory/add",
        lambda ids: {**RECEIPT, "expiry_date": "1900-01-01"},
        400,
        "expiry_date",
    ),
    (
        "add-expiry-beyond-dating",
        "hospital/inventory/add",
        lambda ids: {**RECEIPT, "expiry_date": in_days(43)},
        400,
        "expiry_date",
    ),
    (
        "add-platelets-beyond-dating",
        "hospital/inventory/add",
        lambda ids: {**RECEIPT, "component": "platelets", "expiry_date": in_days(6)},
        400,
        "expiry_date",
    ),
    (
        "add-expiry-year-9999",
        "hospital/inventory/add",
        lambda ids: {**RECEIPT, "expiry_date": "9999-12-31"},
        400,
        "expiry_date",
    ),
    (
        "add-unknown-component",
        "hospital/inventory/add",
        lambda ids: {**RECEIPT, "component": "blood"},
        400,
        "component",
    ),
    ("add-bad-din", "hospital/inventory/add", lambda ids: {**RECEIPT, "din": "not-a-din"}, 400, "din"),
    ("add-overlong-din", "hospital/inventory/add", lambda ids: {**RECEIPT, "din": "A" * 10_000}, 400, "din"),
    ("add-huge-hospital", "hospital/inventory/add", lambda ids: {**RECEIPT, "hospital": HUGE}, 400, "hospital"),
    # request
    ("request-urgency-0", "hospital/request", lambda ids: {**REQUEST, "urgency_level": 0}, 400, "urgency_level"),
    ("request-urgency-6", "hospital/request", lambda ids: {**REQUEST, "urgency_level": 6}, 400, "urgency_level"),
    (
        "request-urgency-negative",
        "hospital/request",
        lambda ids: {**REQUEST, "urgency_level": -1},
        400,
        "urgency_level",
    ),
    (
        "request-urgency-words",
        "hospital/request",
        lambda ids: {**REQUEST, "urgency_level": "high"},
        400,
        "urgency_level",
    ),
    (
        "request-urgency-fraction",
        "hospital/request",
        lambda ids: {**REQUEST, "urgency_level": 4.5},
        400,
        "urgency_level",
    ),
    ("request-no-quantity", "hospital/request", lambda ids: {"blood_type": "A+", "urgency_level": 3}, 400, "units"),
    ("request-zero-units", "hospital/request", lambda ids: {**REQUEST, "units": 0}, 400, "units"),
    ("request-negative-units", "hospital/request", lambda ids: {**REQUEST, "units": -5}, 400, "units"),
    ("request-201-units", "hospital/request", lambda ids: {**REQUEST, "units": 201}, 400, "units"),
    ("request-huge-units", "hospital/request", lambda ids: {**REQUEST, "units": HUGE}, 400, "units"),
    (
        "request-negative-ml",
        "hospital/request",
        lambda ids: {"blood_type": "A+", "urgency_level": 3, "quantity_ml": -1},
        400,
        "quantity_ml",
    ),
    (
        "request-huge-ml",
        "hospital/request",
        lambda ids: {"blood_type": "A+", "urgency_level": 3, "quantity_ml": HUGE},
        400,
        "quantity_ml",
    ),
    ("request-unknown-group", "hospital/request", lambda ids: {**REQUEST, "blood_type": "Z-"}, 400, "blood_type"),
    (
        "request-lower-case-words",
        "hospital/request",
        lambda ids: {**REQUEST, "blood_type": "a positive"},
        400,
        "blood_type",
    ),
    (
        "request-unknown-component",
        "hospital/request",
        lambda ids: {**REQUEST, "component": "bone_marrow"},
        400,
        "component",
    ),
    (
        "request-needed-yesterday",
        "hospital/request",
        lambda ids: {**REQUEST, "needed_by": at_days(-1)},
        400,
        "needed_by",
    ),
    (
        "request-needed-in-2000",
        "hospital/request",
        lambda ids: {**REQUEST, "needed_by": "2000-01-01T00:00:00Z"},
        400,
        "needed_by",
    ),
    (
        "request-needed-in-two-years",
        "hospital/request",
        lambda ids: {**REQUEST, "needed_by": at_days(730)},
        400,
        "needed_by",
    ),
    (
        "request-needed-in-9999",
        "hospital/request",
        lambda ids: {**REQUEST, "needed_by": "9999-12-31T23:59:59Z"},
        400,
        "needed_by",
    ),
    (
        "request-needed-not-a-date",
        "hospital/request",
        lambda ids: {**REQUEST, "needed_by": "tomorrow"},
        400,
        "needed_by",
    ),
    (
        "request-overlong-patient",
        "hospital/request",
        lambda ids: {**REQUEST, "patient_reference": "P" * 201},
        400,
        "patient_reference",
    ),
    (
        "request-nul-in-patient",
        "hospital/request",
        lambda ids: {**REQUEST, "patient_reference": "MRN\x00123"},
        400,
        "patient_reference",
    ),
    # par levels
    (
        "par-negative",
        "par-levels/",
        lambda ids: {
            "hospital": ids["a"],
            "blood_group": "O-",
            "component": "red_cells",
            "critical_units": -1,
            "low_units": 5,
        },
        400,
        "critical_units",
    ),
    (
        "par-huge",
        "par-levels/",
        lambda ids: {
            "hospital": ids["a"],
            "blood_group": "O-",
            "component": "red_cells",
            "critical_units": 2,
            "low_units": HUGE,
        },
        400,
        "low_units",
    ),
    (
        "par-low-below-critical",
        "par-levels/",
        lambda ids: {
            "hospital": ids["a"],
            "blood_group": "O-",
            "component": "red_cells",
            "critical_units": 6,
            "low_units": 5,
        },
        400,
        "low_units",
    ),
    (
        "par-unknown-group",
        "par-levels/",
        lambda ids: {
            "hospital": ids["a"],
            "blood_group": "OO",
            "component": "red_cells",
            "critical_units": 2,
            "low_units": 5,
        },
        400,
        "blood_group",
    ),
    # transfers
    (
        "transfer-zero-units",
        "transfers/",
        lambda ids: {
            "from_hospital": ids["b"],
            "to_hospital": ids["a"],
            "component": "red_cells",
            "blood_group": "A+",
            "units_requested": 0,
        },
        400,
        "units_requested",
    ),
    (
        "transfer-negative-units",
        "transfers/",
        lambda ids: {
            "from_hospital": ids["b"],
            "to_hospital": ids["a"],
            "component": "red_cells",
            "blood_group": "A+",
            "units_requested": -4,
        },
        400,
        "units_requested",
    ),
    (
        "transfer-huge-units",
        "transfers/",
        lambda ids: {
            "from_hospital": ids["b"],
            "to_hospital": ids["a"],
            "component": "red_cells",
            "blood_group": "A+",
            "units_requested": 1_000_000,
        },
        400,
        "units_requested",
    ),
    (
        "transfer-unknown-group",
        "transfers/",
        lambda ids: {
            "from_hospital": ids["b"],
            "to_hospital": ids["a"],
            "component": "red_cells",
            "blood_group": "Q+",
            "units_requested": 2,
        },
        400,
        "blood_group",
    ),
    (
        "transfer-to-itself",
        "transfers/",
        lambda ids: {
            "from_hospital": ids["a"],
            "to_hospital": ids["a"],
            "component": "red_cells",
            "blood_group": "A+",
            "units_requested": 2,
        },
        400,
        "from_hospital",
    ),
    (
        "transfer-overlong-note",
        "transfers/",
        lambda ids: {
            "from_hospital": ids["b"],
            "to_hospital": ids["a"],
            "component": "red_cells",
            "blood_group": "A+",
            "units_requested": 2,
            "note": "x" * 5001,
        },
        400,
        "note",
    ),
    # emergency release of the urgency-5 request
    (
        "emergency-no-physician",
        "requests/{request}/emergency-release",
        lambda ids: {"physician": "   "},
        400,
        "physician",
    ),
    (
        "emergency-overlong-physician",
        "requests/{request}/emergency-release",
        lambda ids: {"physician": "Dr " + "N" * 200},
        400,
        "physician",
    ),
    (
        "emergency-negative-units",
        "requests/{request}/emergency-release",
        lambda ids: {"physician": "Dr Grey", "units": -2},
        400,
        "units",
    ),
    (
        "emergency-huge-units",
        "requests/{request}/emergency-release",
        lambda ids: {"physician": "Dr Grey", "units": HUGE},
        400,
        "units",
    ),
    (
        "emergency-units-in-words",
        "requests/{request}/emergency-release",
        lambda ids: {"physician": "Dr Grey", "units": "two"},
        400,
        "units",
    ),
    # hospital registration (no login)
    (
        "register-overlong-name",
        "hospital/register",
        lambda ids: {"name": "H" * 201, "email": "new@h.example", "password": "a-long-enough-passphrase"},
        400,
        "name",
    ),
    (
        "register-overlong-email",
        "hospital/register",
        lambda ids: {
            "name": "New",
            "email": "a" * 60 + "@" + ".".join(["d" * 60] * 4) + ".example",
            "password": "a-long-enough-passphrase",
        },
        400,
        "email",
    ),
    (
        "register-overlong-phone",
        "hospital/register",
        lambda ids: {
            "name": "New",
            "email": "new@h.example",
            "password": "a-long-enough-passphrase",
            "contact_number": "1" * 41,
        },
        400,
        "contact_number",
    ),
    (
        "register-overlong-region",
        "hospital/register",
        lambda ids: {
            "name": "New",
            "email": "new@h.example",
            "password": "a-long-enough-passphrase",
            "region": "R" * 101,
        },
        400,
        "region",
    ),
    (
        "register-blank-name",
        "hospital/register",
        lambda ids: {"name": "   ", "email": "new@h.example", "password": "a-long-enough-passphrase"},
        400,
        "name",
    ),
]


@pytest.fixture
def urgent_request(bob, hospital_a, stock):
    """An urgency-5 request for 2 A+ red cells at Alpha, with group O red cells on the shelf."""
    stock(hospital_a, "O-", 2)
    stock(hospital_a, "O+", 2)
    return services.request_create(hospital=hospital_a, blood_group="A+", urgency=5, units=2, by=bob)


@pytest.mark.parametrize("path, payload, status, field", [edge[1:] for edge in EDGES], ids=[edge[0] for edge in EDGES])
def test_an_edge_is_refused_in_the_error_shape_and_writes_nothing(
    api, bob, hospital_a, hospital_b, urgent_request, path, payload, status, field
):
    ids = {"a": hospital_a.pk, "b": hospital_b.pk, "request": urgent_request.pk}
    client = api(bob)
    before = row_counts()
    response = client.post(BASE + path.format(**ids), payload(ids), format="json")
    assert response.status_code == status, response.content[:500]
    error = response.json()["error"]
    assert set(error) == {"code", "message", "fields", "details"} and error["message"]
    assert field in error["fields"], error
    assert row_counts() == before


@pytest.mark.parametrize("name", UNICODE_NAMES)
def test_a_hospital_registers_under_a_unicode_name_that_round_trips(db, name):
    from rest_framework.test import APIClient

    from conftest import make_region

    email = f"admin{UNICODE_NAMES.index(name)}@new-hospital.example"
    region = make_region(" ".join(name[:20].split()))  # a managed region named in the same script
    response = APIClient().post(
        BASE + "hospital/register",
        {
            "name": name,
            "email": email,
            "password": "a-long-enough-passphrase",
            "address": f"1 {name} Road",
            "region": region.name,
        },
        format="json",
    )
    assert response.status_code == 201, response.content[:500]
    assert response.json()["name"] == name
    hospital = Hospital.objects.get(pk=response.json()["id"])
    assert (hospital.name, hospital.address, hospital.region) == (name, f"1 {name} Road", region)
    listed = {row["id"]: row["name"] for row in APIClient().get(BASE + "hospitals").json()}
    assert listed.get(hospital.pk, name) == name  # listed once verified (embedded mode verifies at once)


def test_unicode_patient_reference_and_physician_round_trip(api, bob, urgent_request):
    client = api(bob)
    created = client.post(
        BASE + "hospital/request", {**REQUEST, "patient_reference": "MRN 42 – Zoë Ñúñez-李 🩸"}, format="json"
    )
    assert created.status_code == 201, created.content
    detail = client.get(f"{BASE}requests/{created.json()['request_id']}/").json()
    assert detail["patient_reference"] == "MRN 42 – Zoë Ñúñez-李 🩸"
    released = client.post(
        f"{BASE}requests/{urgent_request.pk}/emergency-release", {"physician": "Dr Zoë Ñúñez-李"}, format="json"
    )
    assert released.status_code == 200, released.content
    assert BloodRequest.objects.get(pk=urgent_request.pk).emergency_physician == "Dr Zoë Ñúñez-李"


def test_an_emergency_release_when_no_group_o_is_left_is_a_conflict_and_writes_nothing(api, bob, hospital_a):
    blood_request = services.request_create(hospital=hospital_a, blood_group="A+", urgency=5, units=2, by=bob)
    before = row_counts()
    response = api(bob).post(
        f"{BASE}requests/{blood_request.pk}/emergency-release", {"physician": "Dr Grey"}, format="json"
    )
    assert response.status_code == 409 and response.json()["error"]["code"] == "no_compatible_stock"
    assert row_counts() == before
    assert BloodRequest.objects.get(pk=blood_request.pk).emergency_physician == ""


def test_the_largest_accepted_values_are_written(api, bob, hospital_a):
    client = api(bob)
    received = client.post(BASE + "hospital/inventory/add", {**RECEIPT, "expiry_date": in_days(42)}, format="json")
    assert received.status_code == 201, received.content
    assert received.json()["units"][0]["expiry_date"] == in_days(42)
    request = client.post(
        BASE + "hospital/request",
        {**REQUEST, "units": 200, "urgency_level": 5, "needed_by": at_days(364)},
        format="json",
    )
    assert request.status_code == 201, request.content


@pytest.mark.parametrize(
    "component, received_on, latest",
    [
        (Component.RED_CELLS, date(2025, 1, 1), date(2025, 2, 12)),  # additive solution: 42 days
        (Component.WHOLE_BLOOD, date(2025, 1, 1), date(2025, 2, 5)),  # CPDA-1: 35 days
        (Component.PLATELETS, date(2025, 1, 1), date(2025, 1, 6)),
        (Component.PLASMA, date(2024, 2, 29), date(2025, 2, 28)),
        (Component.CRYOPRECIPITATE, date(2025, 3, 1), date(2026, 3, 1)),
    ],
)
def test_the_latest_label_expiry_is_the_longest_dating_of_the_component(component, received_on, latest):
    assert rules.latest_last_day_of_use(component=component, received_on=received_on) == latest


@pytest.mark.parametrize(
    "offset, problem",
    [
        (timedelta(minutes=-1), None),  # clock skew and typing time
        (timedelta(hours=-1), "past"),
        (timedelta(days=365), None),
        (timedelta(days=366), "year"),
    ],
)
def test_needed_by_is_now_to_a_year_ahead(offset, problem):
    now = timezone.now()
    if problem is None:
        rules.check_needed_by(needed_by=now + offset, now=now)
    else:
        with pytest.raises(ValueError, match=problem):
            rules.check_needed_by(needed_by=now + offset, now=now)
