from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _sync_models_on_migrate(sender, **kwargs):
    # A fresh clone knows every committed model (and any made by make models) after migrate.
    # The catalogue is seeded by a data migration; seeding again here (idempotent) restores it
    # after a database flush, which re-sends post_migrate but does not rerun migrations.
    import importlib

    from django.apps import apps

    from .services import models_sync

    importlib.import_module("imaging.migrations.0002_condition_catalogue").seed(apps, None)
    models_sync()


class ImagingConfig(AppConfig):
    name = "imaging"
    verbose_name = "Medical imaging"

    def ready(self):
        from . import audit  # noqa: F401  registers the audited models

        post_migrate.connect(_sync_models_on_migrate, sender=self, dispatch_uid="imaging-sync-models")
        try:
            from celery.signals import worker_process_init
        except ImportError:  # pragma: no cover - Celery is a requirement
            return
        from .inference import _fresh_predictors_in_worker

        # TensorFlow is not fork-safe: a forked worker process must load its own models.
        worker_process_init.connect(_fresh_predictors_in_worker, dispatch_uid="imaging-fresh-predictors")
