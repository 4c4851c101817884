"""Domain events the donors app publishes (after commit). Only ``notifications`` decides who hears them."""

from django.dispatch import Signal

from healthsync.events import publish  # noqa: F401  callers use events.publish

# appointment_id, donor_user_id, starts_at (aware datetime), hospital_id
appointment_booked = Signal()
# hospital_id, din, unit_ids, marker: units of a donation found positive after they left the blood
# bank (issued or transfused at that hospital): recall and look-back
units_recalled = Signal()
