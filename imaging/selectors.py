"""Reads from the model registry."""

from __future__ import annotations

from pathlib import Path

from django.db.models import OuterRef, QuerySet, Subquery

from lib.workers import workers_alive
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
    first = (
        MLModel.conditions.through.objects.filter(mlmodel=OuterRef("pk"))
        .order_by("condition_id")
        .values("condition_id")[:1]
    )
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


def _default_rank(model: MLModel) -> tuple:
    """Sort key: the data set's catalogue default first, then the best validation AUC."""
    info = DATASETS.get(model.dataset)
    is_default = info is not None and any(
        recipe.active and model_name(info.name, recipe.arch) == model.name for recipe in info.defaults
    )
    return (not is_default, -(model.metrics.get("validation", {}).get("auc") or 0), model.name)


def condition_find(*, reference: str) -> Condition | None:
    """A condition by its code (``brain-tumour-glioma``) or name (``Brain tumour: glioma``), any case."""
    reference = reference.strip()
    if not reference:
        return None
    return (
        Condition.objects.filter(code=reference.lower()).first()
        or Condition.objects.filter(name__iexact=reference).first()
    )


def condition_models(*, condition: Condition) -> list[MLModel]:
    """The active models that cover ``condition``, its default first."""
    return sorted(_registry().filter(conditions=condition, is_active=True), key=_default_rank)


def dataset_models(*, dataset: str) -> list[MLModel]:
    """The active models trained on ``dataset``, its default first."""
    return sorted(_registry().filter(dataset=dataset, is_active=True), key=_default_rank)


def _model_summary(model: MLModel, *, default: bool) -> dict:
    validation = model.metrics.get("validation", model.metrics)
    appearance = (model.card or {}).get("appearance", {})
    return {
        "name": model.name,
        "version": model.version,
        "reference": f"{model.name}:{model.version}",
        "architecture": model.architecture,
        "dataset": model.dataset,
        "default": default,
        "classes": model.classes,
        "input_shape": model.input_shape,
        "validation": {key: validation.get(key) for key in ("n", "accuracy", "auc", "macro_f1") if key in validation},
        "validation_ci95": validation.get("ci95", {}),
        "out_of_distribution": {key: appearance.get(key) for key in ("validation_flagged", "caught_min_other_modality")}
        if appearance
        else None,
    }


def condition_catalogue(*, reference: str | None = None) -> list[dict]:
    """Every condition (or the one named) with its specialty, modalities, the data sets that cover it,
    and their active models with their validation metrics ("no model yet" when none; "not trained
    yet: run make models" when a data set covers it but none of its models is trained here)."""
    conditions = Condition.objects.prefetch_related("datasets")
    if reference is not None:
        found = condition_find(reference=reference)
        conditions = conditions.filter(pk=found.pk) if found else conditions.none()
    models_by_condition: dict[int, list[MLModel]] = {}
    through = MLModel.conditions.through.objects.filter(mlmodel__is_active=True).select_related("mlmodel")
    for link in through:
        models_by_condition.setdefault(link.condition_id, []).append(link.mlmodel)
    rows = []
    for condition in conditions:
        models = sorted(models_by_condition.get(condition.pk, []), key=_default_rank)
        datasets = list(condition.datasets.all())
        if models:
            status = "ready"
        elif datasets:
            status = "not trained yet: run make models"
        else:
            status = "no model yet"
        rows.append(
            {
                "code": condition.code,
                "name": condition.name,
                "specialty": condition.specialty,
                "modalities": [part.strip() for part in condition.modalities.split(",") if part.strip()],
                "description": condition.description,
                "datasets": [
                    {
                        "name": dataset.name,
                        "title": dataset.title,
                        "modality": dataset.modality,
                        "license": dataset.license,
                    }
                    for dataset in datasets
                ],
                "models": [_model_summary(model, default=index == 0) for index, model in enumerate(models)],
                "status": status,
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
                {
                    "name": name,
                    "dataset": info.name,
                    "default": recipe.active,
                    "model": str(active) if available else None,
                    "status": "ready" if available else "not trained yet: run make models",
                }
            )
    return status


def queue_status() -> dict:
    """Analyses waiting and running, and the workers that answer (for the staff page)."""
    from .models import AnalysisStatus, ImageAnalysis

    counts = {
        status: ImageAnalysis.objects.filter(status=status).count()
        for status in (AnalysisStatus.QUEUED, AnalysisStatus.RUNNING)
    }
    return {
        "queued": counts[AnalysisStatus.QUEUED],
        "running": counts[AnalysisStatus.RUNNING],
        "workers": workers_alive(),
    }
