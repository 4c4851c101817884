"""Units: DINs, receiving and recording bags, release from quarantine, discard, the expiry sweep."""

from datetime import date, datetime, time, timedelta
from typing import cast

from django.db import IntegrityError, transaction
from django.utils import timezone

from healthsync.errors import Conflict, DomainError
from healthsync.models import Hospital

from .. import events, parameters, rules
from ..models import (
    Allocation,
    AllocationStatus,
    BloodRequest,
    BloodUnit,
    Component,
    DinSequence,
    UnitStatus,
)
from .levels import _publish_levels
from .moves import _move, _record, _refresh_request_status, _stock_problems


def blood_group_or_refusal(value: str) -> str:
    """``value`` as one of the 8 groups (``A+``...), else a refusal naming ``blood_group``."""
    try:
        return str(rules.BloodGroup.parse(value))
    except ValueError as exc:
        raise DomainError(str(exc), fields={"blood_group": [str(exc)]}) from exc


def _local_tz():
    return timezone.get_default_timezone()


def din_next(*, hospital: Hospital, year: int | None = None) -> str:
    """The hospital's next DIN for ``year`` (FIN + 2-digit year + 6-digit yearly sequence).

    Call inside a transaction."""
    year = (year or timezone.localdate().year) % 100
    sequence, _ = DinSequence.objects.select_for_update().get_or_create(hospital=hospital, year=year)
    sequence.last_sequence += 1
    if sequence.last_sequence > 999_999:
        raise Conflict("This hospital has used every DIN sequence number for the year.", code="din_exhausted")
    sequence.save(update_fields=["last_sequence"])
    return rules.format_din(fin=hospital.fin, year=year, sequence=sequence.last_sequence)


def _dating_anticoagulant(anticoagulant: str) -> str | None:
    try:
        return rules.dating_anticoagulant(anticoagulant)
    except ValueError as exc:
        raise DomainError(str(exc), fields={"anticoagulant": [str(exc)]}) from exc


def _check_collected_at(collected_at: datetime) -> None:
    if timezone.is_naive(collected_at):
        raise DomainError(
            "The collection time needs a time zone.", fields={"collected_at": ["Give a time zone offset."]}
        )
    if collected_at > timezone.now():
        raise DomainError(
            "The collection time is in the future.", fields={"collected_at": ["Must not be in the future."]}
        )


def _expiry_from_collection(*, component: str, collected_at: datetime, anticoagulant: str | None) -> datetime:
    """The end of a bag's last day of use, counted from its collection (21 CFR 610.53)."""
    try:
        return rules.expires_at(
            component=component, collected_at=collected_at, tz=_local_tz(), anticoagulant=anticoagulant
        )
    except ValueError as exc:
        raise DomainError(str(exc), fields={"anticoagulant": [str(exc)]}) from exc


def unit_create(
    *,
    hospital: Hospital,
    component: str,
    blood_group: str,
    by,
    status: str = UnitStatus.QUARANTINED,
    volume_ml: int | None = None,
    collected_at: datetime | None = None,
    expires_at: datetime | None = None,
    din: str | None = None,
    anticoagulant: str = "",
    product_code: str = "",
    reason: str = "",
    publish: bool = True,
) -> BloodUnit:
    """Record one bag. Its expiry comes from the component's dating (21 CFR 610.53) unless given.

    The dating counts from ``collected_at``; it defaults to now only for a bag
    collected here and now (a donation recorded in this system). Bags received
    from elsewhere go through :func:`units_receive`, which needs their expiry
    or collection time. ``anticoagulant`` is one of ``rules.ANTICOAGULANTS``
    (AS-1/AS-3/AS-5 are additive solutions: 42-day red cells).
    ``publish=False`` leaves the level event to a caller that creates many units at once.
    """
    if component not in Component.values:
        raise DomainError(
            f"Unknown component {component!r}.", fields={"component": [f"Choose one of {', '.join(Component.values)}."]}
        )
    group = blood_group_or_refusal(blood_group)
    volume_ml = volume_ml if volume_ml is not None else parameters.standard_volumes()[component]
    if volume_ml <= 0:
        raise DomainError("Volume must be a positive number of ml.", fields={"volume_ml": ["Must be positive."]})
    dating_anticoagulant = _dating_anticoagulant(anticoagulant)
    collected_at = collected_at or timezone.now()
    _check_collected_at(collected_at)
    if expires_at is None:
        expires_at = _expiry_from_collection(
            component=component, collected_at=collected_at, anticoagulant=dating_anticoagulant
        )
    if expires_at <= timezone.now():
        raise DomainError("The unit is already expired.", fields={"expires_at": ["Must be in the future."]})
    with transaction.atomic():
        if din:
            try:
                din = rules.parse_din(din)
            except ValueError as exc:
                raise DomainError(str(exc), fields={"din": [str(exc)]}) from exc
        else:
            din = din_next(hospital=hospital, year=timezone.localtime(collected_at).year)
        try:
            with transaction.atomic():
                unit = BloodUnit.objects.create(
                    hospital=hospital,
                    din=din,
                    component=component,
                    blood_group=group,
                    volume_ml=volume_ml,
                    collected_at=collected_at,
                    expires_at=expires_at,
                    status=status,
                    anticoagulant=anticoagulant,
                    product_code=product_code,
                )
        except IntegrityError as exc:
            raise Conflict(
                f"A {component.replace('_', ' ')} unit with DIN {rules.display_din(din)} already exists.",
                code="duplicate_unit",
                fields={"din": ["One DIN identifies one bag per component."]},
            ) from exc
        _record(unit, from_status="", by=by, reason=reason or "Received into stock")
        if publish:
            _publish_levels(hospital.pk, [(group, component)])
    return unit


def units_receive(
    *,
    hospital: Hospital,
    blood_group: str,
    by,
    component: str = Component.RED_CELLS,
    volume_ml: int | None = None,
    count: int = 1,
    expiry_date: date | None = None,
    collected_at: datetime | None = None,
    anticoagulant: str = "",
    din: str | None = None,
) -> list[BloodUnit]:
    """Receive ``count`` tested bags into available stock (the seed's "inventory add").

    A bag is dated from its collection (21 CFR 610.53), not from its arrival:
    give the label's ``expiry_date`` or the ``collected_at`` it is dated from.
    """
    if count < 1 or count > 500:
        raise DomainError("Units must be between 1 and 500.", fields={"units": ["Must be between 1 and 500."]})
    if din and count > 1:
        raise DomainError(
            "One DIN identifies one bag per component; give no DIN to add several bags.",
            fields={"din": ["Only with units=1."]},
        )
    if expiry_date is None and collected_at is None:
        message = (
            "Give the unit's expiry_date or its collected_at: a unit is dated from its collection, not its receipt."
        )
        raise DomainError(
            message,
            fields={
                "expiry_date": ["Give expiry_date or collected_at."],
                "collected_at": ["Give collected_at or expiry_date."],
            },
        )
    if collected_at is not None:
        _check_collected_at(collected_at)
    expires_at = None
    if expiry_date is not None:
        today = timezone.localdate()
        if expiry_date < today:
            raise DomainError("The expiry date is in the past.", fields={"expiry_date": ["Must not be in the past."]})
        collected_on = timezone.localtime(collected_at).date() if collected_at is not None else today
        try:
            latest = rules.latest_last_day_of_use(component=component, received_on=collected_on)
        except ValueError as exc:
            raise DomainError(str(exc), fields={"component": [str(exc)]}) from exc
        if expiry_date > latest:
            when = "collected then" if collected_at is not None else "received today"
            message = (
                f"A {component.replace('_', ' ')} unit {when} expires by {latest.isoformat()} "
                "at the latest (21 CFR 610.53)."
            )
            raise DomainError(message, fields={"expiry_date": [message]})
        expires_at = datetime.combine(expiry_date + timedelta(days=1), time(0), tzinfo=_local_tz())
    else:
        # Without an expiry_date there is a collected_at: neither at all is refused above.
        collected = cast(datetime, collected_at)
        expires_at = _expiry_from_collection(
            component=component, collected_at=collected, anticoagulant=_dating_anticoagulant(anticoagulant)
        )
        if expires_at <= timezone.now():
            message = f"A {component.replace('_', ' ')} unit collected then is already expired (21 CFR 610.53)."
            raise DomainError(message, fields={"collected_at": [message]})
    with transaction.atomic():
        units = [
            unit_create(
                hospital=hospital,
                component=component,
                blood_group=blood_group,
                by=by,
                status=UnitStatus.AVAILABLE,
                volume_ml=volume_ml,
                collected_at=collected_at,
                expires_at=expires_at,
                anticoagulant=anticoagulant,
                din=din,
                publish=False,
            )
            for _ in range(count)
        ]
        _publish_levels(hospital.pk, [(units[0].blood_group, component)])
    return units


def unit_release(*, unit: BloodUnit, by) -> BloodUnit:
    """Release a quarantined unit into available stock, once every registered check passes."""
    problems = _stock_problems(unit)
    if problems:
        raise Conflict(
            "The unit cannot leave quarantine: " + " ".join(problems),
            code="release_refused",
            details={"problems": problems},
        )
    with transaction.atomic():
        _move(unit, to_status=UnitStatus.AVAILABLE, by=by, reason="Released from quarantine")
        _publish_levels(unit.hospital_id, [(unit.blood_group, unit.component)])
    return unit


def unit_discard(*, unit: BloodUnit, by, reason: str) -> BloodUnit:
    """Discard a unit; the reason and who discarded it are recorded (21 CFR 606.160(b)(3)(i), records
    of the unit's disposition)."""
    if not (reason or "").strip():
        raise DomainError("Discarding a unit needs a reason.", fields={"reason": ["Required."]})
    with transaction.atomic():
        unit = BloodUnit.objects.select_for_update().get(pk=unit.pk)
        # An issued unit's fate is the ward's to record: transfused, or returned (and discarded there).
        if unit.status == UnitStatus.ISSUED:
            raise Conflict(
                f"Unit {unit.din_display} is issued to a patient: record it transfused, or returned "
                "(a returned unit that may not go back to stock is discarded with the reason).",
                code="unit_issued",
            )
        reservations = Allocation.objects.filter(unit=unit, status=AllocationStatus.RESERVED)
        request_ids = set(reservations.values_list("request_id", flat=True))
        reservations.update(status=AllocationStatus.CANCELLED)
        _move(unit, to_status=UnitStatus.DISCARDED, by=by, reason=reason.strip())
        # The patient no longer has this unit: the request is short again.
        for blood_request in BloodRequest.objects.select_for_update().filter(pk__in=request_ids):
            _refresh_request_status(blood_request)
        _publish_levels(unit.hospital_id, [(unit.blood_group, unit.component)])
    return unit


def units_expire_due(*, now: datetime | None = None, batch_size: int = 500) -> int:
    """Mark every unit past its expiry as expired (the periodic sweep). Safe to run twice."""
    now = now or timezone.now()
    live = [UnitStatus.QUARANTINED, UnitStatus.AVAILABLE, UnitStatus.RESERVED]
    expired_total = 0
    while True:
        with transaction.atomic():
            due = list(
                BloodUnit.objects.select_for_update(skip_locked=True)
                .filter(status__in=live, expires_at__lte=now)
                .order_by("expires_at")[:batch_size]
            )
            if not due:
                return expired_total
            touched = set()
            for unit in due:
                Allocation.objects.filter(unit=unit, status=AllocationStatus.RESERVED).update(
                    status=AllocationStatus.CANCELLED
                )
                _move(unit, to_status=UnitStatus.EXPIRED, by=None, reason="Past its expiry date (periodic sweep)")
                touched.add((unit.hospital_id, unit.blood_group, unit.component))
            for request_id in {a.request_id for a in Allocation.objects.filter(unit__in=due)}:
                _refresh_request_status(BloodRequest.objects.select_for_update().get(pk=request_id))
            by_hospital: dict[int, list] = {}
            for hospital_id, group, component in touched:
                by_hospital.setdefault(hospital_id, []).append((group, component))
            for hospital_id, keys in by_hospital.items():
                events.publish(
                    events.units_expired,
                    hospital_id=hospital_id,
                    unit_ids=[u.pk for u in due if u.hospital_id == hospital_id],
                )
                _publish_levels(hospital_id, keys)
            expired_total += len(due)
