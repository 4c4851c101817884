"""Writes of the donors app. Each public service is one transaction.

A donor's visit (``Donation``) goes: awaiting screening -> screened -> collected (units in
quarantine under one DIN), or -> deferred at screening, or -> cancelled. Units leave quarantine
through ``bloodbank.services.unit_release``, whose ``release_checks`` hook this app fills
(``selectors.unit_release_check``): every required infection marker negative and the ABO/RhD
typing confirmed.
"""

import secrets
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation

from django.db import IntegrityError, transaction
from django.utils import timezone

from bloodbank import parameters as bloodbank_parameters
from bloodbank import rules as bloodbank_rules
from bloodbank import services as bloodbank_services
from bloodbank.models import BloodUnit, UnitStatus
from healthsync.errors import Conflict, DomainError, Forbidden
from healthsync.models import Hospital, Region, User
from healthsync.permissions import ACT, CHANGE, can
from healthsync.regions import region_find
from healthsync.services import user_register

from . import events, rules, selectors
from .models import (
    Appointment,
    AppointmentStatus,
    Deferral,
    Donation,
    DonationSlot,
    DonationStatus,
    DonationType,
    DonorProfile,
    MarkerResult,
    Outcome,
    Screening,
    Sex,
    phone_search_key,
)

# --- validation helpers ---------------------------------------------------------------


def _sex(value: str | None) -> str:
    value = (value or "").strip().lower()
    if value and value not in Sex.values:
        raise DomainError(
            f"Sex must be one of {', '.join(Sex.values)}.", fields={"sex": [f"Choose {' or '.join(Sex.values)}."]}
        )
    return value


def _weight(value) -> Decimal | None:
    if value in (None, ""):
        return None
    try:
        weight = Decimal(str(value)).quantize(Decimal("0.1"))
    except InvalidOperation as exc:
        raise DomainError("Weight must be a number of kg.", fields={"weight_kg": ["Must be a number."]}) from exc
    if not Decimal(1) <= weight <= Decimal(400):
        raise DomainError("Weight must be between 1 and 400 kg.", fields={"weight_kg": ["Must be between 1 and 400."]})
    return weight


def _donation_type(value: str) -> str:
    if value not in DonationType.values:
        raise DomainError(
            f"Unknown donation type {value!r}.",
            fields={"donation_type": [f"Choose one of {', '.join(DonationType.values)}."]},
        )
    return value


def _not_eligible(result: rules.Eligibility) -> Conflict:
    return Conflict(
        "Not eligible to donate: " + " ".join(result.messages),
        code="not_eligible",
        details=selectors.eligibility_as_dict(result),
    )


def _check_adult_on_registration(date_of_birth: date) -> None:
    today = timezone.localdate()
    if date_of_birth > today:
        raise DomainError(
            "The date of birth is in the future.", fields={"date_of_birth": ["Must not be in the future."]}
        )
    if date_of_birth.year < today.year - rules.OLDEST_AGE_YEARS:
        message = f"A date of birth more than {rules.OLDEST_AGE_YEARS} years ago is not plausible."
        raise DomainError(message, fields={"date_of_birth": [message]})
    verdict = rules.eligibility(
        date_of_birth=date_of_birth,
        sex=rules.FEMALE,
        weight_kg=rules.MINIMUM_WEIGHT_KG,
        donations=[],
        deferrals=[],
        on_date=today,
    )
    if rules.TOO_YOUNG in verdict.codes:
        message = verdict.reasons[verdict.codes.index(rules.TOO_YOUNG)].message
        raise DomainError(
            message,
            code="too_young",
            fields={"date_of_birth": [message]},
            details=selectors.eligibility_as_dict(verdict),
        )


# --- donors -----------------------------------------------------------------------------


def donor_register(
    *,
    name: str,
    email: str,
    password: str,
    blood_group: str,
    date_of_birth: date,
    address: str = "",
    contact_number: str = "",
    sex: str = "",
    weight_kg: float | Decimal | None = None,
    region: Region | str | None = None,
    registered_at_hospital: Hospital | None = None,
) -> DonorProfile:
    """Create a donor account and profile. The blood group is self-reported until a donation's typing confirms it.
    ``region``: a managed region, or its code or name (400 ``unknown_region`` for any other).

    Applicants under the minimum age (``rules.MINIMUM_AGE_YEARS``, 17) are refused here, naming the date of birth.
    """
    group = bloodbank_services.blood_group_or_refusal(blood_group)
    sex = _sex(sex)
    weight = _weight(weight_kg)
    _check_adult_on_registration(date_of_birth)
    region = region_find(region)
    with transaction.atomic():
        user = user_register(email=email, password=password, name=name.strip(), phone_number=contact_number)
        user.is_donor = True
        user.save(update_fields=["is_donor"])
        return DonorProfile.objects.create(
            user=user,
            blood_group=group,
            date_of_birth=date_of_birth,
            sex=sex,
            weight_kg=weight,
            contact_number=contact_number,
            address=address,
            region=region,
            registered_at_hospital=registered_at_hospital,
        )


def donor_register_at_desk(
    *, hospital: Hospital, by: User, email: str, name: str, contact_number: str = "", **details
) -> DonorProfile:
    """Staff register a walk-in donor at ``hospital``'s desk, with the checks of ``donor_register``.

    The account gets no password: to use the portal, the donor sets one with "Forgot your password?" and
    this email. A donor already registered (this email, or this name with this phone number) is refused
    (409 ``donor_registered``) with their donor number, so the desk finds them instead of making a twin.
    """
    if not can(by, ACT, hospital):
        raise Forbidden("You do not work at this hospital.", fields={"hospital": ["Not one of your hospitals."]})
    twin = DonorProfile.objects.filter(user__email__iexact=(email or "").strip()).select_related("user").first()
    field = "email"
    if twin is None and phone_search_key(contact_number):
        twin = (
            DonorProfile.objects.filter(phone_key=phone_search_key(contact_number), user__name__iexact=name.strip())
            .select_related("user")
            .first()
        )
        field = "contact_number"
    if twin is not None:
        message = (
            f"{twin.user.name or twin.user.email} is already registered as donor {twin.donor_number} "
            f"(same {field.replace('_', ' ')}): search for them and open their visit."
        )
        raise Conflict(message, code="donor_registered", fields={field: [message]})
    donor = donor_register(
        email=email,
        name=name,
        contact_number=contact_number,
        password=secrets.token_urlsafe(32),
        registered_at_hospital=hospital,
        **details,
    )
    donor.user.set_unusable_password()
    donor.user.save(update_fields=["password"])
    return donor


# Not the sex: it sets the haemoglobin limit at screening, so after registration only staff
# change it (``screening_record``), as only a typing confirms the blood group.
PROFILE_FIELDS = {
    "name",
    "contact_number",
    "address",
    "region",
    "weight_kg",
    "blood_group",
    "available_for_emergencies",
    "notify_by_email",
    "notify_by_sms",
    "quiet_hours_start",
    "quiet_hours_end",
}


def donor_profile_update(*, donor: DonorProfile, **changes) -> DonorProfile:
    """Change the donor's own details. A blood group confirmed by typing cannot be changed here, nor the sex
    given at registration (staff record it at screening)."""
    unknown = set(changes) - PROFILE_FIELDS
    if unknown:
        raise DomainError(
            f"Cannot change {', '.join(sorted(unknown))}.", fields={name: ["Not editable."] for name in unknown}
        )
    with transaction.atomic():
        donor = DonorProfile.objects.select_for_update().select_related("user").get(pk=donor.pk)
        if "name" in changes:
            donor.user.name = changes.pop("name").strip()
            donor.user.save(update_fields=["name"])
        if "contact_number" in changes:
            donor.user.phone_number = changes["contact_number"]
            donor.user.save(update_fields=["phone_number"])
        if "blood_group" in changes:
            group = bloodbank_services.blood_group_or_refusal(changes["blood_group"])
            if donor.blood_group_confirmed and group != donor.blood_group:
                raise Conflict(
                    f"Your blood group {donor.blood_group} was confirmed by a laboratory typing; it cannot be changed.",
                    code="group_confirmed",
                    fields={"blood_group": ["Confirmed by typing."]},
                )
            changes["blood_group"] = group
        if "weight_kg" in changes:
            changes["weight_kg"] = _weight(changes["weight_kg"])
        if "region" in changes:
            changes["region"] = region_find(changes["region"])
        for field, value in changes.items():
            setattr(donor, field, value)
        donor.save()
    return donor


def deferral_create(
    *,
    donor: DonorProfile,
    reason: str,
    starts_on: date,
    ends_on: date | None,
    hospital: Hospital,
    by: User | None,
    donation: Donation | None = None,
) -> Deferral:
    """Defer a donor temporarily (``ends_on``: eligible again that day) or permanently (``ends_on``
    None), with a reason."""
    try:
        rules.Deferral(reason=reason, starts_on=starts_on, ends_on=ends_on)
    except ValueError as exc:
        field = "reason" if "reason" in str(exc) else "ends_on"
        raise DomainError(str(exc), fields={field: [str(exc)]}) from exc
    if starts_on < donor.date_of_birth:
        raise DomainError(
            "A deferral cannot start before the donor was born.", fields={"starts_on": ["Before the date of birth."]}
        )
    if starts_on > timezone.localdate() + rules.PLANNING_HORIZON:
        raise DomainError("A deferral starts within a year.", fields={"starts_on": ["At most a year ahead."]})
    if ends_on is not None and ends_on - starts_on > rules.LONGEST_TEMPORARY_DEFERRAL:
        message = "A temporary deferral lasts at most ten years; leave ends_on empty for a permanent one."
        raise DomainError(message, fields={"ends_on": [message]})
    with transaction.atomic():
        return Deferral.objects.create(
            donor=donor,
            reason=reason.strip(),
            starts_on=starts_on,
            ends_on=ends_on,
            hospital=hospital,
            set_by=by,
            donation=donation,
        )


def deferral_lift(*, deferral: Deferral, by: User) -> Deferral:
    """End a deferral today (the donor is eligible again from today, as far as this deferral goes).

    Who lifted it and when are kept in their own fields: the reason is shown to the donor, so it
    stays as it was set (no staff names or emails in it). A permanent deferral (no end date: a
    positive infection marker, say) is lifted only by an administrator of the hospital that set
    it, after the review that clears the donor; medical staff lift temporary ones.
    """
    today = timezone.localdate()
    with transaction.atomic():
        deferral = Deferral.objects.select_for_update().select_related("hospital").get(pk=deferral.pk)
        if deferral.ends_on is not None and deferral.ends_on <= today:
            raise Conflict("The deferral has already ended.", code="deferral_ended")
        if deferral.ends_on is None and not (by.is_superuser or can(by, CHANGE, deferral.hospital)):
            raise Forbidden(
                "A permanent deferral is lifted only by an administrator of the hospital that set it.",
                code="permanent_deferral",
            )
        if deferral.starts_on >= today:
            deferral.starts_on = today - timedelta(days=1)
        deferral.ends_on = today
        deferral.lifted_at, deferral.lifted_by = timezone.now(), by
        deferral.save(update_fields=["starts_on", "ends_on", "lifted_at", "lifted_by"])
    return deferral


# --- slots and appointments ----------------------------------------------------------------


def _check_slot_times(starts_at: datetime, ends_at: datetime) -> None:
    if starts_at > timezone.now() + rules.PLANNING_HORIZON:
        raise DomainError("Slots are published at most a year ahead.", fields={"starts_at": ["At most a year ahead."]})
    if ends_at <= starts_at:
        raise DomainError("A slot must end after it starts.", fields={"ends_at": ["Must be after starts_at."]})
    if ends_at - starts_at > timedelta(hours=12):
        raise DomainError("A slot lasts at most 12 hours.", fields={"ends_at": ["At most 12 hours after starts_at."]})


def _check_capacity(capacity: int) -> None:
    if not 1 <= capacity <= 500:
        raise DomainError("Capacity must be between 1 and 500.", fields={"capacity": ["Must be between 1 and 500."]})


def slot_create(
    *,
    hospital: Hospital,
    starts_at: datetime,
    ends_at: datetime,
    capacity: int,
    by: User | None,
    donation_type: str = rules.WHOLE_BLOOD,
) -> DonationSlot:
    """Publish a donation slot: a time, a number of places and a donation type."""
    _check_slot_times(starts_at, ends_at)
    _check_capacity(capacity)
    if starts_at <= timezone.now():
        raise DomainError("A slot must start in the future.", fields={"starts_at": ["Must be in the future."]})
    with transaction.atomic():
        return DonationSlot.objects.create(
            hospital=hospital,
            starts_at=starts_at,
            ends_at=ends_at,
            capacity=capacity,
            donation_type=_donation_type(donation_type),
            created_by=by,
        )


def _places_taken(slot: DonationSlot) -> int:
    return slot.appointments.filter(status__in=rules.HOLDS_A_PLACE).count()


def slot_update(
    *,
    slot: DonationSlot,
    starts_at: datetime | None = None,
    ends_at: datetime | None = None,
    capacity: int | None = None,
) -> DonationSlot:
    """Move or resize a slot; capacity cannot drop below the places already taken."""
    with transaction.atomic():
        slot = DonationSlot.objects.select_for_update().get(pk=slot.pk)
        if starts_at is not None and starts_at <= timezone.now():
            raise DomainError("A slot cannot be moved into the past.", fields={"starts_at": ["Must be in the future."]})
        starts_at = starts_at or slot.starts_at
        ends_at = ends_at or slot.ends_at
        _check_slot_times(starts_at, ends_at)
        if capacity is not None:
            _check_capacity(capacity)
            taken = _places_taken(slot)
            if capacity < taken:
                raise Conflict(
                    f"{taken} places are already taken; capacity cannot be {capacity}.",
                    code="capacity_below_bookings",
                    fields={"capacity": [f"At least {taken}."]},
                )
            slot.capacity = capacity
        slot.starts_at, slot.ends_at = starts_at, ends_at
        slot.save(update_fields=["starts_at", "ends_at", "capacity"])
    return slot


def slot_delete(*, slot: DonationSlot) -> None:
    """Withdraw a slot nobody holds a place in (its cancelled appointments go with it)."""
    with transaction.atomic():
        slot = DonationSlot.objects.select_for_update().get(pk=slot.pk)
        if _places_taken(slot):
            raise Conflict("Donors hold places in this slot; cancel their appointments first.", code="slot_in_use")
        slot.appointments.all().delete()
        slot.delete()


def appointment_book(*, donor: DonorProfile, slot: DonationSlot) -> Appointment:
    """Book a place. Refused: a past or full slot (overbooking), a second open booking (double booking),
    and a donor not eligible for the slot's donation type on the slot's date.

    A booking whose slot ended without a check-in is recorded as a no-show here, so it no longer
    counts as the donor's open booking (one per donor, ``one_open_booking_per_donor``)."""
    with transaction.atomic():
        # Lock the slot, then the donor: two bookings of one slot, or by one donor, queue here.
        slot = DonationSlot.objects.select_for_update().select_related("hospital").get(pk=slot.pk)
        donor = DonorProfile.objects.select_for_update().get(pk=donor.pk)
        if slot.starts_at <= timezone.now():
            raise Conflict("This slot has already started.", code="slot_past")
        if not slot.hospital.is_verified:
            raise Conflict("This hospital does not take bookings yet.", code="hospital_not_verified")
        missed = Appointment.objects.filter(
            donor=donor, status=AppointmentStatus.BOOKED, slot__ends_at__lte=timezone.now()
        )
        for appointment in missed:
            _appointment_move(appointment, to_status=AppointmentStatus.NO_SHOW, by=None)
        if Appointment.objects.filter(donor=donor, status=AppointmentStatus.BOOKED).exists():
            raise Conflict("You already have a booked appointment; cancel it to book another.", code="already_booked")
        if not rules.slot_has_room(capacity=slot.capacity, places_taken=_places_taken(slot)):
            raise Conflict("This slot is full.", code="slot_full")
        result = selectors.donor_eligibility(
            donor=donor, on_date=timezone.localtime(slot.starts_at).date(), donation_type=slot.donation_type
        )
        if not result.eligible:
            raise _not_eligible(result)
        try:
            with transaction.atomic():
                appointment = Appointment.objects.create(slot=slot, donor=donor)
        except IntegrityError as exc:
            raise Conflict("You already have a booked appointment.", code="already_booked") from exc
        events.publish(
            events.appointment_booked,
            appointment_id=appointment.pk,
            donor_user_id=donor.user_id,
            starts_at=slot.starts_at,
            hospital_id=slot.hospital_id,
        )
        return appointment


def _appointment_move(appointment: Appointment, *, to_status: str, by: User | None) -> Appointment:
    appointment = (
        Appointment.objects.select_for_update().select_related("slot__hospital", "donor").get(pk=appointment.pk)
    )
    if not rules.appointment_can_move(from_status=appointment.status, to_status=to_status):
        raise Conflict(
            f"The appointment is {appointment.get_status_display().lower()}; it cannot become "
            f"{AppointmentStatus(to_status).label.lower()}.",
            code="appointment_state",
        )
    appointment.status, appointment.changed_at, appointment.changed_by = to_status, timezone.now(), by
    appointment.save(update_fields=["status", "changed_at", "changed_by"])
    return appointment


def appointment_cancel(*, appointment: Appointment, by: User | None) -> Appointment:
    """Cancel a booked appointment (the donor or the hospital's staff); its place frees up."""
    with transaction.atomic():
        return _appointment_move(appointment, to_status=AppointmentStatus.CANCELLED, by=by)


def appointment_check_in(*, appointment: Appointment, by: User | None) -> Donation:
    """The donor arrived: the appointment is attended and a visit awaiting screening is opened."""
    with transaction.atomic():
        appointment = _appointment_move(appointment, to_status=AppointmentStatus.ATTENDED, by=by)
        slot = appointment.slot
        return Donation.objects.create(
            donor=appointment.donor,
            hospital=slot.hospital,
            appointment=appointment,
            donation_type=slot.donation_type,
            visit_date=timezone.localdate(),
        )


def appointment_no_show(*, appointment: Appointment, by: User | None) -> Appointment:
    """Mark a booked donor who did not come, once the slot has started."""
    with transaction.atomic():
        if Appointment.objects.filter(pk=appointment.pk, slot__starts_at__gt=timezone.now()).exists():
            raise Conflict(
                "The slot has not started yet; a donor cannot be a no-show before it.", code="slot_not_started"
            )
        return _appointment_move(appointment, to_status=AppointmentStatus.NO_SHOW, by=by)


# --- visits: walk-in, screening, collection ------------------------------------------------


def donation_register_walk_in(
    *,
    donor: DonorProfile,
    hospital: Hospital,
    donation_type: str = rules.WHOLE_BLOOD,
    quantity_ml: int | None = None,
) -> Donation:
    """A donor registers to give blood at ``hospital`` today (the seed's "donate"): a visit awaiting screening.

    Refused (409, every reason and the next eligible date) when the donor is not eligible now; a
    visit not refused or cancelled counts for the intervals, so a second one the same day is refused.
    """
    _donation_type(donation_type)
    if quantity_ml is not None and not 100 <= quantity_ml <= 1000:
        raise DomainError(
            "A donation is between 100 and 1000 ml.", fields={"quantity_ml": ["Must be between 100 and 1000."]}
        )
    if not hospital.is_verified:
        raise DomainError(
            "This hospital does not take donations yet.", fields={"hospital_id": ["Not a network hospital."]}
        )
    with transaction.atomic():
        donor = DonorProfile.objects.select_for_update().get(pk=donor.pk)
        result = selectors.donor_eligibility(donor=donor, donation_type=donation_type)
        if not result.eligible:
            raise _not_eligible(result)
        return Donation.objects.create(
            donor=donor,
            hospital=hospital,
            donation_type=donation_type,
            visit_date=timezone.localdate(),
            quantity_ml=quantity_ml,
        )


def donation_cancel(*, donation: Donation, by: User | None) -> Donation:
    """The donor left before collection: the visit no longer counts for the intervals."""
    with transaction.atomic():
        donation = Donation.objects.select_for_update().get(pk=donation.pk)
        if donation.status not in (DonationStatus.AWAITING_SCREENING, DonationStatus.SCREENED):
            raise Conflict(
                f"The visit is {donation.get_status_display().lower()}; it cannot be cancelled.", code="donation_state"
            )
        donation.status = DonationStatus.CANCELLED
        donation.save(update_fields=["status"])
    return donation


def _locked_visit(donation: Donation, expected: str) -> Donation:
    donation = Donation.objects.select_for_update().select_related("donor__user", "hospital").get(pk=donation.pk)
    if donation.status != expected:
        raise Conflict(
            f"The visit is {donation.get_status_display().lower()}, not {DonationStatus(expected).label.lower()}.",
            code="donation_state",
        )
    return donation


def screening_record(
    *,
    donation: Donation,
    haemoglobin_g_dl: float | Decimal,
    systolic_mmhg: int,
    diastolic_mmhg: int,
    pulse_bpm: int,
    temperature_c: float | Decimal,
    questionnaire_passed: bool,
    by: User | None,
    weight_kg: float | Decimal | None,
    sex: str | None = None,
) -> Screening:
    """Record the screening at the visit (21 CFR 630.10). Passed: the visit awaits collection.

    ``weight_kg`` is required: staff weigh the donor here, and that weight (never the figure the
    donor keeps on their profile) decides the weight rules, including the double red cell minimum.
    ``sex`` recorded by staff replaces the profile's, which donors cannot change after registering.

    Failed: the visit is deferred, no unit is made, and the measured problems (haemoglobin,
    vital signs, questionnaire) defer the donor for ``rules.SCREENING_DEFERRAL_DAYS``; reasons
    already on record (intervals, deferrals, age, weight) are listed without a new deferral.
    """
    weight = _weight(weight_kg)
    if weight is None:
        raise DomainError(
            "Weigh the donor at screening.", fields={"weight_kg": ["Required: the weight measured at screening."]}
        )
    sex = _sex(sex)
    with transaction.atomic():
        donation = _locked_visit(donation, DonationStatus.AWAITING_SCREENING)
        donor = donation.donor
        donor.weight_kg = weight
        changed = ["weight_kg"]
        if sex:
            donor.sex = sex
            changed.append("sex")
        if not donor.sex:
            raise DomainError(
                "Record the donor's sex: the haemoglobin limit depends on it.", fields={"sex": ["Required."]}
            )
        donor.save(update_fields=changed)
        measured = rules.screening_problems(
            haemoglobin=float(haemoglobin_g_dl),
            sex=donor.sex,
            donation_type=donation.donation_type,
            systolic_mmhg=systolic_mmhg,
            diastolic_mmhg=diastolic_mmhg,
            pulse_bpm=pulse_bpm,
            temperature_c=float(temperature_c),
            questionnaire_passed=questionnaire_passed,
        )
        on_record = selectors.donor_eligibility(
            donor=donor,
            on_date=donation.visit_date,
            donation_type=donation.donation_type,
            exclude=donation,
        ).reasons  # with the weight just measured (set on ``donor`` above)
        problems = [reason.message for reason in (*measured, *on_record)]
        screening = Screening.objects.create(
            donation=donation,
            haemoglobin_g_dl=haemoglobin_g_dl,
            systolic_mmhg=systolic_mmhg,
            diastolic_mmhg=diastolic_mmhg,
            pulse_bpm=pulse_bpm,
            temperature_c=temperature_c,
            questionnaire_passed=questionnaire_passed,
            weight_kg=weight,
            passed=not problems,
            problems=problems,
            recorded_by=by,
        )
        donation.status = DonationStatus.SCREENED if not problems else DonationStatus.DEFERRED
        donation.save(update_fields=["status"])
        if measured:
            deferral_create(
                donor=donor,
                reason="Screening: " + " ".join(reason.message for reason in measured),
                starts_on=donation.visit_date,
                ends_on=rules.screening_deferral_end(measured, on_date=donation.visit_date),
                hospital=donation.hospital,
                by=by,
                donation=donation,
            )
    return screening


def donation_collect(
    *,
    donation: Donation,
    by: User | None,
    components: list[str] | None = None,
    volume_ml: int | None = None,
) -> list[BloodUnit]:
    """Record the collection: the donation's units (whole blood, or its components) enter quarantine under one DIN."""
    try:
        chosen = rules.collection_components(donation_type=donation.donation_type, components=components)
    except ValueError as exc:
        raise DomainError(str(exc), fields={"components": [str(exc)]}) from exc
    volume_ml = volume_ml or donation.quantity_ml
    if volume_ml is not None and not 100 <= volume_ml <= 1000:
        raise DomainError(
            "A collection is between 100 and 1000 ml.", fields={"volume_ml": ["Must be between 100 and 1000."]}
        )
    with transaction.atomic():
        donation = _locked_visit(donation, DonationStatus.SCREENED)
        now = timezone.now()
        din = bloodbank_services.din_next(hospital=donation.hospital, year=timezone.localtime(now).year)
        volumes = bloodbank_parameters.standard_volumes()
        units = []
        for component in chosen:
            volume = volumes[component]
            if chosen == ("whole_blood",) and volume_ml:
                volume = volume_ml
            elif donation.donation_type == rules.DOUBLE_RED_CELLS:
                # Two red cell doses in one bag record: one DIN holds one unit per component.
                volume = 2 * volumes[component]
            units.append(
                bloodbank_services.unit_create(
                    hospital=donation.hospital,
                    component=component,
                    blood_group=donation.donor.blood_group,
                    by=by,
                    status=UnitStatus.QUARANTINED,
                    volume_ml=volume,
                    collected_at=now,
                    din=din,
                    reason=f"Collected from donation {donation.pk}; quarantined until tested",
                )
            )
        donation.din, donation.collected_at, donation.collected_by = din, now, by
        donation.status = DonationStatus.COLLECTED
        donation.save(update_fields=["din", "collected_at", "collected_by", "status"])
    return units


# --- testing, typing and release ----------------------------------------------------------------


def _canonical_marker(marker: str) -> str:
    """The managed name of ``marker`` (``selectors.marker_names``); an unknown one is refused (400)."""
    if not (marker or "").strip():
        raise DomainError("Name the infection marker tested.", fields={"marker": ["Required."]})
    known = selectors.marker_names()
    name = rules.marker_name(marker, known=known)
    if name is None:
        message = f"Unknown infection marker; record one of {', '.join(known)}."
        raise DomainError(message, code="unknown_marker", fields={"marker": [message]})
    return name


def _live_units(donation: Donation):
    return BloodUnit.objects.filter(din=donation.din).exclude(
        status__in=[UnitStatus.DISCARDED, UnitStatus.EXPIRED, UnitStatus.TRANSFUSED, UnitStatus.ISSUED]
    )


def marker_result_record(*, donation: Donation, marker: str, result: str, by: User | None) -> MarkerResult:
    """Record an infection-marker test of a collected donation (21 CFR 610.40).

    A positive result discards every unit of the DIN still in the blood bank, with the reason,
    defers the donor (21 CFR 610.41: permanently for HIV, HBV, HCV; see ``rules.MARKER_DEFERRAL_DAYS``),
    and, for units already issued or transfused, alerts their hospital's staff (recall, look-back).
    """
    marker = _canonical_marker(marker)
    if result not in Outcome.values:
        raise DomainError(
            f"A result is {' or '.join(Outcome.values)}.", fields={"result": [f"Choose {' or '.join(Outcome.values)}."]}
        )
    with transaction.atomic():
        donation = _locked_visit(donation, DonationStatus.COLLECTED)
        if donation.test_results.filter(marker__iexact=marker).exists():
            raise Conflict(f"A {marker} result is already recorded for this donation.", code="result_recorded")
        recorded = MarkerResult.objects.create(donation=donation, marker=marker, result=result, recorded_by=by)
        if result == Outcome.POSITIVE:
            reason = f"{marker} positive on donation {bloodbank_rules.display_din(donation.din)}"
            for unit in _live_units(donation):
                bloodbank_services.unit_discard(unit=unit, by=by, reason=f"Infection-marker test: {reason}")
            gone = BloodUnit.objects.filter(
                din=donation.din, status__in=[UnitStatus.ISSUED, UnitStatus.TRANSFUSED]
            ).order_by("pk")
            by_hospital: dict[int, list[int]] = {}
            for hospital_id, unit_id in gone.values_list("hospital_id", "pk"):
                by_hospital.setdefault(hospital_id, []).append(unit_id)
            for hospital_id, unit_ids in by_hospital.items():  # issued: recall; transfused: look-back
                events.publish(
                    events.units_recalled, hospital_id=hospital_id, din=donation.din, unit_ids=unit_ids, marker=marker
                )
            today = timezone.localdate()
            deferral_create(
                donor=donation.donor,
                reason=reason,
                starts_on=today,
                ends_on=rules.marker_deferral(marker=marker, on_date=today),
                hospital=donation.hospital,
                by=by,
                donation=donation,
            )
    return recorded


def typing_confirm(*, donation: Donation, blood_group: str, by: User | None) -> Donation:
    """Record the laboratory ABO/RhD typing of a collected donation; it confirms the donor's group.

    The quarantined units are labelled with the typed group: a self-reported group is only a
    guess until now, and nothing has left quarantine under it.
    """
    group = bloodbank_services.blood_group_or_refusal(blood_group)
    with transaction.atomic():
        donation = _locked_visit(donation, DonationStatus.COLLECTED)
        if donation.confirmed_blood_group and donation.confirmed_blood_group != group:
            raise Conflict(
                f"This donation was already typed {donation.confirmed_blood_group}; "
                "a discrepant typing needs investigation.",
                code="typing_discrepancy",
            )
        donor = DonorProfile.objects.select_for_update().get(pk=donation.donor_id)
        if donor.blood_group_confirmed and donor.blood_group != group:
            raise Conflict(
                f"The donor's group was confirmed as {donor.blood_group} before; "
                "a discrepant typing needs investigation.",
                code="typing_discrepancy",
            )
        donation.confirmed_blood_group, donation.typed_by, donation.typed_at = group, by, timezone.now()
        donation.save(update_fields=["confirmed_blood_group", "typed_by", "typed_at"])
        donor.blood_group, donor.blood_group_confirmed = group, True
        donor.save(update_fields=["blood_group", "blood_group_confirmed"])
        BloodUnit.objects.filter(din=donation.din, status=UnitStatus.QUARANTINED).exclude(blood_group=group).update(
            blood_group=group, updated_at=timezone.now()
        )
    return donation


def donation_release(*, donation: Donation, by: User | None) -> list[BloodUnit]:
    """Release every quarantined unit of the donation into available stock (the release checks must pass)."""
    if donation.status != DonationStatus.COLLECTED:
        raise Conflict("Only a collected donation's units can be released.", code="donation_state")
    with transaction.atomic():
        units = list(BloodUnit.objects.select_for_update().filter(din=donation.din, status=UnitStatus.QUARANTINED))
        if not units:
            raise Conflict("No unit of this donation is in quarantine.", code="nothing_to_release")
        return [bloodbank_services.unit_release(unit=unit, by=by) for unit in units]


def donor_profile_create(
    *,
    user: User,
    blood_group: str,
    date_of_birth: date,
    name: str = "",
    address: str = "",
    contact_number: str = "",
    sex: str = "",
    weight_kg: float | Decimal | None = None,
    region: Region | str | None = None,
    available_for_emergencies: bool = False,
) -> DonorProfile:
    """Make an existing account (e.g. one signed up through the web portal) a donor, with the same checks as
    ``donor_register``: a known blood group (self-reported until typing confirms it) and the minimum age."""
    group = bloodbank_services.blood_group_or_refusal(blood_group)
    sex = _sex(sex)
    weight = _weight(weight_kg)
    _check_adult_on_registration(date_of_birth)
    region = region_find(region)
    with transaction.atomic():
        user = User.objects.select_for_update().get(pk=user.pk)
        if DonorProfile.objects.filter(user=user).exists():
            raise Conflict("This account already has a donor profile.", code="already_donor")
        user.is_donor = True
        if name.strip():
            user.name = name.strip()
        if contact_number:
            # encrypted_fields has no types, so mypy sees the field class here, not the str it holds.
            user.phone_number = contact_number  # type: ignore[assignment]
        user.save(update_fields=["is_donor", "name", "phone_number"])
        return DonorProfile.objects.create(
            user=user,
            blood_group=group,
            date_of_birth=date_of_birth,
            sex=sex,
            weight_kg=weight,
            contact_number=contact_number,
            address=address,
            region=region,
            available_for_emergencies=available_for_emergencies,
        )
