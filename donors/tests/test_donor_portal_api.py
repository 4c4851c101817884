"""The donor's own endpoints: profile, eligibility."""

from datetime import timedelta

import pytest
from django.utils import timezone

from conftest import make_region
from donors import services
from donors.tests.conftest import make_donor
from donors.tests.test_seed_donor_api import login
from healthsync.errors import DomainError

BASE = "/api/blood-bank"


def test_profile_read_and_update(client, erin):
    auth = login(client, erin.user.email)
    make_region("South")
    profile = client.get(f"{BASE}/donor/profile", **auth).json()
    assert profile["address"] == "1 Test Street" and profile["blood_type"] == "O-"
    changed = client.patch(
        f"{BASE}/donor/profile",
        {
            "name": "Erin Walsh",
            "region": " south ",
            "available_for_emergencies": True,
            "quiet_hours_start": "22:00",
            "quiet_hours_end": "07:00",
            "weight_kg": "66.5",
        },
        content_type="application/json",
        **auth,
    )
    assert changed.status_code == 200, changed.content
    erin.refresh_from_db()
    assert (
        erin.user.name == "Erin Walsh"
        and erin.region.name == "South"
        and changed.json()["region"] == "South"
        and erin.available_for_emergencies
    )
    assert str(erin.quiet_hours_start) == "22:00:00" and float(erin.weight_kg) == 66.5
    # The date of birth is not the donor's to change; it is read-only.
    client.patch(f"{BASE}/donor/profile", {"date_of_birth": "2015-01-01"}, content_type="application/json", **auth)
    erin.refresh_from_db()
    assert erin.date_of_birth.year == 1990
    assert (
        client.patch(f"{BASE}/donor/profile", {"blood_type": "Z"}, content_type="application/json", **auth).status_code
        == 400
    )


def test_the_donor_cannot_change_their_sex_after_registering(client, erin):
    # It sets the haemoglobin limit at screening (12.5 g/dL for women, 13.0 for men): staff record it there.
    auth = login(client, erin.user.email)
    answer = client.patch(f"{BASE}/donor/profile", {"sex": "male"}, content_type="application/json", **auth)
    assert answer.status_code == 200 and answer.json()["sex"] == "female"
    erin.refresh_from_db()
    assert erin.sex == "female"
    with pytest.raises(DomainError) as refused:
        services.donor_profile_update(donor=erin, sex="male")
    assert "sex" in refused.value.fields


def test_eligibility_says_every_reason_and_the_next_date(client, erin, hospital_a, bob):
    auth = login(client, erin.user.email)
    assert client.get(f"{BASE}/donor/eligibility", **auth).json()["eligible"] is True
    services.donation_register_walk_in(donor=erin, hospital=hospital_a)
    answer = client.get(f"{BASE}/donor/eligibility", **auth).json()
    assert answer["eligible"] is False and answer["reasons"][0]["code"] == "too_soon"
    assert answer["next_eligible_date"] == (timezone.localdate() + timedelta(days=56)).isoformat()
    later = client.get(f"{BASE}/donor/eligibility?date={answer['next_eligible_date']}", **auth).json()
    assert later["eligible"] is True
    platelets = client.get(f"{BASE}/donor/eligibility?donation_type=platelets", **auth).json()
    assert platelets["eligible"] is False  # after whole blood every type waits 56 days
    assert client.get(f"{BASE}/donor/eligibility?donation_type=soup", **auth).status_code == 400


def test_eligible_now_excludes_those_not_available(erin, frank):
    from donors import selectors

    services.donor_profile_update(donor=frank, available_for_emergencies=True)
    assert [d.pk for d in selectors.donors_eligible_now()] == [frank.pk]
    assert selectors.donors_eligible_now(blood_groups=["O-"]) == []


def test_eligible_now_reads_the_facts_of_all_candidates_at_once(hospital_a, django_assert_num_queries):
    """An urgent request's donor call reads every candidate's visits and deferrals in one query
    each, not one per donor; and a recent visit or a deferral still rules the donor out."""
    from donors import selectors

    donors = [make_donor(f"donor{number}@donor.example") for number in range(6)]
    for donor in donors:
        services.donor_profile_update(donor=donor, available_for_emergencies=True)
    services.donation_register_walk_in(donor=donors[0], hospital=hospital_a)
    today = timezone.localdate()
    services.deferral_create(
        donor=donors[1],
        reason="Recent surgery",
        starts_on=today,
        ends_on=today + timedelta(days=30),
        hospital=hospital_a,
        by=None,
    )
    with django_assert_num_queries(3):  # donors with their accounts, their visits, their deferrals
        eligible = selectors.donors_eligible_now(blood_groups=["O-"])
    assert [donor.pk for donor in eligible] == [donor.pk for donor in donors[2:]]
