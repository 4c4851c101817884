"""Running registered models: one loaded predictor per model version per process.

TensorFlow is not fork-safe, so nothing is loaded at import time: a predictor is loaded on first
use in the process that serves it. Celery workers drop any predictor inherited through fork when
their process starts (``worker_process_init``). Each call looks up the active version, so a newly
activated version is served from the next request on, without restarting workers.
"""

from __future__ import annotations

import gc
import threading
from pathlib import Path

import numpy as np

from .models import MLModel
from .selectors import model_directory, model_resolve

_predictors: dict[tuple[int, str], object] = {}
_lock = threading.Lock()


def predictor_for(model: MLModel):
    from ml_models.predictor import Predictor

    key = (model.pk, model.artifact_path)
    predictor = _predictors.get(key)
    if predictor is None:
        with _lock:
            predictor = _predictors.get(key)
            if predictor is None:
                predictor = Predictor.load(model_directory(model))
                blank = np.zeros((1, *predictor.spec.input_shape), dtype=np.float32)
                predictor.explainer.heatmaps(blank, [0])  # trace Grad-CAM now, not in the first analysis
                _predictors[key] = predictor
                gc.freeze()  # the model's many objects live as long as the process: out of full collections
    return predictor


def forget_predictors() -> None:
    with _lock:
        _predictors.clear()


def diagnose(*, reference: str, pictures) -> tuple[MLModel, list]:
    """Predictions of the active model for ``reference`` (name or data set) on raw pictures."""
    model = model_resolve(reference=reference)
    return model, predictor_for(model).predict(pictures)


def model_evaluate(*, model: MLModel, dataset: Path, split: str, bootstrap: bool = False) -> dict:
    """Metrics of ``model`` on one split of ``dataset``, read in the model's own classes and
    preprocessing (the same path as serving)."""
    from ml_models.datasets import load_split, normalise_split
    from ml_models.evaluation import evaluate

    predictor = predictor_for(model)
    images = load_split(Path(dataset), split, predictor.spec, tuple(model.classes))
    probabilities = predictor.probabilities(images.images)
    metrics = evaluate(
        images.labels,
        probabilities,
        model.classes,
        threshold=predictor.threshold,
        positive_class=predictor.positive_class,
        bootstrap=bootstrap,
    )
    result = {"model": model.name, "version": model.version, "dataset": str(dataset), "split": normalise_split(split)}
    keys = ("n", "accuracy", "auc", "macro_f1", "per_class", "confusion_matrix") + (("ci95",) if bootstrap else ())
    return result | {key: metrics[key] for key in keys}


def _fresh_predictors_in_worker(**kwargs):
    """Connected to Celery's ``worker_process_init`` in ImagingConfig.ready."""
    forget_predictors()


def explain(*, reference: str, picture) -> tuple[MLModel, object, bytes]:
    """The active model's prediction for one picture, with its Grad-CAM overlay as PNG bytes."""
    from ml_models.gradcam import overlay_png

    model = model_resolve(reference=reference)
    predictor = predictor_for(model)
    image = predictor.prepare([picture])[0]
    prediction = predictor.predictions(predictor.probabilities(image[None]))[0]
    cam = predictor.explainer.heatmaps(image[None], [prediction.class_index])[0]
    return model, prediction, overlay_png(image, cam)
