"""Domain edges on every donor write endpoint: impossible dates of birth, weights and volumes,
unknown groups, slots in the past or far future, overlong text, ids beyond any database integer.

Each is a 400 (409 for a rule conflict) in the error shape, and not one row is written; legitimate
Unicode names round-trip intact.
"""

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from bloodbank.models import BloodUnit
from conftest import PASSWORD, make_region
from donors.models import Appointment, Deferral, Donation, DonationSlot, DonorProfile, MarkerResult, Screening
from healthsync.models import User

BASE = "/api/blood-bank/"
HUGE = 10**20  # beyond any database integer
TABLES = [User, DonorProfile, Deferral, DonationSlot, Appointment, Donation, Screening, MarkerResult, BloodUnit]
UNICODE_NAMES = [
    "Zoë Ñúñez-李",
    "ناصر الدين بن علي",
    "דָּוִד לֵוִי",
    "Siobhán Ó Dálaigh 🩸",
    "Nguyễn Thị Minh Khai",
    "Ελένη Παπαδοπούλου",
]


def row_counts() -> dict[str, int]:
    return {model.__name__: model.objects.count() for model in TABLES}


def years_ago(years: int) -> str:
    today = timezone.localdate()
    return today.replace(year=today.year - years, day=min(today.day, 28)).isoformat()


def at(days: float, hour: int = 10) -> str:
    start = timezone.localtime().replace(hour=hour, minute=0, second=0, microsecond=0) + timedelta(days=days)
    return start.isoformat()


def in_days(days: int) -> str:
    return (timezone.localdate() + timedelta(days=days)).isoformat()


REGISTRATION = {
    "name": "Nell Donor",
    "email": "nell@donor.example",
    "password": PASSWORD,
    "blood_type": "B+",
    "date_of_birth": "1990-01-01",
    "address": "2 Test Street",
    "contact_number": "+44 7700 900001",
}
SLOT = {"starts_at": at(3), "ends_at": at(3, 13), "capacity": 4}
SCREENING = {
    "haemoglobin_g_dl": 13.8,
    "systolic_mmhg": 120,
    "diastolic_mmhg": 80,
    "pulse_bpm": 70,
    "temperature_c": 36.6,
    "questionnaire_passed": True,
}

# (id, who: anyone/donor/staff, method, path, payload (given the ids of the fixtures), status, field named in the error)
EDGES = [
    # donor/register (anyone)
    (
        "register-overlong-name",
        "anyone",
        "post",
        "donor/register",
        lambda ids: {**REGISTRATION, "name": "N" * 151},
        400,
        "name",
    ),
    (
        "register-blank-name",
        "anyone",
        "post",
        "donor/register",
        lambda ids: {**REGISTRATION, "name": " \t "},
        400,
        "name",
    ),
    (
        "register-nul-in-name",
        "anyone",
        "post",
        "donor/register",
        lambda ids: {**REGISTRATION, "name": "Nell\x00Donor"},
        400,
        "name",
    ),
    (
        "register-overlong-email",
        "anyone",
        "post",
        "donor/register",
        lambda ids: {**REGISTRATION, "email": "a" * 60 + "@" + ".".join(["d" * 60] * 4) + ".example"},
        400,
        "email",
    ),
    (
        "register-group-without-rhd",
        "anyone",
        "post",
        "donor/register",
        lambda ids: {**REGISTRATION, "blood_type": "O"},
        400,
        "blood_type",
    ),
    (
        "register-unknown-group",
        "anyone",
        "post",
        "donor/register",
        lambda ids: {**REGISTRATION, "blood_type": "AB+-"},
        400,
        "blood_type",
    ),
    (
        "register-born-tomorrow",
        "anyone",
        "post",
        "donor/register",
        lambda ids: {**REGISTRATION, "date_of_birth": in_days(1)},
        400,
        "date_of_birth",
    ),
    (
        "register-aged-ten",
        "anyone",
        "post",
        "donor/register",
        lambda ids: {**REGISTRATION, "date_of_birth": years_ago(10)},
        400,
        "date_of_birth",
    ),
    (
        "register-born-1800",
        "anyone",
        "post",
        "donor/register",
        lambda ids: {**REGISTRATION, "date_of_birth": "1800-01-01"},
        400,
        "date_of_birth",
    ),
    (
        "register-born-year-1",
        "anyone",
        "post",
        "donor/register",
        lambda ids: {**REGISTRATION, "date_of_birth": "0001-01-01"},
        400,
        "date_of_birth",
    ),
    (
        "register-born-9999",
        "anyone",
        "post",
        "donor/register",
        lambda ids: {**REGISTRATION, "date_of_birth": "9999-12-31"},
        400,
        "date_of_birth",
    ),
    (
        "register-birth-not-a-date",
        "anyone",
        "post",
        "donor/register",
        lambda ids: {**REGISTRATION, "date_of_birth": "31/12/1990"},
        400,
        "date_of_birth",
    ),
    (
        "register-negative-weight",
        "anyone",
        "post",
        "donor/register",
        lambda ids: {**REGISTRATION, "weight_kg": -5},
        400,
        "weight_kg",
    ),
    (
        "register-zero-weight",
        "anyone",
        "post",
        "donor/register",
        lambda ids: {**REGISTRATION, "weight_kg": 0},
        400,
        "weight_kg",
    ),
    (
        "register-huge-weight",
        "anyone",
        "post",
        "donor/register",
        lambda ids: {**REGISTRATION, "weight_kg": HUGE},
        400,
        "weight_kg",
    ),
    (
        "register-nan-weight",
        "anyone",
        "post",
        "donor/register",
        lambda ids: {**REGISTRATION, "weight_kg": "NaN"},
        400,
        "weight_kg",
    ),
    (
        "register-infinite-weight",
        "anyone",
        "post",
        "donor/register",
        lambda ids: {**REGISTRATION, "weight_kg": "Infinity"},
        400,
        "weight_kg",
    ),
    (
        "register-unknown-sex",
        "anyone",
        "post",
        "donor/register",
        lambda ids: {**REGISTRATION, "sex": "robot"},
        400,
        "sex",
    ),
    (
        "register-overlong-phone",
        "anyone",
        "post",
        "donor/register",
        lambda ids: {**REGISTRATION, "contact_number": "7" * 41},
        400,
        "contact_number",
    ),
    (
        "register-overlong-region",
        "anyone",
        "post",
        "donor/register",
        lambda ids: {**REGISTRATION, "region": "R" * 101},
        400,
        "region",
    ),
    (
        "register-overlong-address",
        "anyone",
        "post",
        "donor/register",
        lambda ids: {**REGISTRATION, "address": "A" * 1001},
        400,
        "address",
    ),
    (
        "register-email-taken",
        "anyone",
        "post",
        "donor/register",
        lambda ids: {**REGISTRATION, "email": "erin@donor.example"},
        409,
        "email",
    ),
    # the donor's own endpoints
    ("profile-zero-weight", "donor", "patch", "donor/profile", lambda ids: {"weight_kg": 0}, 400, "weight_kg"),
    ("profile-overlong-name", "donor", "patch", "donor/profile", lambda ids: {"name": "N" * 151}, 400, "name"),
    ("profile-blank-name", "donor", "patch", "donor/profile", lambda ids: {"name": ""}, 400, "name"),
    ("profile-overlong-region", "donor", "patch", "donor/profile", lambda ids: {"region": "R" * 101}, 400, "region"),
    (
        "profile-overlong-phone",
        "donor",
        "patch",
        "donor/profile",
        lambda ids: {"contact_number": "7" * 41},
        400,
        "contact_number",
    ),
    (
        "profile-overlong-address",
        "donor",
        "patch",
        "donor/profile",
        lambda ids: {"address": "A" * 1001},
        400,
        "address",
    ),
    (
        "profile-quiet-hours-25",
        "donor",
        "patch",
        "donor/profile",
        lambda ids: {"quiet_hours_start": "25:00"},
        400,
        "quiet_hours_start",
    ),
    ("profile-unknown-group", "donor", "patch", "donor/profile", lambda ids: {"blood_type": "Q+"}, 400, "blood_type"),
    (
        "donate-99-ml",
        "donor",
        "post",
        "donor/donate",
        lambda ids: {"hospital_id": ids["a"], "quantity_ml": 99},
        400,
        "quantity_ml",
    ),
    (
        "donate-negative-ml",
        "donor",
        "post",
        "donor/donate",
        lambda ids: {"hospital_id": ids["a"], "quantity_ml": -450},
        400,
        "quantity_ml",
    ),
    (
        "donate-huge-ml",
        "donor",
        "post",
        "donor/donate",
        lambda ids: {"hospital_id": ids["a"], "quantity_ml": HUGE},
        400,
        "quantity_ml",
    ),
    ("donate-hospital-0", "donor", "post", "donor/donate", lambda ids: {"hospital_id": 0}, 400, "hospital_id"),
    ("donate-hospital-negative", "donor", "post", "donor/donate", lambda ids: {"hospital_id": -1}, 400, "hospital_id"),
    ("donate-hospital-huge", "donor", "post", "donor/donate", lambda ids: {"hospital_id": HUGE}, 400, "hospital_id"),
    ("book-slot-in-words", "donor", "post", "donor/appointments", lambda ids: {"slot": "tomorrow"}, 400, "slot"),
    ("book-slot-negative", "donor", "post", "donor/appointments", lambda ids: {"slot": -1}, 400, "slot"),
    ("book-slot-huge", "donor", "post", "donor/appointments", lambda ids: {"slot": HUGE}, 400, "slot"),
    # staff: slots
    ("slot-capacity-0", "staff", "post", "staff/slots/", lambda ids: {**SLOT, "capacity": 0}, 400, "capacity"),
    ("slot-capacity-negative", "staff", "post", "staff/slots/", lambda ids: {**SLOT, "capacity": -4}, 400, "capacity"),
    ("slot-capacity-huge", "staff", "post", "staff/slots/", lambda ids: {**SLOT, "capacity": HUGE}, 400, "capacity"),
    (
        "slot-yesterday",
        "staff",
        "post",
        "staff/slots/",
        lambda ids: {**SLOT, "starts_at": at(-1), "ends_at": at(-1, 13)},
        400,
        "starts_at",
    ),
    (
        "slot-ends-before-start",
        "staff",
        "post",
        "staff/slots/",
        lambda ids: {**SLOT, "ends_at": at(3, 9)},
        400,
        "ends_at",
    ),
    ("slot-13-hours", "staff", "post", "staff/slots/", lambda ids: {**SLOT, "ends_at": at(3, 23)}, 400, "ends_at"),
    (
        "slot-two-years-ahead",
        "staff",
        "post",
        "staff/slots/",
        lambda ids: {**SLOT, "starts_at": at(730), "ends_at": at(730, 13)},
        400,
        "starts_at",
    ),
    (
        "slot-year-9999",
        "staff",
        "post",
        "staff/slots/",
        lambda ids: {**SLOT, "starts_at": "9999-12-31T10:00:00Z", "ends_at": "9999-12-31T13:00:00Z"},
        400,
        "starts_at",
    ),
    (
        "slot-unknown-type",
        "staff",
        "post",
        "staff/slots/",
        lambda ids: {**SLOT, "donation_type": "bone_marrow"},
        400,
        "donation_type",
    ),
    ("slot-huge-hospital", "staff", "post", "staff/slots/", lambda ids: {**SLOT, "hospital": HUGE}, 400, "hospital"),
    ("slot-patch-capacity-0", "staff", "patch", "staff/slots/{slot}/", lambda ids: {"capacity": 0}, 400, "capacity"),
    (
        "slot-patch-into-the-past",
        "staff",
        "patch",
        "staff/slots/{slot}/",
        lambda ids: {"starts_at": at(-2), "ends_at": at(-2, 13)},
        400,
        "starts_at",
    ),
    (
        "slot-patch-two-years-ahead",
        "staff",
        "patch",
        "staff/slots/{slot}/",
        lambda ids: {"starts_at": at(730), "ends_at": at(730, 13)},
        400,
        "starts_at",
    ),
    (
        "slot-patch-below-bookings",
        "staff",
        "patch",
        "staff/slots/{slot}/",
        lambda ids: {"capacity": 1},
        409,
        "capacity",
    ),
    # staff: deferrals of a donor seen at the hospital
    (
        "deferral-no-reason",
        "staff",
        "post",
        "staff/donors/{donor}/deferrals",
        lambda ids: {"reason": "  ", "starts_on": in_days(0), "ends_on": in_days(30)},
        400,
        "reason",
    ),
    (
        "deferral-ends-before-start",
        "staff",
        "post",
        "staff/donors/{donor}/deferrals",
        lambda ids: {"reason": "Travel", "starts_on": in_days(0), "ends_on": in_days(-5)},
        400,
        "ends_on",
    ),
    (
        "deferral-ends-as-it-starts",
        "staff",
        "post",
        "staff/donors/{donor}/deferrals",
        lambda ids: {"reason": "Travel", "starts_on": in_days(0), "ends_on": in_days(0)},
        400,
        "ends_on",
    ),
    (
        "deferral-starts-1800",
        "staff",
        "post",
        "staff/donors/{donor}/deferrals",
        lambda ids: {"reason": "Travel", "starts_on": "1800-01-01", "ends_on": in_days(30)},
        400,
        "starts_on",
    ),
    (
        "deferral-starts-in-two-years",
        "staff",
        "post",
        "staff/donors/{donor}/deferrals",
        lambda ids: {"reason": "Surgery", "starts_on": in_days(730), "ends_on": in_days(760)},
        400,
        "starts_on",
    ),
    (
        "deferral-ends-9999",
        "staff",
        "post",
        "staff/donors/{donor}/deferrals",
        lambda ids: {"reason": "Travel", "starts_on": in_days(0), "ends_on": "9999-12-31"},
        400,
        "ends_on",
    ),
    (
        "deferral-huge-hospital",
        "staff",
        "post",
        "staff/donors/{donor}/deferrals",
        lambda ids: {"reason": "Travel", "starts_on": in_days(0), "ends_on": in_days(30), "hospital": HUGE},
        400,
        "hospital",
    ),
    # staff: the visit
    (
        "screening-negative-haemoglobin",
        "staff",
        "post",
        "staff/donations/{donation}/screening",
        lambda ids: {**SCREENING, "haemoglobin_g_dl": -1},
        400,
        "haemoglobin_g_dl",
    ),
    (
        "screening-haemoglobin-31",
        "staff",
        "post",
        "staff/donations/{donation}/screening",
        lambda ids: {**SCREENING, "haemoglobin_g_dl": 31},
        400,
        "haemoglobin_g_dl",
    ),
    (
        "screening-nan-haemoglobin",
        "staff",
        "post",
        "staff/donations/{donation}/screening",
        lambda ids: {**SCREENING, "haemoglobin_g_dl": "NaN"},
        400,
        "haemoglobin_g_dl",
    ),
    (
        "screening-systolic-1000",
        "staff",
        "post",
        "staff/donations/{donation}/screening",
        lambda ids: {**SCREENING, "systolic_mmhg": 1000},
        400,
        "systolic_mmhg",
    ),
    (
        "screening-huge-pulse",
        "staff",
        "post",
        "staff/donations/{donation}/screening",
        lambda ids: {**SCREENING, "pulse_bpm": HUGE},
        400,
        "pulse_bpm",
    ),
    (
        "screening-temperature-100",
        "staff",
        "post",
        "staff/donations/{donation}/screening",
        lambda ids: {**SCREENING, "temperature_c": 100},
        400,
        "temperature_c",
    ),
    (
        "collection-zero-ml",
        "staff",
        "post",
        "staff/donations/{donation}/collection",
        lambda ids: {"volume_ml": 0},
        400,
        "volume_ml",
    ),
    (
        "collection-huge-ml",
        "staff",
        "post",
        "staff/donations/{donation}/collection",
        lambda ids: {"volume_ml": HUGE},
        400,
        "volume_ml",
    ),
    (
        "collection-unknown-component",
        "staff",
        "post",
        "staff/donations/{donation}/collection",
        lambda ids: {"components": ["bone_marrow"]},
        400,
        "components",
    ),
    (
        "marker-blank",
        "staff",
        "post",
        "staff/donations/{collected}/test-results",
        lambda ids: {"marker": "", "result": "negative"},
        400,
        "marker",
    ),
    (
        "marker-overlong",
        "staff",
        "post",
        "staff/donations/{collected}/test-results",
        lambda ids: {"marker": "M" * 31, "result": "negative"},
        400,
        "marker",
    ),
    (
        "marker-unknown-result",
        "staff",
        "post",
        "staff/donations/{collected}/test-results",
        lambda ids: {"marker": "HIV", "result": "maybe"},
        400,
        "result",
    ),
    (
        "typing-blank",
        "staff",
        "post",
        "staff/donations/{collected}/typing",
        lambda ids: {"blood_group": ""},
        400,
        "blood_group",
    ),
    (
        "typing-unknown-group",
        "staff",
        "post",
        "staff/donations/{collected}/typing",
        lambda ids: {"blood_group": "K+"},
        400,
        "blood_group",
    ),
]


@pytest.fixture
def fixture_ids(erin, frank, hospital_a, slot, bob, collected):
    """Erin's collected donation; Frank walked in today and holds a place in tomorrow's slot (with a second booking)."""
    from donors import services
    from donors.tests.conftest import make_donor

    walk_in = services.donation_register_walk_in(donor=frank, hospital=hospital_a)
    services.appointment_book(donor=make_donor("gwen@donor.example"), slot=slot)
    services.appointment_book(donor=make_donor("hal@donor.example", blood_group="A+"), slot=slot)
    return {"a": hospital_a.pk, "slot": slot.pk, "donor": frank.pk, "donation": walk_in.pk, "collected": collected.pk}


@pytest.mark.parametrize(
    "who, method, path, payload, status, field", [edge[1:] for edge in EDGES], ids=[edge[0] for edge in EDGES]
)
def test_an_edge_is_refused_in_the_error_shape_and_writes_nothing(
    api, erin, bob, fixture_ids, who, method, path, payload, status, field
):
    client = {"anyone": APIClient, "donor": lambda: api(erin.user), "staff": lambda: api(bob)}[who]()
    before = row_counts()
    response = getattr(client, method)(BASE + path.format(**fixture_ids), payload(fixture_ids), format="json")
    assert response.status_code == status, response.content[:500]
    error = response.json()["error"]
    assert set(error) == {"code", "message", "fields", "details"} and error["message"]
    assert field in error["fields"], error
    assert row_counts() == before
    erin.refresh_from_db()
    assert (erin.user.name, erin.weight_kg, erin.region, erin.blood_group) == ("Erin", 65, None, "O-")


@pytest.mark.parametrize("name", UNICODE_NAMES)
def test_a_donor_registers_under_a_unicode_name_that_round_trips(api, db, name):
    email = f"donor{UNICODE_NAMES.index(name)}@donor.example"
    region = make_region(" ".join(name[:30].split()))  # a managed region named in the same script
    response = APIClient().post(
        BASE + "donor/register",
        {**REGISTRATION, "email": email, "name": name, "address": f"{name}, 1 Rue", "region": region.name},
        format="json",
    )
    assert response.status_code == 201, response.content[:500]
    assert response.json()["name"] == name
    donor = DonorProfile.objects.select_related("user").get(user__email=email)
    assert (donor.user.name, donor.address, donor.region) == (name, f"{name}, 1 Rue", region)
    profile = api(donor.user).get(BASE + "donor/profile").json()
    assert (profile["name"], profile["address"], profile["region"]) == (name, f"{name}, 1 Rue", region.name)


def test_a_donor_renames_themselves_in_unicode_and_staff_find_them(api, erin, bob, collected):
    make_region("Île-de-France")
    renamed = api(erin.user).patch(
        BASE + "donor/profile", {"name": "ناصر الدين 🩸", "region": "Île-de-France"}, format="json"
    )
    assert renamed.status_code == 200, renamed.content
    assert (renamed.json()["name"], renamed.json()["region"]) == ("ناصر الدين 🩸", "Île-de-France")
    found = api(bob).get(BASE + "staff/donors/", {"q": "ناصر"}).json()
    assert [row["name"] for row in found["results"]] == ["ناصر الدين 🩸"]


def test_the_limits_themselves_are_accepted(api, bob, hospital_a):
    oldest = APIClient().post(
        BASE + "donor/register",
        {**REGISTRATION, "date_of_birth": years_ago(119), "weight_kg": 400, "name": "N" * 150},
        format="json",
    )
    assert oldest.status_code == 201, oldest.content
    slot = api(bob).post(
        BASE + "staff/slots/", {**SLOT, "starts_at": at(364), "ends_at": at(364, 22), "capacity": 500}, format="json"
    )
    assert slot.status_code == 201, slot.content
