"""Domain events of the imaging app (sent after commit). Only ``notifications`` decides who hears them."""

from django.dispatch import Signal

from bloodbank.events import publish  # noqa: F401  the same after-commit sender

# analysis_id, user_id, status ("queued" | "running" | "done" | "failed")
analysis_status_changed = Signal()
