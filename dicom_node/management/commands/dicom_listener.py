import signal

from django.conf import settings
from django.core.management.base import BaseCommand

from ...listener import serve, stop


class Command(BaseCommand):
    help = "Run the DICOM node (C-ECHO, C-STORE and C-FIND SCP) in the foreground until stopped."

    def add_arguments(self, parser):
        parser.add_argument(
            "--host", default=settings.HEALTHSYNC_DICOM_HOST, help="Address to listen on (HEALTHSYNC_DICOM_HOST)."
        )
        parser.add_argument(
            "--port", type=int, default=settings.HEALTHSYNC_DICOM_PORT or 11112, help="Port (HEALTHSYNC_DICOM_PORT)."
        )

    def handle(self, *args, host, port, **options):
        signal.signal(signal.SIGTERM, lambda *_: (stop(), exit(0)))
        self.stdout.write(f"DICOM node {settings.HEALTHSYNC_DICOM_AE_TITLE} on {host}:{port}", ending="\n")
        self.stdout.flush()
        try:
            serve(host=host, port=port, block=True)
        except KeyboardInterrupt:
            stop()
