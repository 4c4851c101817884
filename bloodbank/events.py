"""Domain events the blood bank publishes. Only ``notifications`` decides who hears them.

Each is sent after the transaction that caused it commits, so a receiver never
sees a change that was rolled back. Receivers get plain ids and values.
"""

from django.dispatch import Signal

from healthsync.events import publish  # noqa: F401  callers use events.publish

# hospital_id, blood_group, component, level ("critical" | "low" | "adequate"), available_units
inventory_level_changed = Signal()
# hospital_id, unit_ids
units_expired = Signal()
# request_id, hospital_id, urgency
request_created = Signal()
# allocation_id, hospital_id: a transfusion recorded with a suspected reaction (haemovigilance)
transfusion_reaction = Signal()
