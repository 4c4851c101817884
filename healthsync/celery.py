"""The Celery application shared by every HealthSync process."""

import gc
import os

from celery import Celery, signals

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "healthsync.settings")

app = Celery("healthsync")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@signals.worker_ready.connect
@signals.worker_process_init.connect
def _freeze_startup_objects(**_):
    """What a worker loaded at start lives as long as it: keep it out of full garbage collections."""
    gc.freeze()
