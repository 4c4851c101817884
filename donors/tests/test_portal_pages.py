"""The donor portal's pages, the public shortage page, the dashboard panels and the error pages,
through the test client."""

from datetime import date

import pytest
from django.urls import include, path
from django.utils import timezone

import bloodbank.dashboard  # noqa: F401  registers the panels (the app's ready() does it in the running site)
import donors.dashboard  # noqa: F401
from bloodbank import services as bloodbank_services
from config.urls import urlpatterns as site_urlpatterns
from conftest import make_region
from donors import selectors, services
from donors.models import Appointment, AppointmentStatus, DonorProfile
from healthsync.display import when
from healthsync.errors import Conflict, DomainError

urlpatterns = [path("", include("donors.portal_urls")), *site_urlpatterns]
handler404 = "healthsync.errors.page_not_found"
pytestmark = pytest.mark.urls(__name__)


@pytest.fixture
def logged_in(client):
    def log_in(user):
        client.force_login(user)
        return client

    return log_in


def test_anonymous_visitors_log_in_first_and_staff_go_to_the_console(client, logged_in, bob, dave):
    assert client.get("/donor/").url == "/accounts/login/?next=/donor/"
    assert logged_in(bob).get("/donor/book/").url == "/admin/"
    assert logged_in(dave).get("/donor/").url == "/donor/welcome/"


def test_a_new_account_completes_its_donor_profile(logged_in, dave):
    client = logged_in(dave)
    north = make_region("North")
    too_young = client.post(
        "/donor/welcome/",
        {
            "name": "Dave",
            "blood_group": "B+",
            "date_of_birth": date.today().replace(year=date.today().year - 15).isoformat(),
        },
    )
    assert too_young.status_code == 200 and b"17" in too_young.content
    assert not DonorProfile.objects.filter(user=dave).exists()
    done = client.post(
        "/donor/welcome/",
        {
            "name": "Dave Doe",
            "blood_group": "B+",
            "date_of_birth": "1990-01-02",
            "region": "North",
            "available_for_emergencies": "on",
        },
    )
    assert done.url == "/donor/"
    dave.refresh_from_db()
    assert (
        dave.is_donor
        and dave.name == "Dave Doe"
        and dave.donor_profile.blood_group == "B+"
        and dave.donor_profile.available_for_emergencies
    )
    assert dave.donor_profile.region == north
    assert client.get("/donor/welcome/").url == "/donor/"


def test_home_shows_eligibility_with_every_reason_and_the_next_date(logged_in, erin, hospital_a):
    services.donation_register_walk_in(donor=erin, hospital=hospital_a)
    page = logged_in(erin.user).get("/donor/").content.decode()
    assert "Not yet." in page and "Must wait 56 days" in page
    next_date = selectors.donor_eligibility(donor=erin).next_eligible_date
    assert when(next_date) in page  # the one date format of console and portal


def test_profile_and_preferences_are_saved_through_the_service(logged_in, erin):
    client = logged_in(erin.user)
    make_region("South")
    assert client.get("/donor/profile/").status_code == 200
    answer = client.post(
        "/donor/profile/",
        {
            "name": "Erin Walsh",
            "region": "SOUTH",
            "weight_kg": "66.5",
            "available_for_emergencies": "on",
            "notify_by_sms": "on",
            "quiet_hours_start": "22:00",
            "quiet_hours_end": "07:00",
        },
    )
    assert answer.url == "/donor/profile/"
    erin.refresh_from_db()
    assert (
        erin.user.name == "Erin Walsh"
        and erin.region.name == "South"
        and erin.notify_by_sms
        and not erin.notify_by_email
    )
    assert str(erin.quiet_hours_end) == "07:00:00"
    half = client.post("/donor/profile/", {"name": "Erin", "quiet_hours_start": "22:00"})
    assert half.status_code == 200 and b"quiet hours" in half.content


def test_book_from_free_slots_then_cancel(logged_in, erin, slot):
    client = logged_in(erin.user)
    listing = client.get("/donor/book/?region=").content.decode()
    assert f"/donor/book/{slot.pk}/" in listing
    assert client.post(f"/donor/book/{slot.pk}/").url == "/donor/"
    appointment = Appointment.objects.get(donor=erin)
    assert "Next appointment" in client.get("/donor/").content.decode()
    again = client.post(f"/donor/book/{slot.pk}/", follow=True).content.decode()
    assert "You already have a booked appointment" in again
    assert client.post(f"/donor/appointments/{appointment.pk}/cancel/").url == "/donor/"
    appointment.refresh_from_db()
    assert appointment.status == AppointmentStatus.CANCELLED
    assert "<td>Cancelled</td>" in client.get("/donor/history/").content.decode()


@pytest.mark.parametrize("hospital", ["²", "9" * 5000])
def test_a_hand_edited_hospital_filter_lists_every_hospitals_slots(logged_in, erin, slot, hospital):
    listing = logged_in(erin.user).get(f"/donor/book/?region=&hospital={hospital}")
    assert listing.status_code == 200 and f"/donor/book/{slot.pk}/" in listing.content.decode()


def test_another_donors_appointment_cannot_be_cancelled(logged_in, erin, frank, slot):
    appointment = services.appointment_book(donor=frank, slot=slot)
    assert logged_in(erin.user).post(f"/donor/appointments/{appointment.pk}/cancel/").status_code == 404


def test_public_shortage_page_by_region(client, hospital_a, hospital_b, bob):
    bloodbank_services.units_receive(
        hospital=hospital_a,
        blood_group="A+",
        component="red_cells",
        volume_ml=None,
        count=8,
        expiry_date=None,
        collected_at=timezone.now(),
        din=None,
        by=bob,
    )
    page = client.get("/shortages/?region=North").content.decode()
    assert "Hospitals in North are short of" in page and "<strong>A+</strong>" not in page.split("red cells.")[0]
    rows = {row["blood_group"]: row for row in selectors.regional_shortages(region=hospital_a.region)}
    assert rows["A+"]["level"] == "adequate" and rows["O-"]["level"] == "critical" and rows["O-"]["hospitals"] == 1
    assert selectors.network_regions() == ["North", "South"]


def test_dashboard_panels_for_staff(logged_in, alice, erin, slot):
    services.appointment_book(donor=erin, slot=slot)
    page = logged_in(alice).get("/admin/").content.decode()
    for text in (
        "Receive units and request blood",
        "Transfers in and out",
        "Today&#x27;s appointments",
        'id="inventory-chart"',
        'id="inventory-table"',
        "level-critical",
        'data-live-alerts="/ws/alerts/"',
        'aria-live="polite"',
    ):
        assert text in page, text


@pytest.mark.parametrize("path", ["/no-such-page/", "/donor/book/999999/"])
def test_friendly_error_pages_outside_the_api(client, logged_in, erin, path):
    answer = logged_in(erin.user).get(path) if path.startswith("/donor/") else client.get(path)
    assert answer.status_code in (404, 405)
    if answer.status_code == 404:
        assert "We could not find that page" in answer.content.decode()
    api = client.get("/api/no-such-endpoint")
    assert api.status_code == 404 and api.json()["error"]["code"] == "not_found"


@pytest.mark.parametrize("template", ["400.html", "403.html", "404.html", "500.html"])
def test_every_error_page_renders_in_the_portal_look(template):
    from django.template.loader import render_to_string

    html = render_to_string(template)
    assert 'lang="en"' in html and "vendor/bootstrap/bootstrap.min.css" in html and "<main" in html


def test_donor_profile_create_refuses_a_second_profile_and_unknown_groups(erin, dave):
    with pytest.raises(Conflict) as refused:
        services.donor_profile_create(user=erin.user, blood_group="O-", date_of_birth=date(1990, 1, 1))
    assert refused.value.code == "already_donor"
    with pytest.raises(DomainError) as unknown:
        services.donor_profile_create(user=dave, blood_group="Z", date_of_birth=date(1990, 1, 1))
    assert "blood_group" in unknown.value.fields
    assert not DonorProfile.objects.filter(user=dave).exists()
