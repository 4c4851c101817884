from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from lib.backups import restore, verify


class Command(BaseCommand):
    help = (
        "Restore a backup made by `backup` into the configured database and media directory, then verify every table."
    )

    def add_arguments(self, parser):
        parser.add_argument("--input", required=True, help="The backup directory.")

    def handle(self, *args, input, **options):
        manifest = restore(source=Path(input))
        mismatched = verify(manifest)
        if mismatched:
            raise CommandError(f"Restored, but these tables differ from the backup: {', '.join(mismatched)}")
        self.stdout.write(
            self.style.SUCCESS(
                f"Restored {len(manifest['tables'])} tables from {input}; every row count and checksum matches."
            )
        )
