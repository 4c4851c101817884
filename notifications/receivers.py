"""Domain events in, tasks out. The events arrive after their transaction committed."""

import logging

from kombu.exceptions import OperationalError

from bloodbank import events as bloodbank_events
from donors import events as donor_events
from imaging import events as imaging_events
from lib.realtime import push

from . import tasks

logger = logging.getLogger(__name__)


def _queue(task, **event) -> None:
    """Hand an event to a worker. When the broker cannot take it, handle it here and now instead: the
    event's transaction has committed, so a refused publish would lose it for good (the deliveries it
    makes stay pending in the database, and the resend sweep sends them once the broker is back)."""
    try:
        task.delay(**event)
    except OperationalError as error:
        logger.warning("broker unavailable (%s): running %s in this process", error, task.name)
        outcome = task.apply(kwargs=event)
        if outcome.failed():
            logger.error("%s%s failed: %s", task.name, event, outcome.result)


def _inventory_level_changed(sender, *, hospital_id, blood_group, component, level, available_units, **_):
    # Adequate levels matter too: they end a shortage episode.
    _queue(
        tasks.inventory_level_changed,
        hospital_id=hospital_id,
        blood_group=str(blood_group),
        component=str(component),
        level=level,
        available_units=available_units,
    )


def _request_created(sender, *, request_id, urgency, **_):
    if urgency >= 4:
        _queue(tasks.request_created, request_id=request_id)


def _units_expired(sender, *, hospital_id, unit_ids, **_):
    _queue(tasks.units_expired, hospital_id=hospital_id, unit_ids=list(unit_ids))


def _transfusion_reaction(sender, *, allocation_id, **_):
    _queue(tasks.transfusion_reaction, allocation_id=allocation_id)


def _units_recalled(sender, *, hospital_id, din, unit_ids, marker, **_):
    _queue(tasks.units_recalled, hospital_id=hospital_id, din=din, unit_ids=list(unit_ids), marker=marker)


def _appointment_booked(sender, *, appointment_id, **_):
    _queue(tasks.appointment_booked, appointment_id=appointment_id)


def analyses_group(user_id: int) -> str:
    return f"analyses.{user_id}"


def _analyses_status_changed(sender, *, analysis_ids, user_id, status, **_):
    # The socket gets every status at once (the API holds the state; a missed push costs nothing);
    # a finished or failed analysis also lands in the requester's inbox.
    if user_id is not None:
        try:
            # One channel-layer message per status change of a batch; the consumer sends one frame per analysis.
            push(
                analyses_group(user_id),
                {"analyses": [{"analysis_id": analysis_id, "status": str(status)} for analysis_id in analysis_ids]},
                kind="analyses.status",
                wait=False,
            )
        except Exception:  # the channel layer is down: never fail the request or task that changed the status
            logger.warning("push of analyses %s status %s failed", list(analysis_ids), status, exc_info=True)
    if status in ("done", "failed"):
        _queue(tasks.analyses_finished, analysis_ids=list(analysis_ids))


def connect() -> None:
    bloodbank_events.inventory_level_changed.connect(_inventory_level_changed, dispatch_uid="notifications.level")
    bloodbank_events.request_created.connect(_request_created, dispatch_uid="notifications.request")
    bloodbank_events.units_expired.connect(_units_expired, dispatch_uid="notifications.expired")
    bloodbank_events.transfusion_reaction.connect(_transfusion_reaction, dispatch_uid="notifications.reaction")
    donor_events.appointment_booked.connect(_appointment_booked, dispatch_uid="notifications.appointment")
    donor_events.units_recalled.connect(_units_recalled, dispatch_uid="notifications.recall")
    imaging_events.analyses_status_changed.connect(_analyses_status_changed, dispatch_uid="notifications.analysis")
