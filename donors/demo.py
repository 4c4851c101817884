"""Demo donors of every blood group with realistic histories, and donation slots at the demo hospitals.

Idempotent: a donor who exists is left alone, and a hospital that already has future slots gets no more.
Run after ``healthsync.demo.seed_core`` (it creates the hospitals H0001-H0003).
"""

from datetime import date, datetime, time, timedelta

from django.db import transaction
from django.utils import timezone

from bloodbank import services as bloodbank_services
from healthsync.demo import DEMO_PASSWORD
from healthsync.models import Hospital, User

from . import rules, services
from .models import Donation, DonationSlot, DonationStatus, DonorProfile, MarkerResult

# (email, name, group, sex, date of birth, weight, region, available for emergencies, history, description)
# history: (days ago, donation type, status) of past visits, oldest first.
DONORS = [
    (
        "hannah.osei@donors.example",
        "Hannah Osei",
        "O-",
        rules.FEMALE,
        date(1988, 4, 12),
        64,
        "North",
        True,
        [
            (400, rules.WHOLE_BLOOD, "collected"),
            (300, rules.WHOLE_BLOOD, "collected"),
            (190, rules.WHOLE_BLOOD, "collected"),
            (70, rules.WHOLE_BLOOD, "collected"),
        ],
        "O-, regular whole-blood donor, eligible now, on emergency call",
    ),
    (
        "marcus.reid@donors.example",
        "Marcus Reid",
        "O+",
        rules.MALE,
        date(1979, 9, 3),
        88,
        "North",
        True,
        [(150, rules.WHOLE_BLOOD, "collected"), (20, rules.WHOLE_BLOOD, "collected")],
        "O+, gave whole blood 20 days ago: not eligible until the 56-day interval ends",
    ),
    (
        "sofia.marino@donors.example",
        "Sofia Marino",
        "A+",
        rules.FEMALE,
        date(1992, 1, 25),
        61,
        "South",
        False,
        [
            (56, rules.PLATELETS, "collected"),
            (42, rules.PLATELETS, "collected"),
            (28, rules.PLATELETS, "collected"),
            (14, rules.PLATELETS, "collected"),
        ],
        "A+, platelet donor every two weeks, eligible now",
    ),
    (
        "jonas.berg@donors.example",
        "Jonas Berg",
        "A-",
        rules.MALE,
        date(2001, 6, 30),
        77,
        "North",
        False,
        [],
        "A-, new donor, group self-reported",
    ),
    (
        "aisha.rahman@donors.example",
        "Aisha Rahman",
        "B+",
        rules.FEMALE,
        date(1995, 11, 8),
        55,
        "South",
        True,
        [(30, rules.WHOLE_BLOOD, "deferred")],
        "B+, deferred at screening 30 days ago for low haemoglobin (56 days)",
    ),
    (
        "tom.novak@donors.example",
        "Tom Novak",
        "B-",
        rules.MALE,
        date(1984, 2, 17),
        92,
        "North",
        False,
        [(260, rules.WHOLE_BLOOD, "collected"), (130, rules.DOUBLE_RED_CELLS, "collected")],
        "B-, double red cells 130 days ago, booked for a whole-blood slot",
    ),
    (
        "lucy.chen@donors.example",
        "Lucy Chen",
        "AB+",
        rules.FEMALE,
        date(1990, 8, 21),
        70,
        "South",
        False,
        [(96, rules.PLASMA, "collected"), (68, rules.PLASMA, "collected"), (40, rules.PLASMA, "collected")],
        "AB+, plasma donor, eligible now",
    ),
    (
        "daniel.ortiz@donors.example",
        "Daniel Ortiz",
        "AB-",
        rules.MALE,
        date(1975, 12, 2),
        81,
        "North",
        False,
        [(500, rules.WHOLE_BLOOD, "collected"), (380, rules.WHOLE_BLOOD, "collected")],
        "AB-, permanently deferred after a positive HBV test",
    ),
]

SLOT_HOURS = (9, 13)


def _past_visit(*, donor: DonorProfile, hospital: Hospital, days_ago: int, donation_type: str, status: str) -> Donation:
    # History only: these visits happened before the demo, so they are written as they ended
    # (their units long since used), not replayed through today's services.
    visit_date = timezone.localdate() - timedelta(days=days_ago)
    with transaction.atomic():
        donation = Donation.objects.create(
            donor=donor,
            hospital=hospital,
            donation_type=donation_type,
            visit_date=visit_date,
            status=status,
        )
        if status == DonationStatus.COLLECTED:
            donation.din = bloodbank_services.din_next(hospital=hospital, year=visit_date.year)
            donation.collected_at = timezone.make_aware(datetime.combine(visit_date, time(10)))
            donation.confirmed_blood_group = donor.blood_group
            donation.typed_at = donation.collected_at + timedelta(days=1)
            donation.save()
            for marker in rules.DEFAULT_REQUIRED_MARKERS:
                MarkerResult.objects.create(donation=donation, marker=marker, result=rules.NEGATIVE)
    return donation


def _seed_slots(hospital: Hospital) -> None:
    if DonationSlot.objects.filter(hospital=hospital, starts_at__gt=timezone.now()).exists():
        return
    today = timezone.localdate()
    for day in range(1, 15):
        for hour in SLOT_HOURS:
            starts_at = timezone.make_aware(datetime.combine(today + timedelta(days=day), time(hour)))
            donation_type = rules.PLATELETS if hour == 13 and day % 7 == 3 else rules.WHOLE_BLOOD
            services.slot_create(
                hospital=hospital,
                starts_at=starts_at,
                ends_at=starts_at + timedelta(hours=3),
                capacity=6,
                donation_type=donation_type,
                by=None,
            )


@transaction.atomic
def seed_donors() -> list[tuple[str, str]]:
    """Create demo donors and slots; return the donor logins as (email, description)."""
    hospitals = list(Hospital.objects.filter(fin__in=["H0001", "H0002", "H0003"]).order_by("fin"))
    if not hospitals:
        return []
    for hospital in hospitals:
        _seed_slots(hospital)
    logins = []
    for index, (email, name, group, sex, born, weight, region, on_call, history, description) in enumerate(DONORS):
        logins.append((email, f"Donor: {description}"))
        if User.objects.filter(email=email).exists():
            continue
        home = hospitals[index % len(hospitals)]
        donor = services.donor_register(
            name=name,
            email=email,
            password=DEMO_PASSWORD,
            blood_group=group,
            date_of_birth=born,
            sex=sex,
            weight_kg=weight,
            region=region,
            address=f"{10 + index} Demo Street, {region}town",
            contact_number=f"+44 7700 900{100 + index}",
        )
        services.donor_profile_update(donor=donor, available_for_emergencies=on_call)
        visits = [
            _past_visit(donor=donor, hospital=home, days_ago=days, donation_type=kind, status=status)
            for days, kind, status in history
        ]
        if any(visit.status == DonationStatus.COLLECTED for visit in visits):
            donor.blood_group_confirmed = True
            donor.save(update_fields=["blood_group_confirmed"])
        for visit in visits:
            if visit.status == DonationStatus.DEFERRED:
                services.deferral_create(
                    donor=donor,
                    reason="Screening: haemoglobin 11.9 g/dL is below the minimum of 12.5 g/dL.",
                    starts_on=visit.visit_date,
                    ends_on=visit.visit_date + timedelta(days=rules.SCREENING_DEFERRAL_DAYS[rules.HAEMOGLOBIN_LOW]),
                    hospital=home,
                    by=None,
                    donation=visit,
                )
        if group == "AB-":
            MarkerResult.objects.filter(donation=visits[-1], marker="HBV").update(result=rules.POSITIVE)
            services.deferral_create(
                donor=donor,
                reason=f"HBV positive on donation {visits[-1].din}",
                starts_on=visits[-1].visit_date + timedelta(days=2),
                ends_on=None,
                hospital=home,
                by=None,
                donation=visits[-1],
            )
        if group == "B-":
            slot = DonationSlot.objects.filter(
                hospital=home, donation_type=rules.WHOLE_BLOOD, starts_at__gt=timezone.now()
            ).order_by("starts_at")[2]
            services.appointment_book(donor=donor, slot=slot)
    return logins


seed = seed_donors  # the seed_demo command calls each app's ``demo.seed()``
