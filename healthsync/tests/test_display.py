"""One way to show dates and times (healthsync.display; urgency: bloodbank/tests/test_display.py), and the
console's readable details: plain-words constraint errors, the greeting by name, the icon and the friendly
error pages."""

from datetime import UTC, date, datetime, timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from bloodbank.models import ParLevel
from conftest import console_logged_in_ago, make_user
from healthsync import display
from healthsync.models import Role


def test_moments_and_days_in_one_format_with_the_year_only_outside_this_one(settings):
    settings.TIME_ZONE = "Europe/London"
    this_year = timezone.localdate().year
    winter = datetime(this_year, 12, 8, 23, 59, tzinfo=UTC)  # London is on UTC in December
    assert display.when(winter) == "8 Dec 23:59"
    assert display.when(winter.replace(year=this_year + 1)) == f"8 Dec {this_year + 1} 23:59"
    assert display.when(datetime(this_year, 7, 1, 11, 0, tzinfo=UTC)) == "1 Jul 12:00"  # summer time
    assert display.when(date(this_year, 3, 4)) == "4 Mar" and display.when(date(1990, 5, 15)) == "15 May 1990"
    assert display.when(None) == "" and display.use_by(None) == ""
    assert display.use_by(winter) == "use by 8 Dec 23:59"


@pytest.mark.django_db
def test_a_par_level_below_its_critical_level_is_explained_in_plain_words(hospital_a):
    with pytest.raises(ValidationError) as refused:
        ParLevel(
            hospital=hospital_a, blood_group="O-", component="red_cells", critical_units=5, low_units=2
        ).full_clean()
    assert "The low level must be at least the critical level." in refused.value.messages


@pytest.mark.django_db
def test_console_lists_show_the_one_format_and_greet_by_name(hospital_a, settings):
    from bloodbank import services

    doctor = make_user("dr.haddad@alpha.example", hospital=hospital_a, role=Role.MEDICAL_STAFF)
    doctor.name = "Dr Amir Haddad"
    doctor.save()
    made = services.request_create(
        hospital=hospital_a,
        component="red_cells",
        blood_group="O-",
        units=2,
        urgency=5,
        needed_by=timezone.now() + timedelta(hours=3),
        patient_reference="",
        by=doctor,
    )
    client = console_logged_in_ago(doctor, seconds=5)
    page = client.get("/admin/bloodbank/bloodrequest/").content.decode()
    assert '<span class="urgency-label urgency-5">5 — emergency</span>' in page
    assert f'<td class="field-needed_by">{display.when(made.needed_by)}</td>' in page
    assert "Welcome, <strong>Dr Amir Haddad</strong>." in page
    assert 'rel="icon" href="/static/favicon.svg"' in page


@pytest.mark.django_db
def test_console_and_portal_errors_are_the_friendly_pages(alice):
    client = console_logged_in_ago(alice, seconds=5)
    for url in ["/admin/no-such-page/", "/donor/no-such-page/"]:
        response = client.get(url)
        assert response.status_code == 404
        assert b"We could not find that page" in response.content and b"favicon.svg" in response.content
