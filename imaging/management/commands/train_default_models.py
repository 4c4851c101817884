"""``make models``: trains the default model of every data set present, from scratch.

The recipes (ml_models.catalogue) are sized so the whole set trains in about an hour on two CPU
cores. Each model is registered as it finishes, so an interrupted run keeps what it made."""

import time

from django.core.management.base import BaseCommand

from . import _quiet  # noqa: F401


class Command(BaseCommand):
    help = "Train the default models of every data set in HEALTHSYNC_DATASETS_DIR."

    def add_arguments(self, parser):
        parser.add_argument("--only", nargs="*", default=None, help="Data set names to train (default: all present).")
        parser.add_argument("--seed", type=int, default=42)
        parser.add_argument(
            "--skip-trained", action="store_true", help="Skip defaults that already have an active version."
        )

    def handle(self, *args, **options):
        from imaging.models import MLModel
        from imaging.registry import datasets_dir, models_dir
        from imaging.services import model_register
        from ml_models.catalogue import DATASETS, model_name
        from ml_models.training import TrainingPlan, train_model

        root = datasets_dir()
        plans = []
        for info in DATASETS.values():
            if options["only"] and info.name not in options["only"]:
                continue
            if not (root / info.name).exists():
                self.stdout.write(self.style.WARNING(f"skipping {info.name}: not in {root}"))
                continue
            for recipe in info.defaults:
                if (
                    options["skip_trained"]
                    and MLModel.objects.filter(name=model_name(info.name, recipe.arch), is_active=True).exists()
                ):
                    continue
                plans.append(TrainingPlan(dataset_dir=root / info.name, info=info, recipe=recipe, seed=options["seed"]))

        # Every data set's active default first, so a run cut short still serves every data set.
        plans.sort(key=lambda plan: not plan.recipe.active)
        started = time.monotonic()
        for number, plan in enumerate(plans, start=1):
            self.stdout.write(
                self.style.MIGRATE_HEADING(
                    f"[{number}/{len(plans)}] {plan.info.name}: {plan.recipe.arch} at {plan.recipe.image_size} px "
                    f"(elapsed {time.monotonic() - started:.0f} s)"
                )
            )
            result = train_model(plan, models_dir(), log=lambda line: self.stdout.write(line))
            model = model_register(directory=result.directory, activate=True)
            self.stdout.write(self.style.SUCCESS(f"registered {model}"))
        self.stdout.write(self.style.SUCCESS(f"trained {len(plans)} models in {time.monotonic() - started:.0f} s"))
