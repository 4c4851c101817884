"""Requests: creating one, choosing compatible units for it (the O-negative reserve kept), its
cancellation and the emergency release of uncrossmatched group O red cells."""

from datetime import datetime

from django.db import transaction
from django.utils import timezone

from healthsync.errors import Conflict, DomainError
from healthsync.models import Hospital

from .. import events, parameters, rules
from ..models import (
    Allocation,
    AllocationStatus,
    BloodRequest,
    BloodRequestStatus,
    BloodUnit,
    Component,
    UnitStatus,
)
from .allocations import allocation_cancel
from .levels import _publish_levels
from .moves import _live_allocations, _move, _move_many, _refresh_request_status
from .units import blood_group_or_refusal


def units_for(*, component: str, units: int | None = None, volume_ml: int | None = None) -> int:
    """The number of bags a request asks for: ``units``, or ceil(ml / the component's standard volume)."""
    if units is not None:
        if units < 1:
            raise DomainError("Units must be at least 1.", fields={"units": ["Must be at least 1."]})
        return units
    if volume_ml is None:
        raise DomainError("Give units or volume_ml.", fields={"units": ["Give units or volume_ml."]})
    try:
        return rules.units_for_volume(
            component=component, ml=volume_ml, standard_volume_ml=parameters.standard_volumes()
        )
    except ValueError as exc:
        raise DomainError(str(exc), fields={"volume_ml": [str(exc)]}) from exc


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
        raise DomainError(
            f"Unknown component {component!r}.", fields={"component": [f"Choose one of {', '.join(Component.values)}."]}
        )
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
        raise DomainError(
            f"A request can ask for at most {MAX_REQUEST_UNITS} units.",
            fields={"units": [f"At most {MAX_REQUEST_UNITS}."]},
        )
    with transaction.atomic():
        request = BloodRequest.objects.create(
            hospital=hospital,
            component=component,
            blood_group=group,
            units_requested=count,
            urgency=urgency,
            needed_by=needed_by,
            patient_reference=patient_reference,
            created_by=by,
        )
        events.publish(events.request_created, request_id=request.pk, hospital_id=hospital.pk, urgency=urgency)
    return request


def _candidates(*, hospital_id: int, component: str, donor_group: str, limit: int, now: datetime) -> list[BloodUnit]:
    """Available, unexpired units of one group, earliest expiry first (first expired, first out), locked."""
    return list(
        BloodUnit.objects.select_for_update(skip_locked=True)
        .available(now)
        .filter(hospital_id=hospital_id, component=component, blood_group=donor_group)
        .order_by("expires_at", "id")[:limit]
    )


def _o_negative_available(*, hospital_id: int, component: str, now: datetime) -> int:
    return (
        BloodUnit.objects.available(now).filter(hospital_id=hospital_id, component=component, blood_group="O-").count()
    )


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
        if not rules.may_use_o_negative(
            recipient_group=recipient_group, urgency=urgency, o_negative_available=stock, reserve=reserve
        ):
            break
        allowed.append(unit)
        stock -= 1
    return allowed


def _choose_compatible(
    *, hospital_id: int, component: str, recipient_group: str, urgency: int, wanted: int, now: datetime
) -> list[BloodUnit]:
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
                units,
                hospital_id=hospital_id,
                component=component,
                recipient_group=recipient_group,
                urgency=urgency,
                now=now,
            )
        chosen.extend(units)
    return chosen


def _open_request_locked(request: BloodRequest) -> tuple[BloodRequest, int]:
    """``request`` read again and locked, and the units it still misses; a Conflict when it is cancelled."""
    request = BloodRequest.objects.select_for_update().get(pk=request.pk)
    if request.status == BloodRequestStatus.CANCELLED:
        raise Conflict("The request is cancelled.", code="request_cancelled")
    return request, request.units_requested - _live_allocations(request).count()


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
        request, missing = _open_request_locked(request)
        if missing <= 0:
            _refresh_request_status(request, allocated=request.units_requested - missing)
            return []
        chosen = _choose_compatible(
            hospital_id=request.hospital_id,
            component=request.component,
            recipient_group=request.blood_group,
            urgency=request.urgency,
            wanted=missing,
            now=now,
        )
        if not chosen:
            raise Conflict(
                "No compatible unit is available at this hospital.",
                code="no_compatible_stock",
                details={"component": request.component, "blood_group": request.blood_group, "missing_units": missing},
            )
        _move_many(
            chosen, to_status=UnitStatus.RESERVED, by=by, reason=f"Reserved for request {request.pk}", request=request
        )
        allocations = Allocation.objects.bulk_create(
            [
                Allocation(
                    request=request,
                    unit=unit,
                    allocated_by=by,
                    anti_d_advised=rules.anti_d_advised(
                        component=unit.component, recipient_group=request.blood_group, donor_group=unit.blood_group
                    ),
                )
                for unit in chosen
            ]
        )
        _refresh_request_status(request, allocated=request.units_requested - missing + len(chosen))
        _publish_levels(request.hospital_id, [(unit.blood_group, unit.component) for unit in chosen])
    return allocations


def request_cancel(*, request: BloodRequest, by) -> BloodRequest:
    with transaction.atomic():
        request = BloodRequest.objects.select_for_update().get(pk=request.pk)
        for allocation in request.allocations.filter(status=AllocationStatus.RESERVED):
            allocation_cancel(allocation=allocation, by=by, reason=f"Request {request.pk} cancelled")
        request.status = BloodRequestStatus.CANCELLED
        request.save(update_fields=["status"])
    return request


def emergency_release(
    *, request: BloodRequest, physician: str, by, units: int | None = None, reason: str = ""
) -> list[Allocation]:
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
        request, missing = _open_request_locked(request)
        if missing <= 0:
            raise Conflict("The request already has all its units.", code="request_fulfilled")
        wanted = min(units, missing) if units else missing
        # RhD-positive patients take O-positive first, keeping O-negative for those who need it.
        groups = ["O+", "O-"] if request.blood_group.endswith("+") else ["O-"]
        chosen: list[BloodUnit] = []
        for group in groups:
            chosen += _candidates(
                hospital_id=request.hospital_id,
                component=Component.RED_CELLS,
                donor_group=group,
                limit=wanted - len(chosen),
                now=now,
            )
        if not chosen:
            raise Conflict("No group O red cells are available for emergency release.", code="no_compatible_stock")
        request.emergency_physician = physician.strip()
        request.emergency_released_at = now
        request.emergency_released_by = by
        request.save(update_fields=["emergency_physician", "emergency_released_at", "emergency_released_by"])
        reason = f"Emergency release, uncrossmatched, authorised by {physician.strip()}" + (
            f": {reason.strip()}" if (reason or "").strip() else ""
        )
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
