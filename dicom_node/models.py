"""The DICOM node's records: the peers each hospital trusts, its routing rules, the associations
received, the instances they brought, and the results sent back."""

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.db.models import Q

from healthsync.fields import PersonalTextField

# PS3.5 6.2 (AE): 16 characters at most, no backslash or control characters; leading and trailing
# spaces are not significant (stored without them).
ae_title_validator = RegexValidator(
    r"^[\x20-\x5b\x5d-\x7e]*[\x21-\x5b\x5d-\x7e][\x20-\x5b\x5d-\x7e]*$",
    "An AE title is 1-16 characters of printable ASCII, no backslash.",
)


class DicomPeer(models.Model):
    """A remote application entity (a PACS, a modality, a router) a hospital trusts: associations
    from its AE title and host are accepted, and their instances become that hospital's uploads."""

    hospital = models.ForeignKey("healthsync.Hospital", on_delete=models.CASCADE, related_name="dicom_peers")
    ae_title = models.CharField(
        "AE title", max_length=16, validators=[ae_title_validator], help_text="Its calling AE title."
    )
    host = models.CharField(max_length=255, help_text="The IP address or host name it connects from and listens on.")
    port = models.PositiveIntegerField(
        validators=[MinValueValidator(1), MaxValueValidator(65535)], help_text="Where it listens (C-STORE SCP)."
    )
    is_destination = models.BooleanField(
        "results destination",
        default=False,
        help_text="Results (structured report, Grad-CAM secondary capture) are sent here; one per hospital.",
    )
    description = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["hospital", "ae_title"]
        verbose_name = "DICOM peer"
        constraints = [
            models.UniqueConstraint(fields=["ae_title", "host"], name="dicom_peer_ae_title_host"),
            models.UniqueConstraint(
                fields=["hospital"], condition=Q(is_destination=True), name="dicom_peer_one_destination"
            ),
        ]

    def __str__(self):
        return f"{self.ae_title}@{self.host}:{self.port}"


class RoutingRule(models.Model):
    """Which condition (and model) a received instance is analysed for. The hospital's active rules
    are tried in order of priority; an empty criterion matches anything."""

    hospital = models.ForeignKey("healthsync.Hospital", on_delete=models.CASCADE, related_name="dicom_routing_rules")
    priority = models.PositiveSmallIntegerField(default=100, help_text="Lower first.")
    modality = models.CharField(max_length=16, blank=True, help_text="Modality (0008,0060), e.g. CR or DX; empty: any.")
    body_part = models.CharField(
        max_length=64, blank=True, help_text="Body Part Examined (0018,0015), e.g. CHEST; empty: any."
    )
    series_description = models.CharField(
        max_length=128,
        blank=True,
        help_text="Series Description (0008,103E) pattern: * and ? wildcards, any case; empty: any.",
    )
    sop_class_uid = models.CharField("SOP class UID", max_length=64, blank=True, help_text="Empty: any.")
    condition = models.ForeignKey("imaging.Condition", on_delete=models.PROTECT, related_name="dicom_routing_rules")
    model = models.ForeignKey(
        "imaging.MLModel",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="dicom_routing_rules",
        help_text="Empty: the condition's default model.",
    )
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["hospital", "priority", "pk"]

    def __str__(self):
        criteria = [
            value for value in (self.modality, self.body_part, self.series_description, self.sop_class_uid) if value
        ]
        return f"{' / '.join(criteria) or 'anything'} -> {self.condition}"


class AssociationStatus(models.TextChoices):
    OPEN = "open", "Receiving"
    RELEASED = "released", "Released"
    ABORTED = "aborted", "Aborted"
    INTERRUPTED = "interrupted", "Interrupted (listener stopped)"
    REJECTED = "rejected", "Rejected"


class DicomAssociation(models.Model):
    """One association a peer asked for: accepted (then released or aborted) or rejected."""

    hospital = models.ForeignKey(
        "healthsync.Hospital",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="dicom_associations",
        help_text="Empty: no hospital trusts the caller.",
    )
    peer = models.ForeignKey(DicomPeer, null=True, blank=True, on_delete=models.SET_NULL, related_name="associations")
    calling_ae = models.CharField("calling AE", max_length=16)
    called_ae = models.CharField("called AE", max_length=16)
    host = models.CharField(max_length=255)
    port = models.PositiveIntegerField(null=True, blank=True)
    status = models.CharField(
        max_length=12, choices=AssociationStatus.choices, default=AssociationStatus.OPEN, db_index=True
    )
    received = models.PositiveIntegerField(default=0, help_text="Instances stored.")
    refused = models.PositiveIntegerField(default=0, help_text="Instances refused (nothing kept of them).")
    detail = models.TextField(blank=True, help_text="Why it was rejected, or the last refusal.")
    started_at = models.DateTimeField(auto_now_add=True, db_index=True)
    last_activity_at = models.DateTimeField(auto_now_add=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    sent_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="The account that sent it over DICOMweb (STOW-RS); empty for a DIMSE association.",
    )

    class Meta:
        ordering = ["-started_at", "-pk"]
        verbose_name = "DICOM association"

    def __str__(self):
        return f"{self.calling_ae}@{self.host} ({self.get_status_display()})"


class InstanceStatus(models.TextChoices):
    RECEIVED = "received", "Received"
    ANALYSING = "analysing", "Sent for analysis"
    WAITING = "waiting", "Waiting for a person to choose"


def _instance_path(instance, filename):
    return f"dicom/{instance.hospital_id}/{filename}"


class ReceivedInstance(models.Model):
    """A stored instance: checked and de-identified as an upload (``imaging.uploads.read_study``), its
    original identifiers encrypted. It keeps its file until it is submitted for analysis."""

    hospital = models.ForeignKey("healthsync.Hospital", on_delete=models.CASCADE, related_name="dicom_instances")
    association = models.ForeignKey(DicomAssociation, on_delete=models.CASCADE, related_name="instances")
    status = models.CharField(
        max_length=10, choices=InstanceStatus.choices, default=InstanceStatus.RECEIVED, db_index=True
    )
    sop_class_uid = models.CharField("SOP class UID", max_length=64)
    modality = models.CharField(max_length=16, blank=True)
    body_part = models.CharField(max_length=64, blank=True)
    series_key = models.CharField(
        max_length=64, help_text="Keyed digest of the original series UID: instances of one series share it."
    )
    study_key = models.CharField(
        max_length=64, blank=True, db_index=True, help_text="Keyed digest of the original study UID, for search."
    )
    patient_digest = models.CharField(
        max_length=64, blank=True, db_index=True, help_text="Keyed digest of the original Patient ID, for search."
    )
    file = models.FileField(
        upload_to=_instance_path,
        max_length=300,
        blank=True,
        help_text="The de-identified instance, until it is submitted.",
    )
    study_metadata = models.JSONField(default=dict, blank=True)
    patient_identifiers = PersonalTextField(help_text="The original identifiers (JSON), encrypted.")
    rule = models.ForeignKey(RoutingRule, null=True, blank=True, on_delete=models.SET_NULL, related_name="instances")
    reason = models.TextField(blank=True, help_text="Why it waits for a person.")
    analyses = models.ManyToManyField("imaging.ImageAnalysis", blank=True, related_name="dicom_instances")
    received_at = models.DateTimeField(auto_now_add=True, db_index=True)
    submitted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-received_at", "-pk"]
        verbose_name = "received DICOM instance"

    def __str__(self):
        return f"Instance {self.pk} ({self.modality or 'no modality'}, {self.get_status_display()})"


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed (gave up)"


class ResultDelivery(models.Model):
    """The results of one analysis of a received instance, on their way back to the hospital's
    destination AE. Its UIDs are made once, so a resend stores the same instances again."""

    analysis = models.OneToOneField("imaging.ImageAnalysis", on_delete=models.CASCADE, related_name="dicom_delivery")
    instance = models.ForeignKey(ReceivedInstance, on_delete=models.CASCADE, related_name="deliveries")
    hospital = models.ForeignKey("healthsync.Hospital", on_delete=models.CASCADE, related_name="dicom_deliveries")
    status = models.CharField(
        max_length=8, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING, db_index=True
    )
    destination = models.CharField(max_length=300, blank=True, help_text="Where it was last sent (AE title@host:port).")
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True, db_index=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    series_uid = models.CharField(max_length=64)
    report_uid = models.CharField("SR instance UID", max_length=64)
    capture_uid = models.CharField("secondary capture UID", max_length=64)
    capture_series_uid = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = "DICOM result delivery"
        verbose_name_plural = "DICOM result deliveries"

    def __str__(self):
        return f"Results of analysis {self.analysis_id} ({self.get_status_display()})"
