"""Table-driven tests of the pure blood-bank rules. Expected values are written out, not recomputed."""

import random
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from bloodbank import rules
from bloodbank.rules import (
    ADDITIVE_SOLUTION,
    AVAILABLE,
    CPD,
    CPDA_1,
    CRYOPRECIPITATE,
    DISCARDED,
    EXPIRED,
    IN_TRANSIT,
    ISSUED,
    PLASMA,
    PLATELETS,
    QUARANTINED,
    RED_CELLS,
    RESERVED,
    TRANSFUSED,
    UNIT_STATUSES,
    WHOLE_BLOOD,
    BloodGroup,
    TransitionRefused,
)

GROUPS = ["A+", "A-", "B+", "B-", "AB+", "AB-", "O+", "O-"]
UTC = UTC
LONDON = ZoneInfo("Europe/London")
NEW_YORK = ZoneInfo("America/New_York")


# --- Blood groups -------------------------------------------------------------


@pytest.mark.parametrize(
    "text, abo, rhd_positive",
    [
        ("A+", "A", True),
        ("A-", "A", False),
        ("B+", "B", True),
        ("B-", "B", False),
        ("AB+", "AB", True),
        ("AB-", "AB", False),
        ("O+", "O", True),
        ("O-", "O", False),
        ("ab-", "AB", False),
        (" o+ ", "O", True),
    ],
)
def test_parse_blood_group(text, abo, rhd_positive):
    group = BloodGroup.parse(text)
    assert (group.abo, group.rhd_positive) == (abo, rhd_positive)
    assert str(group) == text.strip().upper()


@pytest.mark.parametrize("text", ["", "A", "+", "C+", "AB", "BA+", "O--", "A+ve", "0-", "AB +x", None, 1])
def test_parse_refuses_unknown_groups(text):
    expected = r"Unknown blood group .* expected one of A\+, A-, B\+, B-, AB\+, AB-, O\+, O-\."
    with pytest.raises(ValueError, match=expected):
        BloodGroup.parse(text)


def test_the_eight_groups():
    assert list(rules.BLOOD_GROUP_NAMES) == GROUPS
    assert BloodGroup.parse("O-") == rules.O_NEGATIVE


@pytest.mark.parametrize("abo, rhd_positive", [("C", True), ("A", "yes"), ("O", None)])
def test_blood_group_refuses_bad_parts(abo, rhd_positive):
    with pytest.raises(ValueError):
        BloodGroup(abo=abo, rhd_positive=rhd_positive)


# --- Components -----------------------------------------------------------------


@pytest.mark.parametrize(
    "component, ml, units",
    [
        (WHOLE_BLOOD, 450, 1),
        (WHOLE_BLOOD, 451, 2),
        (WHOLE_BLOOD, 1, 1),
        (RED_CELLS, 299, 1),
        (RED_CELLS, 300, 1),
        (RED_CELLS, 301, 2),
        (RED_CELLS, 900, 3),
        (PLATELETS, 250, 1),
        (PLATELETS, 500.5, 3),
        (PLASMA, 250, 1),
        (PLASMA, 1000, 4),
        (PLASMA, 1001, 5),
        (CRYOPRECIPITATE, 15, 1),
        (CRYOPRECIPITATE, 150, 10),
        (CRYOPRECIPITATE, 151, 11),
    ],
)
def test_units_for_volume(component, ml, units):
    assert rules.units_for_volume(component=component, ml=ml) == units


@pytest.mark.parametrize("ml", [0, -1, -300, 0.0, True])
def test_units_for_volume_refuses_non_positive(ml):
    with pytest.raises(ValueError, match="positive"):
        rules.units_for_volume(component=RED_CELLS, ml=ml)


def test_units_for_volume_refuses_unknown_component():
    with pytest.raises(ValueError, match="Unknown component 'blood'"):
        rules.units_for_volume(component="blood", ml=300)


def test_standard_volumes():
    assert rules.STANDARD_VOLUME_ML == {
        WHOLE_BLOOD: 450,
        RED_CELLS: 300,
        PLASMA: 250,
        PLATELETS: 250,
        CRYOPRECIPITATE: 15,
    }


# --- ISBT 128 DIN ---------------------------------------------------------------

ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ*"


def horner_mod37_2(din13):
    """Independent ISO 7064 Mod 37-2: the recursive (Horner) form, not the power sum."""
    remainder = 0
    for character in din13:
        remainder = (remainder + ALPHABET.index(character)) * 2 % 37
    return ALPHABET[(38 - remainder) % 37]


# Checked by hand from the Red Book example and with horner_mod37_2.
@pytest.mark.parametrize(
    "din13, check",
    [
        ("G123498654321", "H"),  # UK Red Book Annex 2 worked example (sum 148354, value 17)
        ("A999926000001", "8"),
        ("W000026123456", "*"),
        ("Z1A2B99999999", "0"),
        ("G123400000000", "S"),
        ("X000000000000", "O"),
        ("N7Q1P24000999", "Z"),
    ],
)
def test_din_check_character_known_values(din13, check):
    assert rules.din_check_character(din13) == check


def test_din_check_character_agrees_with_independent_implementation():
    generator = random.Random(128)
    for _ in range(2000):
        din13 = (
            generator.choice(ALPHABET[10:36])
            + "".join(generator.choice(ALPHABET[:36]) for _ in range(4))
            + "".join(generator.choice("0123456789") for _ in range(8))
        )
        check = rules.din_check_character(din13)
        assert check == horner_mod37_2(din13)
        # ISO 7064 validity: the weighted sum including the check value is 1 mod 37.
        weighted = sum(ALPHABET.index(c) * 2**n for n, c in enumerate(reversed(din13 + check)))
        assert weighted % 37 == 1


@pytest.mark.parametrize(
    "din13",
    [
        "",
        "G12349865432",
        "G1234986543210",
        "1123498654321",
        "G12349865432A",
        "G1234A8654321",
        "g123498654321",
        "G123-98654321",
        None,
    ],
)
def test_din_check_character_refuses_malformed(din13):
    with pytest.raises(ValueError, match="Not a DIN"):
        rules.din_check_character(din13)


@pytest.mark.parametrize(
    "fin, year, sequence, din13",
    [
        ("G1234", 98, 654321, "G123498654321"),
        ("A9999", 26, 1, "A999926000001"),
        ("W0000", 0, 0, "W000000000000"),
        ("ZABCD", 99, 999999, "ZABCD99999999"),
    ],
)
def test_format_din(fin, year, sequence, din13):
    assert rules.format_din(fin=fin, year=year, sequence=sequence) == din13


@pytest.mark.parametrize(
    "fin, year, sequence, message",
    [
        ("1234A", 26, 1, "facility"),
        ("G123", 26, 1, "facility"),
        ("G12345", 26, 1, "facility"),
        ("g1234", 26, 1, "facility"),
        ("G1234", 100, 1, "year"),
        ("G1234", -1, 1, "year"),
        ("G1234", 2026, 1, "year"),
        ("G1234", "26", 1, "year"),
        ("G1234", 26, 1_000_000, "sequence"),
        ("G1234", 26, -1, "sequence"),
        ("G1234", 26, "000001", "sequence"),
    ],
)
def test_format_din_refuses_bad_parts(fin, year, sequence, message):
    with pytest.raises(ValueError, match=message):
        rules.format_din(fin=fin, year=year, sequence=sequence)


@pytest.mark.parametrize(
    "text",
    [
        "G123498654321",
        "G123 498 654 321",
        "G123 498 654 321 H",
        "G123498654321H",
        "g123 498 654 321 h",
        "  G123 4986 54321  ",
        "=G12349865432100",
        "=G123498654321",
        "=G123 498 654 321 07",
    ],
)
def test_parse_din_accepts_eye_readable_and_barcode_forms(text):
    assert rules.parse_din(text) == "G123498654321"


def test_parse_din_refuses_wrong_check_character_naming_the_expected_one():
    with pytest.raises(ValueError, match="Wrong check character 'J' for DIN G123498654321: expected 'H'"):
        rules.parse_din("G123 498 654 321 J")


@pytest.mark.parametrize(
    "text",
    [
        "",
        "G12349865432",
        "G12349865432100",
        "=G1234986543210",
        "=G12349865432AB",
        "1123498654321",
        "G1234986543A1",
        "G123498654321HH",
        "=G123498654321H",
        123,
    ],
)
def test_parse_din_refuses_malformed(text):
    with pytest.raises(ValueError, match="Not a DIN"):
        rules.parse_din(text)


@pytest.mark.parametrize(
    "din13, shown",
    [
        ("G123498654321", "G123 498 654 321 H"),
        ("W000026123456", "W000 026 123 456 *"),
        ("A999926000001", "A999 926 000 001 8"),
    ],
)
def test_display_din(din13, shown):
    assert rules.display_din(din13) == shown
    assert rules.parse_din(shown) == din13


# --- Component dating (21 CFR 610.53) ---------------------------------------------


@pytest.mark.parametrize(
    "component, anticoagulant, collected_on, last_day",
    [
        (RED_CELLS, None, date(2026, 1, 1), date(2026, 2, 12)),  # additive solution, 42 days
        (RED_CELLS, ADDITIVE_SOLUTION, date(2026, 1, 1), date(2026, 2, 12)),
        (RED_CELLS, CPDA_1, date(2026, 1, 1), date(2026, 2, 5)),  # 35 days
        (RED_CELLS, CPD, date(2026, 1, 1), date(2026, 1, 22)),  # 21 days
        (RED_CELLS, rules.CP2D, date(2026, 1, 1), date(2026, 1, 22)),
        (RED_CELLS, rules.ACD, date(2026, 1, 1), date(2026, 1, 22)),
        (WHOLE_BLOOD, None, date(2026, 1, 1), date(2026, 2, 5)),  # CPDA-1 by default
        (WHOLE_BLOOD, CPDA_1, date(2026, 1, 1), date(2026, 2, 5)),
        (WHOLE_BLOOD, CPD, date(2026, 1, 1), date(2026, 1, 22)),
        (PLATELETS, None, date(2026, 1, 1), date(2026, 1, 6)),  # 5 days
        (PLATELETS, "ACD", date(2026, 2, 27), date(2026, 3, 4)),  # anticoagulant irrelevant
        (PLASMA, None, date(2026, 1, 1), date(2027, 1, 1)),  # 1 year
        (PLASMA, None, date(2027, 3, 1), date(2028, 3, 1)),  # across a leap day
        (PLASMA, None, date(2028, 2, 29), date(2029, 2, 28)),  # no 29 Feb next year: the earlier day
        (CRYOPRECIPITATE, None, date(2026, 6, 30), date(2027, 6, 30)),
        (RED_CELLS, None, date(2028, 2, 1), date(2028, 3, 14)),  # leap February
    ],
)
def test_last_day_of_use(component, anticoagulant, collected_on, last_day):
    result = rules.last_day_of_use(component=component, collected_on=collected_on, anticoagulant=anticoagulant)
    assert result == last_day


@pytest.mark.parametrize("anticoagulant", ["AS-1", "AS-3", "AS-5", "as-3", " AS-5 "])
def test_named_additive_solutions_give_red_cells_42_days(anticoagulant):
    assert rules.dating_anticoagulant(anticoagulant) == ADDITIVE_SOLUTION
    result = rules.last_day_of_use(component=RED_CELLS, collected_on=date(2026, 1, 1), anticoagulant=anticoagulant)
    assert result == date(2026, 2, 12)


def test_dating_anticoagulant_refuses_unknown_names():
    assert rules.dating_anticoagulant("") is None and rules.dating_anticoagulant(None) is None
    with pytest.raises(ValueError, match="Unknown anticoagulant 'heparin'"):
        rules.dating_anticoagulant("heparin")


@pytest.mark.parametrize(
    "component, anticoagulant", [(WHOLE_BLOOD, ADDITIVE_SOLUTION), (RED_CELLS, "heparin"), ("blood", None)]
)
def test_last_day_of_use_refuses_unknown_dating(component, anticoagulant):
    with pytest.raises(ValueError):
        rules.last_day_of_use(component=component, collected_on=date(2026, 1, 1), anticoagulant=anticoagulant)


def test_red_cells_collected_1_january_expire_at_the_end_of_12_february():
    expiry = rules.expires_at(component=RED_CELLS, collected_at=datetime(2026, 1, 1, 10, 0, tzinfo=LONDON), tz=LONDON)
    assert expiry == datetime(2026, 2, 13, 0, 0, tzinfo=LONDON)
    assert not rules.is_expired(expires_at=expiry, now=datetime(2026, 2, 12, 23, 59, tzinfo=LONDON))
    assert not rules.is_expired(expires_at=expiry, now=datetime(2026, 2, 12, 23, 59, 59, 999999, tzinfo=LONDON))
    assert rules.is_expired(expires_at=expiry, now=datetime(2026, 2, 13, 0, 0, tzinfo=LONDON))
    assert rules.is_expired(expires_at=expiry, now=datetime(2026, 2, 13, 0, 1, tzinfo=LONDON))
    assert not rules.is_expired(expires_at=expiry, now=datetime(2026, 1, 1, 10, 0, tzinfo=LONDON))


@pytest.mark.parametrize(
    "collected_at, tz, expiry",
    [
        # The bank's local day decides: 03:00 UTC on 2 January is still 1 January in New York.
        (datetime(2026, 1, 2, 3, 0, tzinfo=UTC), NEW_YORK, datetime(2026, 1, 7, 0, 0, tzinfo=NEW_YORK)),
        (datetime(2026, 1, 2, 3, 0, tzinfo=UTC), UTC, datetime(2026, 1, 8, 0, 0, tzinfo=UTC)),
        # Expiry across a DST change is local midnight, not 5 x 24 hours.
        (datetime(2026, 3, 5, 12, 0, tzinfo=NEW_YORK), NEW_YORK, datetime(2026, 3, 11, 0, 0, tzinfo=NEW_YORK)),
    ],
)
def test_platelet_expiry_uses_the_local_day(collected_at, tz, expiry):
    result = rules.expires_at(component=PLATELETS, collected_at=collected_at, tz=tz)
    assert result == expiry
    assert result.utcoffset() == expiry.utcoffset()


def test_expiry_refuses_naive_datetimes():
    with pytest.raises(ValueError, match="aware"):
        rules.expires_at(component=RED_CELLS, collected_at=datetime(2026, 1, 1, 10), tz=UTC)
    with pytest.raises(ValueError, match="aware"):
        rules.is_expired(expires_at=datetime(2026, 1, 1, tzinfo=UTC), now=datetime(2026, 1, 1))


def test_shelf_life_table_can_be_overridden():
    seven_day_platelets = {**rules.SHELF_LIFE, (PLATELETS, None): rules.ShelfLife(days=7)}
    result = rules.last_day_of_use(component=PLATELETS, collected_on=date(2026, 1, 1), shelf_life=seven_day_platelets)
    assert result == date(2026, 1, 8)


# --- Unit status -------------------------------------------------------------------

ALLOWED_TRANSITIONS = {
    (QUARANTINED, AVAILABLE),
    (QUARANTINED, DISCARDED),
    (QUARANTINED, EXPIRED),
    (AVAILABLE, RESERVED),
    (AVAILABLE, DISCARDED),
    (AVAILABLE, EXPIRED),
    (AVAILABLE, IN_TRANSIT),
    (RESERVED, AVAILABLE),
    (RESERVED, ISSUED),
    (RESERVED, DISCARDED),
    (RESERVED, EXPIRED),
    (IN_TRANSIT, AVAILABLE),
    (IN_TRANSIT, DISCARDED),
    (ISSUED, TRANSFUSED),
    (ISSUED, AVAILABLE),
    (ISSUED, DISCARDED),
}
STATUSES = [QUARANTINED, AVAILABLE, RESERVED, ISSUED, TRANSFUSED, DISCARDED, EXPIRED, IN_TRANSIT]


def test_statuses():
    assert (
        sorted(UNIT_STATUSES)
        == sorted(STATUSES)
        == sorted(
            ["quarantined", "available", "reserved", "issued", "transfused", "discarded", "expired", "in_transit"]
        )
    )


@pytest.mark.parametrize("from_status", STATUSES)
@pytest.mark.parametrize("to_status", STATUSES)
def test_every_status_pair(from_status, to_status):
    allowed = (from_status, to_status) in ALLOWED_TRANSITIONS
    assert rules.can_transition(from_status=from_status, to_status=to_status) is allowed
    if allowed:
        rules.check_transition(from_status=from_status, to_status=to_status, reason="bag leaking")
    else:
        with pytest.raises(TransitionRefused, match=f"cannot go from {from_status} to {to_status}"):
            rules.check_transition(from_status=from_status, to_status=to_status, reason="bag leaking")


@pytest.mark.parametrize("status", [TRANSFUSED, DISCARDED, EXPIRED])
def test_final_statuses_say_so(status):
    with pytest.raises(TransitionRefused, match="nothing \\(final status\\)"):
        rules.check_transition(from_status=status, to_status=AVAILABLE)


@pytest.mark.parametrize("from_status", [QUARANTINED, AVAILABLE, RESERVED, IN_TRANSIT, ISSUED])
@pytest.mark.parametrize("reason", ["", "   ", None])
def test_discarding_needs_a_reason(from_status, reason):
    with pytest.raises(TransitionRefused, match="needs a reason"):
        rules.check_transition(from_status=from_status, to_status=DISCARDED, reason=reason)


def test_transition_refused_is_a_value_error():
    assert issubclass(TransitionRefused, ValueError)


@pytest.mark.parametrize("from_status, to_status", [("lost", AVAILABLE), (AVAILABLE, "lost")])
def test_unknown_status(from_status, to_status):
    with pytest.raises(ValueError, match="Unknown unit status 'lost'"):
        rules.can_transition(from_status=from_status, to_status=to_status)


# --- ABO/RhD compatibility ---------------------------------------------------------------


def table(text):
    """Read a grid whose rows are recipients and columns donors; 'Y' = compatible."""
    header, *rows = [line.split() for line in text.strip().splitlines()]
    donors = header[1:]
    assert donors == GROUPS
    grid = {}
    for recipient, *cells in rows:
        for donor, cell in zip(donors, cells, strict=True):
            grid[(donor, recipient)] = cell == "Y"
    assert [row[0] for row in rows] == GROUPS
    return grid


RED_CELLS_TABLE = table("""
rec\\donor A+ A- B+ B- AB+ AB- O+ O-
A+         Y  Y  .  .  .   .   Y  Y
A-         .  Y  .  .  .   .   .  Y
B+         .  .  Y  Y  .   .   Y  Y
B-         .  .  .  Y  .   .   .  Y
AB+        Y  Y  Y  Y  Y   Y   Y  Y
AB-        .  Y  .  Y  .   Y   .  Y
O+         .  .  .  .  .   .   Y  Y
O-         .  .  .  .  .   .   .  Y
""")
RED_CELLS_EMERGENCY_TABLE = table("""
rec\\donor A+ A- B+ B- AB+ AB- O+ O-
A+         Y  Y  .  .  .   .   Y  Y
A-         Y  Y  .  .  .   .   Y  Y
B+         .  .  Y  Y  .   .   Y  Y
B-         .  .  Y  Y  .   .   Y  Y
AB+        Y  Y  Y  Y  Y   Y   Y  Y
AB-        Y  Y  Y  Y  Y   Y   Y  Y
O+         .  .  .  .  .   .   Y  Y
O-         .  .  .  .  .   .   Y  Y
""")
WHOLE_BLOOD_TABLE = table("""
rec\\donor A+ A- B+ B- AB+ AB- O+ O-
A+         Y  Y  .  .  .   .   .  .
A-         .  Y  .  .  .   .   .  .
B+         .  .  Y  Y  .   .   .  .
B-         .  .  .  Y  .   .   .  .
AB+        .  .  .  .  Y   Y   .  .
AB-        .  .  .  .  .   Y   .  .
O+         .  .  .  .  .   .   Y  Y
O-         .  .  .  .  .   .   .  Y
""")
WHOLE_BLOOD_EMERGENCY_TABLE = table("""
rec\\donor A+ A- B+ B- AB+ AB- O+ O-
A+         Y  Y  .  .  .   .   .  .
A-         Y  Y  .  .  .   .   .  .
B+         .  .  Y  Y  .   .   .  .
B-         .  .  Y  Y  .   .   .  .
AB+        .  .  .  .  Y   Y   .  .
AB-        .  .  .  .  Y   Y   .  .
O+         .  .  .  .  .   .   Y  Y
O-         .  .  .  .  .   .   Y  Y
""")
PLASMA_TABLE = table("""
rec\\donor A+ A- B+ B- AB+ AB- O+ O-
A+         Y  Y  .  .  Y   Y   .  .
A-         Y  Y  .  .  Y   Y   .  .
B+         .  .  Y  Y  Y   Y   .  .
B-         .  .  Y  Y  Y   Y   .  .
AB+        .  .  .  .  Y   Y   .  .
AB-        .  .  .  .  Y   Y   .  .
O+         Y  Y  Y  Y  Y   Y   Y  Y
O-         Y  Y  Y  Y  Y   Y   Y  Y
""")
PLATELETS_TABLE = table("""
rec\\donor A+ A- B+ B- AB+ AB- O+ O-
A+         Y  Y  Y  Y  Y   Y   Y  Y
A-         Y  Y  Y  Y  Y   Y   Y  Y
B+         Y  Y  Y  Y  Y   Y   Y  Y
B-         Y  Y  Y  Y  Y   Y   Y  Y
AB+        Y  Y  Y  Y  Y   Y   Y  Y
AB-        Y  Y  Y  Y  Y   Y   Y  Y
O+         Y  Y  Y  Y  Y   Y   Y  Y
O-         Y  Y  Y  Y  Y   Y   Y  Y
""")
COMPATIBILITY = {
    (RED_CELLS, False): RED_CELLS_TABLE,
    (RED_CELLS, True): RED_CELLS_EMERGENCY_TABLE,
    (WHOLE_BLOOD, False): WHOLE_BLOOD_TABLE,
    (WHOLE_BLOOD, True): WHOLE_BLOOD_EMERGENCY_TABLE,
    # RhD does not restrict plasma, cryoprecipitate or platelets, so emergency changes nothing.
    (PLASMA, False): PLASMA_TABLE,
    (PLASMA, True): PLASMA_TABLE,
    (CRYOPRECIPITATE, False): PLASMA_TABLE,
    (CRYOPRECIPITATE, True): PLASMA_TABLE,
    (PLATELETS, False): PLATELETS_TABLE,
    (PLATELETS, True): PLATELETS_TABLE,
}


@pytest.mark.parametrize("component, emergency", sorted(COMPATIBILITY))
@pytest.mark.parametrize("recipient", GROUPS)
@pytest.mark.parametrize("donor", GROUPS)
def test_compatibility(component, emergency, recipient, donor):
    expected = COMPATIBILITY[(component, emergency)][(donor, recipient)]
    for donor_group, recipient_group in [(donor, recipient), (BloodGroup.parse(donor), BloodGroup.parse(recipient))]:
        compatible = rules.is_compatible(
            component=component, donor_group=donor_group, recipient_group=recipient_group, emergency=emergency
        )
        assert compatible is expected


PREFERENCE = {
    RED_CELLS: {
        "A+": "A+ A- O+ O-",
        "A-": "A- O-",
        "B+": "B+ B- O+ O-",
        "B-": "B- O-",
        "AB+": "AB+ AB- A+ A- B+ B- O+ O-",
        "AB-": "AB- A- B- O-",
        "O+": "O+ O-",
        "O-": "O-",
    },
    WHOLE_BLOOD: {
        "A+": "A+ A-",
        "A-": "A-",
        "B+": "B+ B-",
        "B-": "B-",
        "AB+": "AB+ AB-",
        "AB-": "AB-",
        "O+": "O+ O-",
        "O-": "O-",
    },
    PLASMA: {
        "A+": "A+ A- AB+ AB-",
        "A-": "A- A+ AB- AB+",
        "B+": "B+ B- AB+ AB-",
        "B-": "B- B+ AB- AB+",
        "AB+": "AB+ AB-",
        "AB-": "AB- AB+",
        "O+": "O+ O- A+ A- B+ B- AB+ AB-",
        "O-": "O- O+ A- A+ B- B+ AB- AB+",
    },
    # Identical, then plasma-compatible (major mismatch only), then minor
    # mismatch (haemolysis risk), then both; RhD-negative recipients: the ABO
    # tier first, RhD-negative first within it.
    PLATELETS: {
        "A+": "A+ A- AB+ AB- O+ O- B+ B-",
        "A-": "A- A+ AB- AB+ O- O+ B- B+",
        "B+": "B+ B- AB+ AB- O+ O- A+ A-",
        "B-": "B- B+ AB- AB+ O- O+ A- A+",
        "AB+": "AB+ AB- A+ A- B+ B- O+ O-",
        "AB-": "AB- AB+ A- B- O- A+ B+ O+",
        "O+": "O+ O- A+ A- B+ B- AB+ AB-",
        "O-": "O- O+ A- B- AB- A+ B+ AB+",
    },
}
PREFERENCE[CRYOPRECIPITATE] = PREFERENCE[PLASMA]
EMERGENCY_PREFERENCE = {
    RED_CELLS: {
        **PREFERENCE[RED_CELLS],
        "A-": "A- O- A+ O+",
        "B-": "B- O- B+ O+",
        "AB-": "AB- A- B- O- AB+ A+ B+ O+",
        "O-": "O- O+",
    },
    WHOLE_BLOOD: {**PREFERENCE[WHOLE_BLOOD], "A-": "A- A+", "B-": "B- B+", "AB-": "AB- AB+", "O-": "O- O+"},
    PLASMA: PREFERENCE[PLASMA],
    CRYOPRECIPITATE: PREFERENCE[PLASMA],
    PLATELETS: PREFERENCE[PLATELETS],
}


@pytest.mark.parametrize("component", [RED_CELLS, WHOLE_BLOOD, PLASMA, CRYOPRECIPITATE, PLATELETS])
@pytest.mark.parametrize("recipient", GROUPS)
@pytest.mark.parametrize("emergency, expected_orders", [(False, PREFERENCE), (True, EMERGENCY_PREFERENCE)])
def test_donor_preference(component, recipient, emergency, expected_orders):
    order = rules.donor_preference(component=component, recipient_group=recipient, emergency=emergency)
    assert [str(group) for group in order] == expected_orders[component][recipient].split()


def test_compatibility_refuses_unknown_inputs():
    with pytest.raises(ValueError, match="Unknown blood group"):
        rules.is_compatible(component=RED_CELLS, donor_group="O", recipient_group="A+")
    with pytest.raises(ValueError, match="Unknown component"):
        rules.donor_preference(component="granulocytes", recipient_group="A+")


# --- O-negative reserve -------------------------------------------------------------------


@pytest.mark.parametrize(
    "recipient, urgency, available, reserve, allowed",
    [
        # O-negative recipients can receive nothing else.
        ("O-", 1, 1, 10, True),
        ("O-", 3, 5, 10, True),
        # Emergencies may use the reserve.
        ("A+", 5, 1, 10, True),
        ("AB-", 5, 3, 4, True),
        # Everyone else keeps the reserve intact.
        ("A+", 4, 11, 10, True),  # 10 left
        ("A+", 4, 10, 10, False),  # 9 left
        ("A+", 1, 10, 9, True),
        ("A-", 4, 6, 5, True),
        ("A-", 4, 5, 5, False),
        ("O+", 3, 1, 0, True),  # no reserve set
        ("B-", 2, 4, 4, False),
        # Nothing to take.
        ("O-", 5, 0, 0, False),
        ("A+", 5, 0, 0, False),
        ("A+", 1, 0, 0, False),
    ],
)
def test_may_use_o_negative(recipient, urgency, available, reserve, allowed):
    result = rules.may_use_o_negative(
        recipient_group=recipient, urgency=urgency, o_negative_available=available, reserve=reserve
    )
    assert result is allowed


@pytest.mark.parametrize("urgency, available, reserve", [(0, 5, 1), (6, 5, 1), (3, -1, 1), (3, 5, -1)])
def test_may_use_o_negative_refuses_bad_inputs(urgency, available, reserve):
    with pytest.raises(ValueError):
        rules.may_use_o_negative(recipient_group="A+", urgency=urgency, o_negative_available=available, reserve=reserve)


# --- Stock level -------------------------------------------------------------------


@pytest.mark.parametrize(
    "available, level",
    [
        (0, "critical"),
        (2, "critical"),
        (3, "critical"),
        (4, "low"),
        (7, "low"),
        (8, "low"),
        (9, "adequate"),
        (100, "adequate"),
    ],
)
def test_stock_level(available, level):
    assert rules.stock_level(available_units=available, par_critical=3, par_low=8) == level


@pytest.mark.parametrize("available, level", [(0, "critical"), (1, "low"), (2, "adequate")])
def test_stock_level_with_zero_critical_par(available, level):
    assert rules.stock_level(available_units=available, par_critical=0, par_low=1) == level


@pytest.mark.parametrize("available, critical, low", [(-1, 3, 8), (5, 9, 8), (5, -1, 8)])
def test_stock_level_refuses_inconsistent_pars(available, critical, low):
    with pytest.raises(ValueError):
        rules.stock_level(available_units=available, par_critical=critical, par_low=low)


# --- Urgency -------------------------------------------------------------------


def test_urgency_constants():
    assert (rules.URGENT, rules.EMERGENCY) == (4, 5)
    assert list(rules.URGENCY_LEVELS) == [1, 2, 3, 4, 5]


@pytest.mark.parametrize("urgency", [1, 2, 3, 4, 5])
def test_valid_urgency(urgency):
    assert rules.validate_urgency(urgency) == urgency


@pytest.mark.parametrize("urgency", [0, 6, -1, 4.0, "5", None, True])
def test_invalid_urgency(urgency):
    with pytest.raises(ValueError, match="Urgency must be a whole number from 1 to 5"):
        rules.validate_urgency(urgency)
