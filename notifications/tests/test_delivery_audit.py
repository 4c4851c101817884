"""Every email or SMS sent is in the audit log: channel, recipient and alert (the rows are updated in
bulk, which django-auditlog does not see by itself)."""

import pytest
from auditlog.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.db.models import Q

from notifications import services
from notifications.models import Delivery

pytestmark = pytest.mark.django_db


def test_every_email_or_sms_sent_is_audited(bob, hospital_a, donor):
    called = donor("bea@donor.example", "O-", "North", notify_by_sms=True, notify_by_email=True)
    services.alert_raise(
        kind="urgent_request",
        title="Test call",
        body="b",
        severity="critical",
        event_key="audit-call",
        audience=Q(pk=called.user_id),
        groups=[],
    )
    deliveries = Delivery.objects.filter(notification__recipient=called.user)
    assert {delivery.channel for delivery in deliveries} == {"email", "sms"}
    for delivery in deliveries:
        services.delivery_send(delivery_id=delivery.pk)
    entries = LogEntry.objects.filter(
        content_type=ContentType.objects.get_for_model(Delivery), changes__status=["sending", "sent"]
    )
    assert sorted(entry.changes["channel"][1] for entry in entries) == ["email", "sms"]
    assert all(entry.changes["recipient"][1] == str(called.user_id) for entry in entries)
