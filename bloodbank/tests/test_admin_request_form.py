"""The console's blood request form: a value the service refuses (urgency, units, a past 'needed by')
shows the form again with the reason, nothing written; a good one is saved through the service."""

from datetime import timedelta

import pytest
from django.contrib.admin.models import LogEntry
from django.test import Client
from django.utils import timezone

from bloodbank.models import BloodRequest
from conftest import PASSWORD

pytestmark = pytest.mark.django_db

ADD = "/admin/bloodbank/bloodrequest/add/"


@pytest.fixture
def console(bob):
    client = Client()
    assert client.login(email=bob.email, password=PASSWORD)
    return client


def _form(hospital, *, needed_by=None, **values):
    data = {
        "hospital": hospital.pk,
        "component": "red_cells",
        "blood_group": "A+",
        "units_requested": "2",
        "urgency": "3",
        "patient_reference": "MRN-100",
        "needed_by_0": "",
        "needed_by_1": "",
        # The (read-only) allocations inline's management form, as the page sends it.
        "allocations-TOTAL_FORMS": "0",
        "allocations-INITIAL_FORMS": "0",
        "allocations-MIN_NUM_FORMS": "0",
        "allocations-MAX_NUM_FORMS": "0",
    }
    if needed_by is not None:
        local = timezone.localtime(needed_by)
        data.update(needed_by_0=local.date().isoformat(), needed_by_1=local.strftime("%H:%M:%S"))
    data.update({key: str(value) for key, value in values.items()})
    return data


@pytest.mark.parametrize(
    "values, field, message",
    [
        ({"urgency": 0}, "urgency", "Select a valid choice"),
        ({"urgency": 9}, "urgency", "Select a valid choice"),
        ({"units_requested": 0}, "units_requested", "greater than or equal to 1"),
        ({"units_requested": 500}, "units_requested", "less than or equal to 200"),
    ],
)
def test_out_of_range_values_show_the_form_again(console, hospital_a, values, field, message):
    response = console.post(ADD, _form(hospital_a, **values))
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert field in errors and message in " ".join(errors[field]), errors
    assert message in response.content.decode()
    assert not BloodRequest.objects.exists()


def test_a_past_needed_by_is_the_services_refusal_shown_on_the_form(console, hospital_a):
    response = console.post(ADD, _form(hospital_a, needed_by=timezone.now() - timedelta(days=1)))
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert "in the past" in " ".join(errors["needed_by"]), errors
    assert "in the past" in response.content.decode()
    assert not BloodRequest.objects.exists() and not LogEntry.objects.exists()  # no row, no "added" record
    # What was typed is still there to correct.
    assert response.context["adminform"].form.data["patient_reference"] == "MRN-100"


def test_the_urgency_choices_carry_their_words(console):
    page = console.get(ADD).content.decode()
    assert "1 — routine" in page and "4 — urgent" in page and "5 — emergency" in page


def test_a_good_request_is_saved_through_the_service(console, hospital_a, bob):
    response = console.post(
        ADD, _form(hospital_a, urgency=5, units_requested=200, needed_by=timezone.now() + timedelta(hours=2))
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    saved = BloodRequest.objects.get()
    assert (saved.urgency, saved.units_requested, saved.created_by, saved.hospital) == (5, 200, bob, hospital_a)
