"""Reads from the model registry."""

from __future__ import annotations

from pathlib import Path

from django.db.models import OuterRef, QuerySet, Subquery

from ml_models.catalogue import DATASETS, model_name

from .models import Condition, MLModel
from .registry import models_dir


class ModelNotFound(LookupError):
    pass


def model_directory(model: MLModel) -> Path:
    path = Path(model.artifact_path)
    return path if path.is_absolute() else models_dir() / path


def _registry() -> QuerySet:
    """Models, each with the id of its first condition (``first_condition_id``), which every
    analysis of the model records: read with the model, not in a query of its own."""
    first = MLModel.conditions.through.objects.filter(mlmodel=OuterRef("pk")).order_by("condition_id").values("condition_id")[:1]
    return MLModel.objects.annotate(first_condition_id=Subquery(first))


def dataset_default_model(*, dataset: str) -> MLModel:
    """The active default model of a data set: its catalogue default architecture when trained,
    else any active model trained on it (best validation AUC first)."""
    info = DATASETS.get(dataset)
    if info is not None:
        for recipe in info.defaults:
            if recipe.active:
                found = _registry().filter(name=model_name(dataset, recipe.arch), is_active=True).first()
                if found:
                    return found
    candidates = sorted(
        _registry().filter(dataset=dataset, is_active=True),
        key=lambda model: -(model.metrics.get("validation", {}).get("auc") or 0),
    )
    if not candidates:
        raise ModelNotFound(f"no trained model for data set {dataset!r}: run make models")
    return candidates[0]


def model_resolve(*, reference: str) -> MLModel:
    """``name`` (its active version), ``name:version``, or a data set name (its active default;
    with ``:version``, that version of the default model)."""
    name, _, version = reference.partition(":")
    if version and name in DATASETS and not MLModel.objects.filter(name=name).exists():
        name = dataset_default_model(dataset=name).name  # "pneumoniamnist:2": version 2 of its default model
    if version:
        try:
            return _registry().get(name=name, version=int(version))
        except (MLModel.DoesNotExist, ValueError):
            raise ModelNotFound(f"no model {reference!r}") from None
    active = _registry().filter(name=name, is_active=True).first()
    if active:
        return active
    if name in DATASETS or MLModel.objects.filter(dataset=name).exists():
        return dataset_default_model(dataset=name)
    raise ModelNotFound(f"no active model named {name!r}")


def condition_coverage() -> list[dict]:
    """Each condition with the data sets and active models that cover it ("no model yet" when none)."""
    rows = []
    for condition in Condition.objects.prefetch_related("datasets", "models"):
        active = [str(model) for model in condition.models.all() if model.is_active]
        rows.append(
            {
                "condition": condition.name,
                "specialty": condition.specialty,
                "datasets": [dataset.name for dataset in condition.datasets.all()],
                "models": active or "no model yet",
            }
        )
    return rows


def default_model_status() -> list[dict]:
    """For ``make run``: each catalogue default model, trained or "not trained yet: run make models"."""
    status = []
    for info in DATASETS.values():
        for recipe in info.defaults:
            name = model_name(info.name, recipe.arch)
            active = _registry().filter(name=name, is_active=True).first()
            available = active is not None and (model_directory(active) / "model.keras").is_file()
            status.append(
                {"name": name, "dataset": info.name, "default": recipe.active, "model": str(active) if available else None,
                 "status": "ready" if available else "not trained yet: run make models"}
            )
    return status


def queue_status() -> dict:
    """Analyses waiting and running, and the workers that answer (for the staff page)."""
    from healthsync.embedded import workers_alive

    from .models import AnalysisStatus, ImageAnalysis

    counts = {status: ImageAnalysis.objects.filter(status=status).count() for status in (AnalysisStatus.QUEUED, AnalysisStatus.RUNNING)}
    return {"queued": counts[AnalysisStatus.QUEUED], "running": counts[AnalysisStatus.RUNNING], "workers": workers_alive()}
