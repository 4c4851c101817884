"""Blood bank records: units (bags) with their history, requests, allocations, transfers, par levels.

A unit is one bag of one component, identified by its ISBT 128 DIN and component
(21 CFR 606.160/165: every unit's path from donation to patient can be shown).
The rules these records obey live in ``rules.py``; the writes in ``services.py``.
"""

from datetime import timedelta

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from healthsync.fields import PersonalCharField
from healthsync.models import Hospital

from . import rules


class BloodGroup(models.TextChoices):
    A_POS = "A+", "A+"
    A_NEG = "A-", "A-"
    B_POS = "B+", "B+"
    B_NEG = "B-", "B-"
    AB_POS = "AB+", "AB+"
    AB_NEG = "AB-", "AB-"
    O_POS = "O+", "O+"
    O_NEG = "O-", "O-"


class Component(models.TextChoices):
    WHOLE_BLOOD = rules.WHOLE_BLOOD, "Whole blood"
    RED_CELLS = rules.RED_CELLS, "Red cells"
    PLATELETS = rules.PLATELETS, "Platelets"
    PLASMA = rules.PLASMA, "Plasma"
    CRYOPRECIPITATE = rules.CRYOPRECIPITATE, "Cryoprecipitate"


class UnitStatus(models.TextChoices):
    QUARANTINED = rules.QUARANTINED, "Quarantined"
    AVAILABLE = rules.AVAILABLE, "Available"
    RESERVED = rules.RESERVED, "Reserved"
    ISSUED = rules.ISSUED, "Issued"
    TRANSFUSED = rules.TRANSFUSED, "Transfused"
    DISCARDED = rules.DISCARDED, "Discarded"
    EXPIRED = rules.EXPIRED, "Expired"
    IN_TRANSIT = rules.IN_TRANSIT, "In transit"


class DinSequence(models.Model):
    """The last DIN sequence number a hospital used in a year (ISBT 128: FIN + year + 6-digit sequence)."""

    hospital = models.ForeignKey(Hospital, on_delete=models.CASCADE, related_name="+")
    year = models.PositiveSmallIntegerField()
    last_sequence = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["hospital", "year"], name="one_din_sequence_per_hospital_year")]

    def __str__(self):
        return f"DIN sequence of {self.hospital.fin} in year {self.year:02d}: last {self.last_sequence:06d}"


class BloodUnitQuerySet(models.QuerySet):
    def available(self, at=None):
        """The units that may be given out at ``at`` (now by default): in available stock and not expired."""
        return self.filter(status=UnitStatus.AVAILABLE, expires_at__gt=timezone.now() if at is None else at)


class BloodUnit(models.Model):
    hospital = models.ForeignKey(
        Hospital, on_delete=models.PROTECT, related_name="blood_units", help_text="The hospital holding the unit now."
    )
    din = models.CharField("DIN", max_length=13, db_index=True, help_text="ISBT 128 donation identification number.")
    component = models.CharField(max_length=20, choices=Component.choices)
    product_code = models.CharField(
        max_length=8, blank=True, help_text="ISBT 128 product description code, e.g. E0336."
    )
    blood_group = models.CharField(max_length=3, choices=BloodGroup.choices)
    volume_ml = models.PositiveIntegerField()
    anticoagulant = models.CharField(max_length=20, blank=True)
    collected_at = models.DateTimeField()
    expires_at = models.DateTimeField(
        help_text="The first instant the unit is expired (00:00 after its last day of use)."
    )
    status = models.CharField(max_length=12, choices=UnitStatus.choices, default=UnitStatus.QUARANTINED)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = BloodUnitQuerySet.as_manager()

    class Meta:
        ordering = ["expires_at", "id"]
        constraints = [models.UniqueConstraint(fields=["din", "component"], name="one_unit_per_din_and_component")]
        indexes = [
            # Allocation walks available units of one component and group in expiry order.
            models.Index(
                fields=["hospital", "component", "blood_group", "status", "expires_at"], name="unit_allocation_idx"
            ),
            models.Index(fields=["status", "expires_at"], name="unit_expiry_sweep_idx"),
        ]

    def __str__(self):
        return f"{rules.display_din(self.din)} {self.get_component_display()} {self.blood_group}"

    @property
    def din_display(self) -> str:
        return rules.display_din(self.din)

    @property
    def last_day_of_use(self):
        return (timezone.localtime(self.expires_at) - timedelta(days=1)).date()


class BloodRequestStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    PARTIALLY_FULFILLED = "partially_fulfilled", "Partially fulfilled"
    FULFILLED = "fulfilled", "Fulfilled"
    CANCELLED = "cancelled", "Cancelled"


class BloodRequest(models.Model):
    hospital = models.ForeignKey(Hospital, on_delete=models.PROTECT, related_name="blood_requests")
    component = models.CharField(max_length=20, choices=Component.choices, default=Component.RED_CELLS)
    blood_group = models.CharField("recipient group", max_length=3, choices=BloodGroup.choices)
    units_requested = models.PositiveIntegerField()
    urgency = models.PositiveSmallIntegerField(help_text="1 routine … 4 urgent, 5 emergency.")
    needed_by = models.DateTimeField(null=True, blank=True)
    patient_reference = PersonalCharField(help_text="Encrypted; shown only to the hospital's staff.")
    status = models.CharField(max_length=20, choices=BloodRequestStatus.choices, default=BloodRequestStatus.PENDING)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    fulfilled_at = models.DateTimeField(null=True, blank=True)
    emergency_physician = models.CharField(
        max_length=150,
        blank=True,
        help_text="Authorising physician of an uncrossmatched emergency release (21 CFR 606.151(e)).",
    )
    emergency_released_at = models.DateTimeField(null=True, blank=True)
    emergency_released_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["hospital", "status", "-urgency"], name="request_open_idx")]

    def __str__(self):
        return (
            f"Request {self.pk}: {self.units_requested} × {self.get_component_display()} {self.blood_group} "
            f"(urgency {self.urgency})"
        )


class AllocationStatus(models.TextChoices):
    RESERVED = "reserved", "Reserved"
    ISSUED = "issued", "Issued"
    TRANSFUSED = "transfused", "Transfused"
    RETURNED = "returned", "Returned unused"
    CANCELLED = "cancelled", "Cancelled"


class CrossmatchMethod(models.TextChoices):
    SEROLOGICAL = "serological", "Serological crossmatch"
    ELECTRONIC = "electronic", "Electronic crossmatch"


class Allocation(models.Model):
    """A unit set aside for a request. At most one live (reserved or issued) allocation per unit.
    An issued unit ends transfused (to the request's patient, with start, end and any suspected
    reaction) or returned unused (back to stock or discarded, ``services.allocation_return``).

    The crossmatch fields record the pre-transfusion compatibility test of the unit against the
    recipient's positively identified sample (21 CFR 606.151(b)-(c)); red cells and whole blood are
    issued only with a compatible one on a sample still in date (``services.allocation_issue``).
    """

    request = models.ForeignKey(BloodRequest, on_delete=models.PROTECT, related_name="allocations")
    unit = models.ForeignKey(BloodUnit, on_delete=models.PROTECT, related_name="allocations")
    status = models.CharField(max_length=10, choices=AllocationStatus.choices, default=AllocationStatus.RESERVED)
    emergency = models.BooleanField(default=False, help_text="Uncrossmatched emergency release.")
    anti_d_advised = models.BooleanField(
        "anti-D advised",
        default=False,
        help_text="RhD-positive platelets for an RhD-negative recipient: give anti-D immunoglobulin.",
    )
    allocated_at = models.DateTimeField(auto_now_add=True)
    allocated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    issued_at = models.DateTimeField(null=True, blank=True)
    crossmatch_method = models.CharField(max_length=12, choices=CrossmatchMethod.choices, blank=True)
    crossmatch_sample_id = models.CharField(
        "recipient sample", max_length=40, blank=True, help_text="The identification on the recipient's sample tube."
    )
    crossmatch_sample_drawn_at = models.DateTimeField("sample drawn at", null=True, blank=True)
    crossmatch_compatible = models.BooleanField("compatible", null=True, blank=True)
    crossmatched_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    crossmatched_at = models.DateTimeField(null=True, blank=True)
    transfusion_started_at = models.DateTimeField(null=True, blank=True)
    transfusion_ended_at = models.DateTimeField(null=True, blank=True)
    transfusion_reaction = models.BooleanField("suspected reaction", default=False)
    transfusion_note = models.TextField(
        blank=True, help_text="What was seen at the bedside (required with a suspected reaction)."
    )
    transfusion_recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    returned_at = models.DateTimeField(null=True, blank=True)
    returned_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["allocated_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["unit"],
                condition=Q(status__in=["reserved", "issued"]),
                name="one_live_allocation_per_unit",
                violation_error_message="This unit is already reserved or issued for a request.",
            )
        ]

    def __str__(self):
        return f"{self.unit} → request {self.request_id} ({self.status})"


class TransferStatus(models.TextChoices):
    REQUESTED = "requested", "Requested"
    APPROVED = "approved", "Approved"
    DISPATCHED = "dispatched", "Dispatched"
    RECEIVED = "received", "Received"
    DECLINED = "declined", "Declined"
    CANCELLED = "cancelled", "Cancelled"


class Transfer(models.Model):
    """Units asked of another network hospital: requested, approved (by the holder), dispatched, received."""

    from_hospital = models.ForeignKey(Hospital, on_delete=models.PROTECT, related_name="transfers_out")
    to_hospital = models.ForeignKey(Hospital, on_delete=models.PROTECT, related_name="transfers_in")
    request = models.ForeignKey(
        BloodRequest, null=True, blank=True, on_delete=models.SET_NULL, related_name="transfers"
    )
    component = models.CharField(max_length=20, choices=Component.choices)
    blood_group = models.CharField("recipient group", max_length=3, choices=BloodGroup.choices)
    units_requested = models.PositiveIntegerField()
    units = models.ManyToManyField(BloodUnit, blank=True, related_name="transfers")
    status = models.CharField(max_length=10, choices=TransferStatus.choices, default=TransferStatus.REQUESTED)
    note = models.TextField(blank=True)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    requested_at = models.DateTimeField(auto_now_add=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    dispatched_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    dispatched_at = models.DateTimeField(null=True, blank=True)
    received_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    received_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-requested_at"]

    def __str__(self):
        return (
            f"Transfer {self.pk}: {self.units_requested} × {self.blood_group} {self.component} "
            f"{self.from_hospital.fin} → {self.to_hospital.fin}"
        )


class UnitEvent(models.Model):
    """One step in a unit's path (vein-to-vein traceability, 21 CFR 606.160/165): who, when, why, where."""

    unit = models.ForeignKey(BloodUnit, on_delete=models.CASCADE, related_name="events")
    from_status = models.CharField(max_length=12, choices=UnitStatus.choices, blank=True)
    to_status = models.CharField(max_length=12, choices=UnitStatus.choices)
    hospital = models.ForeignKey(Hospital, on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField(auto_now_add=True, db_index=True)
    by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    reason = models.TextField(blank=True)
    request = models.ForeignKey(BloodRequest, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    transfer = models.ForeignKey(Transfer, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        ordering = ["at", "id"]

    def __str__(self):
        return f"{self.unit.din}: {self.from_status or '—'} → {self.to_status}"


class ParLevel(models.Model):
    """Stock thresholds staff set per hospital, group and component (in units)."""

    hospital = models.ForeignKey(Hospital, on_delete=models.CASCADE, related_name="par_levels")
    blood_group = models.CharField(max_length=3, choices=BloodGroup.choices)
    component = models.CharField(max_length=20, choices=Component.choices, default=Component.RED_CELLS)
    critical_units = models.PositiveIntegerField(default=2)
    low_units = models.PositiveIntegerField(default=5)

    class Meta:
        ordering = ["hospital", "component", "blood_group"]
        constraints = [
            models.UniqueConstraint(
                fields=["hospital", "blood_group", "component"],
                name="one_par_level_per_stock",
                violation_error_message="This hospital already has levels for this component and blood group.",
            ),
            models.CheckConstraint(
                condition=Q(low_units__gte=models.F("critical_units")),
                name="low_at_least_critical",
                violation_error_message="The low level must be at least the critical level.",
            ),
        ]

    def __str__(self):
        return (
            f"{self.hospital.fin} {self.blood_group} {self.component}: "
            f"critical ≤{self.critical_units}, low ≤{self.low_units}"
        )
