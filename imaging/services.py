"""Writes to the model registry: registering trained models, activating versions, syncing with disk."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

from django.db import transaction

from ml_models.cards import MODEL_FILE, find_artifacts, read_card

from .models import Condition, MLModel
from .registry import models_dir


def _relative(directory: Path) -> str:
    directory = Path(directory).resolve()
    try:
        return str(directory.relative_to(models_dir().resolve()))
    except ValueError:
        return str(directory)


@transaction.atomic
def model_register(*, directory: Path, activate: bool | None = None) -> MLModel:
    """Registers (or refreshes) the model in ``directory`` from its card.

    ``activate``: True makes it the active version, False leaves activation alone, None activates
    it only when its name has no active version yet."""
    card = read_card(directory)
    dataset_name = card["dataset"]["name"]
    model, _ = MLModel.objects.update_or_create(
        name=card["name"],
        version=int(card["version"]),
        defaults={
            "dataset": dataset_name,
            "modality": card.get("modality", ""),
            "architecture": card["architecture"]["name"],
            "classes": card["classes"],
            "input_shape": card["input_shape"],
            "metrics": card.get("metrics", {}),
            "artifact_path": _relative(directory),
            "card": card,
        },
    )
    model.conditions.set(Condition.objects.filter(datasets__name=dataset_name).distinct())
    has_active = MLModel.objects.filter(name=model.name, is_active=True).exclude(pk=model.pk).exists()
    if activate or (activate is None and not has_active and not model.is_active):
        model = model_activate(model=model)
    return model


@transaction.atomic
def model_activate(*, model: MLModel) -> MLModel:
    """Makes ``model`` the one active version of its name. Running workers pick it up on their next
    prediction (imaging.inference checks the active version per call), without a restart. Each
    change is saved through the ORM, so the audit trail records who moved which version."""
    for current in MLModel.objects.select_for_update().filter(name=model.name, is_active=True).exclude(pk=model.pk):
        current.is_active = False
        current.save(update_fields=["is_active", "updated_at"])
    model = MLModel.objects.select_for_update().get(pk=model.pk)
    if not model.is_active:
        model.is_active = True
        model.save(update_fields=["is_active", "updated_at"])
    return model


@transaction.atomic
def model_retire(*, model: MLModel) -> MLModel:
    """Takes ``model`` out of service: no new analysis uses it (its name then has no active version
    until another is activated; a data set falls back to its other active models)."""
    model = MLModel.objects.select_for_update().get(pk=model.pk)
    if model.is_active:
        model.is_active = False
        model.save(update_fields=["is_active", "updated_at"])
    return model


def models_sync(*, root: Path | None = None) -> list[MLModel]:
    """Registers every model directory on disk (committed, or written by ``make models``).

    Rows whose files have gone are kept but deactivated, so the registry never serves a missing
    file. Default models (ml_models.catalogue) get the newest version activated when their name
    has none active."""
    root = Path(root) if root is not None else models_dir()
    registered = [model_register(directory=directory, activate=None) for directory in find_artifacts(root)]
    present = {model.pk for model in registered}
    for stale in MLModel.objects.filter(is_active=True).exclude(pk__in=present):
        directory = Path(stale.artifact_path) if Path(stale.artifact_path).is_absolute() else root / stale.artifact_path
        if not (directory / MODEL_FILE).is_file():
            model_retire(model=stale)
    return registered


def appearance_fit(
    *, recogniser: bool = False, only: list[str] | None = None, missing_only: bool = False
) -> Iterator[str]:
    """Fit the appearance checks (ml_models.appearance) on the data sets present; yields progress lines.

    ``recogniser``: fit the modality recogniser again first. Then each active model (or those named
    in ``only``; with ``missing_only``, those without a profile) gets its profile fitted on the
    splits it was trained with, and its card (file and registry row) records the measurement."""
    from ml_models import appearance
    from ml_models.appearance_fit import fit_profile_for, fit_recogniser_from, save_recogniser
    from ml_models.catalogue import DATASETS
    from ml_models.training import TrainingPlan, make_splits

    from .registry import datasets_dir
    from .selectors import model_directory

    root = datasets_dir()
    if recogniser:
        lines: list[str] = []
        fitted, card = fit_recogniser_from(root, log=lines.append)
        save_recogniser(fitted, card)
        yield from lines
        yield f"recogniser saved ({', '.join(fitted.kinds)})"
    current = appearance.Recogniser.load()
    models = MLModel.objects.filter(is_active=True).order_by("name")
    if only:
        models = models.filter(name__in=only)
    for model in models:
        directory = model_directory(model)
        if missing_only and (directory / appearance.PROFILE_FILE).is_file():
            continue
        info = DATASETS.get(model.dataset)
        if info is None or not (root / model.dataset).exists():
            yield f"skipping {model}: its data set {model.dataset} is not in {root}"
            continue
        card = read_card(directory)
        recipe = next((r for r in info.defaults if r.arch == model.architecture), info.defaults[0])
        # The splits the model was trained with: its recipe at its card's input size and seed.
        recipe = replace(recipe, image_size=int(card["preprocessing"]["image_size"]))
        plan = TrainingPlan(
            dataset_dir=root / model.dataset, info=info, recipe=recipe, seed=card.get("training", {}).get("seed", 42)
        )
        splits, _ = make_splits(plan, lambda line: None)
        progress: list[str] = []
        fit_profile_for(directory, splits, root, recogniser=current, log=progress.append)
        model_register(directory=directory, activate=False)
        yield from progress
