"""The seed's donor API end to end through HTTP: register, login, donate, history."""

from datetime import date, timedelta

import pytest
from django.utils import timezone

from conftest import PASSWORD
from donors.models import DonorProfile

BASE = "/api/blood-bank"


def register(client, **overrides):
    body = {
        "name": "Grace Donor",
        "email": "grace@donor.example",
        "password": PASSWORD,
        "blood_type": "AB-",
        "date_of_birth": "1990-03-04",
        "address": "7 Elm Row",
        "contact_number": "+44 7700 900123",
        **overrides,
    }
    return client.post(f"{BASE}/donor/register", body, content_type="application/json")


def login(client, email="grace@donor.example"):
    response = client.post(
        f"{BASE}/donor/login", {"email": email, "password": PASSWORD}, content_type="application/json"
    )
    assert response.status_code == 200, response.content
    return {"HTTP_AUTHORIZATION": f"Bearer {response.json()['access']}"}


def test_register_login_donate_history(client, hospital_a):
    created = register(client)
    assert created.status_code == 201, created.content
    assert created.json()["blood_type"] == "AB-" and created.json()["blood_group_confirmed"] is False
    donor = DonorProfile.objects.get(user__email="grace@donor.example")
    assert donor.user.is_donor and not donor.user.is_staff
    assert donor.address == "7 Elm Row" and donor.date_of_birth == date(1990, 3, 4)

    tokens = client.post(
        f"{BASE}/donor/login", {"email": "grace@donor.example", "password": PASSWORD}, content_type="application/json"
    ).json()
    assert set(tokens) == {"access", "refresh"}
    auth = {"HTTP_AUTHORIZATION": f"Bearer {tokens['access']}"}

    donated = client.post(
        f"{BASE}/donor/donate",
        {"hospital_id": hospital_a.pk, "quantity_ml": 450},
        content_type="application/json",
        **auth,
    )
    assert donated.status_code == 201, donated.content
    assert donated.json()["status"] == "awaiting_screening" and donated.json()["quantity_ml"] == 450
    assert (
        donated.json()["donation_type"] == "whole_blood"
        and donated.json()["visit_date"] == timezone.localdate().isoformat()
    )

    # A pending donation counts for the interval: a second one is refused with every reason and the date.
    again = client.post(f"{BASE}/donor/donate", {"hospital_id": hospital_a.pk}, content_type="application/json", **auth)
    assert again.status_code == 409
    error = again.json()["error"]
    assert error["code"] == "not_eligible"
    assert error["details"]["eligible"] is False
    assert [reason["code"] for reason in error["details"]["reasons"]] == ["too_soon"]
    assert error["details"]["next_eligible_date"] == (timezone.localdate() + timedelta(days=56)).isoformat()

    history = client.get(f"{BASE}/donor/history", **auth)
    assert history.status_code == 200
    assert [(d["hospital"], d["status"]) for d in history.json()["donations"]] == [
        (hospital_a.pk, "awaiting_screening")
    ]
    assert history.json()["appointments"] == []


def test_donor_personal_data_is_encrypted_at_rest(client, hospital_a):
    register(client)
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT address, contact_number, date_of_birth FROM donors_donorprofile")
        address, contact, born = cursor.fetchone()
    assert "Elm Row" not in str(address) and "900123" not in str(contact) and "1990" not in str(born)


@pytest.mark.parametrize(
    "overrides, field",
    [
        ({"date_of_birth": (date.today() - timedelta(days=365 * 16)).isoformat()}, "date_of_birth"),
        ({"date_of_birth": "2999-01-01"}, "date_of_birth"),
        ({"blood_type": "C+"}, "blood_type"),
        ({"email": "not-an-email"}, "email"),
        ({"password": "123"}, "password"),
        ({"sex": "other"}, "sex"),
        ({"weight_kg": -3}, "weight_kg"),
        ({"name": ""}, "name"),
    ],
)
def test_register_refuses_bad_input(db, client, overrides, field):
    response = register(client, **overrides)
    assert response.status_code == 400, response.content
    assert field in response.json()["error"]["fields"]
    assert not DonorProfile.objects.exists()


def test_under_17_is_refused_naming_the_date_of_birth(db, client):
    born = timezone.localdate().replace(year=timezone.localdate().year - 17) + timedelta(days=1)
    response = register(client, date_of_birth=born.isoformat())
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "too_young"
    assert "17" in response.json()["error"]["fields"]["date_of_birth"][0]
    # Seventeen today is old enough.
    assert (
        register(client, date_of_birth=(born - timedelta(days=1)).isoformat(), email="ok@donor.example").status_code
        == 201
    )


def test_taken_email_is_a_conflict(client, dave):
    assert register(client, email=dave.email).status_code == 409


def test_optional_sex_and_weight_are_kept(db, client):
    assert register(client, sex="male", weight_kg="82.5").status_code == 201
    donor = DonorProfile.objects.get()
    assert donor.sex == "male" and float(donor.weight_kg) == 82.5


def test_donor_login_is_for_donors_and_hospital_login_is_not(client, bob, erin):
    refused = client.post(
        f"{BASE}/donor/login", {"email": bob.email, "password": PASSWORD}, content_type="application/json"
    )
    assert refused.status_code == 403
    assert (
        client.post(
            f"{BASE}/hospital/login", {"email": erin.user.email, "password": PASSWORD}, content_type="application/json"
        ).status_code
        == 403
    )
    assert (
        client.post(
            f"{BASE}/donor/login", {"email": erin.user.email, "password": "wrong"}, content_type="application/json"
        ).status_code
        == 401
    )


def test_donate_refuses_an_ineligible_donor_with_every_reason(client, hospital_a, erin, bob):
    from donors import services

    services.deferral_create(
        donor=erin,
        reason="Travel to a malaria area",
        starts_on=timezone.localdate(),
        ends_on=timezone.localdate() + timedelta(days=90),
        hospital=hospital_a,
        by=bob,
    )
    erin.weight_kg = 48
    erin.save()
    response = client.post(
        f"{BASE}/donor/donate",
        {"hospital_id": hospital_a.pk},
        content_type="application/json",
        **login(client, erin.user.email),
    )
    assert response.status_code == 409
    details = response.json()["error"]["details"]
    assert sorted(reason["code"] for reason in details["reasons"]) == ["deferred", "underweight"]
    assert details["next_eligible_date"] == (timezone.localdate() + timedelta(days=90)).isoformat()


@pytest.mark.parametrize(
    "body, field",
    [({}, "hospital_id"), ({"hospital_id": 999999}, "hospital_id"), ({"hospital_id": "x"}, "hospital_id")],
)
def test_donate_needs_a_real_hospital(client, erin, body, field):
    response = client.post(
        f"{BASE}/donor/donate", body, content_type="application/json", **login(client, erin.user.email)
    )
    assert response.status_code == 400
    assert field in response.json()["error"]["fields"]


def test_donate_at_an_unverified_hospital_is_refused(client, erin):
    from healthsync import services as core

    pending = core.hospital_create(name="Pending Clinic")
    response = client.post(
        f"{BASE}/donor/donate",
        {"hospital_id": pending.pk},
        content_type="application/json",
        **login(client, erin.user.email),
    )
    assert response.status_code == 400


def test_donor_endpoints_refuse_staff_and_anonymous(client, api, bob):
    staff = api(bob)
    for path in ("donor/history", "donor/profile", "donor/eligibility", "donor/appointments"):
        assert staff.get(f"{BASE}/{path}").status_code == 403
        assert client.get(f"{BASE}/{path}").status_code == 401
    assert staff.post(f"{BASE}/donor/donate", {"hospital_id": 1}, format="json").status_code == 403


def test_donors_never_see_hospital_endpoints(client, api, erin, hospital_a):
    auth = login(client, erin.user.email)
    for path in (
        "hospital/inventory",
        "inventory/network",
        "staff/slots/",
        "staff/slots/1/",
        "staff/donations/",
        "staff/donations/1/",
        "staff/donors/",
        "staff/appointments/",
        "staff/donors/1/deferrals",
    ):
        assert client.get(f"{BASE}/{path}", **auth).status_code in (403, 404), path
    for path in (
        "staff/slots/",
        "staff/donations/1/screening",
        "staff/donations/1/collection",
        "staff/donations/1/test-results",
        "staff/donations/1/typing",
        "staff/donations/1/release",
        "staff/appointments/1/check-in",
        "staff/deferrals/1/lift",
    ):
        assert client.post(f"{BASE}/{path}", {}, content_type="application/json", **auth).status_code in (403, 404), (
            path
        )
