import os

from daphne.cli import CommandLineInterface
from django.apps import apps
from django.conf import settings
from django.core.management.base import BaseCommand

from ...embedded import start_background_work


class Command(BaseCommand):
    help = (
        "Serve HTTP and WebSockets with daphne. On the in-memory broker (the embedded "
        "default) a Celery worker and beat also run inside this process."
    )

    def add_arguments(self, parser):
        parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
        parser.add_argument("--no-beat", action="store_true", help="Do not run periodic tasks in this process.")

    def handle(self, *args, host, port, no_beat, **options):
        start_background_work(beat=not no_beat)
        for config in apps.get_app_configs():  # the apps' own services in this process (the DICOM node's listener)
            start = getattr(config, "start_with_server", None)
            if start is not None:
                start()
        self.stdout.write(
            f"HealthSync on http://{host}:{port}/ (database: "
            f"{settings.DATABASES['default']['ENGINE'].rsplit('.', 1)[-1]}, broker: "
            f"{settings.CELERY_BROKER_URL.split('://')[0]})"
        )
        # No --proxy-headers: daphne would take the client address from an X-Forwarded-For the client may
        # have written. HealthSync reads the header itself, behind HEALTHSYNC_TRUSTED_PROXIES proxies only.
        CommandLineInterface().run(
            ["-b", host, "-p", str(port), settings.ASGI_APPLICATION.replace(".application", ":application")]
        )
