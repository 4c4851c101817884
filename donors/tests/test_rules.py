"""Table-driven tests of donor eligibility at each rule's boundaries: the day before, the day of, the day after."""

from datetime import date, timedelta

import pytest

from donors import rules
from donors.rules import (
    DOUBLE_RED_CELLS,
    FEMALE,
    MALE,
    PLASMA,
    PLATELETS,
    WHOLE_BLOOD,
    Deferral,
    PastDonation,
)

TODAY = date(2026, 6, 1)


def check(**overrides):
    """Eligibility of an adult 70 kg woman with no history on TODAY, with ``overrides``."""
    facts = {
        "date_of_birth": date(1990, 5, 15),
        "sex": FEMALE,
        "weight_kg": 70,
        "donations": [],
        "deferrals": [],
        "on_date": TODAY,
    }
    return rules.eligibility(**{**facts, **overrides})


def every(days, *, start, count, type):
    """``count`` donations of ``type`` every ``days`` days from ``start``."""
    return [PastDonation(date=start + timedelta(days=days * n), type=type) for n in range(count)]


def test_no_history_is_eligible_today():
    result = check()
    assert result.eligible is True
    assert result.reasons == ()
    assert result.next_eligible_date == TODAY


# --- Age ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "date_of_birth, on_date, eligible, turns",
    [
        (date(2009, 3, 4), date(2026, 3, 3), False, date(2026, 3, 4)),
        (date(2009, 3, 4), date(2026, 3, 4), True, None),
        (date(2009, 3, 4), date(2026, 3, 5), True, None),
        (date(2010, 3, 4), date(2026, 6, 1), False, date(2027, 3, 4)),
        # Born 29 February: 17 on 1 March in a common year (leap years: see below).
        (date(2008, 2, 29), date(2025, 2, 28), False, date(2025, 3, 1)),
        (date(2008, 2, 29), date(2025, 3, 1), True, None),
        (date(2008, 2, 29), date(2025, 3, 2), True, None),
        (date(2040, 1, 1), date(2026, 6, 1), False, date(2057, 1, 1)),  # not born yet
    ],
)
def test_minimum_age(date_of_birth, on_date, eligible, turns):
    result = check(date_of_birth=date_of_birth, on_date=on_date)
    assert result.eligible is eligible
    if eligible:
        assert result.next_eligible_date == on_date
    else:
        assert result.codes == [rules.TOO_YOUNG]
        assert result.messages == [f"Must be at least 17 years old (turns 17 on {turns})."]
        assert result.next_eligible_date == turns


@pytest.mark.parametrize(
    "on_date, eligible",
    [(date(2028, 2, 28), False), (date(2028, 2, 29), True), (date(2028, 3, 1), True)],
)
def test_leap_day_birthday_in_a_leap_year_with_a_lower_age_limit(on_date, eligible):
    result = check(date_of_birth=date(2012, 2, 29), on_date=on_date, minimum_age_years=16)
    assert result.eligible is eligible
    assert result.next_eligible_date == (on_date if eligible else date(2028, 2, 29))


# --- Weight -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "weight_kg, eligible", [(49.9, False), (49.99, False), (50, True), (50.0, True), (50.1, True), (120, True)]
)
def test_minimum_weight(weight_kg, eligible):
    result = check(weight_kg=weight_kg)
    assert result.eligible is eligible
    assert result.codes == ([] if eligible else [rules.UNDERWEIGHT])
    # Weight is not time-based: no later date would clear it by itself.
    assert result.next_eligible_date == TODAY


def test_weight_message():
    assert check(weight_kg=49.9).messages == ["Must weigh at least 50 kg (weighs 49.9 kg)."]


@pytest.mark.parametrize("sex", [MALE, FEMALE])  # no figure for women in the sources: the same minimum applies
@pytest.mark.parametrize(
    "donation_type, weight_kg, eligible",
    [
        (DOUBLE_RED_CELLS, 50, False),
        (DOUBLE_RED_CELLS, 58.9, False),
        (DOUBLE_RED_CELLS, 59, True),
        (DOUBLE_RED_CELLS, 59.1, True),
        (WHOLE_BLOOD, 50, True),
        (PLATELETS, 50, True),
        (PLASMA, 50, True),
    ],
)
def test_double_red_cells_need_130_lb(sex, donation_type, weight_kg, eligible):
    result = check(sex=sex, donation_type=donation_type, weight_kg=weight_kg)
    assert result.codes == ([] if eligible else [rules.UNDERWEIGHT])


def test_double_red_cell_weight_message_and_parameter():
    assert check(donation_type=DOUBLE_RED_CELLS, weight_kg=58).messages == [
        "Must weigh at least 59 kg for double red cells (weighs 58 kg)."
    ]
    assert check(donation_type=DOUBLE_RED_CELLS, weight_kg=60, double_red_cells_minimum_weight_kg=61).codes == [
        rules.UNDERWEIGHT
    ]
    # The higher of the two minimums wins.
    assert check(donation_type=DOUBLE_RED_CELLS, weight_kg=60, minimum_weight_kg=65).codes == [rules.UNDERWEIGHT]


def test_an_unmeasured_weight_is_left_to_screening():
    assert check(weight_kg=None, donation_type=DOUBLE_RED_CELLS).eligible


# --- Haemoglobin (21 CFR 630.10(d)) ---------------------------------------------------


@pytest.mark.parametrize(
    "haemoglobin, sex, donation_type, code",
    [
        (12.4, FEMALE, WHOLE_BLOOD, rules.HAEMOGLOBIN_LOW),
        (12.5, FEMALE, WHOLE_BLOOD, None),
        (12.6, FEMALE, WHOLE_BLOOD, None),
        (12.9, MALE, WHOLE_BLOOD, rules.HAEMOGLOBIN_LOW),
        (13.0, MALE, WHOLE_BLOOD, None),
        (13.1, MALE, WHOLE_BLOOD, None),
        (12.5, FEMALE, PLATELETS, None),
        (12.4, FEMALE, PLASMA, rules.HAEMOGLOBIN_LOW),
        (13.0, MALE, PLASMA, None),
        (13.2, FEMALE, DOUBLE_RED_CELLS, rules.HAEMOGLOBIN_LOW),
        (13.3, FEMALE, DOUBLE_RED_CELLS, None),
        (13.2, MALE, DOUBLE_RED_CELLS, rules.HAEMOGLOBIN_LOW),
        (13.3, MALE, DOUBLE_RED_CELLS, None),
        (13.4, MALE, DOUBLE_RED_CELLS, None),
        (19.9, FEMALE, WHOLE_BLOOD, None),
        (20.0, FEMALE, WHOLE_BLOOD, None),
        (20.0, MALE, DOUBLE_RED_CELLS, None),
        (20.1, FEMALE, WHOLE_BLOOD, rules.HAEMOGLOBIN_HIGH),
        (20.1, MALE, PLATELETS, rules.HAEMOGLOBIN_HIGH),
    ],
)
def test_haemoglobin(haemoglobin, sex, donation_type, code):
    reason = rules.haemoglobin_ok(haemoglobin, sex=sex, donation_type=donation_type)
    assert (reason.code if reason else None) == code
    eligibility = check(sex=sex, haemoglobin=haemoglobin, donation_type=donation_type)
    assert eligibility.codes == ([code] if code else [])


@pytest.mark.parametrize(
    "haemoglobin, sex, donation_type, message",
    [
        (12.4, FEMALE, WHOLE_BLOOD, "Haemoglobin 12.4 g/dL is below the minimum of 12.5 g/dL."),
        (12.9, MALE, WHOLE_BLOOD, "Haemoglobin 12.9 g/dL is below the minimum of 13.0 g/dL."),
        (13.0, MALE, DOUBLE_RED_CELLS, "Haemoglobin 13.0 g/dL is below the minimum of 13.3 g/dL."),
        (20.5, MALE, WHOLE_BLOOD, "Haemoglobin 20.5 g/dL is above the maximum of 20.0 g/dL."),
    ],
)
def test_haemoglobin_messages(haemoglobin, sex, donation_type, message):
    assert rules.haemoglobin_ok(haemoglobin, sex=sex, donation_type=donation_type).message == message


def test_haemoglobin_is_not_applied_when_not_measured():
    assert check(haemoglobin=None, sex=MALE).eligible is True
    assert check(haemoglobin=9.0, sex=MALE).eligible is False


@pytest.mark.parametrize("sex, donation_type", [("unknown", WHOLE_BLOOD), (FEMALE, "bone_marrow")])
def test_haemoglobin_refuses_unknown_inputs(sex, donation_type):
    with pytest.raises(ValueError):
        rules.haemoglobin_ok(13.0, sex=sex, donation_type=donation_type)


# --- Intervals -----------------------------------------------------------------------

LAST_DONATION = date(2026, 1, 1)


@pytest.mark.parametrize(
    "previous_type, days, clear_from",
    [
        (WHOLE_BLOOD, 56, date(2026, 2, 26)),
        (DOUBLE_RED_CELLS, 112, date(2026, 4, 23)),
        (PLATELETS, 7, date(2026, 1, 8)),
        (PLASMA, 28, date(2026, 1, 29)),
    ],
)
@pytest.mark.parametrize("next_type", [WHOLE_BLOOD, DOUBLE_RED_CELLS, PLATELETS, PLASMA])
@pytest.mark.parametrize("offset, eligible", [(-1, False), (0, True), (1, True)])
def test_interval_is_set_by_the_previous_donation(previous_type, days, clear_from, next_type, offset, eligible):
    on_date = clear_from + timedelta(days=offset)
    result = check(
        donations=[PastDonation(date=LAST_DONATION, type=previous_type)], on_date=on_date, donation_type=next_type
    )
    assert result.eligible is eligible
    assert result.next_eligible_date == (clear_from if not eligible else on_date)
    if not eligible:
        assert result.messages == [
            f"Must wait {days} days after the {previous_type.replace('_', ' ')} donation on 2026-01-01 "
            f"(eligible from {clear_from})."
        ]
        assert result.codes == [rules.TOO_SOON]


def test_donated_today_is_not_eligible_today():
    result = check(donations=[PastDonation(date=TODAY, type=PLATELETS)], donation_type=PLATELETS)
    assert result.eligible is False
    assert result.next_eligible_date == date(2026, 6, 8)


def test_the_latest_clearing_donation_binds():
    donations = [
        PastDonation(date=date(2026, 1, 1), type=WHOLE_BLOOD),
        PastDonation(date=date(2026, 2, 20), type=PLATELETS),
    ]
    result = check(donations=donations, on_date=date(2026, 2, 21), donation_type=PLATELETS)
    assert result.next_eligible_date == date(2026, 2, 27)
    assert result.messages == [
        "Must wait 7 days after the platelets donation on 2026-02-20 (eligible from 2026-02-27)."
    ]
    # Later, whole blood no longer blocks but a platelet donation 3 days ago still does.
    result = check(donations=donations, on_date=date(2026, 2, 25), donation_type=PLATELETS)
    assert result.next_eligible_date == date(2026, 2, 27)


def test_intervals_can_be_overridden():
    intervals = {**rules.DEFAULT_INTERVALS, PLASMA: 14}
    donations = [PastDonation(date=LAST_DONATION, type=PLASMA)]
    assert check(donations=donations, on_date=date(2026, 1, 14), intervals=intervals).eligible is False
    assert check(donations=donations, on_date=date(2026, 1, 15), intervals=intervals).eligible is True


def test_donations_after_the_date_are_ignored():
    assert check(donations=[PastDonation(date=TODAY + timedelta(days=1), type=WHOLE_BLOOD)]).eligible is True


@pytest.mark.parametrize(
    "overrides",
    [{"donation_type": "bone_marrow"}, {"donations": [PastDonation(date=date(2026, 1, 1), type="bone_marrow")]}],
)
def test_unknown_donation_types_are_refused(overrides):
    with pytest.raises(ValueError, match="Unknown donation type 'bone_marrow'"):
        check(**overrides)


# --- Annual limits -------------------------------------------------------------------

# 24 platelet donations every 14 days from 2025-07-01; the last on 2026-05-19.
TWENTY_FOUR_PLATELETS = every(14, start=date(2025, 7, 1), count=24, type=PLATELETS)


@pytest.mark.parametrize(
    "on_date, eligible",
    [(date(2026, 6, 1), False), (date(2026, 6, 30), False), (date(2026, 7, 1), True), (date(2026, 7, 2), True)],
)
def test_at_most_24_platelet_donations_in_12_months(on_date, eligible):
    assert TWENTY_FOUR_PLATELETS[-1].date == date(2026, 5, 19)
    result = check(donations=TWENTY_FOUR_PLATELETS, on_date=on_date, donation_type=PLATELETS)
    assert result.eligible is eligible
    # The oldest (2025-07-01) stops counting on its anniversary.
    assert result.next_eligible_date == (on_date if eligible else date(2026, 7, 1))
    if not eligible:
        assert result.messages == ["At most 24 platelets donations in 12 months (24 given; eligible from 2026-07-01)."]
        assert result.codes == [rules.ANNUAL_LIMIT]


def test_23_platelet_donations_leave_room_for_one_more():
    result = check(donations=TWENTY_FOUR_PLATELETS[1:], donation_type=PLATELETS)
    assert result.eligible is True


def test_over_the_limit_waits_until_enough_donations_stop_counting():
    # 26 weekly donations from 2025-12-01 (limit changed by a past setting): three must drop out.
    donations = every(7, start=date(2025, 12, 1), count=26, type=PLATELETS)
    result = check(donations=donations, donation_type=PLATELETS)
    assert result.next_eligible_date == date(2026, 12, 15)


def test_the_platelet_limit_does_not_count_other_types():
    result = check(donations=TWENTY_FOUR_PLATELETS, donation_type=WHOLE_BLOOD)
    assert result.eligible is True


@pytest.mark.parametrize(
    "on_date, eligible",
    [(date(2026, 6, 1), False), (date(2026, 6, 2), False), (date(2026, 6, 30), False), (date(2026, 7, 1), True)],
)
def test_at_most_6_whole_blood_donations_in_12_months(on_date, eligible):
    # Every 56 days from 2025-07-01: the 56-day wait after the sixth ends 2026-06-02,
    # the 12-month count on 2026-07-01.
    donations = every(56, start=date(2025, 7, 1), count=6, type=WHOLE_BLOOD)
    result = check(donations=donations, on_date=on_date)
    assert result.eligible is eligible
    assert result.next_eligible_date == (on_date if eligible else date(2026, 7, 1))


@pytest.mark.parametrize(
    "on_date, eligible",
    [(date(2025, 2, 28), False), (date(2025, 3, 1), True), (date(2025, 3, 2), True)],
)
def test_a_29_february_donation_counts_until_28_february(on_date, eligible):
    result = check(
        donations=[PastDonation(date=date(2024, 2, 29), type=PLATELETS)],
        on_date=on_date,
        donation_type=PLATELETS,
        annual_limits={PLATELETS: 1},
    )
    assert result.eligible is eligible
    assert result.next_eligible_date == (on_date if eligible else date(2025, 3, 1))


def test_types_without_a_limit():
    # 13 plasma donations within 12 months, the wait after the last ending today.
    donations = every(28, start=date(2025, 6, 2), count=13, type=PLASMA)
    assert check(donations=donations, donation_type=PLASMA).eligible is True


# --- Deferrals -----------------------------------------------------------------------

TRAVEL = Deferral(reason="Travel to a malaria area", starts_on=date(2026, 1, 10), ends_on=date(2026, 3, 1))


@pytest.mark.parametrize(
    "on_date, eligible",
    [
        (date(2026, 1, 9), True),
        (date(2026, 1, 10), False),
        (date(2026, 2, 28), False),
        (date(2026, 3, 1), True),  # eligible again on the end date
        (date(2026, 3, 2), True),
    ],
)
def test_temporary_deferral(on_date, eligible):
    result = check(deferrals=[TRAVEL], on_date=on_date)
    assert result.eligible is eligible
    assert result.next_eligible_date == (on_date if eligible else date(2026, 3, 1))
    if not eligible:
        assert result.messages == ["Deferred until 2026-03-01 (eligible from that day): Travel to a malaria area"]
        assert result.codes == [rules.DEFERRED]


@pytest.mark.parametrize("on_date", [date(2026, 1, 10), date(2030, 1, 1)])
def test_permanent_deferral_means_never(on_date):
    deferral = Deferral(reason="Positive HIV test", starts_on=date(2026, 1, 10))
    result = check(deferrals=[deferral], on_date=on_date)
    assert result.eligible is False
    assert result.next_eligible_date is None
    assert result.messages == ["Permanently deferred: Positive HIV test"]
    assert result.codes == [rules.PERMANENTLY_DEFERRED]


def test_a_deferral_applies_whatever_the_intervals_say():
    donations = [PastDonation(date=date(2025, 1, 1), type=WHOLE_BLOOD)]
    assert check(donations=donations, deferrals=[TRAVEL], on_date=date(2026, 2, 1)).eligible is False


@pytest.mark.parametrize(
    "deferrals, next_eligible_date",
    [
        # The interval clears on 2026-06-05, inside a deferral starting later than today.
        ([Deferral(reason="Tattoo", starts_on=date(2026, 6, 3), ends_on=date(2026, 6, 20))], date(2026, 6, 20)),
        # Back-to-back deferrals are stepped through.
        (
            [
                Deferral(reason="Tattoo", starts_on=date(2026, 6, 3), ends_on=date(2026, 6, 20)),
                Deferral(reason="Surgery", starts_on=date(2026, 6, 15), ends_on=date(2026, 8, 1)),
            ],
            date(2026, 8, 1),
        ),
        # A deferral that ends before the interval does not move it.
        ([Deferral(reason="Cold", starts_on=date(2026, 6, 1), ends_on=date(2026, 6, 4))], date(2026, 6, 5)),
        # A permanent deferral from before the interval clears: never.
        ([Deferral(reason="vCJD risk", starts_on=date(2026, 6, 5))], None),
        # One starting later leaves a window.
        ([Deferral(reason="vCJD risk", starts_on=date(2026, 6, 6))], date(2026, 6, 5)),
    ],
)
def test_next_eligible_date_steps_past_deferrals(deferrals, next_eligible_date):
    donations = [PastDonation(date=date(2026, 5, 29), type=PLATELETS)]  # clears 2026-06-05
    result = check(donations=donations, deferrals=deferrals, donation_type=PLATELETS)
    assert result.eligible is False
    assert result.next_eligible_date == next_eligible_date


@pytest.mark.parametrize(
    "reason, starts_on, ends_on",
    [
        ("", date(2026, 1, 1), None),
        ("   ", date(2026, 1, 1), date(2026, 2, 1)),
        ("Cold", date(2026, 1, 1), date(2026, 1, 1)),
        ("Cold", date(2026, 1, 2), date(2026, 1, 1)),
    ],
)
def test_deferral_needs_a_reason_and_an_end_after_its_start(reason, starts_on, ends_on):
    with pytest.raises(ValueError):
        Deferral(reason=reason, starts_on=starts_on, ends_on=ends_on)


# --- Several reasons at once -----------------------------------------------------------


def test_every_reason_is_given_and_the_next_date_clears_them_all():
    result = check(
        date_of_birth=date(2009, 7, 1),  # 17 on 2026-07-01
        weight_kg=49.9,
        sex=MALE,
        haemoglobin=12.0,
        donations=[PastDonation(date=date(2026, 5, 10), type=DOUBLE_RED_CELLS)],  # clears 2026-08-30
        deferrals=[Deferral(reason="Antibiotics", starts_on=date(2026, 5, 20), ends_on=date(2026, 6, 10))],
    )
    assert result.eligible is False
    assert result.codes == [
        rules.TOO_YOUNG,
        rules.UNDERWEIGHT,
        rules.HAEMOGLOBIN_LOW,
        rules.TOO_SOON,
        rules.DEFERRED,
    ]
    assert result.messages == [
        "Must be at least 17 years old (turns 17 on 2026-07-01).",
        "Must weigh at least 50 kg (weighs 49.9 kg).",
        "Haemoglobin 12.0 g/dL is below the minimum of 13.0 g/dL.",
        "Must wait 112 days after the double red cells donation on 2026-05-10 (eligible from 2026-08-30).",
        "Deferred until 2026-06-10 (eligible from that day): Antibiotics",
    ]
    assert result.next_eligible_date == date(2026, 8, 30)
    assert [str(reason) for reason in result.reasons] == result.messages


@pytest.mark.parametrize(
    "date_of_birth, deferral_end, next_eligible_date",
    [
        (date(2009, 9, 1), date(2026, 6, 10), date(2026, 9, 1)),  # age last
        (date(2009, 6, 3), date(2026, 9, 15), date(2026, 9, 15)),  # deferral last
        (date(2009, 6, 3), date(2026, 6, 4), date(2026, 6, 5)),  # interval last
    ],
)
def test_next_date_is_the_latest_time_based_reason(date_of_birth, deferral_end, next_eligible_date):
    result = check(
        date_of_birth=date_of_birth,
        donations=[PastDonation(date=date(2026, 5, 29), type=PLATELETS)],  # clears 2026-06-05
        deferrals=[Deferral(reason="Cold", starts_on=date(2026, 5, 30), ends_on=deferral_end)],
    )
    assert result.codes == [rules.TOO_YOUNG, rules.TOO_SOON, rules.DEFERRED]
    assert result.next_eligible_date == next_eligible_date
    assert (
        check(
            date_of_birth=date_of_birth,
            donations=[PastDonation(date=date(2026, 5, 29), type=PLATELETS)],
            deferrals=[Deferral(reason="Cold", starts_on=date(2026, 5, 30), ends_on=deferral_end)],
            on_date=next_eligible_date,
        ).eligible
        is True
    )


def test_permanent_deferral_with_other_reasons_still_never():
    result = check(
        weight_kg=45,
        donations=[PastDonation(date=date(2026, 5, 1), type=WHOLE_BLOOD)],
        deferrals=[Deferral(reason="Hepatitis C", starts_on=date(2020, 1, 1))],
    )
    assert result.codes == [rules.UNDERWEIGHT, rules.TOO_SOON, rules.PERMANENTLY_DEFERRED]
    assert result.next_eligible_date is None


def test_default_tables():
    assert rules.DEFAULT_INTERVALS == {WHOLE_BLOOD: 56, DOUBLE_RED_CELLS: 112, PLATELETS: 7, PLASMA: 28}
    assert rules.DEFAULT_ANNUAL_LIMITS == {WHOLE_BLOOD: 6, PLATELETS: 24}
    assert (rules.MINIMUM_AGE_YEARS, rules.MINIMUM_WEIGHT_KG) == (17, 50.0)
