"""Table-driven tests of the visit rules: screening limits at their boundaries, appointment states,
slot capacity, infection-marker release and deferral, and the units a collection makes."""

from datetime import date

import pytest

from donors import rules
from donors.rules import DOUBLE_RED_CELLS, FEMALE, MALE, PLASMA, PLATELETS, WHOLE_BLOOD

DAY = date(2026, 6, 1)
NORMAL = dict(
    haemoglobin=13.5,
    sex=FEMALE,
    donation_type=WHOLE_BLOOD,
    systolic_mmhg=120,
    diastolic_mmhg=80,
    pulse_bpm=70,
    temperature_c=36.8,
    questionnaire_passed=True,
)


def codes(**overrides):
    return [problem.code for problem in rules.screening_problems(**{**NORMAL, **overrides})]


def test_normal_screening_passes():
    assert codes() == []


@pytest.mark.parametrize(
    "haemoglobin, sex, donation_type, expected",
    [
        (12.4, FEMALE, WHOLE_BLOOD, [rules.HAEMOGLOBIN_LOW]),
        (12.5, FEMALE, WHOLE_BLOOD, []),
        (12.6, FEMALE, WHOLE_BLOOD, []),
        (12.9, MALE, WHOLE_BLOOD, [rules.HAEMOGLOBIN_LOW]),
        (13.0, MALE, WHOLE_BLOOD, []),
        (13.1, MALE, WHOLE_BLOOD, []),
        (13.2, FEMALE, DOUBLE_RED_CELLS, [rules.HAEMOGLOBIN_LOW]),
        (13.3, MALE, DOUBLE_RED_CELLS, []),
        (19.9, MALE, WHOLE_BLOOD, []),
        (20.0, MALE, WHOLE_BLOOD, []),
        (20.1, FEMALE, PLASMA, [rules.HAEMOGLOBIN_HIGH]),
    ],
)
def test_screening_haemoglobin_by_sex_and_type(haemoglobin, sex, donation_type, expected):
    assert codes(haemoglobin=haemoglobin, sex=sex, donation_type=donation_type) == expected


@pytest.mark.parametrize(
    "field, value, expected",
    [
        ("systolic_mmhg", 89, [rules.BLOOD_PRESSURE]),
        ("systolic_mmhg", 90, []),
        ("systolic_mmhg", 91, []),
        ("systolic_mmhg", 179, []),
        ("systolic_mmhg", 180, []),
        ("systolic_mmhg", 181, [rules.BLOOD_PRESSURE]),
        ("diastolic_mmhg", 49, [rules.BLOOD_PRESSURE]),
        ("diastolic_mmhg", 50, []),
        ("diastolic_mmhg", 100, []),
        ("diastolic_mmhg", 101, [rules.BLOOD_PRESSURE]),
        ("pulse_bpm", 49, [rules.PULSE]),
        ("pulse_bpm", 50, []),
        ("pulse_bpm", 100, []),
        ("pulse_bpm", 101, [rules.PULSE]),
        ("temperature_c", 37.4, []),
        ("temperature_c", 37.5, []),
        ("temperature_c", 37.6, [rules.TEMPERATURE]),
        ("questionnaire_passed", False, [rules.QUESTIONNAIRE]),
    ],
)
def test_screening_vital_signs_at_their_limits(field, value, expected):
    assert codes(**{field: value}) == expected


def test_every_screening_problem_is_reported():
    problems = rules.screening_problems(
        **{**NORMAL, "haemoglobin": 11.0, "pulse_bpm": 120, "temperature_c": 38.2, "questionnaire_passed": False}
    )
    assert [p.code for p in problems] == [rules.HAEMOGLOBIN_LOW, rules.PULSE, rules.TEMPERATURE, rules.QUESTIONNAIRE]
    assert problems[1].message == "Pulse 120/min is outside 50-100/min."


@pytest.mark.parametrize(
    "problem_codes, ends_on",
    [
        ([rules.HAEMOGLOBIN_LOW], date(2026, 7, 27)),
        ([rules.PULSE], date(2026, 6, 2)),
        ([rules.PULSE, rules.HAEMOGLOBIN_HIGH], date(2026, 6, 29)),
        ([rules.QUESTIONNAIRE, rules.HAEMOGLOBIN_LOW], date(2026, 7, 27)),
    ],
)
def test_screening_deferral_takes_the_longest_wait(problem_codes, ends_on):
    problems = [rules.Reason(code, code) for code in problem_codes]
    assert rules.screening_deferral_end(problems, on_date=DAY) == ends_on


@pytest.mark.parametrize(
    "from_status, to_status, allowed",
    [
        (rules.BOOKED, rules.CANCELLED, True),
        (rules.BOOKED, rules.ATTENDED, True),
        (rules.BOOKED, rules.NO_SHOW, True),
        (rules.BOOKED, rules.BOOKED, False),
        (rules.CANCELLED, rules.BOOKED, False),
        (rules.CANCELLED, rules.ATTENDED, False),
        (rules.ATTENDED, rules.NO_SHOW, False),
        (rules.ATTENDED, rules.CANCELLED, False),
        (rules.NO_SHOW, rules.ATTENDED, False),
        (rules.NO_SHOW, rules.CANCELLED, False),
    ],
)
def test_appointment_transitions(from_status, to_status, allowed):
    assert rules.appointment_can_move(from_status=from_status, to_status=to_status) is allowed


def test_unknown_appointment_state_is_refused():
    with pytest.raises(ValueError):
        rules.appointment_can_move(from_status="lost", to_status=rules.BOOKED)


@pytest.mark.parametrize("places_taken, has_room", [(0, True), (2, True), (3, False), (4, False)])
def test_slot_capacity(places_taken, has_room):
    assert rules.slot_has_room(capacity=3, places_taken=places_taken) is has_room


ALL_NEGATIVE = {marker: rules.NEGATIVE for marker in rules.DEFAULT_REQUIRED_MARKERS}


@pytest.mark.parametrize(
    "results, confirmed_group, unit_group, problems",
    [
        (ALL_NEGATIVE, "O-", "O-", []),
        ({"hiv": "negative", "hbv": "negative", "hcv": "negative", "SYPHILIS": "negative"}, "A+", "A+", []),
        ({**ALL_NEGATIVE, "HTLV": "negative"}, "O-", "O-", []),  # a further test, negative
        (
            {**ALL_NEGATIVE, "HTLV": "positive"},
            "O-",
            "O-",
            ["The HTLV result is positive."],
        ),  # not required, but done and positive
        ({k: v for k, v in ALL_NEGATIVE.items() if k != "HCV"}, "O-", "O-", ["No HCV result is recorded."]),
        ({**ALL_NEGATIVE, "HIV": "positive"}, "O-", "O-", ["The HIV result is positive."]),
        (ALL_NEGATIVE, None, "O-", ["The ABO/RhD typing is not confirmed."]),
        (ALL_NEGATIVE, "B+", "A+", ["The unit is labelled A+ but typed B+."]),
        (
            {},
            None,
            "O-",
            [
                "No HIV result is recorded.",
                "No HBV result is recorded.",
                "No HCV result is recorded.",
                "No syphilis result is recorded.",
                "The ABO/RhD typing is not confirmed.",
            ],
        ),
    ],
)
def test_release_rules(results, confirmed_group, unit_group, problems):
    assert (
        rules.release_problems(
            results=results,
            required_markers=rules.DEFAULT_REQUIRED_MARKERS,
            confirmed_group=confirmed_group,
            unit_group=unit_group,
        )
        == problems
    )


def test_release_markers_are_configurable():
    assert (
        rules.release_problems(
            results={"HIV": "negative"}, required_markers=["HIV"], confirmed_group="O+", unit_group="O+"
        )
        == []
    )


def test_a_further_test_recorded_positive_stops_the_unit_too():
    results = {"HIV": "negative", "WNV": "positive", "Chagas": "negative"}
    assert rules.release_problems(results=results, required_markers=["HIV"], confirmed_group="O+", unit_group="O+") == [
        "The WNV result is positive."
    ]


@pytest.mark.parametrize(
    "marker, ends_on",
    [("HIV", None), ("HBV", None), ("HCV", None), ("syphilis", date(2027, 6, 1)), ("Syphilis", date(2027, 6, 1))],
)
def test_marker_deferral(marker, ends_on):
    assert rules.marker_deferral(marker=marker, on_date=DAY) == ends_on


@pytest.mark.parametrize(
    "donation_type, components, expected",
    [
        (WHOLE_BLOOD, None, ("whole_blood",)),
        (WHOLE_BLOOD, ["whole_blood"], ("whole_blood",)),
        (WHOLE_BLOOD, ["red_cells", "plasma", "platelets"], ("red_cells", "plasma", "platelets")),
        (WHOLE_BLOOD, ["red_cells", "red_cells"], ("red_cells",)),
        (DOUBLE_RED_CELLS, None, ("red_cells",)),
        (PLATELETS, [], ("platelets",)),
        (PLASMA, ["plasma"], ("plasma",)),
    ],
)
def test_collection_components(donation_type, components, expected):
    assert rules.collection_components(donation_type=donation_type, components=components) == expected


@pytest.mark.parametrize(
    "donation_type, components",
    [
        (WHOLE_BLOOD, ["whole_blood", "plasma"]),
        (PLATELETS, ["red_cells"]),
        (PLASMA, ["cryoprecipitate"]),
        ("blood", None),
    ],
)
def test_collection_components_refused(donation_type, components):
    with pytest.raises(ValueError):
        rules.collection_components(donation_type=donation_type, components=components)
