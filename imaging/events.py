"""Domain events of the imaging app (sent after commit). Only ``notifications`` decides who hears them."""

from django.dispatch import Signal

from healthsync.events import publish  # noqa: F401  callers use events.publish

# analysis_ids (one user's, in submission order), user_id, status ("queued" | "running" | "done" | "failed")
analyses_status_changed = Signal()
