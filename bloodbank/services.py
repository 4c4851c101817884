"""Writes of the blood bank. Each public service is one transaction.

Allocation is atomic and exactly-once: candidate units are locked
(``SELECT … FOR UPDATE SKIP LOCKED`` on PostgreSQL; the embedded SQLite runs
every transaction as ``BEGIN IMMEDIATE``, so writers queue), each status change
is a conditional update that refuses a unit someone else already moved, and a
partial unique index allows one live allocation per unit.
"""

from collections.abc import Callable, Iterable
from datetime import date, datetime, time, timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone

from healthsync.errors import Conflict, DomainError, Forbidden
from healthsync.models import Hospital
from healthsync.permissions import ACT, can

from . import events, parameters, rules, selectors
from .models import (
    Allocation,
    AllocationStatus,
    BloodRequest,
    BloodRequestStatus,
    BloodUnit,
    Component,
    CrossmatchMethod,
    DinSequence,
    ParLevel,
    Transfer,
    TransferStatus,
    UnitEvent,
    UnitStatus,
)

# --- rule parameters --------------------------------------------


def units_for(*, component: str, units: int | None = None, volume_ml: int | None = None) -> int:
    """The number of bags a request asks for: ``units``, or ceil(ml / the component's standard volume)."""
    if units is not None:
        if units < 1:
            raise DomainError("Units must be at least 1.", fields={"units": ["Must be at least 1."]})
        return units
    if volume_ml is None:
        raise DomainError("Give units or volume_ml.", fields={"units": ["Give units or volume_ml."]})
    try:
        return rules.units_for_volume(component=component, ml=volume_ml, standard_volume_ml=parameters.standard_volumes())
    except ValueError as exc:
        raise DomainError(str(exc), fields={"volume_ml": [str(exc)]}) from exc


def blood_group_or_refusal(value: str) -> str:
    """``value`` as one of the 8 groups (``A+``...), else a refusal naming ``blood_group``."""
    try:
        return str(rules.BloodGroup.parse(value))
    except ValueError as exc:
        raise DomainError(str(exc), fields={"blood_group": [str(exc)]}) from exc


def _local_tz():
    return timezone.get_default_timezone()


# --- units -------------------------------------------------------------------------


def din_next(*, hospital: Hospital, year: int | None = None) -> str:
    """The hospital's next DIN for ``year`` (FIN + 2-digit year + 6-digit yearly sequence). Call inside a transaction."""
    year = (year or timezone.localdate().year) % 100
    sequence, _ = DinSequence.objects.select_for_update().get_or_create(hospital=hospital, year=year)
    sequence.last_sequence += 1
    if sequence.last_sequence > 999_999:
        raise Conflict("This hospital has used every DIN sequence number for the year.", code="din_exhausted")
    sequence.save(update_fields=["last_sequence"])
    return rules.format_din(fin=hospital.fin, year=year, sequence=sequence.last_sequence)


def _record(unit: BloodUnit, *, from_status: str, by, reason: str = "", request=None, transfer=None) -> None:
    UnitEvent.objects.create(
        unit=unit, from_status=from_status, to_status=unit.status, hospital_id=unit.hospital_id,
        by=by, reason=reason, request=request, transfer=transfer,
    )


def _dating_anticoagulant(anticoagulant: str) -> str | None:
    try:
        return rules.dating_anticoagulant(anticoagulant)
    except ValueError as exc:
        raise DomainError(str(exc), fields={"anticoagulant": [str(exc)]}) from exc


def _check_collected_at(collected_at: datetime) -> None:
    if timezone.is_naive(collected_at):
        raise DomainError("The collection time needs a time zone.", fields={"collected_at": ["Give a time zone offset."]})
    if collected_at > timezone.now():
        raise DomainError("The collection time is in the future.", fields={"collected_at": ["Must not be in the future."]})


def _expiry_from_collection(*, component: str, collected_at: datetime, anticoagulant: str | None) -> datetime:
    """The end of a bag's last day of use, counted from its collection (21 CFR 610.53)."""
    try:
        return rules.expires_at(component=component, collected_at=collected_at, tz=_local_tz(), anticoagulant=anticoagulant)
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
        raise DomainError(f"Unknown component {component!r}.", fields={"component": [f"Choose one of {', '.join(Component.values)}."]})
    group = blood_group_or_refusal(blood_group)
    volume_ml = volume_ml if volume_ml is not None else parameters.standard_volumes()[component]
    if volume_ml <= 0:
        raise DomainError("Volume must be a positive number of ml.", fields={"volume_ml": ["Must be positive."]})
    dating_anticoagulant = _dating_anticoagulant(anticoagulant)
    collected_at = collected_at or timezone.now()
    _check_collected_at(collected_at)
    if expires_at is None:
        expires_at = _expiry_from_collection(component=component, collected_at=collected_at, anticoagulant=dating_anticoagulant)
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
                    hospital=hospital, din=din, component=component, blood_group=group, volume_ml=volume_ml,
                    collected_at=collected_at, expires_at=expires_at, status=status, anticoagulant=anticoagulant,
                    product_code=product_code,
                )
        except IntegrityError as exc:
            raise Conflict(
                f"A {component.replace('_', ' ')} unit with DIN {rules.display_din(din)} already exists.",
                code="duplicate_unit", fields={"din": ["One DIN identifies one bag per component."]},
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
        raise DomainError("One DIN identifies one bag per component; give no DIN to add several bags.", fields={"din": ["Only with units=1."]})
    if expiry_date is None and collected_at is None:
        message = "Give the unit's expiry_date or its collected_at: a unit is dated from its collection, not its receipt."
        raise DomainError(message, fields={"expiry_date": ["Give expiry_date or collected_at."], "collected_at": ["Give collected_at or expiry_date."]})
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
            message = f"A {component.replace('_', ' ')} unit {when} expires by {latest.isoformat()} at the latest (21 CFR 610.53)."
            raise DomainError(message, fields={"expiry_date": [message]})
        expires_at = datetime.combine(expiry_date + timedelta(days=1), time(0), tzinfo=_local_tz())
    else:
        expires_at = _expiry_from_collection(component=component, collected_at=collected_at, anticoagulant=_dating_anticoagulant(anticoagulant))
        if expires_at <= timezone.now():
            message = f"A {component.replace('_', ' ')} unit collected then is already expired (21 CFR 610.53)."
            raise DomainError(message, fields={"collected_at": [message]})
    with transaction.atomic():
        units = [
            unit_create(
                hospital=hospital, component=component, blood_group=blood_group, by=by, status=UnitStatus.AVAILABLE,
                volume_ml=volume_ml, collected_at=collected_at, expires_at=expires_at, anticoagulant=anticoagulant,
                din=din, publish=False,
            )
            for _ in range(count)
        ]
        _publish_levels(hospital.pk, [(units[0].blood_group, component)])
    return units


def _move_many(
    units: list[BloodUnit], *, to_status: str, by, reason: str = "", request=None, transfer=None, hospital=None
) -> list[BloodUnit]:
    """Move units through the state machine in one statement, refusing any unit moved meanwhile.

    Every unit is checked by the rules first (and for expiry where it is being
    reserved or issued); the UPDATE only touches rows still in the status read,
    so a concurrent change makes the row count differ and the whole move fails.
    """
    if not units:
        return units
    now = timezone.now()
    for unit in units:
        try:
            rules.check_transition(from_status=unit.status, to_status=to_status, reason=reason)
        except rules.TransitionRefused as exc:
            raise Conflict(str(exc), code="transition_refused") from exc
        if to_status in (UnitStatus.RESERVED, UnitStatus.ISSUED) and rules.is_expired(expires_at=unit.expires_at, now=now):
            raise Conflict(f"Unit {unit.din_display} expired; it cannot be {to_status}.", code="unit_expired")
    changes = {"status": to_status, "updated_at": now}
    if hospital is not None:
        changes["hospital"] = hospital
    by_status: dict[str, list[int]] = {}
    for unit in units:
        by_status.setdefault(unit.status, []).append(unit.pk)
    for from_status, ids in by_status.items():
        if BloodUnit.objects.filter(pk__in=ids, status=from_status).update(**changes) != len(ids):
            raise Conflict("A unit changed meanwhile; try again.", code="unit_changed")
    history = []
    for unit in units:
        history.append(UnitEvent(
            unit=unit, from_status=unit.status, to_status=to_status, hospital_id=hospital.pk if hospital else unit.hospital_id,
            by=by, reason=reason, request=request, transfer=transfer,
        ))
        unit.status = to_status
        if hospital is not None:
            unit.hospital = hospital
    UnitEvent.objects.bulk_create(history)
    return units


def _move(unit: BloodUnit, **kwargs) -> BloodUnit:
    return _move_many([unit], **kwargs)[0]


# Checks other apps add before a unit enters available stock: leaving quarantine, or coming back
# unused after issue (donors: infection markers, typing).
release_checks: list[Callable[[BloodUnit], list[str]]] = []


def _stock_problems(unit: BloodUnit) -> list[str]:
    """Why ``unit`` may not enter available stock, by the registered checks ([] when it may)."""
    return [problem for check in release_checks for problem in check(unit)]


def unit_release(*, unit: BloodUnit, by) -> BloodUnit:
    """Release a quarantined unit into available stock, once every registered check passes."""
    problems = _stock_problems(unit)
    if problems:
        raise Conflict("The unit cannot leave quarantine: " + " ".join(problems), code="release_refused", details={"problems": problems})
    with transaction.atomic():
        _move(unit, to_status=UnitStatus.AVAILABLE, by=by, reason="Released from quarantine")
        _publish_levels(unit.hospital_id, [(unit.blood_group, unit.component)])
    return unit


def unit_discard(*, unit: BloodUnit, by, reason: str) -> BloodUnit:
    """Discard a unit; the reason and who discarded it are recorded (21 CFR 606.160(b)(3)(i), records of the unit's disposition)."""
    if not (reason or "").strip():
        raise DomainError("Discarding a unit needs a reason.", fields={"reason": ["Required."]})
    with transaction.atomic():
        unit = BloodUnit.objects.select_for_update().get(pk=unit.pk)
        if unit.status == UnitStatus.ISSUED:  # its fate is the ward's to record: transfused, or returned (and discarded there)
            raise Conflict(
                f"Unit {unit.din_display} is issued to a patient: record it transfused, or returned (a returned unit that may "
                "not go back to stock is discarded with the reason).", code="unit_issued",
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
                Allocation.objects.filter(unit=unit, status=AllocationStatus.RESERVED).update(status=AllocationStatus.CANCELLED)
                _move(unit, to_status=UnitStatus.EXPIRED, by=None, reason="Past its expiry date (periodic sweep)")
                touched.add((unit.hospital_id, unit.blood_group, unit.component))
            for request_id in {a.request_id for a in Allocation.objects.filter(unit__in=due)}:
                _refresh_request_status(BloodRequest.objects.select_for_update().get(pk=request_id))
            by_hospital: dict[int, list] = {}
            for hospital_id, group, component in touched:
                by_hospital.setdefault(hospital_id, []).append((group, component))
            for hospital_id, keys in by_hospital.items():
                events.publish(events.units_expired, hospital_id=hospital_id, unit_ids=[u.pk for u in due if u.hospital_id == hospital_id])
                _publish_levels(hospital_id, keys)
            expired_total += len(due)


# --- stock levels ----------------------------------------------------------------------


def _publish_levels(hospital_id: int, keys: Iterable[tuple[str, str]]) -> None:
    """Publish the current level of each (group, component) touched: two queries, however many keys."""
    for (_, group, component), stock in selectors.stock_levels(hospital_ids=[hospital_id], keys=keys).items():
        events.publish(
            events.inventory_level_changed, hospital_id=hospital_id, blood_group=group, component=component,
            level=stock.level, available_units=stock.available_units,
        )


def par_level_set(*, hospital: Hospital, blood_group: str, component: str, critical_units: int, low_units: int) -> ParLevel:
    if low_units < critical_units:
        raise DomainError("The low level must be at least the critical level.", fields={"low_units": ["Must be ≥ critical_units."]})
    with transaction.atomic():
        par, _ = ParLevel.objects.update_or_create(
            hospital=hospital, blood_group=blood_group, component=component,
            defaults={"critical_units": critical_units, "low_units": low_units},
        )
        _publish_levels(hospital.pk, [(blood_group, component)])
    return par


# --- requests and allocation -------------------------------------------------------------


MAX_REQUEST_UNITS = 200  # the most units one blood request may ask for


def request_create(
    *,
    hospital: Hospital,
    blood_group: str,
    urgency: int,
    by,
    component: str = Component.RED_CELLS,
    units: int | None = None,
    volume_ml: int | None = None,
    needed_by: datetime | None = None,
    patient_reference: str = "",
) -> BloodRequest:
    if component not in Component.values:
        raise DomainError(f"Unknown component {component!r}.", fields={"component": [f"Choose one of {', '.join(Component.values)}."]})
    group = blood_group_or_refusal(blood_group)
    try:
        rules.validate_urgency(urgency)
    except ValueError as exc:
        raise DomainError(str(exc), fields={"urgency": [str(exc)]}) from exc
    if needed_by is not None:
        try:
            rules.check_needed_by(needed_by=needed_by, now=timezone.now())
        except ValueError as exc:
            raise DomainError(str(exc), fields={"needed_by": [str(exc)]}) from exc
    count = units_for(component=component, units=units, volume_ml=volume_ml)
    if count > MAX_REQUEST_UNITS:
        raise DomainError(f"A request can ask for at most {MAX_REQUEST_UNITS} units.", fields={"units": [f"At most {MAX_REQUEST_UNITS}."]})
    with transaction.atomic():
        request = BloodRequest.objects.create(
            hospital=hospital, component=component, blood_group=group, units_requested=count, urgency=urgency,
            needed_by=needed_by, patient_reference=patient_reference, created_by=by,
        )
        events.publish(events.request_created, request_id=request.pk, hospital_id=hospital.pk, urgency=urgency)
    return request


def _live_allocations(request: BloodRequest):
    """The allocations that count towards the request: reserved, issued, or transfused to its patient."""
    return request.allocations.filter(status__in=[AllocationStatus.RESERVED, AllocationStatus.ISSUED, AllocationStatus.TRANSFUSED])


def _refresh_request_status(request: BloodRequest, *, allocated: int | None = None) -> None:
    """Derive the request's status from its live allocations (``allocated``, when the caller just counted them)."""
    if request.status == BloodRequestStatus.CANCELLED:
        return
    if allocated is None:
        allocated = _live_allocations(request).count()
    if allocated >= request.units_requested:
        status = BloodRequestStatus.FULFILLED
    elif allocated:
        status = BloodRequestStatus.PARTIALLY_FULFILLED
    else:
        status = BloodRequestStatus.PENDING
    if status != request.status:
        request.status = status
        request.fulfilled_at = timezone.now() if status == BloodRequestStatus.FULFILLED else None
        request.save(update_fields=["status", "fulfilled_at"])


def _candidates(*, hospital_id: int, component: str, donor_group: str, limit: int, now: datetime) -> list[BloodUnit]:
    """Available, unexpired units of one group, earliest expiry first (first expired, first out), locked."""
    return list(
        BloodUnit.objects.select_for_update(skip_locked=True).available(now)
        .filter(hospital_id=hospital_id, component=component, blood_group=donor_group)
        .order_by("expires_at", "id")[:limit]
    )


def _o_negative_available(*, hospital_id: int, component: str, now: datetime) -> int:
    return BloodUnit.objects.available(now).filter(hospital_id=hospital_id, component=component, blood_group="O-").count()


def _within_o_negative_reserve(
    units: list[BloodUnit], *, hospital_id: int, component: str, recipient_group: str, urgency: int, now: datetime
) -> list[BloodUnit]:
    """The leading O-negative ``units`` that may be taken without eating into the hospital's reserve.

    Applies ``rules.may_use_o_negative`` unit by unit to red cells and whole blood. The hospital's
    row is locked first, so allocations that take its O-negative units queue here: each counts the
    stock only after the one before has committed (two at once would each count the same units
    and together go below the reserve).
    """
    if component not in (Component.RED_CELLS, Component.WHOLE_BLOOD) or not units:
        return units
    list(Hospital.objects.select_for_update().filter(pk=hospital_id).values_list("pk", flat=True))
    reserve = parameters.o_negative_reserve()
    stock = _o_negative_available(hospital_id=hospital_id, component=component, now=now)
    allowed = []
    for unit in units:
        if not rules.may_use_o_negative(recipient_group=recipient_group, urgency=urgency, o_negative_available=stock, reserve=reserve):
            break
        allowed.append(unit)
        stock -= 1
    return allowed


def _choose_compatible(*, hospital_id: int, component: str, recipient_group: str, urgency: int, wanted: int, now: datetime) -> list[BloodUnit]:
    """Up to ``wanted`` available units of ``hospital_id`` for the recipient: donor groups in the
    documented preference order (``rules.donor_preference``, never RhD-positive red cells for an
    RhD-negative recipient), earliest expiry first within a group, the O-negative reserve kept."""
    chosen: list[BloodUnit] = []
    for donor_group in rules.donor_preference(component=component, recipient_group=recipient_group):
        need = wanted - len(chosen)
        if need <= 0:
            break
        group = str(donor_group)
        units = _candidates(hospital_id=hospital_id, component=component, donor_group=group, limit=need, now=now)
        if group == "O-":
            units = _within_o_negative_reserve(
                units, hospital_id=hospital_id, component=component, recipient_group=recipient_group, urgency=urgency, now=now,
            )
        chosen.extend(units)
    return chosen


def request_fulfil(*, request: BloodRequest, by) -> list[Allocation]:
    """Reserve compatible units from the request's own hospital for what is still missing.

    Donor groups are tried in the documented preference order for the recipient
    and component (``rules.donor_preference``), earliest expiry first within a
    group. RhD-negative recipients never get RhD-positive red cells or whole
    blood here, whatever the urgency: that needs a physician's documented
    emergency release (:func:`emergency_release`). O-negative red cells for
    other groups stop at the hospital's reserve unless the urgency is 5.
    Returns the new allocations (none when the request is already fulfilled);
    raises ``Conflict`` when nothing compatible is available.
    """
    now = timezone.now()
    with transaction.atomic():
        request = BloodRequest.objects.select_for_update().get(pk=request.pk)
        if request.status == BloodRequestStatus.CANCELLED:
            raise Conflict("The request is cancelled.", code="request_cancelled")
        missing = request.units_requested - _live_allocations(request).count()
        if missing <= 0:
            _refresh_request_status(request, allocated=request.units_requested - missing)
            return []
        chosen = _choose_compatible(hospital_id=request.hospital_id, component=request.component, recipient_group=request.blood_group,
                                    urgency=request.urgency, wanted=missing, now=now)
        if not chosen:
            raise Conflict(
                "No compatible unit is available at this hospital.",
                code="no_compatible_stock",
                details={"component": request.component, "blood_group": request.blood_group, "missing_units": missing},
            )
        _move_many(chosen, to_status=UnitStatus.RESERVED, by=by, reason=f"Reserved for request {request.pk}", request=request)
        allocations = Allocation.objects.bulk_create([
            Allocation(request=request, unit=unit, allocated_by=by, anti_d_advised=rules.anti_d_advised(
                component=unit.component, recipient_group=request.blood_group, donor_group=unit.blood_group))
            for unit in chosen
        ])
        _refresh_request_status(request, allocated=request.units_requested - missing + len(chosen))
        _publish_levels(request.hospital_id, [(unit.blood_group, unit.component) for unit in chosen])
    return allocations


def _allocation_locked(allocation: Allocation, expected: str, *, only: str, code: str) -> Allocation:
    """``allocation`` read again and locked with its unit and request; a Conflict (``code``) unless it
    is ``expected``, saying what ``only`` that status allows."""
    allocation = Allocation.objects.select_for_update().select_related("unit", "request").get(pk=allocation.pk)
    if allocation.status != expected:
        raise Conflict(f"The allocation is {allocation.status}; {only}.", code=code)
    return allocation


def _check_sample(*, drawn_at: datetime, now: datetime) -> None:
    rules.check_crossmatch_sample(drawn_at=drawn_at, now=now, max_days=parameters.crossmatch_sample_days())


def allocation_crossmatch(
    *, allocation: Allocation, method: str, sample_id: str, sample_drawn_at: datetime, compatible: bool, by
) -> Allocation:
    """Record the compatibility test of a reserved unit against the recipient's sample (21 CFR 606.151(b)-(c)).

    ``method`` is a serological or an approved electronic crossmatch; ``sample_id`` the positive
    identification on the recipient's sample, drawn at most ``HEALTHSYNC_CROSSMATCH_SAMPLE_DAYS``
    days ago. An incompatible unit goes back to stock (the request is short of it again); the
    result stays recorded on the allocation either way.
    """
    problems = {}
    if method not in CrossmatchMethod.values:
        problems["method"] = [f"Choose one of {', '.join(CrossmatchMethod.values)}."]
    sample_id = (sample_id or "").strip()
    if not sample_id:
        problems["sample_id"] = ["Give the identification on the recipient's sample."]
    elif len(sample_id) > (longest := Allocation._meta.get_field("crossmatch_sample_id").max_length):
        problems["sample_id"] = [f"At most {longest} characters."]
    if sample_drawn_at is None or timezone.is_naive(sample_drawn_at):
        problems["sample_drawn_at"] = ["Give when the sample was drawn, with its time zone."]
    else:
        try:
            _check_sample(drawn_at=sample_drawn_at, now=timezone.now())
        except ValueError as exc:
            problems["sample_drawn_at"] = [str(exc)]
    if not isinstance(compatible, bool):
        problems["compatible"] = ["Say whether the unit is compatible (true or false)."]
    if problems:
        raise DomainError(next(iter(problems.values()))[0], fields=problems)
    with transaction.atomic():
        allocation = _allocation_locked(allocation, AllocationStatus.RESERVED, only="only a reserved unit is crossmatched", code="not_reserved")
        allocation.crossmatch_method, allocation.crossmatch_sample_id = method, sample_id
        allocation.crossmatch_sample_drawn_at, allocation.crossmatch_compatible = sample_drawn_at, compatible
        allocation.crossmatched_by, allocation.crossmatched_at = by, timezone.now()
        allocation.save(update_fields=[
            "crossmatch_method", "crossmatch_sample_id", "crossmatch_sample_drawn_at", "crossmatch_compatible",
            "crossmatched_by", "crossmatched_at",
        ])
        if not compatible:
            allocation = allocation_cancel(allocation=allocation, by=by, reason=f"Crossmatch incompatible (sample {sample_id})")
    return allocation


def allocation_issue(*, allocation: Allocation, by) -> Allocation:
    """Issue a reserved unit to the patient; expiry is checked again here, not only by the sweep.

    Red cells and whole blood need a recorded compatible crossmatch on a sample still in date
    (21 CFR 606.151(b)-(c)); other components are issued ABO-compatible. Uncrossmatched emergency
    units do not pass here: ``emergency_release`` issues them at once, with the physician recorded.
    """
    with transaction.atomic():
        allocation = _allocation_locked(allocation, AllocationStatus.RESERVED, only="only a reserved unit can be issued", code="not_reserved")
        if rules.needs_crossmatch(allocation.unit.component):
            if allocation.crossmatch_compatible is not True:
                raise Conflict(
                    "The unit has no compatible crossmatch recorded; crossmatch it against the recipient's sample first.",
                    code="not_crossmatched",
                )
            try:
                _check_sample(drawn_at=allocation.crossmatch_sample_drawn_at, now=timezone.now())
            except ValueError as exc:
                raise Conflict(str(exc), code="sample_too_old", details={"sample_id": allocation.crossmatch_sample_id}) from exc
        _move(allocation.unit, to_status=UnitStatus.ISSUED, by=by, reason=f"Issued for request {allocation.request_id}", request=allocation.request)
        allocation.status = AllocationStatus.ISSUED
        allocation.issued_at = timezone.now()
        allocation.save(update_fields=["status", "issued_at"])
    return allocation


def _issued_locked(allocation: Allocation) -> Allocation:
    return _allocation_locked(allocation, AllocationStatus.ISSUED, only="only an issued unit is transfused or returned", code="not_issued")


def _check_transfusion_times(allocation: Allocation, *, started_at: datetime, ended_at: datetime | None) -> None:
    problems = rules.transfusion_time_problems(started_at=started_at, ended_at=ended_at, issued_at=allocation.issued_at,
                                               expires_at=allocation.unit.expires_at, now=timezone.now())
    if problems:
        raise DomainError(next(iter(problems.values())), fields={field: [problem] for field, problem in problems.items()})


def allocation_transfuse(
    *, allocation: Allocation, by, started_at: datetime, ended_at: datetime | None = None, reaction: bool = False, note: str = ""
) -> Allocation:
    """Record that an issued unit was transfused to the request's patient: the bag's last step, which
    closes its path from donor to recipient (21 CFR 606.165; the EU's traceability directive
    2005/61/EC asks for confirmation that each unit was transfused), with start and end and whether
    a reaction was suspected (then ``note`` says what was seen, and the hospital's staff are alerted)."""
    note = (note or "").strip()
    problems = {}
    if started_at is None or timezone.is_naive(started_at):
        problems["started_at"] = ["Give the time with its time zone."]
    if ended_at is not None and timezone.is_naive(ended_at):
        problems["ended_at"] = ["Give the time with its time zone."]
    if not isinstance(reaction, bool):
        problems["reaction"] = ["Say whether a reaction was suspected (true or false)."]
    elif reaction and not note:
        problems["note"] = ["Describe the suspected reaction."]
    if problems:
        raise DomainError(next(iter(problems.values()))[0], fields=problems)
    with transaction.atomic():
        allocation = _issued_locked(allocation)
        _check_transfusion_times(allocation, started_at=started_at, ended_at=ended_at)
        reason = f"Transfused to the patient of request {allocation.request_id}" + (" (suspected reaction)" if reaction else "")
        _move(allocation.unit, to_status=UnitStatus.TRANSFUSED, by=by, reason=reason, request=allocation.request)
        allocation.status = AllocationStatus.TRANSFUSED
        allocation.transfusion_started_at, allocation.transfusion_ended_at = started_at, ended_at
        allocation.transfusion_reaction, allocation.transfusion_note, allocation.transfusion_recorded_by = reaction, note, by
        allocation.save(update_fields=[
            "status", "transfusion_started_at", "transfusion_ended_at", "transfusion_reaction", "transfusion_note", "transfusion_recorded_by",
        ])
        if reaction:
            events.publish(events.transfusion_reaction, allocation_id=allocation.pk, hospital_id=allocation.request.hospital_id)
    return allocation


def allocation_transfusion_amend(*, allocation: Allocation, by, ended_at: datetime | None = None, reaction_note: str = "") -> Allocation:
    """Complete a recorded transfusion: its end, when it was not known when the transfusion was
    recorded, and a suspected reaction seen later (delayed reactions show hours or days after),
    which is added to the record with who reported it and alerts the hospital's staff."""
    reaction_note = (reaction_note or "").strip()
    if ended_at is None and not reaction_note:
        raise DomainError("Give the transfusion's end, a suspected reaction, or both.", fields={"reaction_note": ["Required without ended_at."]})
    if ended_at is not None and timezone.is_naive(ended_at):
        raise DomainError("Give the time with its time zone.", fields={"ended_at": ["Give the time with its time zone."]})
    with transaction.atomic():
        allocation = _allocation_locked(allocation, AllocationStatus.TRANSFUSED, only="only a recorded transfusion is completed", code="not_transfused")
        changed = []
        if ended_at is not None:
            if allocation.transfusion_ended_at is not None:
                raise Conflict("The transfusion's end is recorded already.", code="end_recorded")
            _check_transfusion_times(allocation, started_at=allocation.transfusion_started_at, ended_at=ended_at)
            allocation.transfusion_ended_at = ended_at
            changed.append("transfusion_ended_at")
        if reaction_note:
            reported = f"Reported {timezone.localtime():%Y-%m-%d %H:%M} by {by}: {reaction_note}"
            allocation.transfusion_note = "\n".join(filter(None, [allocation.transfusion_note, reported]))
            changed.append("transfusion_note")
            if not allocation.transfusion_reaction:
                allocation.transfusion_reaction = True
                changed.append("transfusion_reaction")
                events.publish(events.transfusion_reaction, allocation_id=allocation.pk, hospital_id=allocation.request.hospital_id)
        allocation.save(update_fields=changed)
    return allocation


def allocation_return(*, allocation: Allocation, by, seal_intact: bool) -> Allocation:
    """An issued unit came back unused: back to available stock when the rules allow it (seal
    intact, in date, not thawed plasma, a refrigerated unit within ``HEALTHSYNC_RETURN_TO_STOCK_MINUTES``
    of issue), otherwise discarded with the reason. Either way the request is short of it again."""
    if not isinstance(seal_intact, bool):
        raise DomainError("Say whether the bag's seal is intact (true or false).", fields={"seal_intact": ["Required."]})
    with transaction.atomic():
        allocation = _issued_locked(allocation)
        unit, now = allocation.unit, timezone.now()
        refusal = rules.return_to_stock_refusal(
            component=unit.component, minutes_out=max(0.0, (now - allocation.issued_at).total_seconds() / 60), seal_intact=seal_intact,
            expired=rules.is_expired(expires_at=unit.expires_at, now=now), limit_minutes=parameters.return_to_stock_minutes(),
        ) or " ".join(_stock_problems(unit))
        returned = f"Returned unused from request {allocation.request_id}"
        if refusal:
            _move(unit, to_status=UnitStatus.DISCARDED, by=by, reason=f"{returned}: {refusal}", request=allocation.request)
        else:
            _move(unit, to_status=UnitStatus.AVAILABLE, by=by, reason=f"{returned}, back to stock", request=allocation.request)
        allocation.status, allocation.returned_at, allocation.returned_by = AllocationStatus.RETURNED, now, by
        allocation.save(update_fields=["status", "returned_at", "returned_by"])
        _refresh_request_status(BloodRequest.objects.select_for_update().get(pk=allocation.request_id))
        _publish_levels(unit.hospital_id, [(unit.blood_group, unit.component)])
    return allocation


def allocation_cancel(*, allocation: Allocation, by, reason: str) -> Allocation:
    """Give a reserved unit back to available stock."""
    with transaction.atomic():
        allocation = _allocation_locked(allocation, AllocationStatus.RESERVED, only="only a reservation can be cancelled", code="not_reserved")
        allocation.status = AllocationStatus.CANCELLED
        allocation.save(update_fields=["status"])
        _move(allocation.unit, to_status=UnitStatus.AVAILABLE, by=by, reason=reason or "Reservation cancelled", request=allocation.request)
        _refresh_request_status(BloodRequest.objects.select_for_update().get(pk=allocation.request_id))
        _publish_levels(allocation.unit.hospital_id, [(allocation.unit.blood_group, allocation.unit.component)])
    return allocation


def request_cancel(*, request: BloodRequest, by) -> BloodRequest:
    with transaction.atomic():
        request = BloodRequest.objects.select_for_update().get(pk=request.pk)
        for allocation in request.allocations.filter(status=AllocationStatus.RESERVED):
            allocation_cancel(allocation=allocation, by=by, reason=f"Request {request.pk} cancelled")
        request.status = BloodRequestStatus.CANCELLED
        request.save(update_fields=["status"])
    return request


def emergency_release(*, request: BloodRequest, physician: str, by, units: int | None = None, reason: str = "") -> list[Allocation]:
    """Issue uncrossmatched group O red cells at once for an urgency-5 request (21 CFR 606.151(e)).

    The authorising physician is recorded on the request and every unit's history.
    O-negative goes first; O-positive only to RhD-positive recipients. At most
    what the request still misses is released (``units`` caps it further). The clinical ``reason``,
    when given, is recorded on each unit's history with the physician.
    """
    if request.urgency != rules.EMERGENCY:
        raise Conflict("Emergency release is only for urgency 5 requests.", code="not_an_emergency")
    if request.component != Component.RED_CELLS:
        raise Conflict("Emergency release is of group O red cells.", code="not_red_cells")
    if not (physician or "").strip():
        raise DomainError("Name the authorising physician.", fields={"physician": ["Required."]})
    now = timezone.now()
    with transaction.atomic():
        request = BloodRequest.objects.select_for_update().get(pk=request.pk)
        if request.status == BloodRequestStatus.CANCELLED:
            raise Conflict("The request is cancelled.", code="request_cancelled")
        missing = request.units_requested - _live_allocations(request).count()
        if missing <= 0:
            raise Conflict("The request already has all its units.", code="request_fulfilled")
        wanted = min(units, missing) if units else missing
        # RhD-positive patients take O-positive first, keeping O-negative for those who need it.
        groups = ["O+", "O-"] if request.blood_group.endswith("+") else ["O-"]
        chosen: list[BloodUnit] = []
        for group in groups:
            chosen += _candidates(hospital_id=request.hospital_id, component=Component.RED_CELLS, donor_group=group, limit=wanted - len(chosen), now=now)
        if not chosen:
            raise Conflict("No group O red cells are available for emergency release.", code="no_compatible_stock")
        request.emergency_physician = physician.strip()
        request.emergency_released_at = now
        request.emergency_released_by = by
        request.save(update_fields=["emergency_physician", "emergency_released_at", "emergency_released_by"])
        reason = f"Emergency release, uncrossmatched, authorised by {physician.strip()}" + (f": {reason.strip()}" if (reason or "").strip() else "")
        allocations = []
        for unit in chosen:
            _move(unit, to_status=UnitStatus.RESERVED, by=by, reason=reason, request=request)
            allocation = Allocation.objects.create(request=request, unit=unit, allocated_by=by, emergency=True)
            _move(unit, to_status=UnitStatus.ISSUED, by=by, reason=reason, request=request)
            allocation.status, allocation.issued_at = AllocationStatus.ISSUED, now
            allocation.save(update_fields=["status", "issued_at"])
            allocations.append(allocation)
        _refresh_request_status(request)
        _publish_levels(request.hospital_id, [(unit.blood_group, unit.component) for unit in chosen])
    return allocations


# --- transfers ----------------------------------------------------------------------------


def transfer_request(
    *, from_hospital: Hospital, to_hospital: Hospital, component: str, blood_group: str, units_requested: int, by,
    request: BloodRequest | None = None, note: str = "",
) -> Transfer:
    """Ask a verified network hospital for units. Both hospitals must be verified."""
    if from_hospital.pk == to_hospital.pk:
        raise DomainError("A hospital cannot transfer to itself.", fields={"from_hospital": ["Choose another hospital."]})
    if not (from_hospital.is_verified and to_hospital.is_verified):
        raise Forbidden("Transfers are between verified network hospitals.")
    if units_requested < 1:
        raise DomainError("Ask for at least one unit.", fields={"units_requested": ["Must be at least 1."]})
    if request is not None:
        if request.hospital_id != to_hospital.pk:
            raise DomainError("Units for a request go to the hospital that made it.", fields={"request": ["Another hospital's request."]})
        if request.status in (BloodRequestStatus.CANCELLED, BloodRequestStatus.FULFILLED):
            raise Conflict(f"Request {request.pk} is {request.get_status_display().lower()}: it needs no more units.", code="request_closed")
    with transaction.atomic():
        return Transfer.objects.create(
            from_hospital=from_hospital, to_hospital=to_hospital, component=component, blood_group=blood_group,
            units_requested=units_requested, request=request, requested_by=by, note=note,
        )


def _transfer_locked(transfer: Transfer, expected: str) -> Transfer:
    transfer = Transfer.objects.select_for_update().get(pk=transfer.pk)
    if transfer.status != expected:
        raise Conflict(f"The transfer is {transfer.get_status_display().lower()}, not {expected}.", code="transfer_state")
    return transfer


def transfer_approve(*, transfer: Transfer, by) -> Transfer:
    """The holding hospital approves: compatible units are chosen (first expiring first) and reserved for it.

    The holder's O-negative reserve is kept as in :func:`request_fulfil` (the linked request's urgency, else routine).
    """
    now = timezone.now()
    with transaction.atomic():
        transfer = _transfer_locked(transfer, TransferStatus.REQUESTED)
        chosen = _choose_compatible(
            hospital_id=transfer.from_hospital_id, component=transfer.component, recipient_group=transfer.blood_group,
            urgency=transfer.request.urgency if transfer.request_id else rules.ROUTINE, wanted=transfer.units_requested, now=now,
        )
        if not chosen:
            raise Conflict("No compatible unit is available to send.", code="no_compatible_stock")
        for unit in chosen:
            _move(unit, to_status=UnitStatus.RESERVED, by=by, reason=f"Reserved for transfer {transfer.pk} to {transfer.to_hospital.fin}", transfer=transfer)
        transfer.units.set(chosen)
        transfer.status, transfer.decided_by, transfer.decided_at = TransferStatus.APPROVED, by, now
        transfer.save(update_fields=["status", "decided_by", "decided_at"])
        _publish_levels(transfer.from_hospital_id, [(u.blood_group, u.component) for u in chosen])
    return transfer


def transfer_decline(*, transfer: Transfer, by, reason: str = "") -> Transfer:
    with transaction.atomic():
        transfer = _transfer_locked(transfer, TransferStatus.REQUESTED)
        transfer.status, transfer.decided_by, transfer.decided_at = TransferStatus.DECLINED, by, timezone.now()
        transfer.note = "\n".join(filter(None, [transfer.note, reason]))
        transfer.save(update_fields=["status", "decided_by", "decided_at", "note"])
    return transfer


def transfer_dispatch(*, transfer: Transfer, by) -> Transfer:
    """The units leave the holding hospital (reserved → in transit); the chain of custody records who sent them."""
    with transaction.atomic():
        transfer = _transfer_locked(transfer, TransferStatus.APPROVED)
        units = list(transfer.units.select_for_update())
        now = timezone.now()
        expired = [unit for unit in units if unit.status == UnitStatus.EXPIRED or rules.is_expired(expires_at=unit.expires_at, now=now)]
        if expired:
            dins = ", ".join(unit.din_display for unit in expired)
            raise Conflict(
                f"Unit(s) {dins} of this transfer expired; an expired unit is not dispatched. Cancel the transfer and ask again.",
                code="unit_expired", details={"unit_ids": [unit.pk for unit in expired]},
            )
        for unit in units:
            _move(unit, to_status=UnitStatus.AVAILABLE, by=by, reason="Released for dispatch", transfer=transfer)
            _move(unit, to_status=UnitStatus.IN_TRANSIT, by=by, reason=f"Dispatched to {transfer.to_hospital.fin}", transfer=transfer)
        transfer.status, transfer.dispatched_by, transfer.dispatched_at = TransferStatus.DISPATCHED, by, timezone.now()
        transfer.save(update_fields=["status", "dispatched_by", "dispatched_at"])
    return transfer


def transfer_cancel(*, transfer: Transfer, by, reason: str = "") -> Transfer:
    """Call off a transfer not yet dispatched; units reserved for it go back to the holder's available stock."""
    with transaction.atomic():
        transfer = Transfer.objects.select_for_update().get(pk=transfer.pk)
        if transfer.status not in (TransferStatus.REQUESTED, TransferStatus.APPROVED):
            raise Conflict(
                f"The transfer is {transfer.get_status_display().lower()}; only one not yet dispatched can be cancelled.",
                code="transfer_state",
            )
        released = [unit for unit in transfer.units.select_for_update() if unit.status == UnitStatus.RESERVED]
        for unit in released:
            _move(unit, to_status=UnitStatus.AVAILABLE, by=by, reason=reason or f"Transfer {transfer.pk} cancelled", transfer=transfer)
        transfer.status = TransferStatus.CANCELLED
        transfer.note = "\n".join(filter(None, [transfer.note, reason]))
        transfer.save(update_fields=["status", "note"])
        _publish_levels(transfer.from_hospital_id, [(u.blood_group, u.component) for u in released])
    return transfer


def transfer_receive(*, transfer: Transfer, by) -> Transfer:
    """The receiving hospital takes the units into its available stock; any that expired on the way are marked expired."""
    with transaction.atomic():
        transfer = _transfer_locked(transfer, TransferStatus.DISPATCHED)
        units = list(transfer.units.select_for_update())
        now = timezone.now()
        for unit in units:
            _move(unit, to_status=UnitStatus.AVAILABLE, by=by, reason=f"Received from {transfer.from_hospital.fin}", transfer=transfer, hospital=transfer.to_hospital)
            # One that expired on the way is received (custody recorded), then expired at once.
            if rules.is_expired(expires_at=unit.expires_at, now=now):
                _move(unit, to_status=UnitStatus.EXPIRED, by=by, reason="Expired in transit", transfer=transfer)
        transfer.status, transfer.received_by, transfer.received_at = TransferStatus.RECEIVED, by, timezone.now()
        transfer.save(update_fields=["status", "received_by", "received_at"])
        _publish_levels(transfer.to_hospital_id, [(u.blood_group, u.component) for u in units])
    return transfer


def transfer_offer(*, from_hospital: Hospital, request: BloodRequest, units_requested: int, by, note: str = "") -> Transfer:
    """A verified hospital offers units to another's open request (answering its urgent alert): a
    transfer towards the requesting hospital, approved at once by the offering holder, so the
    compatible units are reserved for it now; the holder dispatches them next, and the requester
    may still cancel before dispatch. At most what the request asks for."""
    if units_requested > request.units_requested:
        message = f"The request asks for {request.units_requested} unit(s): offer no more."
        raise DomainError(message, fields={"units_requested": [message]})
    with transaction.atomic():
        transfer = transfer_request(
            from_hospital=from_hospital, to_hospital=request.hospital, component=request.component, blood_group=request.blood_group,
            units_requested=units_requested, request=request, by=by, note=note or f"Offered by {from_hospital.name}",
        )
        return transfer_approve(transfer=transfer, by=by)


# Who takes each step of a transfer, and from which status: the holding hospital (``from_hospital``)
# approves or declines a request and dispatches, the requesting one (``to_hospital``) receives, and
# either calls off a transfer not yet dispatched.
TRANSFER_STEPS = {
    "approve": (transfer_approve, ("from_hospital",), (TransferStatus.REQUESTED,)),
    "decline": (transfer_decline, ("from_hospital",), (TransferStatus.REQUESTED,)),
    "dispatch": (transfer_dispatch, ("from_hospital",), (TransferStatus.APPROVED,)),
    "receive": (transfer_receive, ("to_hospital",), (TransferStatus.DISPATCHED,)),
    "cancel": (transfer_cancel, ("from_hospital", "to_hospital"), (TransferStatus.REQUESTED, TransferStatus.APPROVED)),
}
_TRANSFER_SIDES = {"from_hospital": "the holding hospital", "to_hospital": "the requesting hospital"}


def _on_side(user, transfer: Transfer, sides) -> bool:
    return any(can(user, ACT, getattr(transfer, side)) for side in sides)


def transfer_steps_open(*, transfer: Transfer, user) -> list[str]:
    """The steps ``user`` may take on ``transfer`` now: their side's, from its current status."""
    return [
        step for step, (_, sides, statuses) in TRANSFER_STEPS.items()
        if transfer.status in statuses and _on_side(user, transfer, sides)
    ]


def transfer_step(*, transfer: Transfer, step: str, by) -> Transfer:
    """Take ``step`` (a key of ``TRANSFER_STEPS``) on ``transfer`` for ``by``, who must work for the
    side that takes it (``Forbidden`` otherwise, naming that side)."""
    if step not in TRANSFER_STEPS:
        raise DomainError(f"Unknown transfer step {step!r}.", code="unknown_step")
    service, sides, _ = TRANSFER_STEPS[step]
    if not _on_side(by, transfer, sides):
        who = " or ".join(f"{_TRANSFER_SIDES[side]} ({getattr(transfer, side).name})" for side in sides)
        raise Forbidden(f"Only {who} may {step} transfer {transfer.pk}.", code="wrong_transfer_side")
    return service(transfer=transfer, by=by)
