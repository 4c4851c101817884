"""Reads of patient-identifying fields are in the audit log with who, when and which fields (45 CFR
164.312(b)); readers who are not shown them (platform administrators, other hospitals) leave no entry."""

import pytest
from auditlog.models import LogEntry
from django.contrib.contenttypes.models import ContentType

from bloodbank import services as bloodbank
from bloodbank.models import BloodRequest
from conftest import console_logged_in_ago

pytestmark = pytest.mark.django_db


def _reads(model, pk=None):
    entries = LogEntry.objects.filter(
        content_type=ContentType.objects.get_for_model(model), action=LogEntry.Action.ACCESS
    )
    return entries.filter(object_pk=str(pk)) if pk is not None else entries


@pytest.fixture
def blood_request(hospital_a, bob):
    return bloodbank.request_create(
        hospital=hospital_a, blood_group="O-", units=1, urgency=3, by=bob, patient_reference="MRN-77"
    )


def test_api_and_fhir_reads_of_a_patient_reference_are_recorded(api, bob, root, blood_request):
    assert api(bob).get(f"/api/blood-bank/requests/{blood_request.pk}/").json()["patient_reference"] == "MRN-77"
    entry = _reads(BloodRequest, blood_request.pk).get()
    assert entry.actor == bob and entry.changes["fields read"] == [None, ["patient_reference"]] and entry.timestamp
    api(bob).get("/fhir/ServiceRequest")
    assert _reads(BloodRequest, blood_request.pk).count() == 2

    platform = api(root).get(f"/fhir/ServiceRequest/{blood_request.pk}").json()
    assert "identifier" not in platform["subject"]  # platform administrators never see patients
    assert _reads(BloodRequest).filter(actor=root).count() == 0


def test_the_console_request_page_records_the_read(bob, blood_request):
    page = console_logged_in_ago(bob, seconds=60).get(f"/admin/bloodbank/bloodrequest/{blood_request.pk}/change/")
    assert page.status_code == 200 and "MRN-77" in page.content.decode()
    assert _reads(BloodRequest, blood_request.pk).get().actor == bob


def test_a_refused_read_records_nothing(api, carol, blood_request):
    assert api(carol).get(f"/api/blood-bank/requests/{blood_request.pk}/").status_code == 404
    assert not _reads(BloodRequest).exists()
