"""Alerts and who received them. Persist first, then push: these rows are the source of truth."""

from django.conf import settings
from django.db import models

from healthsync.models import Hospital


class Kind(models.TextChoices):
    SHORTAGE = "shortage", "Shortage"
    URGENT_REQUEST = "urgent_request", "Urgent request"
    EXPIRING = "expiring", "Units expiring"
    EXPIRED = "expired", "Units expired"
    ANALYSIS = "analysis", "Image analysis"
    APPOINTMENT = "appointment", "Appointment"
    TRANSFUSION_REACTION = "reaction", "Transfusion reaction"
    RECALL = "recall", "Recall and look-back"


class Severity(models.TextChoices):
    INFO = "info", "Information"
    WARNING = "warning", "Warning"
    CRITICAL = "critical", "Critical"


class Alert(models.Model):
    """One event worth telling people about; created once per event (``event_key`` is unique)."""

    kind = models.CharField(max_length=20, choices=Kind.choices)
    title = models.CharField(max_length=200)
    body = models.TextField()
    link = models.CharField(max_length=300, blank=True)
    severity = models.CharField(max_length=10, choices=Severity.choices, default=Severity.INFO)
    hospital = models.ForeignKey(Hospital, null=True, blank=True, on_delete=models.SET_NULL, related_name="alerts")
    event_key = models.CharField(max_length=200, unique=True)
    groups = models.JSONField(default=list, help_text="The socket groups it was pushed to.")
    created = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-id"]

    def __str__(self):
        return f"[{self.kind}] {self.title}"

    def as_message(self) -> dict:
        """The WebSocket message: one JSON object per alert."""
        return {
            "id": self.pk,
            "kind": self.kind,
            "title": self.title,
            "body": self.body,
            "link": self.link,
            "severity": self.severity,
            "created": self.created.isoformat(),
            "hospital": self.hospital_id,
        }


class Notification(models.Model):
    """An alert in one recipient's inbox; unique per alert and recipient, so a retried task adds nothing."""

    alert = models.ForeignKey(Alert, on_delete=models.CASCADE, related_name="notifications")
    recipient = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications")
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-alert_id"]
        constraints = [
            models.UniqueConstraint(fields=["alert", "recipient"], name="one_notification_per_alert_and_recipient")
        ]
        indexes = [models.Index(fields=["recipient", "alert"], name="inbox_idx")]

    def __str__(self):
        return f"{self.alert} → {self.recipient}"


class Channel(models.TextChoices):
    EMAIL = "email", "Email"
    SMS = "sms", "SMS"


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SENDING = "sending", "Sending"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"


class Delivery(models.Model):
    """An email or SMS for one notification: sent at least once, claimed by one worker at a time."""

    notification = models.ForeignKey(Notification, on_delete=models.CASCADE, related_name="deliveries")
    channel = models.CharField(max_length=5, choices=Channel.choices)
    status = models.CharField(max_length=8, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    claimed_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)

    class Meta:
        verbose_name_plural = "deliveries"
        constraints = [models.UniqueConstraint(fields=["notification", "channel"], name="one_delivery_per_channel")]

    def __str__(self):
        return f"{self.channel} for notification {self.notification_id}: {self.status}"


class ShortageState(models.Model):
    """The worst level alerted for a hospital's group and component since stock last recovered."""

    hospital = models.ForeignKey(Hospital, on_delete=models.CASCADE, related_name="+")
    blood_group = models.CharField(max_length=3)
    component = models.CharField(max_length=20)
    alerted_level = models.CharField(max_length=10, blank=True)
    episode = models.PositiveIntegerField(default=1, help_text="Counts recoveries, so a new shortage is a new event.")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["hospital", "blood_group", "component"], name="one_shortage_state_per_stock"
            )
        ]

    def __str__(self):
        level = self.alerted_level or "no shortage alerted"
        return f"{self.blood_group} {self.component} at hospital {self.hospital_id}: {level} (episode {self.episode})"
