"""With mandatory email verification (the production default) no registration tells whether an address
already has an account: the same 202 for both, the owner of a known address is emailed instead, and a
new account cannot log in before it confirms its address."""

from datetime import date

import pytest
from allauth.account.models import EmailAddress
from django.core import mail

from conftest import PASSWORD
from donors.models import DonorProfile
from healthsync.models import Hospital, User

pytestmark = pytest.mark.django_db

BASE = "/api/blood-bank"


@pytest.fixture(autouse=True)
def _mandatory(settings):
    settings.ACCOUNT_EMAIL_VERIFICATION = "mandatory"


def _donor(email, **overrides):
    return {
        "name": "Grace Donor",
        "email": email,
        "password": PASSWORD,
        "blood_type": "AB-",
        "date_of_birth": "1990-03-04",
        "address": "7 Elm Row",
        "contact_number": "+44 7700 900123",
        **overrides,
    }


REGISTRATIONS = {
    "account": ("/api/auth/register", lambda email: {"email": email, "password": PASSWORD, "name": "New Person"}),
    "donor": (f"{BASE}/donor/register", _donor),
    "hospital": (
        f"{BASE}/hospital/register",
        lambda email: {"name": f"Clinic {email[:3]}", "email": email, "password": PASSWORD},
    ),
}


@pytest.mark.parametrize("kind", REGISTRATIONS)
def test_a_known_and_a_new_address_get_the_same_answer(client, dave, kind):
    path, body = REGISTRATIONS[kind]
    users, hospitals = User.objects.count(), Hospital.objects.count()
    known = client.post(path, body(dave.email), content_type="application/json")
    assert (User.objects.count(), Hospital.objects.count()) == (users, hospitals)  # nothing made for a known address
    assert mail.outbox[-1].to == [dave.email] and "already" in mail.outbox[-1].body.lower()
    new = client.post(path, body("fresh@example.com"), content_type="application/json")
    assert known.status_code == new.status_code == 202
    assert known.json() == new.json()
    assert mail.outbox[-1].to == ["fresh@example.com"] and "/accounts/confirm-email/" in mail.outbox[-1].body
    assert User.objects.filter(email="fresh@example.com").exists()


def test_every_other_check_answers_alike_for_both(client, dave):
    path, body = REGISTRATIONS["donor"]
    too_young = {"date_of_birth": date.today().replace(year=date.today().year - 15).isoformat()}
    known = client.post(path, body(dave.email, **too_young), content_type="application/json")
    new = client.post(path, body("fresh@example.com", **too_young), content_type="application/json")
    assert known.status_code == new.status_code == 400
    assert known.json()["error"]["fields"].keys() == new.json()["error"]["fields"].keys() == {"date_of_birth"}
    weak = {"password": "123"}
    assert client.post(path, body(dave.email, **weak), content_type="application/json").status_code == 400
    assert not DonorProfile.objects.exists()


def test_a_new_account_logs_in_only_after_confirming_its_address(client):
    path, body = REGISTRATIONS["donor"]
    assert client.post(path, body("fresh@example.com"), content_type="application/json").status_code == 202
    login = {"email": "fresh@example.com", "password": PASSWORD}
    refused = client.post(f"{BASE}/donor/login", login, content_type="application/json")
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "email_unconfirmed"
    EmailAddress.objects.filter(email="fresh@example.com").update(verified=True)  # the emailed link followed
    assert client.post(f"{BASE}/donor/login", login, content_type="application/json").status_code == 200


def test_accounts_made_by_administrators_log_in_as_before(client, alice):
    response = client.post(
        "/api/auth/login", {"email": alice.email, "password": PASSWORD}, content_type="application/json"
    )
    assert response.status_code == 200


def test_without_mandatory_verification_registration_answers_at_once(client, dave, settings):
    settings.ACCOUNT_EMAIL_VERIFICATION = "optional"
    path, body = REGISTRATIONS["account"]
    assert client.post(path, body("fresh@example.com"), content_type="application/json").status_code == 201
    assert client.post(path, body(dave.email), content_type="application/json").status_code == 409
