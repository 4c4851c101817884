"""The Celery application shared by every HealthSync process."""

import gc
import os

from celery import Celery, signals
from django.db import close_old_connections

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("healthsync")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@signals.worker_ready.connect
@signals.worker_process_init.connect
def _freeze_startup_objects(**_):
    """What a worker loaded at start lives as long as it: keep it out of full garbage collections."""
    gc.freeze()


@signals.task_prerun.connect
@signals.task_postrun.connect
def _database_connections_as_for_a_request(sender=None, **_):
    """Around each task, what Django does around each request: keep a connection for
    ``CONN_MAX_AGE`` and drop it when it broke (``CONN_HEALTH_CHECKS``). Eager tasks run inside
    their caller's request and transaction, so they are left alone."""
    if not getattr(getattr(sender, "request", None), "is_eager", False):
        close_old_connections()
