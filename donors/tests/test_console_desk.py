"""The donor desk in the operations console (issue #23 item 4): staff search donors, register a walk-in donor,
open a visit without an appointment, record the screening and the donation, through the services; a refusal is
a form error in words, never a 500."""

from datetime import date, timedelta

import pytest
from django.db import connection
from django.utils import timezone

from bloodbank.models import BloodUnit, UnitStatus
from conftest import PASSWORD, console_logged_in_ago, make_region
from donors import services
from donors.models import Deferral, Donation, DonationStatus, DonorProfile, Screening
from donors.tests.conftest import GOOD_SCREENING, make_donor

pytestmark = pytest.mark.django_db

DONORS = "/admin/donors/donorprofile/"
VISIT = "/admin/donors/donation/add/"
SCREENING = "/admin/donors/screening/add/"
WALK_IN = {
    "hospital": None,
    "name": "Walter Inn",
    "email": "walter@walk.example",
    "blood_group": "B+",
    "date_of_birth": "1988-04-09",
    "sex": "male",
    "weight_kg": "82",
    "contact_number": "+44 7700 900777",
    "address": "7 Desk Lane",
    "region": "north",
}


@pytest.fixture
def console(client):
    def log_in(user):
        assert client.login(email=user.email, password=PASSWORD)  # a fresh login: recent enough for deferrals
        return client

    return log_in


def walk_in(client, hospital, **changes):
    return client.post(f"{DONORS}add/", {**WALK_IN, "hospital": hospital.pk, **changes})


def screening_form(visit, **changes):
    return {"donation": visit.pk, **GOOD_SCREENING, "questionnaire_passed": "on", "sex": "", **changes}


def errors(response) -> str:
    assert response.status_code == 200, response.status_code
    return response.content.decode()


def test_staff_find_donors_of_their_hospitals_and_region_by_name_number_email_phone_or_group(
    console, bob, hospital_a, hospital_b, erin
):
    services.donation_register_walk_in(donor=erin, hospital=hospital_a)  # erin visited Alpha: Alpha's donor
    nora = make_donor("nora@donor.example", blood_group="AB+", region=" NORTH ")  # lives in Alpha's region
    nora.contact_number = "+44 7700 900123"
    nora.save()
    sam = make_donor("sam@donor.example", blood_group="AB+", region="South")  # Beta's region, never at Alpha
    client = console(bob)

    def found(term):
        page = client.get(DONORS, {"q": term})
        assert page.status_code == 200
        return {donor.pk for donor in page.context["cl"].result_list}

    assert found("nora") == {nora.pk} and found("ERIN@donor") == {erin.pk}
    assert found(nora.donor_number) == {nora.pk} and found(str(nora.pk)) >= {nora.pk}
    assert found("07700 900123") == {nora.pk}  # the national form of the encrypted +44 number
    assert found("ab+") == {nora.pk}  # Sam is AB+ too, but no donor of Alpha's
    assert found("sam@donor.example") == set() and found(sam.donor_number) == set()
    listing = client.get(DONORS).content.decode()
    assert f"{VISIT}?donor={nora.pk}" in listing and "Open a visit" in listing


def test_a_walk_in_donor_is_registered_with_encrypted_details_and_goes_on_to_the_visit(console, bob, hospital_a):
    answer = walk_in(console(bob), hospital_a)
    donor = DonorProfile.objects.select_related("user", "region").get(user__email="walter@walk.example")
    assert answer.status_code == 302 and answer.url == f"{VISIT}?donor={donor.pk}"
    assert (donor.user.name, donor.blood_group, donor.sex, donor.region, donor.registered_at_hospital) == (
        "Walter Inn",
        "B+",
        "male",
        hospital_a.region,
        hospital_a,
    )
    assert donor.date_of_birth == date(1988, 4, 9) and donor.contact_number == "+44 7700 900777"
    assert donor.user.is_donor and not donor.user.has_usable_password()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT contact_number, address, date_of_birth FROM donors_donorprofile WHERE id = %s", [donor.pk]
        )
        stored = " ".join(map(str, cursor.fetchone()))
    assert "900777" not in stored and "Desk Lane" not in stored and "1988" not in stored


def test_a_duplicate_or_refused_registration_is_a_form_error_in_words(console, bob, hospital_a):
    client = console(bob)
    walk_in(client, hospital_a)
    walter = DonorProfile.objects.get(user__email="walter@walk.example")
    same_email = errors(walk_in(client, hospital_a, contact_number=""))
    assert f"already registered as donor {walter.donor_number}" in same_email and "(same email)" in same_email
    same_phone = errors(
        walk_in(client, hospital_a, email="walter.two@walk.example", contact_number="07700 900777", name="walter inn")
    )
    assert f"already registered as donor {walter.donor_number}" in same_phone and "(same contact number)" in same_phone
    too_young = errors(
        walk_in(
            client,
            hospital_a,
            email="kid@walk.example",
            contact_number="",
            date_of_birth=(timezone.localdate() - timedelta(days=365 * 15)).isoformat(),
        )
    )
    assert "Must be at least 17 years old" in too_young
    nowhere = errors(walk_in(client, hospital_a, email="far@walk.example", contact_number="", region="Atlantis"))
    assert "Atlantis" in nowhere
    assert DonorProfile.objects.count() == 1


def test_registering_at_another_hospital_is_refused(console, bob, hospital_b):
    answer = errors(walk_in(console(bob), hospital_b))
    assert "Select a valid choice" in answer and not DonorProfile.objects.exists()


def test_a_visit_opens_for_an_eligible_donor_and_refusals_are_form_errors(console, bob, hospital_a, erin):
    client = console(bob)
    unknown = errors(client.post(VISIT, {"donor": erin.pk, "hospital": hospital_a.pk, "donation_type": "whole_blood"}))
    assert "Select a valid choice" in unknown  # not Alpha's donor: no region, never at Alpha
    services.donor_profile_update(donor=erin, region="north")
    opened = client.post(
        VISIT, {"donor": erin.pk, "hospital": hospital_a.pk, "donation_type": "whole_blood", "quantity_ml": ""}
    )
    visit = Donation.objects.get(donor=erin)
    assert opened.status_code == 302 and opened.url == f"{SCREENING}?donation={visit.pk}"
    assert (visit.status, visit.appointment, visit.visit_date) == (
        DonationStatus.AWAITING_SCREENING,
        None,
        timezone.localdate(),
    )
    again = errors(client.post(VISIT, {"donor": erin.pk, "hospital": hospital_a.pk, "donation_type": "whole_blood"}))
    assert "Not eligible to donate: Must wait 56 days" in again

    frank = make_donor("frank@donor.example", region="North")
    services.deferral_create(
        donor=frank,
        reason="Travel to a malaria area",
        starts_on=timezone.localdate(),
        ends_on=timezone.localdate() + timedelta(days=30),
        hospital=hospital_a,
        by=bob,
    )
    deferred = errors(
        client.post(VISIT, {"donor": frank.pk, "hospital": hospital_a.pk, "donation_type": "whole_blood"})
    )
    assert "Deferred until" in deferred and "Travel to a malaria area" in deferred
    assert Donation.objects.count() == 1


def test_a_screening_needs_a_recent_login_and_a_failed_one_defers_the_donor(bob, hospital_a, visit, console):
    stale = console_logged_in_ago(bob)
    refused = errors(stale.post(SCREENING, screening_form(visit, haemoglobin_g_dl="9.0")))
    assert "Log in again to do this" in refused
    assert not Screening.objects.exists() and not Deferral.objects.exists()

    failed = console(bob).post(SCREENING, screening_form(visit, haemoglobin_g_dl="9.0"), follow=True)
    visit.refresh_from_db()
    assert failed.redirect_chain[-1][0] == f"/admin/donors/donation/{visit.pk}/change/"
    assert visit.status == DonationStatus.DEFERRED
    assert (
        "Screening failed, the donor is deferred: Haemoglobin 9.0 g/dL is below the minimum" in failed.content.decode()
    )
    assert Deferral.objects.get(donation=visit).reason.startswith("Screening: Haemoglobin 9.0")


def test_the_donation_ends_in_its_units_in_quarantine(console, bob, hospital_a, visit):
    client = console(bob)
    screened = client.post(SCREENING, screening_form(visit))
    assert screened.status_code == 302 and screened.url == f"/admin/donors/donation/{visit.pk}/collect/"
    form = client.get(screened.url)
    assert form.status_code == 200 and "Record the collection" in form.content.decode()
    collected = client.post(screened.url, {"volume_ml": "470"}, follow=True)
    visit.refresh_from_db()
    units = list(BloodUnit.objects.filter(din=visit.din))
    assert visit.status == DonationStatus.COLLECTED and visit.collected_by == bob
    assert [(unit.component, unit.status, unit.volume_ml, unit.hospital) for unit in units] == [
        ("whole_blood", UnitStatus.QUARANTINED, 470, hospital_a)
    ]
    page = collected.content.decode()
    assert f"Collected under DIN {units[0].din_display}" in page and units[0].din_display in page
    again = client.post(screened.url, {}, follow=True).content.decode()
    assert "The visit is collected, not screened, awaiting collection." in again
    assert BloodUnit.objects.filter(din=visit.din).count() == 1


def test_another_hospitals_visit_cannot_be_collected(console, carol, visit):
    assert console(carol).get(f"/admin/donors/donation/{visit.pk}/collect/").status_code == 302
    assert not BloodUnit.objects.exists()


def test_the_desk_region_choice_is_the_managed_list(console, bob, hospital_a):
    make_region("East")
    page = console(bob).get(f"{DONORS}add/").content.decode()
    assert '<option value="NORTH" selected>North</option>' in page and '<option value="EAST">East</option>' in page
