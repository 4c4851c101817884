from django.apps import AppConfig


class DicomNodeConfig(AppConfig):
    name = "dicom_node"
    verbose_name = "DICOM node"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from . import receivers

        receivers.connect()

    def start_with_server(self) -> None:
        """Called by ``manage.py serve``: the listener in its threads in the embedded mode."""
        from .listener import start_in_thread

        start_in_thread()

    def health_reports(self) -> dict:
        """Read by ``/healthz``: states it reports without making the site unavailable."""
        from .listener import state

        return {"dicom_listener": state}
