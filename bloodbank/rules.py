"""Pure blood-bank rules: blood groups, components, ISBT 128 DINs, dating,
unit statuses, ABO/RhD compatibility, O-negative reserve, stock levels.

No database and no Django here: services pass in what the rules need, and
values that vary by country or centre are parameters whose defaults are the
module constants below (settings may override them). Each rule's primary
source (21 CFR, ISBT 128, AABB, BSH) is given in docs/domain/blood-banking.md.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo

# --- Blood groups -----------------------------------------------------------

ABO_GROUPS: tuple[str, ...] = ("A", "B", "AB", "O")

# The red-cell antigens of each ABO group. A donor's plasma carries the
# antibodies against the antigens its own cells lack, so both directions of
# compatibility follow from this one table.
_ABO_ANTIGENS: dict[str, frozenset[str]] = {
    "A": frozenset({"A"}),
    "B": frozenset({"B"}),
    "AB": frozenset({"A", "B"}),
    "O": frozenset(),
}


@dataclass(frozen=True)
class BloodGroup:
    """An ABO group with its RhD type, written like ``AB-``."""

    abo: str
    rhd_positive: bool

    def __post_init__(self) -> None:
        if self.abo not in ABO_GROUPS or not isinstance(self.rhd_positive, bool):
            raise ValueError(f"Unknown blood group: abo={self.abo!r}, rhd_positive={self.rhd_positive!r}.")

    @classmethod
    def parse(cls, text: str) -> BloodGroup:
        """Read ``A+``, ``ab-``, `` O+ ``; refuse anything that is not one of the 8 groups."""
        cleaned = text.strip().upper() if isinstance(text, str) else ""
        abo, sign = cleaned[:-1], cleaned[-1:]
        if abo not in ABO_GROUPS or sign not in ("+", "-"):
            expected = ", ".join(BLOOD_GROUP_NAMES)
            raise ValueError(f"Unknown blood group {text!r}; expected one of {expected}.")
        return cls(abo=abo, rhd_positive=sign == "+")

    def __str__(self) -> str:
        return f"{self.abo}{'+' if self.rhd_positive else '-'}"


BLOOD_GROUPS: tuple[BloodGroup, ...] = tuple(
    BloodGroup(abo=abo, rhd_positive=positive) for abo in ABO_GROUPS for positive in (True, False)
)
BLOOD_GROUP_NAMES: tuple[str, ...] = tuple(str(group) for group in BLOOD_GROUPS)
O_NEGATIVE = BloodGroup(abo="O", rhd_positive=False)


def _blood_group(value: BloodGroup | str) -> BloodGroup:
    return value if isinstance(value, BloodGroup) else BloodGroup.parse(value)


# --- Components -------------------------------------------------------------

WHOLE_BLOOD = "whole_blood"
RED_CELLS = "red_cells"
PLATELETS = "platelets"
PLASMA = "plasma"
CRYOPRECIPITATE = "cryoprecipitate"
COMPONENTS: tuple[str, ...] = (WHOLE_BLOOD, RED_CELLS, PLATELETS, PLASMA, CRYOPRECIPITATE)

# Volume of one standard adult unit, used to turn a prescribed volume into a
# number of units to allocate.
STANDARD_VOLUME_ML: dict[str, int] = {
    WHOLE_BLOOD: 450,
    RED_CELLS: 300,
    PLATELETS: 250,
    PLASMA: 250,
    CRYOPRECIPITATE: 15,
}


def _check_component(component: str) -> None:
    if component not in COMPONENTS:
        raise ValueError(f"Unknown component {component!r}; expected one of {', '.join(COMPONENTS)}.")


def units_for_volume(
    *, component: str, ml: int | float, standard_volume_ml: dict[str, int] = STANDARD_VOLUME_ML
) -> int:
    """Units needed to supply ``ml`` of ``component``: rounded up, so the patient never gets less than prescribed."""
    _check_component(component)
    if isinstance(ml, bool) or not ml > 0:
        raise ValueError(f"Volume must be a positive number of ml, got {ml!r}.")
    return math.ceil(ml / standard_volume_ml[component])


# --- ISBT 128 Donation Identification Number ----------------------------------

# ISO 7064 Mod 37-2 alphabet: a character's value is its index here.
_MOD37_2_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ*"
_DIN_PATTERN = re.compile(r"[A-Z][A-Z0-9]{4}[0-9]{2}[0-9]{6}")
_FIN_PATTERN = re.compile(r"[A-Z][A-Z0-9]{4}")


def _check_din13(din13: str) -> None:
    if not isinstance(din13, str) or not _DIN_PATTERN.fullmatch(din13):
        raise ValueError(
            f"Not a DIN: {din13!r}; expected 13 characters: facility number (a letter and 4 letters or digits), "
            "2-digit year and 6-digit sequence number, e.g. G123498654321."
        )


def din_check_character(din13: str) -> str:
    """ISBT 128 check character of a 13-character DIN (FIN + year + sequence).

    ISO 7064 Mod 37-2, as in the UK Red Book, Annex 2 "ISBT 128 check
    character calculation": each character's value times 2^n (n = position
    from the right, from 1), summed; check value = (38 - sum mod 37) mod 37.
    """
    _check_din13(din13)
    weighted_sum = sum(
        _MOD37_2_ALPHABET.index(character) * 2**position for position, character in enumerate(reversed(din13), start=1)
    )
    return _MOD37_2_ALPHABET[(38 - weighted_sum % 37) % 37]


def format_din(*, fin: str, year: int, sequence: int) -> str:
    """The 13-character DIN from its parts (ISBT 128 data structure 001, without '=' and flags).

    ``year`` is the two-digit collection year (0-99) and ``sequence`` the
    facility's serial number for that year (0-999999).
    """
    if not isinstance(fin, str) or not _FIN_PATTERN.fullmatch(fin):
        raise ValueError(f"Not a facility identification number: {fin!r}; expected a letter and 4 letters or digits.")
    if isinstance(year, bool) or not isinstance(year, int) or not 0 <= year <= 99:
        raise ValueError(f"DIN year must be the two-digit year 0-99, got {year!r}.")
    if isinstance(sequence, bool) or not isinstance(sequence, int) or not 0 <= sequence <= 999_999:
        raise ValueError(f"DIN sequence number must be 0-999999, got {sequence!r}.")
    return f"{fin}{year:02d}{sequence:06d}"


def parse_din(text: str) -> str:
    """The 13-character DIN in ``text``, with its check character verified if one is given.

    Accepts, spaces anywhere and any letter case:
    - eye-readable: ``G123 498 654 321`` or with its check character, ``G123 498 654 321 H``;
    - barcode data structure 001: ``=G12349865432100`` (the '=' data
      identifier, the DIN and 2 flag digits; the flags describe the label,
      not the donation, so they are dropped) or ``=G123498654321``.
    A wrong check character is refused naming the expected one.
    """
    if not isinstance(text, str):
        raise ValueError(f"Not a DIN: {text!r}.")
    compact = "".join(text.split()).upper()
    check = None
    if compact.startswith("="):
        compact = compact[1:]
        if len(compact) == 15 and compact[13:].isdigit():
            compact = compact[:13]
    elif len(compact) == 14:
        compact, check = compact[:13], compact[13]
    _check_din13(compact)
    expected = din_check_character(compact)
    if check is not None and check != expected:
        raise ValueError(f"Wrong check character {check!r} for DIN {compact}: expected {expected!r}.")
    return compact


def display_din(din13: str) -> str:
    """Eye-readable DIN as printed on the label: ``G123 498 654 321 H`` (last character boxed on the label)."""
    check = din_check_character(din13)
    return f"{din13[:4]} {din13[4:7]} {din13[7:10]} {din13[10:]} {check}"


# --- Component dating (21 CFR 610.53) ------------------------------------------

CPDA_1 = "CPDA-1"
CPD = "CPD"
CP2D = "CP2D"
ACD = "ACD"
# Additive solutions (AS-1, AS-3, AS-5) are added to red cells after
# separation; for dating they replace the anticoagulant.
ADDITIVE_SOLUTION = "additive_solution"
ADDITIVE_SOLUTIONS: tuple[str, ...] = ("AS-1", "AS-3", "AS-5")
ANTICOAGULANTS: tuple[str, ...] = (CPDA_1, CPD, CP2D, ACD, ADDITIVE_SOLUTION, *ADDITIVE_SOLUTIONS)


def dating_anticoagulant(name: str | None) -> str | None:
    """The anticoagulant as the dating table knows it: AS-1/AS-3/AS-5 are all ``additive_solution`` (42 days).

    ``None`` or blank stays ``None`` (the component's default); a name that is
    not in :data:`ANTICOAGULANTS` raises ValueError.
    """
    cleaned = (name or "").strip()
    if not cleaned:
        return None
    for known in ANTICOAGULANTS:
        if cleaned.upper() == known.upper():
            return ADDITIVE_SOLUTION if known in ADDITIVE_SOLUTIONS else known
    raise ValueError(f"Unknown anticoagulant {name!r}; expected one of {', '.join(ANTICOAGULANTS)}.")


@dataclass(frozen=True)
class ShelfLife:
    """Storage time after collection: calendar years plus days."""

    days: int = 0
    years: int = 0


# 21 CFR 610.53(c). Keyed by (component, anticoagulant); ``None`` marks a
# component whose dating does not depend on the anticoagulant.
SHELF_LIFE: dict[tuple[str, str | None], ShelfLife] = {
    (WHOLE_BLOOD, CPDA_1): ShelfLife(days=35),
    (WHOLE_BLOOD, CPD): ShelfLife(days=21),
    (WHOLE_BLOOD, CP2D): ShelfLife(days=21),
    (WHOLE_BLOOD, ACD): ShelfLife(days=21),
    (RED_CELLS, ADDITIVE_SOLUTION): ShelfLife(days=42),
    (RED_CELLS, CPDA_1): ShelfLife(days=35),
    (RED_CELLS, CPD): ShelfLife(days=21),
    (RED_CELLS, CP2D): ShelfLife(days=21),
    (RED_CELLS, ACD): ShelfLife(days=21),
    # 5 days; 7 only with FDA-approved bacterial-risk controls (pass a
    # different table where those apply).
    (PLATELETS, None): ShelfLife(days=5),
    (PLASMA, None): ShelfLife(years=1),
    (CRYOPRECIPITATE, None): ShelfLife(years=1),
}

DEFAULT_ANTICOAGULANT: dict[str, str] = {WHOLE_BLOOD: CPDA_1, RED_CELLS: ADDITIVE_SOLUTION}


def _add_years_no_later(day: date, years: int) -> date:
    # 29 February has no anniversary in a common year; 28 February keeps the
    # unit within its dating rather than one day past it.
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


def last_day_of_use(
    *,
    component: str,
    collected_on: date,
    anticoagulant: str | None = None,
    shelf_life: dict[tuple[str, str | None], ShelfLife] = SHELF_LIFE,
) -> date:
    """The expiry date printed on the label (21 CFR 610.53).

    The collection day is day 0, so red cells in additive solution collected
    on 1 January may be used until the end of 12 February (day 42). "1 year"
    is the same date next year (a 29 February collection: 28 February).
    ``anticoagulant`` defaults to CPDA-1 for whole blood and additive solution
    (AS-1/AS-3/AS-5) for red cells; platelets, plasma and cryoprecipitate are dated the same
    whatever they were collected in, so it is ignored for them.
    """
    _check_component(component)
    key: tuple[str, str | None]
    if (component, None) in shelf_life:
        key = (component, None)
    else:
        key = (component, dating_anticoagulant(anticoagulant) or DEFAULT_ANTICOAGULANT.get(component))
    if key not in shelf_life:
        raise ValueError(f"No dating for {component} collected in {key[1]!r}.")
    dating = shelf_life[key]
    return _add_years_no_later(collected_on, dating.years) + timedelta(days=dating.days)


def latest_last_day_of_use(
    *, component: str, received_on: date, shelf_life: dict[tuple[str, str | None], ShelfLife] = SHELF_LIFE
) -> date:
    """The latest label expiry a unit of ``component`` received on ``received_on`` can carry.

    A unit was collected on the day it arrives at the latest, so its label cannot run past the
    component's longest dating (21 CFR 610.53(c)) counted from that day; a later one is a typing error.
    """
    _check_component(component)
    return max(
        _add_years_no_later(received_on, dating.years) + timedelta(days=dating.days)
        for (kind, _anticoagulant), dating in shelf_life.items()
        if kind == component
    )


def expires_at(
    *,
    component: str,
    collected_at: datetime,
    tz: tzinfo,
    anticoagulant: str | None = None,
    shelf_life: dict[tuple[str, str | None], ShelfLife] = SHELF_LIFE,
) -> datetime:
    """The first instant the unit is expired: 00:00 in ``tz`` on the day after its last day of use.

    An exclusive bound rather than 23:59:59.999999, so it survives storage
    that drops or rounds microseconds. ``tz`` is the blood bank's time zone:
    it decides which local day the collection fell on.
    """
    if collected_at.utcoffset() is None:
        raise ValueError("collected_at must be timezone-aware.")
    last_day = last_day_of_use(
        component=component,
        collected_on=collected_at.astimezone(tz).date(),
        anticoagulant=anticoagulant,
        shelf_life=shelf_life,
    )
    return datetime.combine(last_day + timedelta(days=1), time(0), tzinfo=tz)


def is_expired(*, expires_at: datetime, now: datetime) -> bool:
    """Whether a unit is expired at ``now``, given the exclusive bound from :func:`expires_at`."""
    if expires_at.utcoffset() is None or now.utcoffset() is None:
        raise ValueError("expires_at and now must be timezone-aware.")
    return now >= expires_at


# --- Unit status ------------------------------------------------------------

QUARANTINED = "quarantined"
AVAILABLE = "available"
RESERVED = "reserved"
ISSUED = "issued"
TRANSFUSED = "transfused"
DISCARDED = "discarded"
EXPIRED = "expired"
IN_TRANSIT = "in_transit"
UNIT_STATUSES: tuple[str, ...] = (QUARANTINED, AVAILABLE, RESERVED, ISSUED, TRANSFUSED, DISCARDED, EXPIRED, IN_TRANSIT)

# Why each move exists:
# - quarantined: awaiting test results; released to stock, discarded
#   (e.g. reactive test) or expired while waiting.
# - available: reserved for a patient (crossmatch), shipped to another
#   hospital, discarded or expired.
# - reserved: reservation released back to stock, issued to the patient,
#   discarded or expired before issue.
# - in_transit: must be received (available) before anything else so that
#   receipt is recorded (21 CFR 606.165); a unit damaged or out of
#   temperature on the way is discarded. One that expires on the way is
#   received, then expired.
# - issued: transfused, or returned unused (back to available: the cold-chain
#   and time-out-of-fridge check is the returning service's job), or
#   discarded (e.g. returned too warm).
# - transfused, discarded, expired are final: a unit never re-enters stock.
UNIT_TRANSITIONS: dict[str, frozenset[str]] = {
    QUARANTINED: frozenset({AVAILABLE, DISCARDED, EXPIRED}),
    AVAILABLE: frozenset({RESERVED, DISCARDED, EXPIRED, IN_TRANSIT}),
    RESERVED: frozenset({AVAILABLE, ISSUED, DISCARDED, EXPIRED}),
    IN_TRANSIT: frozenset({AVAILABLE, DISCARDED}),
    ISSUED: frozenset({TRANSFUSED, AVAILABLE, DISCARDED}),
    TRANSFUSED: frozenset(),
    DISCARDED: frozenset(),
    EXPIRED: frozenset(),
}


class TransitionRefused(ValueError):
    """A unit status change the rules do not allow."""


def _check_status(status: str) -> None:
    if status not in UNIT_STATUSES:
        raise ValueError(f"Unknown unit status {status!r}; expected one of {', '.join(UNIT_STATUSES)}.")


def can_transition(*, from_status: str, to_status: str) -> bool:
    """Whether a unit may move from ``from_status`` to ``to_status`` (the transition table only)."""
    _check_status(from_status)
    _check_status(to_status)
    return to_status in UNIT_TRANSITIONS[from_status]


def check_transition(*, from_status: str, to_status: str, reason: str = "") -> None:
    """Raise :class:`TransitionRefused` unless the move is allowed.

    Discarding also needs a reason: who discarded a unit and why must be on
    record (21 CFR 606.160(b)(3): distribution and disposition records; see
    docs/domain/blood-banking.md, "Expiry, quarantine and unit status").
    """
    if not can_transition(from_status=from_status, to_status=to_status):
        allowed = ", ".join(sorted(UNIT_TRANSITIONS[from_status])) or "nothing (final status)"
        raise TransitionRefused(
            f"A unit cannot go from {from_status} to {to_status}; from {from_status} it may go to: {allowed}."
        )
    if to_status == DISCARDED and not (reason or "").strip():
        raise TransitionRefused("Discarding a unit needs a reason.")


# --- ABO/RhD compatibility ------------------------------------------------------

# Components whose RhD type matters for an RhD-negative recipient: red cells
# (and whole blood) can immunise against D; platelets carry a few red cells,
# so RhD-negative platelets are preferred but RhD-positive are acceptable.
_RHD_RESTRICTED = frozenset({RED_CELLS, WHOLE_BLOOD})
_RHD_PREFERRED = frozenset({RED_CELLS, WHOLE_BLOOD, PLATELETS})
# Among equally suitable ABO groups: A and B before AB and O, keeping the
# universal groups (O red cells, AB plasma) for those who need them.
_ABO_TIEBREAK: tuple[str, ...] = ("A", "B", "AB", "O")


def _red_cells_match(donor_abo: str, recipient_abo: str) -> bool:
    # No donor antigen the recipient's plasma has antibodies against.
    return _ABO_ANTIGENS[donor_abo] <= _ABO_ANTIGENS[recipient_abo]


def _plasma_matches(donor_abo: str, recipient_abo: str) -> bool:
    # No antibody in the donor's plasma against the recipient's antigens.
    return _ABO_ANTIGENS[recipient_abo] <= _ABO_ANTIGENS[donor_abo]


def _abo_preference(component: str, recipient_abo: str) -> list[str]:
    if component == WHOLE_BLOOD:
        # Whole blood carries both cells and plasma: only identical is safe both ways.
        suitable = [recipient_abo]
    elif component == RED_CELLS:
        suitable = [abo for abo in ABO_GROUPS if _red_cells_match(abo, recipient_abo)]
    elif component in (PLASMA, CRYOPRECIPITATE):
        suitable = [abo for abo in ABO_GROUPS if _plasma_matches(abo, recipient_abo)]
    else:
        suitable = list(ABO_GROUPS)
    return sorted(suitable, key=lambda abo: (*_abo_tier(abo, recipient_abo), _ABO_TIEBREAK.index(abo)))


def _abo_tier(donor_abo: str, recipient_abo: str) -> tuple[bool, bool, bool]:
    # Identical first; then, for platelets, minor incompatibility (donor
    # antibodies: haemolysis risk) is worse than major (lower increment).
    return (
        donor_abo != recipient_abo,
        not _plasma_matches(donor_abo, recipient_abo),
        not _red_cells_match(donor_abo, recipient_abo),
    )


def anti_d_advised(*, component: str, recipient_group: BloodGroup | str, donor_group: BloodGroup | str) -> bool:
    """Whether the recipient should get anti-D immunoglobulin with this unit: RhD-positive platelets
    (chosen when no RhD-negative ones were suitable) for an RhD-negative recipient, whom their few
    red cells can immunise against D (BSH platelet transfusion guideline, Estcourt et al. 2017;
    docs/domain/blood-banking.md)."""
    _check_component(component)
    return (
        component == PLATELETS
        and not _blood_group(recipient_group).rhd_positive
        and _blood_group(donor_group).rhd_positive
    )


def donor_preference(*, component: str, recipient_group: BloodGroup | str, emergency: bool = False) -> list[BloodGroup]:
    """Donor groups a recipient may receive, best first.

    Compatibility (AABB Technical Manual; docs/domain/blood-banking.md, "ABO/RhD compatibility"):
    red cells O to all, A to A/AB, B to B/AB, AB to AB; whole blood
    ABO-identical; plasma and cryoprecipitate the reverse; platelets any ABO
    group. RhD-negative recipients get RhD-negative red cells and whole blood,
    RhD-positive only when ``emergency`` (a documented emergency release by
    a physician, 21 CFR 606.151(e); routine allocation never passes it); RhD
    does not restrict plasma.

    Order: the identical group first; then ABO groups in order of
    suitability (for platelets: plasma-compatible before red-cell-compatible
    before neither), ties A, B, AB, O. For RhD-positive recipients each ABO
    group's RhD-positive units come before its RhD-negative ones, so
    RhD-negative stock (O- last of all) stays for RhD-negative patients. For
    RhD-negative recipients of red cells or whole blood every RhD-negative
    group comes before any RhD-positive one; for platelets the ABO order
    tiers come first (identical, major mismatch only, minor mismatch: a
    haemolysis risk, both) and RhD-negative is preferred within each tier.
    """
    _check_component(component)
    recipient = _blood_group(recipient_group)
    abo_order = _abo_preference(component, recipient.abo)
    donors = [group for group in BLOOD_GROUPS if group.abo in abo_order]
    if recipient.rhd_positive or component not in _RHD_PREFERRED:
        return sorted(
            donors, key=lambda group: (abo_order.index(group.abo), group.rhd_positive != recipient.rhd_positive)
        )
    if component not in _RHD_RESTRICTED:
        # Platelets: ABO suitability decides first, RhD-negative within each tier.
        return sorted(
            donors,
            key=lambda group: (_abo_tier(group.abo, recipient.abo), group.rhd_positive, abo_order.index(group.abo)),
        )
    if not emergency:
        donors = [group for group in donors if not group.rhd_positive]
    return sorted(donors, key=lambda group: (group.rhd_positive, abo_order.index(group.abo)))


def is_compatible(
    *, component: str, donor_group: BloodGroup | str, recipient_group: BloodGroup | str, emergency: bool = False
) -> bool:
    """Whether a ``donor_group`` unit of ``component`` may go to ``recipient_group`` (see :func:`donor_preference`)."""
    donor = _blood_group(donor_group)
    return donor in donor_preference(component=component, recipient_group=recipient_group, emergency=emergency)


# --- Urgency ----------------------------------------------------------------

URGENCY_LEVELS = range(1, 6)
ROUTINE = 1
URGENT = 4
EMERGENCY = 5
# How people name each level. 4 and 5 alert the network and donors; FHIR's priority reads 5 "stat",
# 4 "urgent", 1-3 "routine" (reports.fhir).
URGENCY_WORDS = {1: "routine", 2: "soon", 3: "priority", URGENT: "urgent", EMERGENCY: "emergency"}


def validate_urgency(urgency: int) -> int:
    """Return ``urgency`` if it is a level 1-5, else raise ValueError."""
    if isinstance(urgency, bool) or not isinstance(urgency, int) or urgency not in URGENCY_LEVELS:
        raise ValueError(f"Urgency must be a whole number from 1 to 5 (5 = emergency), got {urgency!r}.")
    return urgency


# How far ahead a request may say it is needed: scheduled surgery is booked weeks or months
# ahead, never years; a clock running a few minutes behind the server's is no past date.
NEEDED_BY_HORIZON = timedelta(days=365)
NEEDED_BY_SKEW = timedelta(minutes=5)


def check_needed_by(*, needed_by: datetime, now: datetime, horizon: timedelta = NEEDED_BY_HORIZON) -> datetime:
    """Return ``needed_by`` if it is from now to ``horizon`` ahead, else raise ValueError."""
    if needed_by < now - NEEDED_BY_SKEW:
        raise ValueError("The time the blood is needed by is in the past.")
    if needed_by > now + horizon:
        raise ValueError(f"The time the blood is needed by is more than a year ahead ({horizon.days} days at most).")
    return needed_by


# --- Pre-transfusion testing ------------------------------------------------------

# Components carrying red cells are crossmatched against the recipient's sample
# before issue; plasma, platelets and cryoprecipitate are given ABO-compatible only
# (21 CFR 606.151(c); docs/domain/blood-banking.md, "Pre-transfusion testing").
CROSSMATCHED_COMPONENTS = frozenset({RED_CELLS, WHOLE_BLOOD})
CROSSMATCH_SAMPLE_DAYS = 3
# A draw time typed from a ward clock a few minutes ahead of the server's is no future sample.
CROSSMATCH_SAMPLE_SKEW = timedelta(minutes=5)


def needs_crossmatch(component: str) -> bool:
    _check_component(component)
    return component in CROSSMATCHED_COMPONENTS


def check_crossmatch_sample(*, drawn_at: datetime, now: datetime, max_days: int = CROSSMATCH_SAMPLE_DAYS) -> datetime:
    """Return ``drawn_at`` if the recipient's sample may serve a crossmatch ``now``, else raise ValueError.

    21 CFR 606.151(b): the sample must be recent; it serves for ``max_days`` days after it was drawn
    (3 by default, the usual limit for a recipient who may have been transfused or pregnant lately).
    """
    if max_days < 0:
        raise ValueError("The sample's validity cannot be negative.")
    if drawn_at > now + CROSSMATCH_SAMPLE_SKEW:
        raise ValueError("The sample's draw time is in the future.")
    if drawn_at < now - timedelta(days=max_days):
        raise ValueError(
            f"The recipient's sample was drawn more than {max_days} days ago; crossmatch against a new sample."
        )
    return drawn_at


# --- After issue: transfused or returned unused ------------------------------------

# Where each component is kept before issue decides whether an unused bag may go back to stock:
# red cells and whole blood are refrigerated (2-6 °C) and, by the common 30-minute rule, return to
# stock only if they were out of controlled storage no longer than the hospital's limit; platelets
# are kept at room temperature (20-24 °C); plasma and cryoprecipitate are thawed for issue and may
# not be frozen again.
REFRIGERATED_COMPONENTS = frozenset({RED_CELLS, WHOLE_BLOOD})
THAWED_FOR_ISSUE_COMPONENTS = frozenset({PLASMA, CRYOPRECIPITATE})
RETURN_TO_STOCK_MINUTES = 30


def return_to_stock_refusal(
    *,
    component: str,
    minutes_out: float,
    seal_intact: bool,
    expired: bool,
    limit_minutes: int = RETURN_TO_STOCK_MINUTES,
) -> str | None:
    """Why an issued unit that comes back unused must be discarded, or None when it may go back to
    available stock. ``minutes_out``: time since issue (out of controlled storage)."""
    _check_component(component)
    if minutes_out < 0 or limit_minutes < 0:
        raise ValueError("Minutes out of storage and the limit cannot be negative.")
    if not seal_intact:
        return "The bag was opened or its seal is not intact."
    if expired:
        return "The unit expired while it was issued."
    if component in THAWED_FOR_ISSUE_COMPONENTS:
        return "Thawed for issue: plasma and cryoprecipitate cannot be frozen again."
    if component in REFRIGERATED_COMPONENTS and minutes_out > limit_minutes:
        return f"Out of controlled storage for {minutes_out:.0f} minutes, more than the {limit_minutes} allowed."
    return None


def transfusion_time_problems(
    *, started_at: datetime, ended_at: datetime | None, issued_at: datetime, expires_at: datetime, now: datetime
) -> dict[str, str]:
    """What is wrong with a transfusion's times, by field (empty when nothing is): it starts after its
    unit was issued and before the unit expired, ends after it starts, and neither time is in the
    future (a ward clock a few minutes ahead of the server's is allowed for)."""
    problems = {}
    if started_at > now + CROSSMATCH_SAMPLE_SKEW:
        problems["started_at"] = "The transfusion's start is in the future."
    elif started_at < issued_at - CROSSMATCH_SAMPLE_SKEW:
        problems["started_at"] = "The transfusion cannot start before the unit was issued."
    elif is_expired(expires_at=expires_at, now=started_at):
        problems["started_at"] = (
            "The unit had expired when the transfusion started: it may not be transfused (check expiry at the bedside)."
        )
    if ended_at is not None:
        if ended_at < started_at:
            problems["ended_at"] = "The transfusion cannot end before it started."
        elif ended_at > now + CROSSMATCH_SAMPLE_SKEW:
            problems["ended_at"] = "The transfusion's end is in the future."
    return problems


# --- O-negative reserve ---------------------------------------------------------

# O-negative red cells a hospital keeps back for O-negative recipients and emergencies (units).
O_NEGATIVE_RESERVE = 4


def may_use_o_negative(
    *, recipient_group: BloodGroup | str, urgency: int, o_negative_available: int, reserve: int
) -> bool:
    """Whether one O-negative unit may go to this recipient.

    O-negative is the emergency donor group (21 CFR 606.151(e); docs/domain/blood-banking.md),
    so a hospital keeps ``reserve`` units of it for emergencies. There must
    be a unit to take; then O-negative recipients (they can receive nothing
    else) and emergencies (urgency 5) always may, and anyone else only if at
    least ``reserve`` units remain after taking this one.
    """
    validate_urgency(urgency)
    if o_negative_available < 0 or reserve < 0:
        raise ValueError("O-negative stock and reserve cannot be negative.")
    if o_negative_available < 1:
        return False
    if _blood_group(recipient_group) == O_NEGATIVE or urgency == EMERGENCY:
        return True
    return o_negative_available - 1 >= reserve


# --- Stock level --------------------------------------------------------------

CRITICAL = "critical"
LOW = "low"
ADEQUATE = "adequate"
# The levels, worst first: the one ordering of alerts, public shortages and the dashboard.
LEVELS: tuple[str, ...] = (CRITICAL, LOW, ADEQUATE)
# Par levels (units of one group and component) where staff have set none.
DEFAULT_PAR_CRITICAL = 2
DEFAULT_PAR_LOW = 5


def level_shortness(level: str) -> int:
    """How short of stock ``level`` says a hospital is: 0 adequate (or no level), 1 low, 2 critical."""
    return len(LEVELS) - 1 - LEVELS.index(level) if level in LEVELS else 0


def stock_level(*, available_units: int, par_critical: int, par_low: int) -> str:
    """``critical`` at or below ``par_critical``, ``low`` at or below ``par_low``, else ``adequate``."""
    if available_units < 0 or par_critical < 0 or par_low < par_critical:
        raise ValueError(
            f"Need 0 <= par_critical <= par_low and non-negative stock, got available_units={available_units}, "
            f"par_critical={par_critical}, par_low={par_low}."
        )
    if available_units <= par_critical:
        return CRITICAL
    if available_units <= par_low:
        return LOW
    return ADEQUATE
