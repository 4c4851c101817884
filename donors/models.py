"""Donor records: profiles, deferrals, donation slots and appointments, visits (donations) with
their screening, infection-marker results and typing.

Eligibility is never stored: ``selectors.donor_eligibility`` computes it from these rows with
``rules.eligibility``. The writes live in ``services.py``.
"""

import re

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.crypto import salted_hmac

from bloodbank.models import BloodGroup
from healthsync.fields import PersonalCharField, PersonalDateField, PersonalTextField
from healthsync.models import Hospital, Region

from . import rules


class Sex(models.TextChoices):
    FEMALE = rules.FEMALE, "Female"
    MALE = rules.MALE, "Male"


class DonationType(models.TextChoices):
    WHOLE_BLOOD = rules.WHOLE_BLOOD, "Whole blood"
    DOUBLE_RED_CELLS = rules.DOUBLE_RED_CELLS, "Double red cells"
    PLATELETS = rules.PLATELETS, "Platelets (apheresis)"
    PLASMA = rules.PLASMA, "Plasma (apheresis)"


def phone_search_key(number: str | None) -> str:
    """The search key of a phone number: a keyed hash of its last 9 digits, the subscriber number whatever
    the prefix ("+44 7700 900123" and "07700 900123" match); "" when it has fewer than 6 digits."""
    digits = re.sub(r"\D", "", number or "")[-9:]
    return salted_hmac("healthsync.donors.phone", digits, algorithm="sha256").hexdigest() if len(digits) >= 6 else ""


class DonorProfile(models.Model):
    """A donor: the person behind a donor account. Contact details, address and date of birth are encrypted."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="donor_profile")
    blood_group = models.CharField(max_length=3, choices=BloodGroup.choices)
    blood_group_confirmed = models.BooleanField(
        default=False,
        help_text="Set when a laboratory typing of a donation confirms the group; until then it is self-reported.",
    )
    date_of_birth = PersonalDateField()
    sex = models.CharField(max_length=6, choices=Sex.choices, blank=True)
    weight_kg = models.DecimalField(
        max_digits=5, decimal_places=1, null=True, blank=True, validators=[MinValueValidator(1)]
    )
    contact_number = PersonalCharField()
    address = PersonalTextField()
    region = models.ForeignKey(
        Region,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="donors",
        help_text="Where the donor lives: urgent calls of this region's hospitals reach them.",
    )
    # A search key of the encrypted contact number (``rules.phone_search_key``): the desk finds a donor
    # by phone without the database ever holding the number in clear.
    phone_key = models.CharField(max_length=64, blank=True, db_index=True, editable=False)
    registered_at_hospital = models.ForeignKey(
        Hospital,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="registered_donors",
        help_text="The hospital whose desk registered the donor (empty: the donor registered themselves).",
    )
    available_for_emergencies = models.BooleanField(
        default=False, help_text="Opted in to urgent-need calls (separate from eligibility)."
    )
    notify_by_email = models.BooleanField(default=True)
    notify_by_sms = models.BooleanField(default=False)
    quiet_hours_start = models.TimeField(null=True, blank=True, help_text="No calls or messages from this time…")
    quiet_hours_end = models.TimeField(null=True, blank=True, help_text="…until this time (may wrap past midnight).")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["user__name", "id"]
        indexes = [models.Index(fields=["blood_group", "region"], name="donor_group_region_idx")]

    def __str__(self):
        reported = "" if self.blood_group_confirmed else ", self-reported"
        return f"{self.user.name or self.user.email} ({self.blood_group}{reported})"

    def save(self, *args, **kwargs):
        self.phone_key = phone_search_key(self.contact_number)
        if kwargs.get("update_fields") is not None and "contact_number" in kwargs["update_fields"]:
            kwargs["update_fields"] = {*kwargs["update_fields"], "phone_key"}
        super().save(*args, **kwargs)

    @property
    def donor_number(self) -> str:
        """The number staff read out and search by at the desk."""
        return f"D{self.pk:06d}" if self.pk else ""


class Deferral(models.Model):
    """A temporary (``ends_on`` set) or permanent (``ends_on`` empty) deferral, with its reason and who set it."""

    donor = models.ForeignKey(DonorProfile, on_delete=models.CASCADE, related_name="deferrals")
    reason = models.TextField()
    starts_on = models.DateField()
    ends_on = models.DateField(null=True, blank=True, help_text="Eligible again on this day; empty means permanent.")
    hospital = models.ForeignKey(Hospital, on_delete=models.PROTECT, related_name="donor_deferrals")
    donation = models.ForeignKey("Donation", null=True, blank=True, on_delete=models.SET_NULL, related_name="deferrals")
    set_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    # Set when staff lift the deferral early; kept out of ``reason``, which the donor sees.
    lifted_at = models.DateTimeField(null=True, blank=True)
    lifted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-starts_on", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(ends_on__isnull=True) | Q(ends_on__gt=models.F("starts_on")),
                name="deferral_ends_after_start",
                violation_error_message="A deferral must end after the day it starts.",
            ),
        ]

    def __str__(self):
        until = f"until {self.ends_on}" if self.ends_on else "permanent"
        return f"{self.donor.user.name or self.donor.user.email}: {until}: {self.reason}"

    @property
    def permanent(self) -> bool:
        return self.ends_on is None

    def as_rule(self) -> rules.Deferral:
        return rules.Deferral(reason=self.reason, starts_on=self.starts_on, ends_on=self.ends_on)


class DonationSlot(models.Model):
    """A time a hospital takes donors of one donation type, with a number of places."""

    hospital = models.ForeignKey(Hospital, on_delete=models.CASCADE, related_name="donation_slots")
    starts_at = models.DateTimeField(db_index=True)
    ends_at = models.DateTimeField()
    capacity = models.PositiveIntegerField(validators=[MinValueValidator(1), MaxValueValidator(500)])
    donation_type = models.CharField(max_length=20, choices=DonationType.choices, default=DonationType.WHOLE_BLOOD)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["starts_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(ends_at__gt=models.F("starts_at")),
                name="slot_ends_after_start",
                violation_error_message="A slot must end after it starts.",
            )
        ]

    def __str__(self):
        return (
            f"{self.hospital.fin} {self.starts_at:%Y-%m-%d %H:%M} {self.get_donation_type_display()} "
            f"({self.capacity} places)"
        )


class AppointmentStatus(models.TextChoices):
    BOOKED = rules.BOOKED, "Booked"
    CANCELLED = rules.CANCELLED, "Cancelled"
    ATTENDED = rules.ATTENDED, "Attended"
    NO_SHOW = rules.NO_SHOW, "No-show"


class Appointment(models.Model):
    slot = models.ForeignKey(DonationSlot, on_delete=models.PROTECT, related_name="appointments")
    donor = models.ForeignKey(DonorProfile, on_delete=models.CASCADE, related_name="appointments")
    status = models.CharField(max_length=10, choices=AppointmentStatus.choices, default=AppointmentStatus.BOOKED)
    booked_at = models.DateTimeField(auto_now_add=True)
    changed_at = models.DateTimeField(null=True, blank=True)
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["slot__starts_at", "id"]
        constraints = [
            # A donor holds at most one open booking (no double booking), whatever the slot.
            models.UniqueConstraint(
                fields=["donor"],
                condition=Q(status=rules.BOOKED),
                name="one_open_booking_per_donor",
                violation_error_message="This donor already has a booked appointment: cancel it first.",
            ),
        ]

    def __str__(self):
        return f"{self.donor} at {self.slot} ({self.get_status_display()})"


class DonationStatus(models.TextChoices):
    AWAITING_SCREENING = "awaiting_screening", "Awaiting screening"
    SCREENED = "screened", "Screened, awaiting collection"
    DEFERRED = "deferred", "Deferred at screening"
    COLLECTED = "collected", "Collected"
    CANCELLED = "cancelled", "Cancelled"


# A visit that has not been refused or cancelled counts for the donation intervals.
COUNTS_FOR_INTERVALS = [DonationStatus.AWAITING_SCREENING, DonationStatus.SCREENED, DonationStatus.COLLECTED]


class Donation(models.Model):
    """A donor's visit to give blood: walk-in or from an appointment, then screening, collection, tests, release."""

    donor = models.ForeignKey(DonorProfile, on_delete=models.PROTECT, related_name="donations")
    hospital = models.ForeignKey(Hospital, on_delete=models.PROTECT, related_name="donations")
    appointment = models.OneToOneField(
        Appointment, null=True, blank=True, on_delete=models.SET_NULL, related_name="donation"
    )
    donation_type = models.CharField(max_length=20, choices=DonationType.choices, default=DonationType.WHOLE_BLOOD)
    visit_date = models.DateField(db_index=True)
    quantity_ml = models.PositiveIntegerField(
        null=True, blank=True, help_text="Volume to collect; the standard volume if empty."
    )
    status = models.CharField(max_length=20, choices=DonationStatus.choices, default=DonationStatus.AWAITING_SCREENING)
    din = models.CharField(
        "DIN", max_length=13, blank=True, db_index=True, help_text="ISBT 128 DIN of the collected units."
    )
    collected_at = models.DateTimeField(null=True, blank=True)
    collected_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    confirmed_blood_group = models.CharField(
        max_length=3, choices=BloodGroup.choices, blank=True, help_text="Laboratory ABO/RhD typing."
    )
    typed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    typed_at = models.DateTimeField(null=True, blank=True)
    registered_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-visit_date", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["din"],
                condition=~Q(din=""),
                name="one_donation_per_din",
                violation_error_message="A donation with this DIN is already recorded.",
            )
        ]
        indexes = [models.Index(fields=["hospital", "visit_date"], name="donation_hospital_day_idx")]

    def __str__(self):
        return f"{self.get_donation_type_display()} by {self.donor} on {self.visit_date} ({self.get_status_display()})"


class Screening(models.Model):
    """The checks at the visit before collection (21 CFR 630.10)."""

    donation = models.OneToOneField(Donation, on_delete=models.CASCADE, related_name="screening")
    haemoglobin_g_dl = models.DecimalField("haemoglobin (g/dL)", max_digits=4, decimal_places=1)
    systolic_mmhg = models.PositiveSmallIntegerField("systolic (mmHg)")
    diastolic_mmhg = models.PositiveSmallIntegerField("diastolic (mmHg)")
    pulse_bpm = models.PositiveSmallIntegerField("pulse (/min)")
    temperature_c = models.DecimalField("temperature (C)", max_digits=4, decimal_places=1)
    questionnaire_passed = models.BooleanField()
    weight_kg = models.DecimalField(max_digits=5, decimal_places=1, null=True, blank=True)
    passed = models.BooleanField()
    problems = models.JSONField(default=list, blank=True, help_text="Why the screening failed, one message each.")
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    recorded_at = models.DateTimeField(auto_now_add=True)

    def __str__(self):
        return f"Screening of donation {self.donation_id}: {'passed' if self.passed else 'failed'}"


class Outcome(models.TextChoices):
    NEGATIVE = rules.NEGATIVE, "Negative"
    POSITIVE = rules.POSITIVE, "Positive"


class MarkerResult(models.Model):
    """One infection-marker test of a donation (21 CFR 610.40)."""

    donation = models.ForeignKey(Donation, on_delete=models.CASCADE, related_name="test_results")
    marker = models.CharField(max_length=30)
    result = models.CharField(max_length=10, choices=Outcome.choices)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    recorded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["donation", "marker"]
        constraints = [
            models.UniqueConstraint(
                fields=["donation", "marker"],
                name="one_result_per_marker",
                violation_error_message="This marker already has a result for this donation.",
            )
        ]

    def __str__(self):
        return f"{self.marker} {self.result} (donation {self.donation_id})"
