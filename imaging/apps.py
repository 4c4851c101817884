from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _sync_models_on_migrate(sender, **kwargs):
    # A fresh clone knows every committed model (and any made by make models) after migrate.
    from .services import models_sync

    models_sync()


class ImagingConfig(AppConfig):
    name = "imaging"
    verbose_name = "Medical imaging"

    def ready(self):
        post_migrate.connect(_sync_models_on_migrate, sender=self, dispatch_uid="imaging-sync-models")
        try:
            from celery.signals import worker_process_init
        except ImportError:  # pragma: no cover - Celery is a requirement
            return
        from .inference import _fresh_predictors_in_worker

        # TensorFlow is not fork-safe: a forked worker process must load its own models.
        worker_process_init.connect(_fresh_predictors_in_worker, dispatch_uid="imaging-fresh-predictors")
