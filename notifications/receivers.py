"""Domain events in, tasks out. The events arrive after their transaction committed."""

from bloodbank import events as bloodbank_events
from donors import events as donor_events
from healthsync.realtime import push
from imaging import events as imaging_events

from . import tasks


def _inventory_level_changed(sender, *, hospital_id, blood_group, component, level, available_units, **_):
    # Adequate levels matter too: they end a shortage episode.
    tasks.inventory_level_changed.delay(
        hospital_id=hospital_id, blood_group=str(blood_group), component=str(component), level=level, available_units=available_units
    )


def _request_created(sender, *, request_id, urgency, **_):
    if urgency >= 4:
        tasks.request_created.delay(request_id=request_id)


def _units_expired(sender, *, hospital_id, unit_ids, **_):
    tasks.units_expired.delay(hospital_id=hospital_id, unit_ids=list(unit_ids))


def _appointment_booked(sender, *, appointment_id, **_):
    tasks.appointment_booked.delay(appointment_id=appointment_id)


def analyses_group(user_id: int) -> str:
    return f"analyses.{user_id}"


def _analysis_status_changed(sender, *, analysis_id, user_id, status, **_):
    # The socket gets every status at once (the API holds the state; a missed push costs nothing);
    # a finished or failed analysis also lands in the requester's inbox.
    if user_id is not None:
        push(analyses_group(user_id), {"analysis_id": analysis_id, "status": str(status)})
    if status in ("done", "failed"):
        tasks.analysis_finished.delay(analysis_id=analysis_id)


def connect() -> None:
    bloodbank_events.inventory_level_changed.connect(_inventory_level_changed, dispatch_uid="notifications.level")
    bloodbank_events.request_created.connect(_request_created, dispatch_uid="notifications.request")
    bloodbank_events.units_expired.connect(_units_expired, dispatch_uid="notifications.expired")
    donor_events.appointment_booked.connect(_appointment_booked, dispatch_uid="notifications.appointment")
    imaging_events.analysis_status_changed.connect(_analysis_status_changed, dispatch_uid="notifications.analysis")
