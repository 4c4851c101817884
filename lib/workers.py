"""Which Celery workers answer now: the in-process worker thread of the embedded mode, or a ping
through the broker (a broker that is down answers no worker). For the staff queue page and /healthz."""

import threading

from celery import current_app
from django.conf import settings


def workers_alive(timeout: float = 0.5) -> list[str]:
    """Names of the Celery workers that answer a ping now (the in-process worker in the embedded mode)."""
    if settings.CELERY_BROKER_URL.startswith("memory://"):
        alive = any(thread.name == "celery-worker" and thread.is_alive() for thread in threading.enumerate())
        return ["embedded (in this process)"] if alive else []
    try:
        replies = current_app.control.ping(timeout=timeout) or []
    except Exception:  # the broker is down: no worker can be reached
        return []
    return sorted(name for reply in replies for name in reply)
