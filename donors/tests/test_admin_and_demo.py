"""The operations console pages for donors, the dashboard panel, and the demo data."""

import pytest
from django.utils import timezone

from conftest import PASSWORD
from donors import selectors, services
from donors.demo import DONORS, seed_donors
from donors.models import Appointment, DonationSlot, DonorProfile
from donors.tests.conftest import GOOD_SCREENING
from healthsync import demo as core_demo


@pytest.fixture
def console(client, bob):
    client.login(email=bob.email, password=PASSWORD)
    return client


def test_donor_pages_and_panel(console, collected, slot, carol, client):
    assert "Donations today" in console.get("/admin/").content.decode()
    for model in ("donorprofile", "deferral", "donationslot", "appointment", "donation", "screening", "markerresult"):
        assert console.get(f"/admin/donors/{model}/").status_code == 200, model
        if model not in ("donorprofile", "appointment", "donation"):
            assert console.get(f"/admin/donors/{model}/add/").status_code == 200, model
    page = console.get("/admin/donors/donorprofile/?q=erin").content.decode()
    assert "Erin" in page and "no (from" in page
    assert console.get(f"/admin/donors/donation/{collected.pk}/change/").status_code == 200


def test_other_hospitals_donors_are_hidden(client, collected, carol):
    client.login(email=carol.email, password=PASSWORD)
    assert "Erin" not in client.get("/admin/donors/donorprofile/").content.decode()
    assert client.get(f"/admin/donors/donation/{collected.pk}/change/").status_code in (302, 403, 404)


def test_screening_form_and_check_in_action(console, slot, erin, bob):
    appointment = services.appointment_book(donor=erin, slot=slot)
    response = console.post("/admin/donors/appointment/", {"action": "check_in", "_selected_action": [appointment.pk]})
    assert response.status_code == 302
    donation = erin.donations.get()
    response = console.post(
        "/admin/donors/screening/add/", {"donation": donation.pk, **{k: str(v) for k, v in GOOD_SCREENING.items()}}
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    donation.refresh_from_db()
    assert donation.status == "screened" and donation.screening.recorded_by == bob
    console.post("/admin/donors/donation/", {"action": "collect", "_selected_action": [donation.pk]})
    donation.refresh_from_db()
    assert donation.status == "collected"


def test_screening_form_needs_the_weight(console, visit):
    unweighed = {k: str(v) for k, v in GOOD_SCREENING.items() if k != "weight_kg"}
    response = console.post("/admin/donors/screening/add/", {"donation": visit.pk, **unweighed})
    assert response.status_code == 200 and "weight_kg" in response.context["adminform"].form.errors
    visit.refresh_from_db()
    assert visit.status == "awaiting_screening"


def test_staff_cannot_defer_another_hospitals_donor_from_the_console(client, carol, erin, visit, hospital_b):
    # Erin has only visited Alpha; Carol works at Beta.
    client.login(email=carol.email, password=PASSWORD)
    today = timezone.localdate().isoformat()
    response = client.post(
        "/admin/donors/deferral/add/",
        {
            "donor": erin.pk,
            "hospital": hospital_b.pk,
            "reason": "Not my donor",
            "starts_on": today,
            "ends_on": "",
        },
    )
    assert response.status_code == 200 and "donor" in response.context["adminform"].form.errors
    assert not erin.deferrals.exists()


def test_staff_defer_their_own_donor_from_the_console(console, erin, visit, hospital_a):
    today = timezone.localdate().isoformat()
    response = console.post(
        "/admin/donors/deferral/add/",
        {
            "donor": erin.pk,
            "hospital": hospital_a.pk,
            "reason": "Recent tattoo",
            "starts_on": today,
            "ends_on": "",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    assert erin.deferrals.get().reason == "Recent tattoo"


def test_seed_donors_is_idempotent_and_covers_every_group(db):
    core_demo.seed()
    logins = seed_donors()
    assert len(logins) == len(DONORS)
    assert sorted(DonorProfile.objects.values_list("blood_group", flat=True)) == sorted(
        ["A+", "A-", "B+", "B-", "AB+", "AB-", "O+", "O-"]
    )
    slots = DonationSlot.objects.count()
    assert seed_donors() == logins
    assert DonorProfile.objects.count() == 8 and DonationSlot.objects.count() == slots
    verdicts = {d.blood_group: selectors.donor_eligibility(donor=d) for d in DonorProfile.objects.all()}
    assert verdicts["O-"].eligible and verdicts["A+"].eligible and verdicts["AB+"].eligible and verdicts["A-"].eligible
    assert verdicts["O+"].codes == ["too_soon"] and verdicts["B+"].codes == ["deferred"]
    assert verdicts["AB-"].next_eligible_date is None
    assert Appointment.objects.filter(donor__blood_group="B-", status="booked").count() == 1
    assert DonationSlot.objects.filter(starts_at__gt=timezone.now()).count() == slots
