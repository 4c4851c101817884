"""Allocations: a reserved unit's crossmatch, its issue, transfusion or return, and cancellation."""

from datetime import datetime
from typing import cast

from django.db import transaction
from django.utils import timezone

from healthsync.errors import Conflict, DomainError

from .. import events, parameters, rules
from ..models import (
    Allocation,
    AllocationStatus,
    BloodRequest,
    CrossmatchMethod,
    UnitStatus,
)
from .levels import _publish_levels
from .moves import _move, _refresh_request_status, _stock_problems


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
    # A CharField's max_length (typed ``int | None`` for fields in general).
    elif len(sample_id) > (longest := cast(int, Allocation._meta.get_field("crossmatch_sample_id").max_length)):
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
        allocation = _allocation_locked(
            allocation, AllocationStatus.RESERVED, only="only a reserved unit is crossmatched", code="not_reserved"
        )
        allocation.crossmatch_method, allocation.crossmatch_sample_id = method, sample_id
        allocation.crossmatch_sample_drawn_at, allocation.crossmatch_compatible = sample_drawn_at, compatible
        allocation.crossmatched_by, allocation.crossmatched_at = by, timezone.now()
        allocation.save(
            update_fields=[
                "crossmatch_method",
                "crossmatch_sample_id",
                "crossmatch_sample_drawn_at",
                "crossmatch_compatible",
                "crossmatched_by",
                "crossmatched_at",
            ]
        )
        if not compatible:
            allocation = allocation_cancel(
                allocation=allocation, by=by, reason=f"Crossmatch incompatible (sample {sample_id})"
            )
    return allocation


def allocation_issue(*, allocation: Allocation, by) -> Allocation:
    """Issue a reserved unit to the patient; expiry is checked again here, not only by the sweep.

    Red cells and whole blood need a recorded compatible crossmatch on a sample still in date
    (21 CFR 606.151(b)-(c)); other components are issued ABO-compatible. Uncrossmatched emergency
    units do not pass here: ``emergency_release`` issues them at once, with the physician recorded.
    """
    with transaction.atomic():
        allocation = _allocation_locked(
            allocation, AllocationStatus.RESERVED, only="only a reserved unit can be issued", code="not_reserved"
        )
        if rules.needs_crossmatch(allocation.unit.component):
            if allocation.crossmatch_compatible is not True:
                raise Conflict(
                    "The unit has no compatible crossmatch recorded; "
                    "crossmatch it against the recipient's sample first.",
                    code="not_crossmatched",
                )
            # A compatible crossmatch was recorded by allocation_crossmatch, which requires the time drawn.
            drawn_at = cast(datetime, allocation.crossmatch_sample_drawn_at)
            try:
                _check_sample(drawn_at=drawn_at, now=timezone.now())
            except ValueError as exc:
                raise Conflict(
                    str(exc), code="sample_too_old", details={"sample_id": allocation.crossmatch_sample_id}
                ) from exc
        _move(
            allocation.unit,
            to_status=UnitStatus.ISSUED,
            by=by,
            reason=f"Issued for request {allocation.request_id}",
            request=allocation.request,
        )
        allocation.status = AllocationStatus.ISSUED
        allocation.issued_at = timezone.now()
        allocation.save(update_fields=["status", "issued_at"])
    return allocation


def _issued_locked(allocation: Allocation) -> Allocation:
    return _allocation_locked(
        allocation, AllocationStatus.ISSUED, only="only an issued unit is transfused or returned", code="not_issued"
    )


def _check_transfusion_times(allocation: Allocation, *, started_at: datetime, ended_at: datetime | None) -> None:
    problems = rules.transfusion_time_problems(
        started_at=started_at,
        ended_at=ended_at,
        issued_at=cast(datetime, allocation.issued_at),  # an issued (or transfused) allocation has its time
        expires_at=allocation.unit.expires_at,
        now=timezone.now(),
    )
    if problems:
        raise DomainError(
            next(iter(problems.values())), fields={field: [problem] for field, problem in problems.items()}
        )


def allocation_transfuse(
    *,
    allocation: Allocation,
    by,
    started_at: datetime,
    ended_at: datetime | None = None,
    reaction: bool = False,
    note: str = "",
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
        reason = f"Transfused to the patient of request {allocation.request_id}" + (
            " (suspected reaction)" if reaction else ""
        )
        _move(allocation.unit, to_status=UnitStatus.TRANSFUSED, by=by, reason=reason, request=allocation.request)
        allocation.status = AllocationStatus.TRANSFUSED
        allocation.transfusion_started_at, allocation.transfusion_ended_at = started_at, ended_at
        allocation.transfusion_reaction, allocation.transfusion_note, allocation.transfusion_recorded_by = (
            reaction,
            note,
            by,
        )
        allocation.save(
            update_fields=[
                "status",
                "transfusion_started_at",
                "transfusion_ended_at",
                "transfusion_reaction",
                "transfusion_note",
                "transfusion_recorded_by",
            ]
        )
        if reaction:
            events.publish(
                events.transfusion_reaction, allocation_id=allocation.pk, hospital_id=allocation.request.hospital_id
            )
    return allocation


def allocation_transfusion_amend(
    *, allocation: Allocation, by, ended_at: datetime | None = None, reaction_note: str = ""
) -> Allocation:
    """Complete a recorded transfusion: its end, when it was not known when the transfusion was
    recorded, and a suspected reaction seen later (delayed reactions show hours or days after),
    which is added to the record with who reported it and alerts the hospital's staff."""
    reaction_note = (reaction_note or "").strip()
    if ended_at is None and not reaction_note:
        raise DomainError(
            "Give the transfusion's end, a suspected reaction, or both.",
            fields={"reaction_note": ["Required without ended_at."]},
        )
    if ended_at is not None and timezone.is_naive(ended_at):
        raise DomainError(
            "Give the time with its time zone.", fields={"ended_at": ["Give the time with its time zone."]}
        )
    with transaction.atomic():
        allocation = _allocation_locked(
            allocation,
            AllocationStatus.TRANSFUSED,
            only="only a recorded transfusion is completed",
            code="not_transfused",
        )
        changed = []
        if ended_at is not None:
            if allocation.transfusion_ended_at is not None:
                raise Conflict("The transfusion's end is recorded already.", code="end_recorded")
            # A recorded transfusion has its start (allocation_transfuse requires it).
            started_at = cast(datetime, allocation.transfusion_started_at)
            _check_transfusion_times(allocation, started_at=started_at, ended_at=ended_at)
            allocation.transfusion_ended_at = ended_at
            changed.append("transfusion_ended_at")
        if reaction_note:
            reported = f"Reported {timezone.localtime():%Y-%m-%d %H:%M} by {by}: {reaction_note}"
            allocation.transfusion_note = "\n".join(filter(None, [allocation.transfusion_note, reported]))
            changed.append("transfusion_note")
            if not allocation.transfusion_reaction:
                allocation.transfusion_reaction = True
                changed.append("transfusion_reaction")
                events.publish(
                    events.transfusion_reaction, allocation_id=allocation.pk, hospital_id=allocation.request.hospital_id
                )
        allocation.save(update_fields=changed)
    return allocation


def allocation_return(*, allocation: Allocation, by, seal_intact: bool) -> Allocation:
    """An issued unit came back unused: back to available stock when the rules allow it (seal
    intact, in date, not thawed plasma, a refrigerated unit within ``HEALTHSYNC_RETURN_TO_STOCK_MINUTES``
    of issue), otherwise discarded with the reason. Either way the request is short of it again."""
    if not isinstance(seal_intact, bool):
        raise DomainError(
            "Say whether the bag's seal is intact (true or false).", fields={"seal_intact": ["Required."]}
        )
    with transaction.atomic():
        allocation = _issued_locked(allocation)
        unit, now = allocation.unit, timezone.now()
        refusal = rules.return_to_stock_refusal(
            component=unit.component,
            minutes_out=max(0.0, (now - cast(datetime, allocation.issued_at)).total_seconds() / 60),  # issued: set
            seal_intact=seal_intact,
            expired=rules.is_expired(expires_at=unit.expires_at, now=now),
            limit_minutes=parameters.return_to_stock_minutes(),
        ) or " ".join(_stock_problems(unit))
        returned = f"Returned unused from request {allocation.request_id}"
        if refusal:
            _move(
                unit, to_status=UnitStatus.DISCARDED, by=by, reason=f"{returned}: {refusal}", request=allocation.request
            )
        else:
            _move(
                unit,
                to_status=UnitStatus.AVAILABLE,
                by=by,
                reason=f"{returned}, back to stock",
                request=allocation.request,
            )
        allocation.status, allocation.returned_at, allocation.returned_by = AllocationStatus.RETURNED, now, by
        allocation.save(update_fields=["status", "returned_at", "returned_by"])
        _refresh_request_status(BloodRequest.objects.select_for_update().get(pk=allocation.request_id))
        _publish_levels(unit.hospital_id, [(unit.blood_group, unit.component)])
    return allocation


def allocation_cancel(*, allocation: Allocation, by, reason: str) -> Allocation:
    """Give a reserved unit back to available stock."""
    with transaction.atomic():
        allocation = _allocation_locked(
            allocation, AllocationStatus.RESERVED, only="only a reservation can be cancelled", code="not_reserved"
        )
        allocation.status = AllocationStatus.CANCELLED
        allocation.save(update_fields=["status"])
        _move(
            allocation.unit,
            to_status=UnitStatus.AVAILABLE,
            by=by,
            reason=reason or "Reservation cancelled",
            request=allocation.request,
        )
        _refresh_request_status(BloodRequest.objects.select_for_update().get(pk=allocation.request_id))
        _publish_levels(allocation.unit.hospital_id, [(allocation.unit.blood_group, allocation.unit.component)])
    return allocation
