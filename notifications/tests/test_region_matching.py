"""Regions that match (issue #23 item 8): urgent calls reach the donors of the hospital's region by the region's
id, however the region was typed; a hospital without a region still hears its network's urgency 4-5 requests."""

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from bloodbank import services as bloodbank_services
from conftest import make_user
from donors import selectors as donor_selectors
from donors import services as donor_services
from healthsync.models import Hospital, Role
from healthsync.regions import region_find
from notifications.tests.test_who_hears_what import inbox

pytestmark = pytest.mark.django_db


@pytest.fixture
def legacy_hospital(settings):
    """A hospital registered through the legacy API with no region, verified, and its administrator."""
    settings.HEALTHSYNC_AUTO_VERIFY_HOSPITALS = True
    answer = APIClient().post(
        "/api/blood-bank/hospital/register",
        {"name": "Legacy Clinic", "email": "admin@legacy.example", "password": "a-long-enough-passphrase"},
        format="json",
    )
    assert answer.status_code == 201 and answer.json()["region"] == ""
    hospital = Hospital.objects.get(pk=answer.json()["id"])
    assert hospital.region is None and hospital.is_verified
    return hospital, make_user("lena@legacy.example", hospital=hospital, role=Role.MEDICAL_STAFF)


@pytest.mark.parametrize("spelling", ["North", "  north ", "NORTH", "nOrTh"])
def test_a_donor_however_the_region_was_typed_is_called_by_the_regions_hospital(
    committed, bob, hospital_a, donor, spelling
):
    called = donor("olga@donor.example", "O-", spelling)
    assert called.region == hospital_a.region
    committed(
        lambda: bloodbank_services.request_create(hospital=hospital_a, blood_group="O-", units=2, urgency=4, by=bob)
    )
    assert inbox(called.user, "urgent_request") == ["Alpha General urgently needs blood donors"]


def test_donors_of_another_region_are_not_called(committed, bob, hospital_a, hospital_b, donor):
    elsewhere = donor("sven@donor.example", "O-", " south")
    committed(
        lambda: bloodbank_services.request_create(hospital=hospital_a, blood_group="O-", units=2, urgency=5, by=bob)
    )
    assert inbox(elsewhere.user) == []


def test_slots_and_shortages_of_a_region_are_found_by_its_code_or_name_in_any_case(bob, hospital_a, hospital_b):
    start = timezone.now() + timezone.timedelta(days=2)
    slot = donor_services.slot_create(
        hospital=hospital_a, starts_at=start, ends_at=start + timezone.timedelta(hours=2), capacity=3, by=bob
    )
    for spelling in (" north", "NORTH"):
        assert [found.pk for found in donor_selectors.slots_free(region=region_find(spelling))] == [slot.pk]
    listed = APIClient().get("/api/blood-bank/slots", {"region": "north "}).json()
    assert [row["id"] for row in listed["results"]] == [slot.pk] and listed["results"][0]["region"] == "North"
    assert APIClient().get("/api/blood-bank/slots", {"region": "Atlantis"}).status_code == 400
    assert {row["hospitals"] for row in donor_selectors.regional_shortages(region=region_find("north"))} == {1}


@pytest.mark.parametrize("urgency", [4, 5])
def test_a_hospital_without_a_region_hears_its_networks_urgent_requests(
    committed, bob, hospital_a, legacy_hospital, stock, urgency
):
    hospital, lena = legacy_hospital
    stock(hospital, "O-", 4)  # it holds compatible stock: the network asks it
    committed(
        lambda: bloodbank_services.request_create(
            hospital=hospital_a, blood_group="O-", units=2, urgency=urgency, by=bob
        )
    )
    assert [title for title in inbox(lena, "urgent_request") if "at Alpha General" in title]


def test_a_hospital_without_a_region_reaches_its_network_though_it_calls_no_donors(
    committed, carol, hospital_b, legacy_hospital, stock, donor
):
    hospital, lena = legacy_hospital
    stock(hospital_b, "A+", 6)
    southerner = donor("sue@donor.example", "A+", "South")
    committed(
        lambda: bloodbank_services.request_create(hospital=hospital, blood_group="A+", units=1, urgency=5, by=lena)
    )
    assert [title for title in inbox(carol, "urgent_request") if "at Legacy Clinic" in title]
    assert inbox(southerner.user) == []
