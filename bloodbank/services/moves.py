"""What every section of the blood bank's services does alike: move units through their states
(with their history), derive a request's status from its allocations, check a unit may enter stock."""

from collections.abc import Callable

from django.utils import timezone

from healthsync.errors import Conflict

from .. import rules
from ..models import (
    AllocationStatus,
    BloodRequest,
    BloodRequestStatus,
    BloodUnit,
    UnitEvent,
    UnitStatus,
)


def _record(unit: BloodUnit, *, from_status: str, by, reason: str = "", request=None, transfer=None) -> None:
    UnitEvent.objects.create(
        unit=unit,
        from_status=from_status,
        to_status=unit.status,
        hospital_id=unit.hospital_id,
        by=by,
        reason=reason,
        request=request,
        transfer=transfer,
    )


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
        if to_status in (UnitStatus.RESERVED, UnitStatus.ISSUED) and rules.is_expired(
            expires_at=unit.expires_at, now=now
        ):
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
        history.append(
            UnitEvent(
                unit=unit,
                from_status=unit.status,
                to_status=to_status,
                hospital_id=hospital.pk if hospital else unit.hospital_id,
                by=by,
                reason=reason,
                request=request,
                transfer=transfer,
            )
        )
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


def _live_allocations(request: BloodRequest):
    """The allocations that count towards the request: reserved, issued, or transfused to its patient."""
    return request.allocations.filter(
        status__in=[AllocationStatus.RESERVED, AllocationStatus.ISSUED, AllocationStatus.TRANSFUSED]
    )


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
