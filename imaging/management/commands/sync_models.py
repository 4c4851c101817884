"""Registers every model directory found on disk (also run automatically after migrate)."""

from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Register every model in HEALTHSYNC_MODELS_DIR and list the default models' status."

    def handle(self, *args, **options):
        from imaging.selectors import default_model_status
        from imaging.services import models_sync

        registered = models_sync()
        self.stdout.write(f"{len(registered)} model versions on disk")
        for row in default_model_status():
            marker = "*" if row["default"] else " "
            self.stdout.write(f"{marker} {row['name']:<40} {row['model'] or row['status']}")
