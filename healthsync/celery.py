"""The Celery application shared by every HealthSync process."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "healthsync.settings")

app = Celery("healthsync")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
