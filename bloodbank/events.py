"""Domain events the blood bank publishes. Only ``notifications`` decides who hears them.

Each is sent after the transaction that caused it commits, so a receiver never
sees a change that was rolled back. Receivers get plain ids and values.
"""

from django.db import transaction
from django.dispatch import Signal

# hospital_id, blood_group, component, level ("critical" | "low" | "adequate"), available_units
inventory_level_changed = Signal()
# hospital_id, unit_ids
units_expired = Signal()
# request_id, hospital_id, urgency
request_created = Signal()


def publish(signal: Signal, **payload) -> None:
    """Send ``signal`` once the current transaction commits (at once outside a transaction)."""
    transaction.on_commit(lambda: signal.send(sender="bloodbank", **payload))
