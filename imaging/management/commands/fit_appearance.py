"""Fit the appearance checks that refuse images unlike a model's training data.

``make models`` runs this after training; run it alone to refit the modality recogniser
(``--recogniser``) or the profile of models trained before profiles existed."""

from django.core.management.base import BaseCommand

from . import _quiet  # noqa: F401


class Command(BaseCommand):
    help = "Fit the modality recogniser and the appearance profile of every active model (ml_models.appearance)."

    def add_arguments(self, parser):
        parser.add_argument("--recogniser", action="store_true", help="Fit the modality recogniser again first.")
        parser.add_argument("--only", nargs="*", default=None, help="Model names (default: every active model).")
        parser.add_argument("--missing", action="store_true", help="Only models without a profile yet.")

    def handle(self, *args, **options):
        from imaging.services import appearance_fit

        for line in appearance_fit(
            recogniser=options["recogniser"], only=options["only"], missing_only=options["missing"]
        ):
            self.stdout.write(line)
