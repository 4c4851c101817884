"""Writes of the blood bank. Each public service is one transaction.

Allocation is atomic and exactly-once: candidate units are locked
(``SELECT … FOR UPDATE SKIP LOCKED`` on PostgreSQL; the embedded SQLite runs
every transaction as ``BEGIN IMMEDIATE``, so writers queue), each status change
is a conditional update that refuses a unit someone else already moved, and a
partial unique index allows one live allocation per unit.

The services live by section: ``units``, ``levels`` (stock and par levels), ``requests``,
``allocations``, ``transfers``; ``moves`` holds what they all do (unit moves with their history,
a request's status, the checks before a unit enters stock). Import them from here:
``from bloodbank import services``, ``services.request_create``.
"""

from .allocations import (
    allocation_cancel,
    allocation_crossmatch,
    allocation_issue,
    allocation_return,
    allocation_transfuse,
    allocation_transfusion_amend,
)
from .levels import par_level_set
from .moves import release_checks
from .requests import MAX_REQUEST_UNITS, emergency_release, request_cancel, request_create, request_fulfil, units_for
from .transfers import (
    TRANSFER_STEPS,
    transfer_approve,
    transfer_cancel,
    transfer_decline,
    transfer_dispatch,
    transfer_offer,
    transfer_receive,
    transfer_request,
    transfer_step,
    transfer_steps_open,
)
from .units import (
    blood_group_or_refusal,
    din_next,
    unit_create,
    unit_discard,
    unit_release,
    units_expire_due,
    units_receive,
)

__all__ = [
    "MAX_REQUEST_UNITS",
    "TRANSFER_STEPS",
    "allocation_cancel",
    "allocation_crossmatch",
    "allocation_issue",
    "allocation_return",
    "allocation_transfuse",
    "allocation_transfusion_amend",
    "blood_group_or_refusal",
    "din_next",
    "emergency_release",
    "par_level_set",
    "release_checks",
    "request_cancel",
    "request_create",
    "request_fulfil",
    "transfer_approve",
    "transfer_cancel",
    "transfer_decline",
    "transfer_dispatch",
    "transfer_offer",
    "transfer_receive",
    "transfer_request",
    "transfer_step",
    "transfer_steps_open",
    "unit_create",
    "unit_discard",
    "unit_release",
    "units_expire_due",
    "units_for",
    "units_receive",
]
