"""Training a model from scratch on one data set, then evaluating it and writing it with its card.

Splits: the data set's own validation split is the *reported* split when it has one; otherwise
one is carved from train (by patient where file names show patients). From the rest of train an
early-stopping split is carved, and for binary models a separate calibration split on which the
decision threshold is chosen, so the reported numbers are tuned on neither.
"""

from __future__ import annotations

import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from ml_models import cards
from ml_models.appearance import Recogniser
from ml_models.appearance_fit import fit_profile_for
from ml_models.architectures import build_model, count_parameters, gradcam_layer_name
from ml_models.catalogue import DatasetInfo, Recipe, model_name
from ml_models.datasets import LabelledImages, available_splits, carve, layout_of, load_split
from ml_models.evaluation import evaluate, tune_threshold
from ml_models.preprocessing import PreprocessingSpec

REPORT_FRACTION = 0.2
EARLY_STOP_FRACTION = 0.12
CALIBRATION_FRACTION = 0.12

# Augmentation per modality: only transformations that leave the diagnosis unchanged. Chest
# X-rays are never mirrored (the heart is on the left); fundus and dermoscopy have no up or
# left, so they are flipped and turned freely.
AUGMENTATIONS: dict[str, dict] = {
    "chest_xray": {"rotation": 0.03, "zoom": 0.1, "translation": 0.05, "contrast": 0.1},
    "msk_xray": {"flip": "horizontal", "rotation": 0.05, "zoom": 0.1, "translation": 0.05, "contrast": 0.1},
    "ultrasound": {"flip": "horizontal", "rotation": 0.03, "zoom": 0.1, "translation": 0.05, "contrast": 0.1},
    "brain_mri": {"flip": "horizontal", "rotation": 0.03, "zoom": 0.1, "translation": 0.05, "contrast": 0.1},
    "fundus": {"flip": "horizontal_and_vertical", "rotation": 0.5, "zoom": 0.05, "contrast": 0.1},
    "dermoscopy": {"flip": "horizontal_and_vertical", "rotation": 0.5, "zoom": 0.1, "contrast": 0.1},
    "generic": {"rotation": 0.03, "zoom": 0.05},
}
MODALITY_NAMES = {
    "chest_xray": "chest X-ray",
    "msk_xray": "musculoskeletal X-ray",
    "ultrasound": "ultrasound",
    "brain_mri": "MRI",
    "fundus": "colour fundus photograph",
    "dermoscopy": "dermoscopy",
    "ct": "CT",
    "microscopy": "microscopy",
    "histopathology": "histopathology",
    "generic": "unspecified",
}


@dataclass
class TrainingPlan:
    dataset_dir: Path
    info: DatasetInfo
    recipe: Recipe
    seed: int = 42
    verbose: int | None = None  # Keras verbosity; None: a bar on a terminal, one line per epoch otherwise

    @property
    def spec(self) -> PreprocessingSpec:
        return PreprocessingSpec(image_size=self.recipe.image_size, channels=self.info.channels)


@dataclass
class TrainingResult:
    directory: Path
    card: dict
    model: object = field(repr=False)


def augmentation_layers(modality: str, seed: int):
    import keras
    from keras import layers

    recipe = AUGMENTATIONS.get(modality, AUGMENTATIONS["generic"])
    steps = []
    if "flip" in recipe:
        steps.append(layers.RandomFlip(recipe["flip"], seed=seed))
    if "rotation" in recipe:
        steps.append(layers.RandomRotation(recipe["rotation"], fill_mode="constant", seed=seed + 1))
    if "zoom" in recipe:
        steps.append(layers.RandomZoom(recipe["zoom"], fill_mode="constant", seed=seed + 2))
    if "translation" in recipe:
        steps.append(
            layers.RandomTranslation(recipe["translation"], recipe["translation"], fill_mode="constant", seed=seed + 3)
        )
    if "contrast" in recipe:
        # RandomContrast expects 0-255 values with value_range; our pixels are 0-255 floats.
        steps.append(layers.RandomContrast(recipe["contrast"], value_range=(0, 255), seed=seed + 4))
    return keras.Sequential(steps, name="augmentation")


def class_weights(labels: np.ndarray, num_classes: int) -> dict[int, float]:
    """Balanced weights, n / (k * count): each class contributes equally to the loss."""
    counts = np.bincount(labels, minlength=num_classes).astype(np.float64)
    weights = np.where(counts > 0, len(labels) / (num_classes * np.maximum(counts, 1)), 0.0)
    return {index: float(weight) for index, weight in enumerate(weights)}


def make_splits(plan: TrainingPlan, log) -> tuple[dict[str, LabelledImages], str]:
    """The named splits, and where the reported (validation) split came from."""
    spec, info, seed = plan.spec, plan.info, plan.seed
    splits = available_splits(plan.dataset_dir)
    train = load_split(plan.dataset_dir, "train", spec, info.classes)
    log(f"loaded train: {len(train)} images {train.class_counts()}")
    if "val" in splits:
        report = load_split(plan.dataset_dir, "val", spec, info.classes)
        report_source = "the data set's validation split"
    else:
        kept, carved = carve(train.labels, REPORT_FRACTION, seed=seed, groups=train.patients)
        train, report = train.subset(kept), train.subset(carved)
        by = "by patient" if train.patients is not None else "stratified by class"
        report_source = f"{int(REPORT_FRACTION * 100)}% of train, carved {by}"
    kept, early = carve(train.labels, EARLY_STOP_FRACTION, seed=seed + 1, groups=train.patients)
    train, early_stop = train.subset(kept), train.subset(early)
    result = {"train": train, "early_stop": early_stop, "validation": report}
    if len(info.classes) == 2:
        kept, calibration = carve(train.labels, CALIBRATION_FRACTION, seed=seed + 2, groups=train.patients)
        result["train"], result["calibration"] = train.subset(kept), train.subset(calibration)
    return result, report_source


def train_model(plan: TrainingPlan, output_root: Path, *, log=print) -> TrainingResult:
    import keras
    import tensorflow as tf

    from ml_models.predictor import Predictor

    info, recipe, seed = plan.info, plan.recipe, plan.seed
    keras.utils.set_random_seed(seed)
    started = time.monotonic()
    splits, report_source = make_splits(plan, log)
    for split_name, images in splits.items():
        log(f"  {split_name}: {len(images)} {images.class_counts()}")

    model = build_model(recipe.arch, input_shape=plan.spec.input_shape, num_classes=len(info.classes))
    model.compile(
        optimizer=keras.optimizers.Adam(recipe.learning_rate),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    augment = augmentation_layers(info.modality, seed)
    train = splits["train"]
    dataset = (
        tf.data.Dataset.from_tensor_slices((train.images, train.labels))
        .shuffle(len(train), seed=seed, reshuffle_each_iteration=True)
        .batch(recipe.batch_size)
        .map(lambda x, y: (augment(x, training=True), y), num_parallel_calls=tf.data.AUTOTUNE)
        .prefetch(tf.data.AUTOTUNE)
    )
    early = splits["early_stop"]
    callbacks = [
        keras.callbacks.EarlyStopping(
            monitor=recipe.monitor,
            mode="min" if recipe.monitor.endswith("loss") else "max",
            patience=recipe.patience,
            start_from_epoch=recipe.min_epochs,
            restore_best_weights=True,
        ),
        keras.callbacks.ReduceLROnPlateau(
            monitor="val_loss", factor=0.5, patience=max(3, recipe.patience // 2), min_lr=1e-5
        ),
    ]
    verbose = plan.verbose if plan.verbose is not None else (1 if sys.stdout.isatty() else 2)
    history = model.fit(
        dataset,
        validation_data=(early.images, early.labels),
        epochs=recipe.epochs,
        class_weight=class_weights(train.labels, len(info.classes)),
        callbacks=callbacks,
        shuffle=False,  # the tf.data pipeline shuffles, with the fixed seed
        verbose=verbose,
    )
    training_seconds = time.monotonic() - started
    epochs_run = len(history.history["loss"])

    # Evaluate through the serving path, so the reported numbers are what serving will do.
    predictor = Predictor(model, spec=plan.spec, classes=info.classes, batch_size=64)
    decision: dict[str, str | int | float] = {"rule": "argmax"}
    if len(info.classes) == 2 and "calibration" in splits:
        positive = info.positive_class if info.positive_class is not None else 1
        calibration = splits["calibration"]
        threshold = tune_threshold(
            calibration.labels, predictor.probabilities(calibration.images), positive_class=positive
        )
        decision = {
            "rule": "threshold",
            "positive_class": positive,
            "threshold": threshold,
            "tuned_on": "calibration split (balanced accuracy, 0.05 grid)",
        }
        predictor.threshold, predictor.positive_class = threshold, positive
    report = splits["validation"]
    probabilities = predictor.probabilities(report.images)
    metrics = evaluate(
        report.labels,
        probabilities,
        info.classes,
        threshold=decision.get("threshold"),
        positive_class=decision.get("positive_class"),
        seed=seed,
    )
    log(
        f"validation: accuracy {metrics['accuracy']:.4f} {metrics['ci95'].get('accuracy')} "
        f"auc {metrics['auc'] or float('nan'):.4f} {metrics['ci95'].get('auc')} macro F1 {metrics['macro_f1']:.4f}"
    )

    name = model_name(info.name, recipe.arch)
    version = cards.next_version(output_root, name)
    directory = Path(output_root) / name / str(version)
    directory.mkdir(parents=True, exist_ok=False)
    # Saved without the optimizer state: a third of the size, and serving never needs it.
    serving_model = keras.Model.from_config(model.get_config())
    serving_model.set_weights(model.get_weights())
    serving_model.save(directory / cards.MODEL_FILE)
    card = {
        "name": name,
        "version": version,
        "dataset": {
            "name": info.name,
            "title": info.title,
            "license": info.license,
            "redistributable_weights": info.redistributable,
            "citation": info.citation,
            "layout": info.layout,
        },
        "condition": info.condition,
        "modality": MODALITY_NAMES.get(info.modality, info.modality),
        "classes": list(info.classes),
        "input_shape": list(plan.spec.input_shape),
        "preprocessing": plan.spec.to_dict(),
        "architecture": {
            "name": recipe.arch,
            "parameters": count_parameters(model),
            "weights_init": "random (weights=None), trained from scratch",
            "gradcam_layer": gradcam_layer_name(model),
            "normalisation": "EfficientNet's built-in Rescaling + Normalization"
            if recipe.arch == "efficientnet"
            else "Rescaling(1/255) inside the model",
        },
        "training": {
            "recipe": asdict(recipe),
            "optimizer": "Adam",
            "loss": "sparse categorical cross-entropy, balanced class weights",
            "augmentation": {"modality": info.modality, **AUGMENTATIONS.get(info.modality, AUGMENTATIONS["generic"])},
            "early_stopping": (
                f"{recipe.monitor} on the early-stopping split, patience {recipe.patience}, from epoch "
                f"{recipe.min_epochs + 1}, "
                "best weights restored"
            ),
            "epochs_run": epochs_run,
            "seconds": round(training_seconds, 1),
            "seed": seed,
            "history": {
                key: [round(float(v), 5) for v in values]
                for key, values in history.history.items()
                if key != "learning_rate"
            },
        },
        "splits": {
            split_name: {"n": len(images), "classes": images.class_counts()} for split_name, images in splits.items()
        }
        | {"validation_source": report_source},
        "decision": decision,
        "metrics": {"validation": metrics},
        "libraries": cards.library_versions(),
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    cards.write_card(directory, card)
    # The checks that refuse images unlike this model's training data (ml_models.appearance).
    fit_profile_for(directory, splits, Path(plan.dataset_dir).parent, recogniser=Recogniser.load(), log=log)
    card = cards.read_card(directory)
    log(f"saved {directory} ({(directory / cards.MODEL_FILE).stat().st_size / 1e6:.1f} MB) in {training_seconds:.0f} s")
    return TrainingResult(directory=directory, card=card, model=model)


def info_for_path(path: Path, *, name: str | None = None) -> DatasetInfo:
    """A data set outside the catalogue: classes from its folders (or its labels), generic modality."""
    path = Path(path)
    layout = layout_of(path)
    if layout == "folders":
        train_dir = path / "train"
        classes = tuple(sorted(child.name for child in train_dir.iterdir() if child.is_dir()))
        channels = 1
    else:
        from ml_models.datasets import medmnist_file

        with np.load(medmnist_file(path)) as arrays:
            labels = arrays["train_labels"]
            channels = 3 if arrays["train_images"].ndim == 4 and arrays["train_images"].shape[-1] == 3 else 1
        classes = tuple(str(label) for label in range(int(labels.max()) + 1))
    return DatasetInfo(
        name=name or path.stem,
        title=name or path.stem,
        condition="unspecified",
        classes=classes,
        modality="generic",
        layout=layout,
        channels=channels,
        license="unknown",
        redistributable=False,
        citation="",
        positive_class=1 if len(classes) == 2 else None,
    )
