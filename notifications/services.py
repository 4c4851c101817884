"""Who hears what, and delivery. Persist first, then push: every alert is a row before it is a message.

Handlers are called by tasks with plain ids; each is safe to run twice: an
alert is created once per event key, a notification once per alert and
recipient, a delivery once per notification and channel.
"""

import hashlib
import logging
from datetime import datetime, timedelta

from auditlog.models import LogEntry
from django.conf import settings
from django.core.mail import EmailMessage
from django.db import transaction
from django.db.models import F, Max, Q
from django.utils import timezone
from kombu.exceptions import OperationalError

from bloodbank import rules as bloodbank_rules
from bloodbank import selectors as bloodbank_selectors
from bloodbank.models import Allocation, AllocationStatus, BloodRequest, BloodUnit, Component, UnitStatus
from donors import selectors as donor_selectors
from donors.models import Appointment, AppointmentStatus
from healthsync import audit
from healthsync.models import Hospital, User
from imaging.models import ImageAnalysis
from lib.realtime import PLATFORM_GROUP, hospital_group, push, user_group

from . import rules, sms
from .models import Alert, Channel, Delivery, DeliveryStatus, Kind, Notification, Severity, ShortageState

logger = logging.getLogger(__name__)
MAX_DELIVERY_ATTEMPTS = 5
STALE_CLAIM = timedelta(minutes=10)


def _staff_of(hospital_ids) -> Q:
    return Q(memberships__hospital_id__in=list(hospital_ids))


def _platform_admins() -> Q:
    return Q(is_superuser=True)


def alert_raise(
    *,
    kind: str,
    title: str,
    body: str,
    severity: str,
    event_key: str,
    audience: Q,
    groups: list[str],
    link: str = "",
    hospital_id: int | None = None,
) -> Alert:
    """Record an alert once per ``event_key``, put it in each recipient's inbox, then push it and send it on.

    ``audience`` selects the recipients (users); ``groups`` are the socket groups those
    recipients' open sockets listen on. Returns the (possibly earlier) alert.
    """
    with transaction.atomic():
        alert, created = Alert.objects.get_or_create(
            event_key=event_key,
            defaults={
                "kind": kind,
                "title": title,
                "body": body,
                "severity": severity,
                "link": link,
                "hospital_id": hospital_id,
                "groups": groups,
            },
        )
        if not created:
            return alert
        recipients = list(User.objects.filter(audience, is_active=True).distinct().select_related("donor_profile"))
        # The alert is new (created in this transaction), so none of its inbox rows or deliveries exist
        # yet: they are inserted plainly and their ids come back with the insert, not from a second read.
        notifications = Notification.objects.bulk_create(
            [Notification(alert=alert, recipient=user) for user in recipients]
        )
        by_recipient = {notification.recipient_id: notification.pk for notification in notifications}
        deliveries = []
        for user in recipients:
            profile = getattr(user, "donor_profile", None) if user.is_donor else None
            for channel in rules.delivery_channels(
                kind=kind,
                severity=severity,
                is_donor=profile is not None,
                email=profile.notify_by_email if profile else True,
                sms=profile.notify_by_sms if profile else False,
            ):
                deliveries.append(Delivery(notification_id=by_recipient[user.pk], channel=channel))
        delivery_ids = [delivery.pk for delivery in Delivery.objects.bulk_create(deliveries)]
        transaction.on_commit(lambda: _after_commit(alert, groups, delivery_ids))
    return alert


def _after_commit(alert: Alert, groups: list[str], delivery_ids: list[int]) -> None:
    from .tasks import send_delivery

    message = alert.as_message()
    for group in groups:
        try:
            push(group, message)
        except Exception:  # the inbox row is safe; a client that reconnects replays it
            logger.exception("push of alert %s to %s failed", alert.pk, group)
    for delivery_id in delivery_ids:
        try:
            send_delivery.delay(delivery_id=delivery_id)
        except OperationalError:  # the broker is down: the row stays pending and the resend sweep sends it
            logger.warning("delivery %s not queued: the broker is unavailable", delivery_id)


def _staff_groups(hospital_ids, *, platform: bool = True) -> list[str]:
    return [hospital_group(pk) for pk in sorted(set(hospital_ids))] + ([PLATFORM_GROUP] if platform else [])


def _platform_admins_if(hospital: Hospital) -> Q:
    """Platform administrators hear a hospital's stock alerts once it is verified: a self-registered
    hospital cannot fill their inboxes (and, for critical alerts, their mailboxes)."""
    return _platform_admins() if hospital.is_verified else Q(pk__in=[])


# --- shortages ----------------------------------------------------------------------------


def inventory_level_changed(
    *, hospital_id: int, blood_group: str, component: str, level: str, available_units: int
) -> Alert | None:
    """A hospital's stock of a group and component reached ``level``: alert its staff and the verified
    network hospitals holding that group in adequate stock, once per level until stock recovers."""
    with transaction.atomic():
        state, _ = ShortageState.objects.get_or_create(
            hospital_id=hospital_id, blood_group=blood_group, component=component
        )
        state = ShortageState.objects.select_for_update().get(pk=state.pk)
        # Re-read the level inside the lock: events can arrive out of order.
        levels = bloodbank_selectors.network_levels(blood_group=blood_group, component=component)
        level = levels.get(hospital_id, level)
        alerted_level, raise_alert, recovered = rules.shortage_step(alerted_level=state.alerted_level, level=level)
        if recovered:
            state.episode += 1
        state.alerted_level = alerted_level
        state.save(update_fields=["alerted_level", "episode"])
        if not raise_alert:
            return None
        hospital = Hospital.objects.select_related("region").get(pk=hospital_id)
        helpers = (
            [pk for pk, theirs in levels.items() if theirs == bloodbank_rules.ADEQUATE and pk != hospital_id]
            if hospital.is_verified
            else []
        )
        component_label = Component(component).label.lower()
        return alert_raise(
            kind=Kind.SHORTAGE,
            title=f"{level.capitalize()} stock: {blood_group} {component_label} at {hospital.name}",
            body=(
                f"{available_units} unit(s) of {blood_group} {component_label} available at {hospital.name} "
                f"({hospital.region or 'no region'})."
            ),
            severity=Severity.CRITICAL if level == bloodbank_rules.CRITICAL else Severity.WARNING,
            event_key=f"shortage:{hospital_id}:{blood_group}:{component}:{state.episode}:{level}",
            audience=_staff_of([hospital_id, *helpers]) | _platform_admins_if(hospital),
            groups=_staff_groups([hospital_id, *helpers], platform=hospital.is_verified),
            link=f"/admin/bloodbank/bloodunit/?hospital__id__exact={hospital_id}&blood_group={blood_group}",
            hospital_id=hospital_id,
        )


# --- urgent requests --------------------------------------------------------------------------


def request_created(*, request_id: int) -> list[Alert]:
    """An urgent request (urgency 4-5): network staff with compatible stock, platform administrators and
    eligible donors who can help, when the hospital is verified and within its hourly number of urgent
    alerts (``HEALTHSYNC_URGENT_ALERTS_PER_HOUR``, ``rules.urgent_alert_reach``); else its own staff only."""
    request = BloodRequest.objects.select_related("hospital__region").get(pk=request_id)
    if request.urgency < rules.URGENT:
        return []
    hospital = request.hospital
    event_key = f"urgent-request:{request_id}"
    what = f"{request.units_requested} unit(s) of {request.blood_group} {request.get_component_display().lower()}"
    body = (
        f"{hospital.name} needs {what}"
        + (f" by {timezone.localtime(request.needed_by):%Y-%m-%d %H:%M}" if request.needed_by else "")
        + "."
    )
    with transaction.atomic():
        # One hospital's urgent requests are counted one at a time: two at once cannot both slip under the limit.
        list(Hospital.objects.select_for_update().filter(pk=hospital.pk).values_list("pk"))
        earlier = Alert.objects.filter(event_key=event_key).first()
        if earlier is not None:  # a retried task: the reach decided the first time stands
            reach = "network" if PLATFORM_GROUP in (earlier.groups or []) else "own_staff"
        else:
            reach = rules.urgent_alert_reach(
                hospital_verified=hospital.is_verified,
                network_alerts_last_hour=_urgent_alerts_to_network(hospital.pk),
                limit_per_hour=settings.HEALTHSYNC_URGENT_ALERTS_PER_HOUR,
            )
        if reach == "network":
            holders = [row["hospital_id"] for row in bloodbank_selectors.network_stock_for(request=request)]
            audience, groups = (
                _staff_of([hospital.pk, *holders]) | _platform_admins(),
                _staff_groups([hospital.pk, *holders]),
            )
        else:
            audience, groups = _staff_of([hospital.pk]), [hospital_group(hospital.pk)]
            if hospital.is_verified:
                body += (
                    f" Not sent to the network: {hospital.name} has raised "
                    f"{settings.HEALTHSYNC_URGENT_ALERTS_PER_HOUR} network-wide urgent alerts within the hour. "
                    "Contact the other blood banks directly."
                )
        alerts = [
            alert_raise(
                kind=Kind.URGENT_REQUEST,
                title=(
                    f"{'Emergency' if request.urgency == rules.EMERGENCY else 'Urgent'} request: "
                    f"{what} at {hospital.name}"
                ),
                body=body,
                severity=Severity.CRITICAL,
                event_key=event_key,
                audience=audience,
                groups=groups,
                link=f"/admin/bloodbank/network/requests/{request_id}/",
                hospital_id=hospital.pk,  # the network view (its own staff go on to the request)
            )
        ]
    if reach == "network":
        donors_alert = _call_donors(request=request)
        if donors_alert is not None:
            alerts.append(donors_alert)
    return alerts


def _urgent_alerts_to_network(hospital_id: int) -> int:
    """The hospital's urgent-request alerts of the last hour that went beyond its own staff (those pushed
    to the platform group; donor calls are counted with their request's alert, not on their own)."""
    since = timezone.now() - rules.URGENT_ALERT_WINDOW
    pushed_to = (
        Alert.objects.filter(kind=Kind.URGENT_REQUEST, hospital_id=hospital_id, created__gte=since)
        .exclude(event_key__endswith=":donors")
        .values_list("groups", flat=True)
    )
    return sum(1 for groups in pushed_to if PLATFORM_GROUP in (groups or []))


def _call_donors(*, request: BloodRequest) -> Alert | None:
    """Call the eligible, compatible, opted-in donors of the hospital's region (matched by the region's id).
    A hospital without a region calls no donors; its network hears its request all the same."""
    if not request.hospital.is_verified or request.hospital.region_id is None:
        return None
    emergency = request.urgency == rules.EMERGENCY
    groups = [
        str(g)
        for g in bloodbank_rules.donor_preference(
            component=request.component, recipient_group=request.blood_group, emergency=emergency
        )
    ]
    now = timezone.now()
    with transaction.atomic():
        candidates = donor_selectors.donors_eligible_now(blood_groups=groups, region_id=request.hospital.region_id)
        if not candidates:
            return None
        # Lock the candidates' accounts so two urgent requests never both call one donor within the day.
        list(
            User.objects.select_for_update()
            .filter(pk__in=[d.user_id for d in candidates])
            .order_by("pk")
            .values_list("pk")
        )
        last_called = dict(
            Notification.objects.filter(
                recipient_id__in=[d.user_id for d in candidates], alert__kind=Kind.URGENT_REQUEST
            )
            .values_list("recipient_id")
            .annotate(last=Max("alert__created"))
        )
        now_local = timezone.localtime(now).time()
        callable_ids = [
            donor.user_id
            for donor in candidates
            if rules.donor_may_be_called(
                urgency=request.urgency,
                now=now,
                last_urgent_alert_at=last_called.get(donor.user_id),
                quiet_start=donor.quiet_hours_start,
                quiet_end=donor.quiet_hours_end,
                now_local=now_local,
            )
        ]
        if not callable_ids:
            return None
        return alert_raise(
            kind=Kind.URGENT_REQUEST,
            title=f"{request.hospital.name} urgently needs blood donors",
            body=(
                f"{request.hospital.name} ({request.hospital.region}) has an urgent need your blood group can meet. "
                "If you can, book a donation today."
            ),
            severity=Severity.CRITICAL,
            event_key=f"urgent-request:{request.pk}:donors",
            audience=Q(pk__in=callable_ids),
            groups=[user_group(pk) for pk in callable_ids],
            link=f"/donor/book/?hospital={request.hospital_id}",
            hospital_id=request.hospital_id,
        )


# --- expiry -------------------------------------------------------------------------------------


def units_expired(*, hospital_id: int, unit_ids: list[int]) -> Alert:
    hospital = Hospital.objects.get(pk=hospital_id)
    digest = hashlib.sha256(",".join(map(str, sorted(unit_ids))).encode()).hexdigest()[:16]
    return alert_raise(
        kind=Kind.EXPIRED,
        title=f"{len(unit_ids)} unit(s) expired",
        body="The expiry sweep marked these units expired; they can no longer be reserved or issued.",
        severity=Severity.WARNING,
        event_key=f"expired:{hospital_id}:{digest}",
        audience=_staff_of([hospital_id]) | _platform_admins_if(hospital),
        groups=_staff_groups([hospital_id], platform=hospital.is_verified),
        link=f"/admin/bloodbank/bloodunit/?hospital__id__exact={hospital_id}&status__exact=expired",
        hospital_id=hospital_id,
    )


def transfusion_reaction(*, allocation_id: int) -> Alert:
    """A transfusion recorded with a suspected reaction: the hospital's staff hear at once, so the
    blood bank can investigate (the recipient's sample, the rest of the donation's components)."""
    allocation = Allocation.objects.select_related("unit", "request__hospital").get(pk=allocation_id)
    hospital = allocation.request.hospital
    return alert_raise(
        kind=Kind.TRANSFUSION_REACTION,
        title=f"Suspected transfusion reaction: unit {allocation.unit.din_display} at {hospital.name}",
        body=(
            f"{allocation.unit.get_component_display()} {allocation.unit.blood_group}, request "
            f"{allocation.request_id}, "
            f"transfusion started {timezone.localtime(allocation.transfusion_started_at):%Y-%m-%d %H:%M}. "
            f"What was seen: {allocation.transfusion_note}"
        ),
        severity=Severity.CRITICAL,
        event_key=f"reaction:{allocation_id}",
        audience=_staff_of([hospital.pk]),  # clinical detail: the hospital's own staff, not platform administrators
        groups=[hospital_group(hospital.pk)],
        link=f"/admin/bloodbank/allocation/{allocation_id}/change/",
        hospital_id=hospital.pk,
    )


def units_recalled(*, hospital_id: int, din: str, unit_ids: list[int], marker: str) -> Alert:
    """A donation tested positive after some of its units left the blood bank: the staff of the
    hospital holding them recall the issued ones (returned, they are discarded) and tell the
    clinicians of the patients who were transfused (look-back)."""
    units = list(BloodUnit.objects.filter(pk__in=unit_ids).prefetch_related("allocations").order_by("pk"))
    lines = []
    for unit in units:
        requests = sorted(
            {
                allocation.request_id
                for allocation in unit.allocations.all()
                if allocation.status in (AllocationStatus.ISSUED, AllocationStatus.TRANSFUSED)
            }
        )
        where = f" (request {', '.join(map(str, requests))})" if requests else ""
        action = (
            "transfused: tell the recipient's clinician"
            if unit.status == UnitStatus.TRANSFUSED
            else "issued: return it now"
        )
        lines.append(f"{unit.get_component_display()} {unit.blood_group}{where}, {action}.")
    shown = bloodbank_rules.display_din(din)
    return alert_raise(
        kind=Kind.RECALL,
        title=f"Recall: donation {shown} tested {marker} positive",
        body=f"Units of donation {shown} that left the blood bank:\n" + "\n".join(lines),
        severity=Severity.CRITICAL,
        event_key=f"recall:{din}:{marker.lower()}:{hospital_id}",
        audience=_staff_of([hospital_id]),  # patients' treatment: the hospital's own staff
        groups=[hospital_group(hospital_id)],
        link=f"/admin/bloodbank/bloodunit/?q={din}",
        hospital_id=hospital_id,
    )


def expiring_digest(*, days: int = 3) -> list[Alert]:
    """One digest a day per hospital of the units expiring within ``days`` days."""
    today = timezone.localdate()
    alerts = []
    for hospital in Hospital.objects.all():
        units = list(bloodbank_selectors.units_expiring(hospitals=Hospital.objects.filter(pk=hospital.pk), days=days))
        if not units:
            continue
        lines = [
            f"{unit.din_display} {unit.get_component_display()} {unit.blood_group}, expires "
            f"{timezone.localtime(unit.expires_at):%Y-%m-%d %H:%M}"
            for unit in units[:50]
        ]
        alerts.append(
            alert_raise(
                kind=Kind.EXPIRING,
                title=f"{len(units)} unit(s) expire within {days} days at {hospital.name}",
                body="\n".join(lines) + ("\n…" if len(units) > 50 else ""),
                severity=Severity.INFO,
                event_key=f"expiring:{hospital.pk}:{today.isoformat()}",
                audience=_staff_of([hospital.pk]),
                groups=[hospital_group(hospital.pk)],
                link=f"/admin/bloodbank/bloodunit/?hospital__id__exact={hospital.pk}&expiring={days}",
                hospital_id=hospital.pk,
            )
        )
    return alerts


# --- appointments -----------------------------------------------------------------------------------


def _appointment_alert(appointment: Appointment, *, key: str, title: str) -> Alert:
    slot = appointment.slot
    when = timezone.localtime(slot.starts_at)
    return alert_raise(
        kind=Kind.APPOINTMENT,
        title=title,
        body=f"{slot.get_donation_type_display()} donation at {slot.hospital.name}, {when:%A %d %B %Y at %H:%M}.",
        severity=Severity.INFO,
        event_key=key,
        audience=Q(pk=appointment.donor.user_id),
        groups=[user_group(appointment.donor.user_id)],
        link="/donor/appointments/",
        hospital_id=slot.hospital_id,
    )


def appointment_booked(*, appointment_id: int) -> Alert:
    appointment = Appointment.objects.select_related("slot__hospital", "donor").get(pk=appointment_id)
    return _appointment_alert(
        appointment, key=f"appointment-booked:{appointment_id}", title="Your donation appointment is booked"
    )


def appointment_reminders(*, now: datetime | None = None) -> int:
    """Remind donors of appointments starting within 24 hours (once each; run hourly by beat)."""
    now = now or timezone.now()
    due = Appointment.objects.filter(
        status=AppointmentStatus.BOOKED, slot__starts_at__gt=now, slot__starts_at__lte=now + timedelta(hours=24)
    ).select_related("slot__hospital", "donor")
    sent = 0
    for appointment in due:
        key = f"appointment-reminder:{appointment.pk}"
        if not Alert.objects.filter(event_key=key).exists():
            _appointment_alert(appointment, key=key, title="Reminder: your donation appointment is tomorrow")
            sent += 1
    return sent


# --- analyses -----------------------------------------------------------------------------------


def analyses_finished(*, analysis_ids: list[int]) -> list[Alert]:
    """Tell each requester that their analyses finished: one inbox message for one analysis, one
    summary for a batch (a person wants one message for the 32 images they sent together)."""
    finished = ImageAnalysis.objects.filter(
        pk__in=analysis_ids, status__in=("done", "failed"), requested_by__isnull=False
    )
    # Only what the messages say: the rows' other columns (a model's card, a study's metadata and encrypted
    # identifiers) took most of this task's time, which a worker spends just as the next batch arrives.
    finished = finished.select_related("model").only(
        "status",
        "predictions",
        "predicted_class",
        "failure_reason",
        "requested_by",
        "hospital",
        "batch",
        "model__name",
        "model__version",
        "model__is_active",
    )
    by_requester: dict[int, list[ImageAnalysis]] = {}
    for analysis in finished.order_by("pk"):
        if analysis.requested_by_id is not None:  # always (the query asks for a requester)
            by_requester.setdefault(analysis.requested_by_id, []).append(analysis)
    return [
        _analysis_alert(mine[0], requester=requester) if len(mine) == 1 else _batch_alert(mine, requester=requester)
        for requester, mine in by_requester.items()
    ]


def _analysis_alert(analysis: ImageAnalysis, *, requester: int) -> Alert:
    if analysis.status == "done":
        top = analysis.predictions[0] if analysis.predictions else {"class": analysis.predicted_class, "probability": 0}
        title = f"Analysis {analysis.pk} done: {analysis.predicted_class}"
        # Not the file's name: it often names the patient, and messages travel by e-mail.
        body = (
            f"Image {analysis.pk} with {analysis.model}: {top['class']} {top['probability']:.0%}. "
            "Results support, not replace, a clinician's reading."
        )
        severity = Severity.INFO
    else:
        title, body, severity = (
            f"Analysis {analysis.pk} failed",
            analysis.failure_reason or "The image could not be analysed.",
            Severity.WARNING,
        )
    return alert_raise(
        kind=Kind.ANALYSIS,
        title=title,
        body=body,
        severity=severity,
        event_key=f"analysis:{analysis.pk}:{analysis.status}",
        audience=Q(pk=requester),
        groups=[user_group(requester)],
        link=f"/admin/imaging/imageanalysis/{analysis.pk}/change/",
        hospital_id=analysis.hospital_id,
    )


def _batch_alert(analyses: list[ImageAnalysis], *, requester: int) -> Alert:
    first = analyses[0]
    done = [analysis for analysis in analyses if analysis.status == "done"]
    failed = len(analyses) - len(done)
    findings: dict[str, int] = {}
    for analysis in done:
        findings[analysis.predicted_class] = findings.get(analysis.predicted_class, 0) + 1
    title = f"{len(analyses)} analyses finished: {len(done)} done" + (f", {failed} failed" if failed else "")
    summary = ", ".join(f"{label} {count}" for label, count in sorted(findings.items(), key=lambda item: -item[1]))
    body = (
        (f"{summary or 'No findings'} with {first.model}. " if done else "")
        + (f"{failed} could not be analysed. " if failed else "")
        + "Results support, not replace, a clinician's reading."
    )
    ids = hashlib.sha256(",".join(str(analysis.pk) for analysis in analyses).encode()).hexdigest()[:16]
    return alert_raise(
        kind=Kind.ANALYSIS,
        title=title,
        body=body,
        severity=Severity.WARNING if failed else Severity.INFO,
        event_key=f"analyses:{first.batch}:{ids}",
        audience=Q(pk=requester),
        groups=[user_group(requester)],
        link=f"/admin/imaging/imageanalysis/?batch={first.batch}",
        hospital_id=first.hospital_id,
    )


# --- inbox ------------------------------------------------------------------------------------------


def notifications_mark_read(*, user: User, ids: list[int] | None = None) -> int:
    inbox = Notification.objects.filter(recipient=user, read_at__isnull=True)
    if ids is not None:
        inbox = inbox.filter(pk__in=ids)
    return inbox.update(read_at=timezone.now())


# --- delivery -------------------------------------------------------------------------------------


def delivery_send(*, delivery_id: int) -> str:
    """Send one email or SMS at least once. A conditional update claims it, so two workers never both send;
    a claim older than ``STALE_CLAIM`` (its worker died) may be taken over. The notification id travels
    as the idempotency key, so a provider can drop a repeat."""
    now = timezone.now()
    claimed = Delivery.objects.filter(
        Q(status=DeliveryStatus.PENDING) | Q(status=DeliveryStatus.SENDING, claimed_at__lt=now - STALE_CLAIM),
        pk=delivery_id,
    ).update(status=DeliveryStatus.SENDING, claimed_at=now, attempts=F("attempts") + 1)
    if claimed != 1:
        return "skipped"
    delivery = Delivery.objects.select_related("notification__alert", "notification__recipient").get(pk=delivery_id)
    notification = delivery.notification
    key = f"healthsync-notification-{notification.pk}"
    try:
        if delivery.channel == Channel.EMAIL:
            EmailMessage(
                subject=notification.alert.title,
                body=f"{notification.alert.body}\n\n{notification.alert.link}".strip(),
                to=[notification.recipient.email],
                headers={"X-HealthSync-Idempotency-Key": key, "Message-ID": f"<{key}@healthsync>"},
            ).send()
        else:
            profile = notification.recipient.donor_profile
            sms.backend().send(
                to=profile.contact_number or "",
                body=f"{notification.alert.title}. {notification.alert.link}",
                idempotency_key=key,
            )
    except Exception as exc:  # a provider failure: try again later, up to a bound
        failed = delivery.attempts >= MAX_DELIVERY_ATTEMPTS
        Delivery.objects.filter(pk=delivery_id).update(
            status=DeliveryStatus.FAILED if failed else DeliveryStatus.PENDING, last_error=str(exc)[:2000]
        )
        raise
    Delivery.objects.filter(pk=delivery_id).update(status=DeliveryStatus.SENT, sent_at=timezone.now(), last_error="")
    audit.record(
        [delivery],
        action=LogEntry.Action.UPDATE,
        changes=lambda _: {
            "status": [DeliveryStatus.SENDING, DeliveryStatus.SENT],
            "channel": [None, delivery.channel],
            "recipient": [None, str(notification.recipient_id)],
            "alert": [None, f"{notification.alert_id}: {notification.alert.title}"],
        },
    )  # written with update(), which django-auditlog does not see
    return "sent"


def deliveries_due() -> list[int]:
    """Deliveries to (re)send: pending ones, and claims whose worker died."""
    now = timezone.now()
    return list(
        Delivery.objects.filter(
            Q(status=DeliveryStatus.PENDING) | Q(status=DeliveryStatus.SENDING, claimed_at__lt=now - STALE_CLAIM)
        ).values_list("pk", flat=True)[:1000]
    )
