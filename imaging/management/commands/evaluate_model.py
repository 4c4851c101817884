"""Evaluates a registered model on one split of a data set (MedMNIST npz or image folders)."""

import json

from django.core.management.base import BaseCommand, CommandError

from . import _quiet  # noqa: F401


class Command(BaseCommand):
    help = "Evaluate a model (name, name:version, or a data set name for its default) on a data set split."

    def add_arguments(self, parser):
        parser.add_argument("--model", required=True)
        parser.add_argument(
            "--dataset", required=True, help="A MedMNIST npz file, an image-folder root, or a data set name."
        )
        parser.add_argument("--split", default="val")
        parser.add_argument("--json", action="store_true", help="Print one JSON object.")
        parser.add_argument("--bootstrap", action="store_true", help="Add 95%% bootstrap confidence intervals.")

    def handle(self, *args, **options):
        from imaging.inference import model_evaluate
        from imaging.registry import dataset_path
        from imaging.selectors import ModelNotFound, model_resolve

        try:
            model = model_resolve(reference=options["model"])
            path = dataset_path(options["dataset"])
            result = model_evaluate(model=model, dataset=path, split=options["split"], bootstrap=options["bootstrap"])
        except (ModelNotFound, FileNotFoundError, KeyError, ValueError) as error:
            raise CommandError(str(error)) from None
        if options["json"]:
            self.stdout.write(json.dumps(result))
            return
        self.stdout.write(
            f"{result['model']}:{result['version']} on {result['dataset']} [{result['split']}], n={result['n']}"
        )
        self.stdout.write(
            f"accuracy {result['accuracy']:.4f}  auc "
            f"{result['auc'] if result['auc'] is None else round(result['auc'], 4)}  macro F1 {result['macro_f1']:.4f}"
        )
        for name, scores in result["per_class"].items():
            self.stdout.write(
                f"  {name:>20}: precision {scores['precision']:.3f} recall {scores['recall']:.3f} f1 "
                f"{scores['f1']:.3f} n={scores['support']}"
            )
        self.stdout.write(f"confusion matrix (rows true, columns predicted): {result['confusion_matrix']}")
