"""Domain events the donors app publishes (after commit). Only ``notifications`` decides who hears them."""

from django.dispatch import Signal

from bloodbank.events import publish  # noqa: F401  the same after-commit sender

# appointment_id, donor_user_id, starts_at (aware datetime), hospital_id
appointment_booked = Signal()
