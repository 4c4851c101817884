"""Reads of the donors app: computed eligibility, histories, free slots, staff-scoped lists, dashboard counts."""

import re
from datetime import date, datetime, timedelta

from django.db.models import Count, F, Prefetch, Q, QuerySet
from django.utils import timezone

from bloodbank.rules import BloodGroup
from healthsync.errors import Forbidden
from healthsync.models import Hospital, Region
from healthsync.permissions import hospitals_for, scope_to_hospitals

from . import parameters, rules
from .models import (
    COUNTS_FOR_INTERVALS,
    Appointment,
    AppointmentStatus,
    Deferral,
    Donation,
    DonationSlot,
    DonationStatus,
    DonorProfile,
    phone_search_key,
)


def marker_names() -> list[str]:
    """Every infection marker a result may be recorded under: the required ones, then the further ones."""
    names: list[str] = []
    for name in [*parameters.required_markers(), *parameters.further_markers()]:
        if name.strip() and rules.marker_name(name, known=names) is None:
            names.append(name.strip())
    return names


def past_donations(*, donor: DonorProfile, exclude: Donation | None = None) -> list[rules.PastDonation]:
    """The visits that count for the intervals: pending, screened and collected ones."""
    if exclude is None and hasattr(donor, "visits_for_intervals"):  # prefetched by with_eligibility_facts
        return [
            rules.PastDonation(date=visit.visit_date, type=visit.donation_type) for visit in donor.visits_for_intervals
        ]
    visits = Donation.objects.filter(donor=donor, status__in=COUNTS_FOR_INTERVALS)
    if exclude is not None:
        visits = visits.exclude(pk=exclude.pk)
    return [rules.PastDonation(date=day, type=kind) for day, kind in visits.values_list("visit_date", "donation_type")]


def with_eligibility_facts(donors: QuerySet) -> QuerySet:
    """``donors`` with what ``donor_eligibility`` reads (visits, deferrals) fetched in two queries for
    the whole list."""
    visits = Donation.objects.filter(status__in=COUNTS_FOR_INTERVALS).only("donor_id", "visit_date", "donation_type")
    return donors.prefetch_related("deferrals", Prefetch("donations", queryset=visits, to_attr="visits_for_intervals"))


def donor_eligibility(
    *,
    donor: DonorProfile,
    on_date: date | None = None,
    donation_type: str = rules.WHOLE_BLOOD,
    haemoglobin: float | None = None,
    exclude: Donation | None = None,
) -> rules.Eligibility:
    """Eligibility computed now from the donor's facts, visits and deferrals ("eligible now" without haemoglobin).

    An unrecorded weight is measured at screening, so it does not refuse here.
    """
    return rules.eligibility(
        date_of_birth=donor.date_of_birth,
        sex=donor.sex or rules.FEMALE,
        weight_kg=float(donor.weight_kg) if donor.weight_kg is not None else None,
        donations=past_donations(donor=donor, exclude=exclude),
        deferrals=[deferral.as_rule() for deferral in donor.deferrals.all()],
        on_date=on_date or timezone.localdate(),
        donation_type=donation_type,
        haemoglobin=haemoglobin,
        intervals=parameters.donation_intervals(),
        double_red_cells_minimum_weight_kg=parameters.double_red_cells_minimum_weight_kg(),
    )


def eligibility_as_dict(result: rules.Eligibility) -> dict:
    return {
        "eligible": result.eligible,
        "reasons": [{"code": reason.code, "message": reason.message} for reason in result.reasons],
        "next_eligible_date": result.next_eligible_date.isoformat() if result.next_eligible_date else None,
    }


def donor_history(*, donor: DonorProfile) -> dict[str, list]:
    """The donor's own visits (with their units' DIN) and appointments, newest first."""
    return {
        "donations": list(Donation.objects.filter(donor=donor).select_related("hospital", "screening")),
        "appointments": list(
            Appointment.objects.filter(donor=donor).select_related("slot__hospital").order_by("-slot__starts_at")
        ),
    }


def slots_with_places(queryset: QuerySet) -> QuerySet:
    return queryset.annotate(
        places_taken=Count("appointments", filter=Q(appointments__status__in=rules.HOLDS_A_PLACE))
    ).order_by("starts_at", "id")


def slots_free(
    *,
    hospital_id: int | None = None,
    donation_type: str | None = None,
    region: Region | None = None,
    days_ahead: int = 60,
) -> QuerySet:
    """Future slots at verified hospitals (of ``region`` when given) that still have a free place."""
    now = timezone.now()
    slots = DonationSlot.objects.filter(
        hospital__is_verified=True, starts_at__gt=now, starts_at__lt=now + timedelta(days=days_ahead)
    )
    if hospital_id is not None:
        slots = slots.filter(hospital_id=hospital_id)
    if donation_type:
        slots = slots.filter(donation_type=donation_type)
    if region is not None:
        slots = slots.filter(hospital__region=region)
    return slots_with_places(slots.select_related("hospital__region")).filter(places_taken__lt=F("capacity"))


def slots_for_staff(*, user) -> QuerySet:
    return slots_with_places(scope_to_hospitals(DonationSlot.objects.select_related("hospital"), user))


def appointments_for_staff(*, user) -> QuerySet:
    return scope_to_hospitals(
        Appointment.objects.select_related("slot__hospital", "donor__user"), user, via="slot__hospital"
    )


def donations_for_staff(*, user) -> QuerySet:
    return scope_to_hospitals(Donation.objects.select_related("hospital", "donor__user"), user)


def donors_for_staff(*, user, in_their_regions: bool = False) -> QuerySet:
    """Donors who have visited, booked or been registered at one of the user's hospitals (every donor for platform
    administrators);
    ``in_their_regions``: and every donor of a region one of the user's hospitals is in (the desk's search)."""
    visited = scope_to_hospitals(Donation.objects.all(), user).values("donor_id")
    booked = scope_to_hospitals(Appointment.objects.all(), user, via="slot__hospital").values("donor_id")
    donors = DonorProfile.objects.select_related("user", "region")
    if getattr(user, "is_superuser", False) and user.is_active:
        return donors
    theirs = Q(pk__in=visited) | Q(pk__in=booked) | Q(registered_at_hospital__in=hospitals_for(user))
    if in_their_regions:
        theirs |= Q(
            region__in=scope_to_hospitals(Hospital.objects.exclude(region=None), user, via="pk").values("region_id")
        )
    return donors.filter(theirs)


DONOR_NUMBER = re.compile(r"^D?-?0*(\d{1,9})$", re.IGNORECASE)


def donors_matching(donors: QuerySet, term: str) -> QuerySet:
    """The ``donors`` a desk search term names exactly: a donor number ("D000042", "42"), a phone number (its last
    9 digits, through the search key: the number itself is encrypted) or a blood group ("O-", "ab+")."""
    term = " ".join((term or "").split())
    wanted = Q(pk__in=[])
    if number := DONOR_NUMBER.match(term):
        wanted |= Q(pk=int(number.group(1)))
    if phone_key := phone_search_key(term):
        wanted |= Q(phone_key=phone_key)
    try:
        wanted |= Q(blood_group=str(BloodGroup.parse(term)))
    except ValueError:
        pass
    return donors.filter(wanted)


def donors_eligible_now(
    *, blood_groups: list[str] | None = None, region_id: int | None = None, on_date: date | None = None
) -> list[DonorProfile]:
    """Donors who opted in to emergency calls and are eligible today (for urgent-need alerts), of the region
    ``region_id`` when given: matched by id, so no spelling keeps a donor from a call."""
    donors = DonorProfile.objects.filter(available_for_emergencies=True, user__is_active=True).select_related("user")
    if blood_groups:
        donors = donors.filter(blood_group__in=blood_groups)
    if region_id is not None:
        donors = donors.filter(region_id=region_id)
    return [
        donor for donor in with_eligibility_facts(donors) if donor_eligibility(donor=donor, on_date=on_date).eligible
    ]


def release_problems_for_din(*, din: str, unit_group: str) -> list[str] | None:
    """Why units of the donation with this DIN cannot be released; None when the DIN is not a donation's."""
    donation = Donation.objects.filter(din=din).first()
    if donation is None:
        return None
    return rules.release_problems(
        results=dict(donation.test_results.values_list("marker", "result")),
        required_markers=parameters.required_markers(),
        confirmed_group=donation.confirmed_blood_group or None,
        unit_group=unit_group,
    )


def dashboard_counts(*, user, today: date | None = None) -> dict[str, int]:
    """Donations today, no-shows in the last 7 days and deferrals in force set at the user's hospitals."""
    today = today or timezone.localdate()
    donations = donations_for_staff(user=user).filter(visit_date=today)
    appointments = appointments_for_staff(user=user)
    week_ago = timezone.make_aware(datetime.combine(today - timedelta(days=7), datetime.min.time()))
    deferrals = scope_to_hospitals(Deferral.objects.all(), user).filter(
        Q(ends_on__isnull=True) | Q(ends_on__gt=today), starts_on__lte=today
    )
    return {
        "donations_today": donations.exclude(status=DonationStatus.CANCELLED).count(),
        "collected_today": donations.filter(status=DonationStatus.COLLECTED).count(),
        "no_shows_last_7_days": appointments.filter(
            status=AppointmentStatus.NO_SHOW, slot__starts_at__gte=week_ago
        ).count(),
        "deferrals_in_force": deferrals.count(),
        "booked_upcoming": appointments.filter(
            status=AppointmentStatus.BOOKED, slot__starts_at__gte=timezone.now()
        ).count(),
    }


def donor_of(user) -> DonorProfile:
    """The requesting donor's own profile; anyone else (staff, an account without a profile) gets 403."""
    profile = getattr(user, "donor_profile", None) if getattr(user, "is_donor", False) else None
    if profile is None:
        raise Forbidden("This is for donors.", code="not_a_donor")
    return profile


def unit_release_check(unit) -> list[str]:
    """bloodbank release hook: the problems keeping a donated unit in quarantine ([] for units not from a donation)."""
    return release_problems_for_din(din=unit.din, unit_group=unit.blood_group) or []


def donor_upcoming_appointment(*, donor: DonorProfile) -> Appointment | None:
    """The donor's open booking (at most one), if its slot has not started."""
    return (
        Appointment.objects.filter(donor=donor, status=AppointmentStatus.BOOKED, slot__starts_at__gt=timezone.now())
        .select_related("slot__hospital")
        .first()
    )


def network_regions() -> list[str]:
    """The names of the regions verified hospitals are in, for the public shortage page."""
    return list(
        Region.objects.filter(hospitals__is_verified=True).distinct().order_by("name").values_list("name", flat=True)
    )


def regional_shortages(*, region: Region, component: str = "red_cells") -> list[dict]:
    """Per blood group, the worst stock level of ``component`` among the region's verified hospitals and how many
    hospitals are critical or low (public: no hospital names or unit counts). Built from the network levels."""
    from bloodbank import rules as bloodbank_rules
    from bloodbank import selectors as bloodbank_selectors
    from bloodbank.models import BloodGroup

    regional = set(Hospital.objects.filter(is_verified=True, region=region).values_list("pk", flat=True))
    rows = []
    for group in BloodGroup.values:
        levels = [
            level
            for pk, level in bloodbank_selectors.network_levels(blood_group=group, component=component).items()
            if pk in regional
        ]
        worst = min(levels, key=bloodbank_rules.LEVELS.index) if levels else None
        rows.append(
            {
                "blood_group": group,
                "level": worst,
                "hospitals": len(levels),
                "critical": levels.count(bloodbank_rules.CRITICAL),
                "low": levels.count(bloodbank_rules.LOW),
            }
        )
    return rows
