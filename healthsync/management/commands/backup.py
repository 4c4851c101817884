from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand
from django.utils import timezone

from lib.backups import backup


class Command(BaseCommand):
    help = "Back up the database (pg_dump, or SQLite's backup API) and media files into a new directory."

    def add_arguments(self, parser):
        parser.add_argument("--output", help="Directory to create (default: var/backups/<timestamp>).")

    def handle(self, *args, output, **options):
        target = (
            Path(output) if output else Path(settings.VAR_DIR) / "backups" / timezone.now().strftime("%Y%m%d-%H%M%S")
        )
        backup(output=target)
        self.stdout.write(self.style.SUCCESS(f"Backup written to {target}"))
