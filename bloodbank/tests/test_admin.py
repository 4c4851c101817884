"""The blood bank pages of the operations console: scoped, searchable by DIN, actions through services."""

import pytest
from django.test import Client

from bloodbank.models import BloodUnit, UnitStatus
from conftest import PASSWORD

pytestmark = pytest.mark.django_db


def _login(user):
    client = Client()
    assert client.login(email=user.email, password=PASSWORD)
    return client


def test_units_are_scoped_and_searchable_by_din_with_spaces(bob, hospital_a, hospital_b, stock):
    mine = stock(hospital_a, "A+", 1)[0]
    theirs = stock(hospital_b, "A+", 1)[0]
    client = _login(bob)
    page = client.get("/admin/bloodbank/bloodunit/")
    assert page.status_code == 200
    assert mine.din_display.encode() in page.content and theirs.din_display.encode() not in page.content
    found = client.get("/admin/bloodbank/bloodunit/", {"q": mine.din_display})
    assert mine.din_display.encode() in found.content
    assert client.get(f"/admin/bloodbank/bloodunit/{theirs.pk}/change/").status_code == 302
    detail = client.get(f"/admin/bloodbank/bloodunit/{mine.pk}/change/")
    assert b"History (vein to vein)" in detail.content


def test_discard_action_asks_for_a_reason_then_records_it(bob, hospital_a, stock):
    unit = stock(hospital_a, "O+", 1)[0]
    client = _login(bob)
    confirm = client.post("/admin/bloodbank/bloodunit/", {"action": "discard_units", "_selected_action": [unit.pk]})
    assert confirm.status_code == 200 and b"reason" in confirm.content
    done = client.post(
        "/admin/bloodbank/bloodunit/",
        {"action": "discard_units", "_selected_action": [unit.pk], "apply": "1", "reason": "Cold chain broken"},
    )
    assert done.status_code == 302
    unit.refresh_from_db()
    assert unit.status == UnitStatus.DISCARDED
    assert unit.events.last().reason == "Cold chain broken"


def test_release_action_moves_quarantined_units(bob, hospital_a, stock):
    unit = stock(hospital_a, "B-", 1, status=UnitStatus.QUARANTINED)[0]
    _login(bob).post(
        "/admin/bloodbank/bloodunit/", {"action": "release_from_quarantine", "_selected_action": [unit.pk]}
    )
    assert BloodUnit.objects.get(pk=unit.pk).status == UnitStatus.AVAILABLE


def test_inventory_panel_on_the_dashboard(bob, hospital_a, stock):
    stock(hospital_a, "AB+", 2)
    page = _login(bob).get("/admin/")
    assert b"Blood inventory" in page.content
    assert b"critical" in page.content
