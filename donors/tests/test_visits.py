"""Walk-in visits, screening, collection, infection-marker results, typing and release."""

from datetime import timedelta

import pytest
from django.utils import timezone

from bloodbank import services as bloodbank_services
from bloodbank.models import BloodUnit, UnitStatus
from donors import selectors, services
from donors.models import DonationStatus
from donors.tests.conftest import GOOD_SCREENING, make_donor
from healthsync.errors import Conflict, DomainError

MARKERS = ["HIV", "HBV", "HCV", "syphilis"]


def all_negative(donation, by):
    for marker in MARKERS:
        services.marker_result_record(donation=donation, marker=marker, result="negative", by=by)


def test_passed_screening_then_collection_makes_quarantined_units_under_one_din(visit, bob, hospital_a):
    screening = services.screening_record(donation=visit, by=bob, **GOOD_SCREENING)
    assert screening.passed and screening.problems == []
    units = services.donation_collect(donation=visit, by=bob)
    visit.refresh_from_db()
    assert visit.status == DonationStatus.COLLECTED and visit.din and visit.collected_by == bob
    assert [(u.component, u.status, u.din, u.blood_group, u.hospital_id) for u in units] == [
        ("whole_blood", UnitStatus.QUARANTINED, visit.din, "O-", hospital_a.pk)
    ]
    assert visit.din.startswith(hospital_a.fin)


def test_collection_into_components(visit, bob):
    services.screening_record(donation=visit, by=bob, **GOOD_SCREENING)
    units = services.donation_collect(donation=visit, by=bob, components=["red_cells", "plasma", "platelets"])
    assert sorted(u.component for u in units) == ["plasma", "platelets", "red_cells"]
    assert len({u.din for u in units}) == 1


def test_collection_needs_a_passed_screening(visit, bob):
    with pytest.raises(Conflict):
        services.donation_collect(donation=visit, by=bob)


@pytest.mark.parametrize(
    "sex, haemoglobin, passed",
    [
        ("female", 12.4, False),
        ("female", 12.5, True),
        ("male", 12.9, False),
        ("male", 13.0, True),
        ("male", 20.1, False),
    ],
)
def test_screening_haemoglobin_by_sex(hospital_a, bob, sex, haemoglobin, passed):
    donor = make_donor(sex=sex)
    visit = services.donation_register_walk_in(donor=donor, hospital=hospital_a)
    screening = services.screening_record(donation=visit, by=bob, **{**GOOD_SCREENING, "haemoglobin_g_dl": haemoglobin})
    assert screening.passed is passed


def test_failed_screening_defers_the_donor_and_makes_no_unit(visit, erin, bob):
    screening = services.screening_record(donation=visit, by=bob, **{**GOOD_SCREENING, "haemoglobin_g_dl": 11.8})
    visit.refresh_from_db()
    assert not screening.passed and "below the minimum of 12.5" in screening.problems[0]
    assert visit.status == DonationStatus.DEFERRED
    deferral = erin.deferrals.get()
    assert (
        deferral.ends_on == timezone.localdate() + timedelta(days=56)
        and deferral.set_by == bob
        and deferral.donation == visit
    )
    with pytest.raises(Conflict):
        services.donation_collect(donation=visit, by=bob)
    assert not BloodUnit.objects.exists()
    result = selectors.donor_eligibility(donor=erin)
    assert result.codes == ["deferred"] and result.next_eligible_date == deferral.ends_on


def test_a_deferral_added_after_booking_fails_the_screening_without_a_second_deferral(visit, erin, bob, hospital_a):
    services.deferral_create(
        donor=erin,
        reason="Tattoo last week",
        starts_on=timezone.localdate(),
        ends_on=timezone.localdate() + timedelta(days=90),
        hospital=hospital_a,
        by=bob,
    )
    screening = services.screening_record(donation=visit, by=bob, **GOOD_SCREENING)
    assert not screening.passed and "Tattoo" in screening.problems[0]
    assert erin.deferrals.count() == 1


def test_screening_records_weight_and_needs_sex(hospital_a, bob):
    donor = make_donor(sex="", weight_kg=None)
    visit = services.donation_register_walk_in(donor=donor, hospital=hospital_a)
    with pytest.raises(DomainError) as refused:
        services.screening_record(donation=visit, by=bob, **GOOD_SCREENING)
    assert "sex" in refused.value.fields
    screening = services.screening_record(donation=visit, by=bob, **{**GOOD_SCREENING, "sex": "male", "weight_kg": 49})
    assert not screening.passed and "50 kg" in screening.problems[0]
    donor.refresh_from_db()
    assert donor.sex == "male" and float(donor.weight_kg) == 49
    assert not donor.deferrals.exists()  # the recorded weight itself keeps them ineligible


def test_screening_needs_the_weight_measured_there(visit, erin, bob):
    with pytest.raises(DomainError) as refused:
        services.screening_record(donation=visit, by=bob, **{**GOOD_SCREENING, "weight_kg": None})
    assert list(refused.value.fields) == ["weight_kg"]
    visit.refresh_from_db()
    assert visit.status == DonationStatus.AWAITING_SCREENING


def test_screening_uses_the_measured_weight_not_the_donors_own(visit, erin, bob):
    # Erin's profile says 65 kg; the scales at screening say 48.
    screening = services.screening_record(donation=visit, by=bob, **{**GOOD_SCREENING, "weight_kg": 48})
    assert not screening.passed and "Must weigh at least 50 kg" in screening.problems[0]
    erin.refresh_from_db()
    assert float(erin.weight_kg) == 48 and float(screening.weight_kg) == 48


@pytest.mark.parametrize("sex", ["male", "female"])
@pytest.mark.parametrize("weight_kg, passed", [(58.9, False), (59, True)])
def test_double_red_cells_need_130_lb_at_screening(hospital_a, bob, sex, weight_kg, passed):
    donor = make_donor(sex=sex, weight_kg=70)
    visit = services.donation_register_walk_in(donor=donor, hospital=hospital_a, donation_type="double_red_cells")
    screening = services.screening_record(donation=visit, by=bob, **{**GOOD_SCREENING, "weight_kg": weight_kg})
    assert screening.passed is passed
    if not passed:
        assert screening.problems == ["Must weigh at least 59 kg for double red cells (weighs 58.9 kg)."]


def test_double_red_cell_minimum_weight_is_a_setting(erin, settings):
    erin.weight_kg = 62
    assert selectors.donor_eligibility(donor=erin, donation_type="double_red_cells").eligible
    settings.HEALTHSYNC_DOUBLE_RED_CELLS_MINIMUM_WEIGHT_KG = 63
    assert selectors.donor_eligibility(donor=erin, donation_type="double_red_cells").codes == ["underweight"]
    assert selectors.donor_eligibility(donor=erin, donation_type="whole_blood").eligible


def test_release_needs_negative_markers_and_confirmed_typing(collected, bob):
    with pytest.raises(Conflict) as refused:
        services.donation_release(donation=collected, by=bob)
    assert refused.value.details["problems"] == [
        "No HIV result is recorded.",
        "No HBV result is recorded.",
        "No HCV result is recorded.",
        "No syphilis result is recorded.",
        "The ABO/RhD typing is not confirmed.",
    ]
    all_negative(collected, bob)
    with pytest.raises(Conflict) as refused:
        services.donation_release(donation=collected, by=bob)
    assert refused.value.details["problems"] == ["The ABO/RhD typing is not confirmed."]
    services.typing_confirm(donation=collected, blood_group="O-", by=bob)
    units = services.donation_release(donation=collected, by=bob)
    assert [u.status for u in units] == [UnitStatus.AVAILABLE]
    collected.donor.refresh_from_db()
    assert collected.donor.blood_group_confirmed


def test_the_release_check_also_guards_the_blood_bank_release(collected, bob):
    unit = BloodUnit.objects.get(din=collected.din)
    with pytest.raises(Conflict) as refused:
        bloodbank_services.unit_release(unit=unit, by=bob)
    assert "No HIV result is recorded." in refused.value.details["problems"]


def test_units_not_from_a_donation_are_not_held(hospital_a, bob):
    unit = bloodbank_services.unit_create(hospital=hospital_a, component="red_cells", blood_group="A+", by=bob)
    assert selectors.unit_release_check(unit) == []
    assert bloodbank_services.unit_release(unit=unit, by=bob).status == UnitStatus.AVAILABLE


def test_required_markers_are_a_setting(collected, bob, settings):
    settings.HEALTHSYNC_REQUIRED_MARKERS = ["HIV"]
    services.marker_result_record(donation=collected, marker="hiv", result="negative", by=bob)
    services.typing_confirm(donation=collected, blood_group="O-", by=bob)
    assert services.donation_release(donation=collected, by=bob)


@pytest.mark.parametrize("marker, permanent", [("HIV", True), ("HCV", True), ("syphilis", False)])
def test_a_positive_result_discards_the_units_and_defers_the_donor(collected, erin, bob, marker, permanent):
    services.marker_result_record(donation=collected, marker=marker, result="positive", by=bob)
    unit = BloodUnit.objects.get(din=collected.din)
    assert unit.status == UnitStatus.DISCARDED
    assert f"{marker} positive" in unit.events.last().reason and unit.events.last().by == bob
    deferral = erin.deferrals.get()
    assert deferral.permanent is permanent
    result = selectors.donor_eligibility(donor=erin, on_date=timezone.localdate() + timedelta(days=400))
    assert result.eligible is not permanent


def test_results_are_recorded_once_per_marker_and_only_after_collection(visit, collected, bob):
    services.marker_result_record(donation=collected, marker="HIV", result="negative", by=bob)
    with pytest.raises(Conflict):
        services.marker_result_record(donation=collected, marker="hiv", result="positive", by=bob)
    with pytest.raises(DomainError):
        services.marker_result_record(donation=collected, marker="HBV", result="maybe", by=bob)


def test_typing_relabels_a_self_reported_group_and_refuses_a_discrepancy(collected, erin, bob):
    services.typing_confirm(donation=collected, blood_group="A+", by=bob)
    assert BloodUnit.objects.get(din=collected.din).blood_group == "A+"
    erin.refresh_from_db()
    assert erin.blood_group == "A+" and erin.blood_group_confirmed
    with pytest.raises(Conflict):
        services.typing_confirm(donation=collected, blood_group="B+", by=bob)
    with pytest.raises(Conflict):
        services.donor_profile_update(donor=erin, blood_group="O-")


def test_a_cancelled_visit_no_longer_counts_for_the_interval(visit, erin, bob, hospital_a):
    services.donation_cancel(donation=visit, by=bob)
    assert services.donation_register_walk_in(donor=erin, hospital=hospital_a)


def test_intervals_are_a_setting(collected, erin, settings):
    settings.HEALTHSYNC_DONATION_INTERVALS = {"whole_blood": 1, "double_red_cells": 1, "platelets": 1, "plasma": 1}
    assert selectors.donor_eligibility(donor=erin, on_date=timezone.localdate() + timedelta(days=1)).eligible


BASE = "/api/blood-bank"


def test_visit_through_the_staff_api(api, client, erin, bob, carol, hospital_a):
    from donors.tests.test_seed_donor_api import login

    donated = client.post(
        f"{BASE}/donor/donate",
        {"hospital_id": hospital_a.pk},
        content_type="application/json",
        **login(client, erin.user.email),
    )
    donation_id = donated.json()["id"]
    staff, other = api(bob), api(carol)
    assert other.get(f"{BASE}/staff/donations/{donation_id}/").status_code == 404
    assert (
        other.post(f"{BASE}/staff/donations/{donation_id}/screening", GOOD_SCREENING, format="json").status_code == 404
    )
    today = staff.get(f"{BASE}/staff/donations/?date={timezone.localdate().isoformat()}").json()
    assert [d["id"] for d in today["results"]] == [donation_id]

    bad = staff.post(
        f"{BASE}/staff/donations/{donation_id}/screening", {**GOOD_SCREENING, "pulse_bpm": "fast"}, format="json"
    )
    assert bad.status_code == 400 and "pulse_bpm" in bad.json()["error"]["fields"]
    unweighed = staff.post(
        f"{BASE}/staff/donations/{donation_id}/screening",
        {k: v for k, v in GOOD_SCREENING.items() if k != "weight_kg"},
        format="json",
    )
    assert unweighed.status_code == 400 and list(unweighed.json()["error"]["fields"]) == ["weight_kg"]
    screened = staff.post(f"{BASE}/staff/donations/{donation_id}/screening", GOOD_SCREENING, format="json")
    assert screened.status_code == 201 and screened.json()["passed"] is True
    collected = staff.post(
        f"{BASE}/staff/donations/{donation_id}/collection", {"components": ["red_cells", "plasma"]}, format="json"
    )
    assert collected.status_code == 201, collected.content
    assert sorted(u["component"] for u in collected.json()["units"]) == ["plasma", "red_cells"]
    assert {u["status"] for u in collected.json()["units"]} == {"quarantined"}

    refused = staff.post(f"{BASE}/staff/donations/{donation_id}/release")
    assert refused.status_code == 409 and len(refused.json()["error"]["details"]["problems"]) == 5
    for marker in MARKERS:
        assert (
            staff.post(
                f"{BASE}/staff/donations/{donation_id}/test-results",
                {"marker": marker, "result": "negative"},
                format="json",
            ).status_code
            == 201
        )
    assert (
        staff.post(f"{BASE}/staff/donations/{donation_id}/typing", {"blood_group": "Q"}, format="json").status_code
        == 400
    )
    typed = staff.post(f"{BASE}/staff/donations/{donation_id}/typing", {"blood_group": "O-"}, format="json")
    assert typed.json()["confirmed_blood_group"] == "O-" and typed.json()["test_results"]["HIV"] == "negative"
    released = staff.post(f"{BASE}/staff/donations/{donation_id}/release")
    assert released.status_code == 200 and {u["status"] for u in released.json()} == {"available"}

    history = client.get(f"{BASE}/donor/history", **login(client, erin.user.email)).json()
    assert history["donations"][0]["status"] == "collected" and history["donations"][0]["din"]

    donors = staff.get(f"{BASE}/staff/donors/?blood_group=O-").json()["results"]
    assert [(d["name"], d["eligibility"]["eligible"]) for d in donors] == [("Erin", False)]
    assert other.get(f"{BASE}/staff/donors/").json()["count"] == 0


def test_staff_defer_and_lift_through_http(api, visit, erin, bob):
    staff = api(bob)
    today = timezone.localdate()
    created = staff.post(
        f"{BASE}/staff/donors/{erin.pk}/deferrals",
        {
            "reason": "Recent surgery",
            "starts_on": today.isoformat(),
            "ends_on": (today + timedelta(days=30)).isoformat(),
        },
        format="json",
    )
    assert created.status_code == 201, created.content
    assert created.json()["set_by"] == bob.email
    assert (
        staff.post(
            f"{BASE}/staff/donors/{erin.pk}/deferrals", {"reason": "", "starts_on": today.isoformat()}, format="json"
        ).status_code
        == 400
    )
    lifted = staff.post(f"{BASE}/staff/deferrals/{created.json()['id']}/lift")
    assert lifted.status_code == 200 and lifted.json()["ends_on"] == today.isoformat()
    assert lifted.json()["lifted_by"] == bob.email and lifted.json()["reason"] == "Recent surgery"
    assert staff.post(f"{BASE}/staff/deferrals/{created.json()['id']}/lift").status_code == 409


def test_a_permanent_deferral_is_lifted_only_by_a_hospital_administrator(api, erin, bob, alice, hospital_a):
    permanent = services.deferral_create(
        donor=erin,
        reason="Confirmed reactive marker",
        starts_on=timezone.localdate(),
        ends_on=None,
        hospital=hospital_a,
        by=bob,
    )
    refused = api(bob).post(f"{BASE}/staff/deferrals/{permanent.pk}/lift")
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "permanent_deferral"
    permanent.refresh_from_db()
    assert permanent.ends_on is None and permanent.lifted_by is None
    lifted = api(alice).post(f"{BASE}/staff/deferrals/{permanent.pk}/lift")
    assert lifted.status_code == 200 and lifted.json()["lifted_by"] == alice.email


def test_a_lifted_deferral_shows_the_donor_no_staff_email(api, client, visit, erin, bob, hospital_a):
    from donors.tests.test_seed_donor_api import login

    yesterday = timezone.localdate() - timedelta(days=1)
    deferral = services.deferral_create(
        donor=erin,
        reason="Recent surgery",
        starts_on=yesterday - timedelta(days=1),
        ends_on=yesterday + timedelta(days=30),
        hospital=hospital_a,
        by=bob,
    )
    assert api(bob).post(f"{BASE}/staff/deferrals/{deferral.pk}/lift").status_code == 200
    # The donor looks at a day the deferral was in force: its reason shows, the staff email must not.
    seen = client.get(f"{BASE}/donor/eligibility?date={yesterday.isoformat()}", **login(client, erin.user.email))
    assert seen.status_code == 200 and "Recent surgery" in seen.content.decode()
    assert bob.email not in seen.content.decode()
    deferral.refresh_from_db()
    assert deferral.lifted_by == bob and deferral.lifted_at is not None  # recorded for staff instead


def test_staff_donor_list_reads_eligibility_facts_once_for_the_page(
    api, hospital_a, bob, django_assert_max_num_queries
):
    staff = api(bob)
    for number in range(6):
        donor = make_donor(f"donor{number}@donor.example")
        services.donation_register_walk_in(
            donor=donor, hospital=hospital_a
        )  # a visit at Alpha: staff there see the donor
    with django_assert_max_num_queries(8):  # user, hospitals, count, page, visits, deferrals; not one per donor
        listed = staff.get(f"{BASE}/staff/donors/").json()
    assert listed["count"] == 6
    assert all(d["eligibility"]["eligible"] is False for d in listed["results"])  # each has a visit today


def test_a_positive_result_after_release_recalls_issued_units_and_flags_transfused_ones(
    visit, bob, hospital_a, django_capture_on_commit_callbacks
):
    from notifications.models import Alert, Notification

    services.screening_record(donation=visit, by=bob, **GOOD_SCREENING)
    services.donation_collect(donation=visit, by=bob, components=["red_cells", "platelets", "plasma"])
    visit.refresh_from_db()
    all_negative(visit, bob)
    services.typing_confirm(donation=visit, blood_group="O-", by=bob)
    services.donation_release(donation=visit, by=bob)
    issued = {}
    for component in ("red_cells", "platelets"):
        request = bloodbank_services.request_create(
            hospital=hospital_a, blood_group="O-", units=1, urgency=3, component=component, by=bob
        )
        [allocation] = bloodbank_services.request_fulfil(request=request, by=bob)
        if component == "red_cells":
            bloodbank_services.allocation_crossmatch(
                allocation=allocation,
                method="electronic",
                sample_id="S-7",
                sample_drawn_at=timezone.now() - timedelta(hours=1),
                compatible=True,
                by=bob,
            )
        issued[component] = bloodbank_services.allocation_issue(allocation=allocation, by=bob)
    bloodbank_services.allocation_transfuse(
        allocation=issued["red_cells"], by=bob, started_at=timezone.now() - timedelta(minutes=1)
    )

    with django_capture_on_commit_callbacks(execute=True):
        services.marker_result_record(donation=visit, marker="WNV", result="positive", by=bob)

    assert (
        BloodUnit.objects.get(din=visit.din, component="plasma").status == UnitStatus.DISCARDED
    )  # still in the blood bank
    alert = Alert.objects.get(kind="recall")
    assert alert.severity == "critical" and "WNV positive" in alert.title
    assert "Red cells O- (request " in alert.body and "transfused: tell the recipient's clinician" in alert.body
    assert "Platelets O- (request " in alert.body and "issued: return it now" in alert.body
    assert Notification.objects.filter(alert=alert, recipient=bob).exists()
    # The recalled bag comes back: it may not go back to stock.
    bloodbank_services.allocation_return(allocation=issued["platelets"], by=bob, seal_intact=True)
    assert BloodUnit.objects.get(din=visit.din, component="platelets").status == UnitStatus.DISCARDED
