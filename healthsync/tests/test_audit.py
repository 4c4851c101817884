"""Every change through the admin, the API or a task is recorded: who, when, which object, what changed."""

import pytest
from auditlog.models import LogEntry
from django.test import Client

from conftest import PASSWORD
from healthsync.audit import acting_as
from healthsync.models import Hospital

pytestmark = pytest.mark.django_db


def _entries_for(hospital):
    return LogEntry.objects.get_for_object(hospital).order_by("timestamp")


def test_change_through_the_api_is_recorded_with_the_token_user(api, alice, hospital_a):
    response = api(alice).patch(f"/api/hospitals/{hospital_a.pk}/", {"address": "9 New Street"}, format="json")
    assert response.status_code == 200
    entry = _entries_for(hospital_a).last()
    assert entry.action == LogEntry.Action.UPDATE
    assert entry.actor == alice
    assert entry.changes_dict["address"] == ["", "9 New Street"]
    assert entry.remote_addr == "127.0.0.1"


def test_change_through_the_admin_is_recorded_with_the_session_user(alice, hospital_a):
    client = Client()
    assert client.login(email=alice.email, password=PASSWORD)
    response = client.post(
        f"/admin/healthsync/hospital/{hospital_a.pk}/change/",
        {"name": hospital_a.name, "address": "1 Admin Way", "contact_number": "", "email": "", "region": "North"},
    )
    assert response.status_code == 302, response.content[:2000]
    entry = _entries_for(hospital_a).last()
    assert entry.actor == alice
    assert entry.changes_dict["address"][1] == "1 Admin Way"


def test_background_work_records_the_user_it_acts_for(alice, hospital_a):
    with acting_as(alice):
        Hospital.objects.filter(pk=hospital_a.pk).get().delete()
    entry = (
        LogEntry.objects.get_for_model(Hospital)
        .filter(object_pk=str(hospital_a.pk), action=LogEntry.Action.DELETE)
        .get()
    )
    assert entry.actor == alice


def test_audit_records_are_read_only_in_the_admin(root, alice, hospital_a):
    client = Client()
    assert client.login(email=root.email, password=PASSWORD)
    entry = _entries_for(hospital_a).first()
    assert client.get("/admin/auditlog/logentry/").status_code == 200
    assert client.get(f"/admin/auditlog/logentry/{entry.pk}/delete/").status_code == 403
    assert client.get("/admin/auditlog/logentry/add/").status_code == 403

    staff = Client()
    assert staff.login(email=alice.email, password=PASSWORD)
    assert staff.get("/admin/auditlog/logentry/").status_code == 403


def test_password_hashes_and_phone_numbers_never_reach_the_audit_trail(alice):
    alice.phone_number = "+44 7700 900123"
    alice.set_password("another-long-password")
    alice.save()
    entry = LogEntry.objects.get_for_object(alice).last()
    assert "password" not in entry.changes_dict
    assert "+44 7700 900123" not in entry.changes
