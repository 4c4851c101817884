"""Pure donor-eligibility rules (US FDA 21 CFR 630 and blood centre practice).

No database and no Django here: services pass in the donor's facts, past
donations and deferrals. Limits that vary by country or centre are
parameters whose defaults are the module constants below (settings may
override them). Each rule's primary source is given in docs/domain/blood-banking.md.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta

WHOLE_BLOOD = "whole_blood"
DOUBLE_RED_CELLS = "double_red_cells"
PLATELETS = "platelets"
PLASMA = "plasma"
DONATION_TYPES: tuple[str, ...] = (WHOLE_BLOOD, DOUBLE_RED_CELLS, PLATELETS, PLASMA)

FEMALE = "female"
MALE = "male"

MINIMUM_AGE_YEARS = 17  # 16 with parental consent in most US states: pass 16 there.
# Input bounds, not eligibility: older than anyone living is a typing error; slots and deferrals
# are planned up to a year ahead, and a temporary deferral longer than ten years is a permanent one.
OLDEST_AGE_YEARS = 120
PLANNING_HORIZON = timedelta(days=365)
LONGEST_TEMPORARY_DEFERRAL = timedelta(days=3653)
MINIMUM_WEIGHT_KG = 50.0  # 110 lb
# Double red cells need more (blood centre practice: men at least 130 lb). One minimum applies to
# every donor (a centre may set it higher); the American Red Cross asks women for more (150 lb and a
# minimum height), which is not checked here (docs/domain/blood-banking.md, "Donor eligibility").
DOUBLE_RED_CELLS_MINIMUM_WEIGHT_KG = 59.0  # 130 lb (58.97 kg; weights are recorded to 0.1 kg)

# 21 CFR 630.10(f)(3): minimum haemoglobin by sex; none above 20.0 g/dL (blood centre practice).
# Double red cells: 13.3 g/dL (FDA guidance on automated red cell collection, 2001).
HAEMOGLOBIN_MINIMUM_G_DL: dict[str, float] = {FEMALE: 12.5, MALE: 13.0}
DOUBLE_RED_CELLS_HAEMOGLOBIN_MINIMUM_G_DL = 13.3
HAEMOGLOBIN_MAXIMUM_G_DL = 20.0

# Days to wait after a donation, by the type of THAT donation, before any
# next donation (21 CFR 630.15 and blood centre practice). The loss of red
# cells sets the wait: after whole blood every next donation waits 56 days;
# after platelets or plasma, which return the red cells, 7 or 28 days.
DEFAULT_INTERVALS: dict[str, int] = {
    WHOLE_BLOOD: 56,
    DOUBLE_RED_CELLS: 112,
    PLATELETS: 7,
    PLASMA: 28,
}

# At most this many donations of a type in any 12 months (blood centre
# practice: whole blood 6 a year, apheresis platelets 24 in 12 months).
DEFAULT_ANNUAL_LIMITS: dict[str, int] = {
    WHOLE_BLOOD: 6,
    PLATELETS: 24,
}


@dataclass(frozen=True)
class PastDonation:
    """A donation already given: its date and donation type."""

    date: date
    type: str


@dataclass(frozen=True)
class Deferral:
    """A temporary (``ends_on`` set) or permanent (``ends_on`` None) deferral, always with a reason.

    It applies from ``starts_on`` up to the day before ``ends_on``: the donor
    is eligible again ON ``ends_on``.
    """

    reason: str
    starts_on: date
    ends_on: date | None = None

    def __post_init__(self) -> None:
        if not (self.reason or "").strip():
            raise ValueError("A deferral needs a reason.")
        if self.ends_on is not None and self.ends_on <= self.starts_on:
            raise ValueError(f"A deferral must end after it starts ({self.starts_on} to {self.ends_on}).")

    @property
    def permanent(self) -> bool:
        return self.ends_on is None

    def applies_on(self, day: date) -> bool:
        return self.starts_on <= day and (self.ends_on is None or day < self.ends_on)


@dataclass(frozen=True)
class Reason:
    """Why a donor cannot donate: a stable ``code`` for programs and a ``message`` for people."""

    code: str
    message: str

    def __str__(self) -> str:
        return self.message


TOO_YOUNG = "too_young"
UNDERWEIGHT = "underweight"
HAEMOGLOBIN_LOW = "haemoglobin_low"
HAEMOGLOBIN_HIGH = "haemoglobin_high"
TOO_SOON = "too_soon"
ANNUAL_LIMIT = "annual_limit"
DEFERRED = "deferred"
PERMANENTLY_DEFERRED = "permanently_deferred"


@dataclass(frozen=True)
class Eligibility:
    """The outcome of :func:`eligibility`.

    ``next_eligible_date`` is the earliest day (``on_date`` itself when none
    applies) on which every time-based reason (age, intervals, annual limits,
    temporary deferrals) is cleared; None when a permanent deferral means
    never. Weight and haemoglobin are not time-based: a donor refused only
    for them gets ``on_date`` and must be measured again.
    """

    eligible: bool
    reasons: tuple[Reason, ...]
    next_eligible_date: date | None

    @property
    def messages(self) -> list[str]:
        return [reason.message for reason in self.reasons]

    @property
    def codes(self) -> list[str]:
        return [reason.code for reason in self.reasons]


def _add_years_no_earlier(day: date, years: int) -> date:
    # 29 February has no anniversary in a common year; 1 March is the later
    # choice, so neither the age limit nor the 12-month count is cut short.
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, month=3, day=1)


def _check_donation_type(donation_type: str, known_types: Collection[str]) -> None:
    if donation_type not in known_types:
        raise ValueError(f"Unknown donation type {donation_type!r}; expected one of {', '.join(known_types)}.")


def haemoglobin_ok(haemoglobin: float, *, sex: str, donation_type: str) -> Reason | None:
    """None if the screening haemoglobin (g/dL) allows this donation, else the reason.

    21 CFR 630.10(f)(3): at least 12.5 g/dL for women and 13.0 for men; at
    most 20.0 for anyone and at least 13.3 for double red cells (blood centre
    practice; docs/domain/blood-banking.md). Thresholds are inclusive.
    """
    if sex not in HAEMOGLOBIN_MINIMUM_G_DL:
        raise ValueError(f"Haemoglobin limits are set for sex {FEMALE!r} or {MALE!r}, got {sex!r}.")
    _check_donation_type(donation_type, DONATION_TYPES)
    minimum = HAEMOGLOBIN_MINIMUM_G_DL[sex]
    if donation_type == DOUBLE_RED_CELLS:
        minimum = max(minimum, DOUBLE_RED_CELLS_HAEMOGLOBIN_MINIMUM_G_DL)
    if haemoglobin < minimum:
        return Reason(HAEMOGLOBIN_LOW, f"Haemoglobin {haemoglobin} g/dL is below the minimum of {minimum} g/dL.")
    if haemoglobin > HAEMOGLOBIN_MAXIMUM_G_DL:
        return Reason(
            HAEMOGLOBIN_HIGH, f"Haemoglobin {haemoglobin} g/dL is above the maximum of {HAEMOGLOBIN_MAXIMUM_G_DL} g/dL."
        )
    return None


def _type_name(donation_type: str) -> str:
    return donation_type.replace("_", " ")


def _interval_wait(
    donations: list[PastDonation], *, on_date: date, intervals: Mapping[str, int]
) -> tuple[date, Reason | None]:
    """The day the last donation's waiting time ends, and the reason while it has not."""
    clear_from, binding = on_date, None
    for donation in donations:
        ends = donation.date + timedelta(days=intervals[donation.type])
        if ends > clear_from:
            clear_from, binding = ends, donation
    if binding is None:
        return on_date, None
    days = intervals[binding.type]
    return clear_from, Reason(
        TOO_SOON,
        f"Must wait {days} days after the {_type_name(binding.type)} donation on {binding.date} "
        f"(eligible from {clear_from}).",
    )


def _annual_limit(
    donations: list[PastDonation], *, on_date: date, donation_type: str, annual_limits: Mapping[str, int]
) -> tuple[date, Reason | None]:
    """The day the 12-month count of ``donation_type`` drops below its limit, and the reason until then.

    A donation counts for 12 months: up to the day before its anniversary.
    """
    limit = annual_limits.get(donation_type)
    if limit is None:
        return on_date, None
    # Anniversaries of the donations still counted on on_date, oldest first.
    anniversaries = sorted(
        anniversary
        for donation in donations
        if donation.type == donation_type and (anniversary := _add_years_no_earlier(donation.date, 1)) > on_date
    )
    if len(anniversaries) < limit:
        return on_date, None
    # One more than the excess must drop out to leave room for this donation.
    clear_from = anniversaries[len(anniversaries) - limit]
    return clear_from, Reason(
        ANNUAL_LIMIT,
        f"At most {limit} {_type_name(donation_type)} donations in 12 months ({len(anniversaries)} given; "
        f"eligible from {clear_from}).",
    )


def eligibility(
    *,
    date_of_birth: date,
    sex: str,
    weight_kg: float | None,
    donations: Iterable[PastDonation],
    deferrals: Iterable[Deferral],
    on_date: date,
    donation_type: str = WHOLE_BLOOD,
    haemoglobin: float | None = None,
    intervals: Mapping[str, int] = DEFAULT_INTERVALS,
    annual_limits: Mapping[str, int] = DEFAULT_ANNUAL_LIMITS,
    minimum_age_years: int = MINIMUM_AGE_YEARS,
    minimum_weight_kg: float = MINIMUM_WEIGHT_KG,
    double_red_cells_minimum_weight_kg: float = DOUBLE_RED_CELLS_MINIMUM_WEIGHT_KG,
) -> Eligibility:
    """Whether a donor may give ``donation_type`` on ``on_date``, with every reason if not.

    Rules (21 CFR 630.10 and 630.15, blood centre practice; see
    docs/domain/blood-banking.md, "Donor eligibility"): age at least ``minimum_age_years`` (from
    the birthday; a 29 February birthday falls on 1 March in common years),
    weight at least ``minimum_weight_kg`` (and at least
    ``double_red_cells_minimum_weight_kg`` for double red cells; a weight of
    None is not yet measured and is left to screening), the waiting time after each past
    donation set by that donation's type (``intervals``), at most
    ``annual_limits`` donations of the same type in 12 months, and no
    deferral in force. Haemoglobin is checked only when given: "eligible" for
    booking and emergency calls covers everything else, and screening adds
    the haemoglobin. Donations dated after ``on_date`` are ignored.
    """
    _check_donation_type(donation_type, intervals)
    past = [donation for donation in donations if donation.date <= on_date]
    for donation in past:
        _check_donation_type(donation.type, intervals)
    deferrals = list(deferrals)

    reasons: list[Reason] = []
    clear_from = [on_date]

    turns_of_age = _add_years_no_earlier(date_of_birth, minimum_age_years)
    if on_date < turns_of_age:
        message = f"Must be at least {minimum_age_years} years old (turns {minimum_age_years} on {turns_of_age})."
        reasons.append(Reason(TOO_YOUNG, message))
        clear_from.append(turns_of_age)

    if donation_type == DOUBLE_RED_CELLS:
        minimum_weight_kg = max(minimum_weight_kg, double_red_cells_minimum_weight_kg)
    if weight_kg is not None and weight_kg < minimum_weight_kg:
        for_type = " for double red cells" if donation_type == DOUBLE_RED_CELLS else ""
        reasons.append(
            Reason(UNDERWEIGHT, f"Must weigh at least {minimum_weight_kg:g} kg{for_type} (weighs {weight_kg:g} kg).")
        )

    if haemoglobin is not None and (reason := haemoglobin_ok(haemoglobin, sex=sex, donation_type=donation_type)):
        reasons.append(reason)

    for wait in (
        _interval_wait(past, on_date=on_date, intervals=intervals),
        _annual_limit(past, on_date=on_date, donation_type=donation_type, annual_limits=annual_limits),
    ):
        day, reason = wait
        if reason:
            reasons.append(reason)
            clear_from.append(day)

    for deferral in deferrals:
        if not deferral.applies_on(on_date):
            continue
        if deferral.permanent:
            reasons.append(Reason(PERMANENTLY_DEFERRED, f"Permanently deferred: {deferral.reason}"))
        else:
            message = f"Deferred until {deferral.ends_on} (eligible from that day): {deferral.reason}"
            reasons.append(Reason(DEFERRED, message))

    return Eligibility(
        eligible=not reasons,
        reasons=tuple(reasons),
        next_eligible_date=_first_day_clear_of_deferrals(max(clear_from), deferrals),
    )


def _first_day_clear_of_deferrals(day: date, deferrals: list[Deferral]) -> date | None:
    # A deferral may begin after on_date, so step past each one in force
    # until none is; a permanent one means never.
    while in_force := [deferral for deferral in deferrals if deferral.applies_on(day)]:
        if any(deferral.permanent for deferral in in_force):
            return None
        # None is permanent and returned above: every one in force here has an end.
        day = max(deferral.ends_on for deferral in in_force if deferral.ends_on is not None)
    return day


# --- Screening at the visit -----------------------------------------------------------

# 21 CFR 630.10(f): temperature at most 37.5 C (99.5 F); blood pressure and
# pulse "within normal limits", which blood centre practice sets as below.
MAXIMUM_TEMPERATURE_C = 37.5
SYSTOLIC_RANGE_MMHG = (90, 180)
DIASTOLIC_RANGE_MMHG = (50, 100)
PULSE_RANGE_BPM = (50, 100)

BLOOD_PRESSURE = "blood_pressure"
PULSE = "pulse"
TEMPERATURE = "temperature"
QUESTIONNAIRE = "questionnaire"

# Days a failed screening defers the donor, by reason (blood centre practice;
# staff may set a longer or a permanent deferral themselves). Low haemoglobin
# waits one whole-blood interval so iron stores can recover.
SCREENING_DEFERRAL_DAYS: dict[str, int] = {
    HAEMOGLOBIN_LOW: 56,
    HAEMOGLOBIN_HIGH: 28,
    BLOOD_PRESSURE: 1,
    PULSE: 1,
    TEMPERATURE: 1,
    QUESTIONNAIRE: 1,
}


def _outside(value: float, limits: tuple[float, float]) -> bool:
    return value < limits[0] or value > limits[1]


def screening_problems(
    *,
    haemoglobin: float,
    sex: str,
    donation_type: str,
    systolic_mmhg: int,
    diastolic_mmhg: int,
    pulse_bpm: int,
    temperature_c: float,
    questionnaire_passed: bool,
) -> list[Reason]:
    """Every reason the screening at the visit refuses the donation ([] when it passes).

    21 CFR 630.10(f)(3) (haemoglobin, see :func:`haemoglobin_ok`) and 630.10(f)
    (temperature at most 37.5 C; blood pressure and pulse within the limits
    above, inclusive); the health questionnaire must be passed.
    """
    problems: list[Reason] = []
    if reason := haemoglobin_ok(haemoglobin, sex=sex, donation_type=donation_type):
        problems.append(reason)
    if _outside(systolic_mmhg, SYSTOLIC_RANGE_MMHG) or _outside(diastolic_mmhg, DIASTOLIC_RANGE_MMHG):
        problems.append(
            Reason(
                BLOOD_PRESSURE,
                f"Blood pressure {systolic_mmhg}/{diastolic_mmhg} mmHg is outside "
                f"{SYSTOLIC_RANGE_MMHG[0]}-{SYSTOLIC_RANGE_MMHG[1]}/"
                f"{DIASTOLIC_RANGE_MMHG[0]}-{DIASTOLIC_RANGE_MMHG[1]} mmHg.",
            )
        )
    if _outside(pulse_bpm, PULSE_RANGE_BPM):
        problems.append(
            Reason(PULSE, f"Pulse {pulse_bpm}/min is outside {PULSE_RANGE_BPM[0]}-{PULSE_RANGE_BPM[1]}/min.")
        )
    if temperature_c > MAXIMUM_TEMPERATURE_C:
        problems.append(Reason(TEMPERATURE, f"Temperature {temperature_c} C is above {MAXIMUM_TEMPERATURE_C} C."))
    if not questionnaire_passed:
        problems.append(Reason(QUESTIONNAIRE, "The health questionnaire was not passed."))
    return problems


def screening_deferral_end(
    problems: Iterable[Reason], *, on_date: date, days: Mapping[str, int] = SCREENING_DEFERRAL_DAYS
) -> date:
    """The day a donor refused at screening for ``problems`` may come back (the longest wait wins)."""
    waits = [days.get(problem.code, 1) for problem in problems]
    return on_date + timedelta(days=max(waits, default=1))


# --- Appointments and slots -----------------------------------------------------------

BOOKED = "booked"
CANCELLED = "cancelled"
ATTENDED = "attended"
NO_SHOW = "no_show"
APPOINTMENT_TRANSITIONS: dict[str, frozenset[str]] = {
    BOOKED: frozenset({CANCELLED, ATTENDED, NO_SHOW}),
    CANCELLED: frozenset(),
    ATTENDED: frozenset(),
    NO_SHOW: frozenset(),
}
# A slot's places are taken by every appointment not cancelled.
HOLDS_A_PLACE = frozenset({BOOKED, ATTENDED, NO_SHOW})


def appointment_can_move(*, from_status: str, to_status: str) -> bool:
    """Booked is the only open state: it ends cancelled, attended or no-show, and nothing leaves those."""
    if from_status not in APPOINTMENT_TRANSITIONS or to_status not in APPOINTMENT_TRANSITIONS:
        raise ValueError(f"Unknown appointment state {from_status!r} or {to_status!r}.")
    return to_status in APPOINTMENT_TRANSITIONS[from_status]


def slot_has_room(*, capacity: int, places_taken: int) -> bool:
    return places_taken < capacity


# --- Infection-marker tests and release -------------------------------------------------

NEGATIVE = "negative"
POSITIVE = "positive"
DEFAULT_REQUIRED_MARKERS: tuple[str, ...] = ("HIV", "HBV", "HCV", "syphilis")

# Further infection-marker tests a blood service may run besides the required ones, by the names
# results are recorded under (HEALTHSYNC_FURTHER_MARKERS replaces the list): HTLV-I/II, West Nile
# virus, Trypanosoma cruzi (Chagas), Zika, Babesia (21 CFR 610.40), and CMV for CMV-negative stock.
# A result is recorded only under a required or further marker: a positive one discards units and
# defers the donor, so the name must be one the blood service manages, never free text.
DEFAULT_FURTHER_MARKERS: tuple[str, ...] = ("HTLV", "WNV", "Chagas", "Zika", "Babesia", "CMV")


def marker_name(marker: str, *, known: Iterable[str]) -> str | None:
    """The managed name ``marker`` stands for (case and surrounding spaces aside), or None when unknown."""
    wanted = (marker or "").strip().lower()
    return next((name for name in known if name.lower() == wanted), None) if wanted else None


# 21 CFR 610.41 and FDA guidance: a reactive HIV, HBV or HCV test defers the
# donor indefinitely; syphilis defers for 12 months (after treatment).
MARKER_DEFERRAL_DAYS: dict[str, int | None] = {"syphilis": 365}


def marker_deferral(
    *, marker: str, on_date: date, days: Mapping[str, int | None] = MARKER_DEFERRAL_DAYS
) -> date | None:
    """When a donor with a positive ``marker`` may donate again; None means permanently deferred."""
    wait = days.get(marker, days.get(marker.lower()))
    return None if wait is None else on_date + timedelta(days=wait)


def release_problems(
    *,
    results: Mapping[str, str],
    required_markers: Iterable[str],
    confirmed_group: str | None,
    unit_group: str,
) -> list[str]:
    """Why a unit from a donation cannot leave quarantine ([] when it may).

    21 CFR 610.40 and 606.100: every required infection-marker test recorded
    negative (and any further test recorded, negative too), and the ABO/RhD
    typing confirmed by the laboratory and matching the unit's label.
    """
    problems = []
    by_marker = {marker.lower(): result for marker, result in results.items()}
    required = [marker.lower() for marker in required_markers]
    for marker in required_markers:
        result = by_marker.get(marker.lower())
        if result is None:
            problems.append(f"No {marker} result is recorded.")
        elif result != NEGATIVE:
            problems.append(f"The {marker} result is {result}.")
    for marker, result in results.items():  # a further test, done and not negative, stops the unit too
        if marker.lower() not in required and result != NEGATIVE:
            problems.append(f"The {marker} result is {result}.")
    if not confirmed_group:
        problems.append("The ABO/RhD typing is not confirmed.")
    elif confirmed_group != unit_group:
        problems.append(f"The unit is labelled {unit_group} but typed {confirmed_group}.")
    return problems


# Components each donation type yields by default (a whole-blood donation may
# instead be separated into its components at collection).
DEFAULT_COMPONENTS: dict[str, tuple[str, ...]] = {
    WHOLE_BLOOD: ("whole_blood",),
    DOUBLE_RED_CELLS: ("red_cells",),
    PLATELETS: ("platelets",),
    PLASMA: ("plasma",),
}
WHOLE_BLOOD_COMPONENTS = frozenset({"whole_blood", "red_cells", "plasma", "platelets", "cryoprecipitate"})


def collection_components(*, donation_type: str, components: Iterable[str] | None = None) -> tuple[str, ...]:
    """The units a collection makes: the type's default, or (whole blood only) the components it is separated into."""
    _check_donation_type(donation_type, DONATION_TYPES)
    if not components:
        return DEFAULT_COMPONENTS[donation_type]
    chosen = tuple(dict.fromkeys(components))
    allowed = (
        WHOLE_BLOOD_COMPONENTS - {"whole_blood"}
        if donation_type == WHOLE_BLOOD
        else set(DEFAULT_COMPONENTS[donation_type])
    )
    if donation_type == WHOLE_BLOOD and chosen == ("whole_blood",):
        return chosen
    unknown = [component for component in chosen if component not in allowed]
    if unknown:
        raise ValueError(
            f"A {_type_name(donation_type)} donation cannot yield {', '.join(unknown)}; "
            f"choose from {', '.join(sorted(allowed))}."
        )
    return chosen
