"""Events from the blood bank and donors reach the right inboxes, once."""

from datetime import time, timedelta

import pytest
from django.core import mail
from django.db.models import Q
from django.utils import timezone

from bloodbank import services as bloodbank_services
from conftest import make_region, make_user
from donors import services as donor_services
from healthsync.models import Role
from notifications import services
from notifications.models import Alert, Delivery, Notification

pytestmark = pytest.mark.django_db


def inbox(user, kind=None):
    notifications = Notification.objects.filter(recipient=user).select_related("alert")
    if kind:
        notifications = notifications.filter(alert__kind=kind)
    return [n.alert.title for n in notifications.order_by("alert_id")]


def test_shortage_alerts_own_staff_and_network_hospitals_with_adequate_stock(
    committed, alice, bob, carol, root, hospital_a, hospital_b, stock
):
    from healthsync import services as core

    hospital_c = core.hospital_create(name="Gamma", region=make_region("East"), is_verified=True)
    dan = make_user("dan@gamma.example", hospital=hospital_c, role=Role.MEDICAL_STAFF)
    stock(hospital_b, "A+", 8)  # Beta: adequate A+, will hear
    # Gamma has no A+ stock (critical itself): it does not hear about Alpha's shortage.
    committed(lambda: stock(hospital_a, "A+", 1))
    title = "Critical stock: A+ red cells at Alpha General"
    assert title in inbox(bob) and title in inbox(alice)
    assert title in inbox(carol) and title in inbox(root)
    assert title not in inbox(dan)


def test_one_alert_per_level_until_stock_recovers(committed, bob, hospital_a, stock):
    units = stock(hospital_a, "B+", 7)  # adequate (> 5)
    request = bloodbank_services.request_create(hospital=hospital_a, blood_group="B+", units=1, urgency=3, by=bob)

    def issue_one():
        request_ = bloodbank_services.request_create(hospital=hospital_a, blood_group="B+", units=1, urgency=3, by=bob)
        return bloodbank_services.request_fulfil(request=request_, by=bob)

    committed(lambda: bloodbank_services.request_fulfil(request=request, by=bob))  # 6 left: adequate
    for _ in range(6):  # 5 (low), 4, 3, 2 (critical), 1, 0: issued one by one
        committed(issue_one)
    assert inbox(bob, "shortage") == [
        "Low stock: B+ red cells at Alpha General",
        "Critical stock: B+ red cells at Alpha General",
    ]
    committed(lambda: stock(hospital_a, "B+", 8))  # recovers
    committed(issue_one)
    committed(issue_one)
    committed(issue_one)  # 5 left: low again, a new episode
    assert inbox(bob, "shortage")[-1] == "Low stock: B+ red cells at Alpha General"
    assert len(inbox(bob, "shortage")) == 3
    assert len(units) == 7


def test_urgent_request_calls_eligible_compatible_opted_in_donors_in_the_region(
    committed, bob, carol, hospital_a, hospital_b, stock, donor
):
    stock(hospital_b, "O-", 6)
    called = donor("olga@donor.example", "O-", "North")
    wrong_group = donor("abe@donor.example", "AB+", "North")
    not_opted_in = donor("otto@donor.example", "O-", "North", opted_in=False)
    elsewhere = donor("sven@donor.example", "O-", "South")
    deferred = donor("dora@donor.example", "O-", "North")
    donor_services.deferral_create(
        donor=deferred,
        reason="Travel",
        starts_on=timezone.localdate(),
        ends_on=timezone.localdate() + timedelta(days=30),
        hospital=hospital_a,
        by=bob,
    )

    committed(
        lambda: bloodbank_services.request_create(hospital=hospital_a, blood_group="O-", units=2, urgency=4, by=bob)
    )
    assert any("Urgent request" in t for t in inbox(carol))  # Beta holds compatible stock
    assert inbox(called.user, "urgent_request") == ["Alpha General urgently needs blood donors"]
    for nobody in (wrong_group, not_opted_in, elsewhere, deferred):
        assert inbox(nobody.user) == []
    # Email to the donor, with the notification id as idempotency key.
    assert any(m.to == [called.user.email] for m in mail.outbox)
    assert Delivery.objects.filter(notification__recipient=called.user, status="sent").count() == 1


def test_donors_are_called_at_most_once_a_day_and_quiet_hours_yield_only_to_emergencies(
    committed, bob, hospital_a, donor
):
    night_owl = donor("nina@donor.example", "O+", "North", quiet_hours_start=time(0, 0), quiet_hours_end=time(23, 59))
    day = donor("dave.d@donor.example", "O+", "North")
    committed(
        lambda: bloodbank_services.request_create(hospital=hospital_a, blood_group="O+", units=1, urgency=4, by=bob)
    )
    assert len(inbox(day.user)) == 1 and inbox(night_owl.user) == []
    committed(
        lambda: bloodbank_services.request_create(hospital=hospital_a, blood_group="A+", units=1, urgency=5, by=bob)
    )
    assert len(inbox(day.user)) == 1  # already called today
    assert len(inbox(night_owl.user)) == 1  # urgency 5 overrides quiet hours


def test_routine_requests_alert_no_one(committed, bob, hospital_a, donor):
    called = donor("rita@donor.example", "O-", "North")
    committed(
        lambda: bloodbank_services.request_create(hospital=hospital_a, blood_group="O-", units=1, urgency=3, by=bob)
    )
    assert inbox(called.user) == [] and inbox(bob, "urgent_request") == []


def test_retried_events_create_nothing_twice(bob, hospital_a, stock):
    stock(hospital_a, "AB-", 1)
    for _ in range(3):
        services.units_expired(hospital_id=hospital_a.pk, unit_ids=[1, 2, 3])
    assert Alert.objects.filter(kind="expired").count() == 1
    assert Notification.objects.filter(recipient=bob, alert__kind="expired").count() == 1


def test_expiring_digest_once_a_day(bob, carol, hospital_a, stock):
    unit = stock(hospital_a, "A-", 1)[0]
    unit.expires_at = timezone.now() + timedelta(days=2)
    unit.save()
    services.expiring_digest()
    services.expiring_digest()
    assert inbox(bob, "expiring") == ["1 unit(s) expire within 3 days at Alpha General"]
    assert inbox(carol, "expiring") == []


def test_appointment_confirmation_and_one_reminder(committed, bob, hospital_a, donor):
    erin = donor("erin.a@donor.example", "A+", "North")
    start = timezone.now() + timedelta(hours=20)
    slot = donor_services.slot_create(
        hospital=hospital_a, starts_at=start, ends_at=start + timedelta(hours=2), capacity=3, by=bob
    )
    committed(lambda: donor_services.appointment_book(donor=erin, slot=slot))
    assert inbox(erin.user, "appointment") == ["Your donation appointment is booked"]
    assert services.appointment_reminders() == 1
    assert services.appointment_reminders() == 0
    assert inbox(erin.user, "appointment")[-1] == "Reminder: your donation appointment is tomorrow"


def test_a_delivery_is_sent_once_even_when_asked_twice(bob, hospital_a, stock, donor, committed):
    called = donor("sam@donor.example", "O-", "North", notify_by_sms=True)
    committed(
        lambda: bloodbank_services.request_create(hospital=hospital_a, blood_group="O-", units=1, urgency=4, by=bob)
    )
    deliveries = Delivery.objects.filter(notification__recipient=called.user)
    assert sorted(deliveries.values_list("channel", flat=True)) == ["email", "sms"]
    assert set(deliveries.values_list("status", flat=True)) == {"sent"}
    before = len(mail.outbox)
    for delivery in deliveries:
        assert services.delivery_send(delivery_id=delivery.pk) == "skipped"
    assert len(mail.outbox) == before
    email = next(m for m in mail.outbox if m.to == [called.user.email])
    assert email.extra_headers["X-HealthSync-Idempotency-Key"].startswith("healthsync-notification-")


def test_a_failed_send_is_retried_a_bounded_number_of_times(bob, hospital_a, donor, settings, committed):
    settings.HEALTHSYNC_SMS_BACKEND = "notifications.tests.test_who_hears_what.BrokenSms"
    called = donor("bea@donor.example", "O-", "North", notify_by_sms=True, notify_by_email=False)
    from config.celery import app

    app.conf.task_eager_propagates = False  # the inline task retries, then gives up
    committed(
        lambda: bloodbank_services.request_create(hospital=hospital_a, blood_group="O-", units=1, urgency=4, by=bob)
    )
    delivery = Delivery.objects.get(notification__recipient=called.user)
    assert delivery.status == "failed" and delivery.attempts == services.MAX_DELIVERY_ATTEMPTS
    assert "provider down" in delivery.last_error
    assert delivery.pk not in services.deliveries_due()


def test_a_send_that_fails_once_stays_due_for_the_sweep(bob, hospital_a, donor, settings):
    called = donor("ben@donor.example", "O-", "North", notify_by_sms=True, notify_by_email=False)
    settings.HEALTHSYNC_SMS_BACKEND = "notifications.tests.test_who_hears_what.BrokenSms"
    services.alert_raise(
        kind="urgent_request",
        title="Test call",
        body="b",
        severity="critical",
        event_key="test-call",
        audience=Q(pk=called.user_id),
        groups=[],
    )
    delivery = Delivery.objects.get(notification__recipient=called.user)
    with pytest.raises(ConnectionError):
        services.delivery_send(delivery_id=delivery.pk)
    delivery.refresh_from_db()
    assert delivery.status == "pending" and delivery.attempts == 1
    assert delivery.pk in services.deliveries_due()
    settings.HEALTHSYNC_SMS_BACKEND = "notifications.sms.LoggingSmsBackend"
    assert services.delivery_send(delivery_id=delivery.pk) == "sent"
    assert services.deliveries_due() == []


class BrokenSms:
    def send(self, *, to, body, idempotency_key):
        raise ConnectionError("provider down")


def _issued_platelets(hospital, stock, bob):
    """An issued unit of platelets (issued without a crossmatch)."""
    from bloodbank.models import Component

    stock(hospital, "AB+", 1, component=Component.PLATELETS)
    request = bloodbank_services.request_create(
        hospital=hospital, blood_group="AB+", units=1, urgency=3, component=Component.PLATELETS, by=bob
    )
    [allocation] = bloodbank_services.request_fulfil(request=request, by=bob)
    return bloodbank_services.allocation_issue(allocation=allocation, by=bob)


def test_a_suspected_transfusion_reaction_alerts_the_hospitals_staff_only(
    committed, alice, bob, carol, root, hospital_a, stock
):
    allocation = _issued_platelets(hospital_a, stock, bob)
    started = timezone.now() - timedelta(minutes=5)
    committed(
        lambda: bloodbank_services.allocation_transfuse(
            allocation=allocation,
            by=bob,
            started_at=started,
            reaction=True,
            note="Rigors and fever 39.1 C at 15 minutes",
        )
    )
    [title] = inbox(bob, "reaction")
    assert title.startswith("Suspected transfusion reaction: unit ") and "Alpha General" in title
    assert inbox(alice, "reaction") == [title]
    assert inbox(carol, "reaction") == [] and inbox(root, "reaction") == []
    alert = Alert.objects.get(kind="reaction")
    assert "Rigors and fever" in alert.body and alert.severity == "critical"


def test_a_transfusion_without_a_reaction_alerts_no_one(committed, bob, hospital_a, stock):
    allocation = _issued_platelets(hospital_a, stock, bob)
    committed(
        lambda: bloodbank_services.allocation_transfuse(
            allocation=allocation, by=bob, started_at=timezone.now() - timedelta(minutes=5)
        )
    )
    assert not Alert.objects.filter(kind="reaction").exists()
