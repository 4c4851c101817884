"""Trains one model, evaluates it on validation, saves it with its card and registers a new version."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from . import _quiet  # noqa: F401


class Command(BaseCommand):
    help = "Train a model from scratch on a data set and register it as a new version."

    def add_arguments(self, parser):
        from ml_models.architectures import ARCHITECTURES

        parser.add_argument("--dataset", required=True, help="A folder name in HEALTHSYNC_DATASETS_DIR, or a path.")
        parser.add_argument("--arch", required=True, choices=ARCHITECTURES)
        parser.add_argument("--epochs", type=int, default=None)
        parser.add_argument("--image-size", type=int, default=None)
        parser.add_argument("--batch-size", type=int, default=None)
        parser.add_argument("--seed", type=int, default=42)
        parser.add_argument("--no-activate", action="store_true", help="Register without making it the active version.")

    def handle(self, *args, **options):
        from dataclasses import replace

        from imaging.registry import dataset_path, models_dir
        from imaging.services import model_register
        from ml_models.catalogue import DATASETS, Recipe
        from ml_models.training import TrainingPlan, info_for_path, train_model

        try:
            path = dataset_path(options["dataset"])
        except FileNotFoundError as error:
            raise CommandError(str(error)) from None
        name = Path(options["dataset"]).name if path.is_dir() else path.parent.name
        info = DATASETS.get(name) or info_for_path(path, name=name)
        recipe = next((r for r in info.defaults if r.arch == options["arch"]), None)
        if recipe is None:
            # No catalogue recipe: native 28 px for MedMNIST (the applications upsample to 32 inside), 64 px for files.
            recipe = Recipe(
                arch=options["arch"], image_size=28 if info.layout == "medmnist" else 64, epochs=20, active=False
            )
        changes = {
            key: options[option]
            for key, option in (("epochs", "epochs"), ("image_size", "image_size"), ("batch_size", "batch_size"))
            if options[option]
        }
        recipe = replace(recipe, **changes)
        plan = TrainingPlan(dataset_dir=path, info=info, recipe=recipe, seed=options["seed"])
        self.stdout.write(
            f"training {options['arch']} on {path} at {recipe.image_size} px for up to {recipe.epochs} epochs"
        )
        result = train_model(plan, models_dir(), log=lambda line: self.stdout.write(line))
        model = model_register(directory=result.directory, activate=not options["no_activate"])
        metrics = result.card["metrics"]["validation"]
        self.stdout.write(
            self.style.SUCCESS(
                f"registered {model} accuracy {metrics['accuracy']:.4f} auc {metrics['auc'] or float('nan'):.4f} "
                f"macro F1 {metrics['macro_f1']:.4f}"
            )
        )
