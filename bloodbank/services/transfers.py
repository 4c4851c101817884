"""Transfers between verified network hospitals: request, approve or decline, dispatch, receive, cancel,
offer, and who takes each step."""

from django.db import transaction
from django.utils import timezone

from healthsync.errors import Conflict, DomainError, Forbidden
from healthsync.models import Hospital
from healthsync.permissions import ACT, can

from .. import rules
from ..models import (
    BloodRequest,
    BloodRequestStatus,
    Transfer,
    TransferStatus,
    UnitStatus,
)
from .levels import _publish_levels
from .moves import _move
from .requests import _choose_compatible


def transfer_request(
    *,
    from_hospital: Hospital,
    to_hospital: Hospital,
    component: str,
    blood_group: str,
    units_requested: int,
    by,
    request: BloodRequest | None = None,
    note: str = "",
) -> Transfer:
    """Ask a verified network hospital for units. Both hospitals must be verified."""
    if from_hospital.pk == to_hospital.pk:
        raise DomainError(
            "A hospital cannot transfer to itself.", fields={"from_hospital": ["Choose another hospital."]}
        )
    if not (from_hospital.is_verified and to_hospital.is_verified):
        raise Forbidden("Transfers are between verified network hospitals.")
    if units_requested < 1:
        raise DomainError("Ask for at least one unit.", fields={"units_requested": ["Must be at least 1."]})
    if request is not None:
        if request.hospital_id != to_hospital.pk:
            raise DomainError(
                "Units for a request go to the hospital that made it.",
                fields={"request": ["Another hospital's request."]},
            )
        if request.status in (BloodRequestStatus.CANCELLED, BloodRequestStatus.FULFILLED):
            raise Conflict(
                f"Request {request.pk} is {request.get_status_display().lower()}: it needs no more units.",
                code="request_closed",
            )
    with transaction.atomic():
        return Transfer.objects.create(
            from_hospital=from_hospital,
            to_hospital=to_hospital,
            component=component,
            blood_group=blood_group,
            units_requested=units_requested,
            request=request,
            requested_by=by,
            note=note,
        )


def _transfer_locked(transfer: Transfer, expected: str) -> Transfer:
    transfer = Transfer.objects.select_for_update().get(pk=transfer.pk)
    if transfer.status != expected:
        raise Conflict(
            f"The transfer is {transfer.get_status_display().lower()}, not {expected}.", code="transfer_state"
        )
    return transfer


def transfer_approve(*, transfer: Transfer, by) -> Transfer:
    """The holding hospital approves: compatible units are chosen (first expiring first) and reserved for it.

    The holder's O-negative reserve is kept as in :func:`request_fulfil` (the linked request's urgency, else routine).
    """
    now = timezone.now()
    with transaction.atomic():
        transfer = _transfer_locked(transfer, TransferStatus.REQUESTED)
        chosen = _choose_compatible(
            hospital_id=transfer.from_hospital_id,
            component=transfer.component,
            recipient_group=transfer.blood_group,
            urgency=transfer.request.urgency if transfer.request is not None else rules.ROUTINE,
            wanted=transfer.units_requested,
            now=now,
        )
        if not chosen:
            raise Conflict("No compatible unit is available to send.", code="no_compatible_stock")
        for unit in chosen:
            _move(
                unit,
                to_status=UnitStatus.RESERVED,
                by=by,
                reason=f"Reserved for transfer {transfer.pk} to {transfer.to_hospital.fin}",
                transfer=transfer,
            )
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
        expired = [
            unit
            for unit in units
            if unit.status == UnitStatus.EXPIRED or rules.is_expired(expires_at=unit.expires_at, now=now)
        ]
        if expired:
            dins = ", ".join(unit.din_display for unit in expired)
            raise Conflict(
                f"Unit(s) {dins} of this transfer expired; an expired unit is not dispatched. "
                "Cancel the transfer and ask again.",
                code="unit_expired",
                details={"unit_ids": [unit.pk for unit in expired]},
            )
        for unit in units:
            _move(unit, to_status=UnitStatus.AVAILABLE, by=by, reason="Released for dispatch", transfer=transfer)
            _move(
                unit,
                to_status=UnitStatus.IN_TRANSIT,
                by=by,
                reason=f"Dispatched to {transfer.to_hospital.fin}",
                transfer=transfer,
            )
        transfer.status, transfer.dispatched_by, transfer.dispatched_at = TransferStatus.DISPATCHED, by, timezone.now()
        transfer.save(update_fields=["status", "dispatched_by", "dispatched_at"])
    return transfer


def transfer_cancel(*, transfer: Transfer, by, reason: str = "") -> Transfer:
    """Call off a transfer not yet dispatched; units reserved for it go back to the holder's available stock."""
    with transaction.atomic():
        transfer = Transfer.objects.select_for_update().get(pk=transfer.pk)
        if transfer.status not in (TransferStatus.REQUESTED, TransferStatus.APPROVED):
            raise Conflict(
                f"The transfer is {transfer.get_status_display().lower()}; "
                "only one not yet dispatched can be cancelled.",
                code="transfer_state",
            )
        released = [unit for unit in transfer.units.select_for_update() if unit.status == UnitStatus.RESERVED]
        for unit in released:
            _move(
                unit,
                to_status=UnitStatus.AVAILABLE,
                by=by,
                reason=reason or f"Transfer {transfer.pk} cancelled",
                transfer=transfer,
            )
        transfer.status = TransferStatus.CANCELLED
        transfer.note = "\n".join(filter(None, [transfer.note, reason]))
        transfer.save(update_fields=["status", "note"])
        _publish_levels(transfer.from_hospital_id, [(u.blood_group, u.component) for u in released])
    return transfer


def transfer_receive(*, transfer: Transfer, by) -> Transfer:
    """The receiving hospital takes the units into its available stock; any that expired on the way
    are marked expired."""
    with transaction.atomic():
        transfer = _transfer_locked(transfer, TransferStatus.DISPATCHED)
        units = list(transfer.units.select_for_update())
        now = timezone.now()
        for unit in units:
            _move(
                unit,
                to_status=UnitStatus.AVAILABLE,
                by=by,
                reason=f"Received from {transfer.from_hospital.fin}",
                transfer=transfer,
                hospital=transfer.to_hospital,
            )
            # One that expired on the way is received (custody recorded), then expired at once.
            if rules.is_expired(expires_at=unit.expires_at, now=now):
                _move(unit, to_status=UnitStatus.EXPIRED, by=by, reason="Expired in transit", transfer=transfer)
        transfer.status, transfer.received_by, transfer.received_at = TransferStatus.RECEIVED, by, timezone.now()
        transfer.save(update_fields=["status", "received_by", "received_at"])
        _publish_levels(transfer.to_hospital_id, [(u.blood_group, u.component) for u in units])
    return transfer


def transfer_offer(
    *, from_hospital: Hospital, request: BloodRequest, units_requested: int, by, note: str = ""
) -> Transfer:
    """A verified hospital offers units to another's open request (answering its urgent alert): a
    transfer towards the requesting hospital, approved at once by the offering holder, so the
    compatible units are reserved for it now; the holder dispatches them next, and the requester
    may still cancel before dispatch. At most what the request asks for."""
    if units_requested > request.units_requested:
        message = f"The request asks for {request.units_requested} unit(s): offer no more."
        raise DomainError(message, fields={"units_requested": [message]})
    with transaction.atomic():
        transfer = transfer_request(
            from_hospital=from_hospital,
            to_hospital=request.hospital,
            component=request.component,
            blood_group=request.blood_group,
            units_requested=units_requested,
            request=request,
            by=by,
            note=note or f"Offered by {from_hospital.name}",
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
        step
        for step, (_, sides, statuses) in TRANSFER_STEPS.items()
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
