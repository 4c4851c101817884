"""Fitting the appearance checks (``ml_models.appearance``) on the data sets present.

``fit_recogniser_from`` fits the modality recogniser on the training splits of the data sets
whose licence allows shipping what is derived from them; ``fit_profile_for`` fits a model's
appearance profile and thresholds on its own splits (the same carving as its training, so the
reported validation split is touched only to measure) and records the measurement in its card.
"""

from __future__ import annotations

import json
import random
import time
from pathlib import Path

import numpy as np

from ml_models import appearance, cards
from ml_models.catalogue import APPEARANCE_KINDS, DATASETS
from ml_models.datasets import LabelledImages
from ml_models.preprocessing import IMAGE_SUFFIXES, PreprocessingSpec, prepare_batch, read_image

SAMPLE = 400  # pictures per data set: the statistics are few, and more change nothing measurable


def raw_pictures(images: LabelledImages) -> list[np.ndarray]:
    """The pictures before the model's preprocessing: the files read again, or the MedMNIST arrays."""
    if images.paths:
        return [read_image(path) for path in images.paths]
    return [image[..., 0] if image.shape[-1] == 1 else image for image in images.images.astype(np.uint8)]


def sample_pictures(
    root: Path, name: str, *, count: int = SAMPLE, seed: int = 0, split: str = "train"
) -> list[np.ndarray]:
    """Up to ``count`` raw pictures of one split of a data set folder, whatever its layout."""
    folder = Path(root) / name
    archives = sorted(folder.glob("*.npz"))
    if archives:
        with np.load(archives[0]) as arrays:
            key = f"{split}_images" if f"{split}_images" in arrays.files else "train_images"
            pictures = arrays[key]
        chosen = np.random.default_rng(seed).choice(len(pictures), min(count, len(pictures)), replace=False)
        return [pictures[index] for index in sorted(chosen)]
    split_dir = folder / split if (folder / split).is_dir() else folder / "train"
    files = sorted(path for path in split_dir.rglob("*") if path.suffix.lower() in IMAGE_SUFFIXES and path.is_file())
    random.Random(seed).shuffle(files)
    return [read_image(path) for path in files[:count]]


HELD_OUT = 0.25  # of each data set's sample, kept out of the recogniser's fit to measure it


def fit_recogniser_from(root: Path, *, log=print) -> tuple[appearance.Recogniser, dict]:
    """The recogniser, fitted on 75% of a sample of each shippable data set's training split, and its
    card: what it was fitted on (with licences), and its accuracy on the other 25% of each sample and
    on the data sets it was not fitted on (their kind where the recogniser knows it)."""
    fitting: dict[str, list] = {}
    held_out: dict[str, tuple[str, list]] = {}
    licences = {info.name: info.license for info in DATASETS.values()}
    for name, (kind, shippable) in sorted(APPEARANCE_KINDS.items()):
        if not (Path(root) / name).exists():
            continue
        pictures = sample_pictures(root, name)
        if not shippable:
            held_out[name] = (kind, pictures)
            continue
        cut = int(len(pictures) * (1 - HELD_OUT))
        fitting.setdefault(kind, []).extend(pictures[:cut])
        held_out[name] = (kind, pictures[cut:])
        log(f"recogniser: {name} as {kind} ({cut} pictures fitted, {len(pictures) - cut} held out)")
    used = tuple(name for name, (_, shippable) in sorted(APPEARANCE_KINDS.items()) if shippable and name in held_out)
    recogniser = appearance.fit_recogniser(fitting, trained_on=used)
    accuracy = {}
    for name, (kind, pictures) in held_out.items():
        if kind in recogniser.kinds and pictures:
            named = recogniser.probabilities(pictures).argmax(axis=1)
            accuracy[name] = {
                "kind": kind,
                "n": len(pictures),
                "fitted_on": name in used,
                "named_its_kind": float(np.mean([recogniser.kinds[index] == kind for index in named])),
            }
    card = {
        "name": "modality_recogniser",
        "method": "multinomial logistic regression (scikit-learn, L2, C=1) on standardised image statistics",
        "kinds": list(recogniser.kinds),
        "trained_on": {
            name: {"kind": APPEARANCE_KINDS[name][0], "license": licences.get(name, "see the data set's README")}
            for name in used
        },
        "not_trained_on": "data sets whose licence does not allow shipping what is derived from them; measured below",
        "pictures_per_data_set": SAMPLE,
        "held_out_fraction": HELD_OUT,
        "held_out_accuracy": accuracy,
        "libraries": cards.library_versions(),
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    return recogniser, card


def fit_profile_for(
    directory: Path,
    splits: dict[str, LabelledImages],
    root: Path,
    *,
    recogniser: appearance.Recogniser | None,
    log=print,
) -> dict:
    """Fit and save the profile of the model in ``directory``; returns the card's ``appearance``."""
    card = cards.read_card(directory)
    spec = PreprocessingSpec.from_dict(card["preprocessing"])
    dataset = card["dataset"]["name"]
    kind = DATASETS[dataset].modality if dataset in DATASETS else APPEARANCE_KINDS.get(dataset, ("", False))[0]
    profile = appearance.fit(splits["train"].images, splits["early_stop"].images)  # the threshold on early stopping
    profile.save(directory)
    threshold = (
        appearance.kind_threshold(recogniser, raw_pictures(splits["early_stop"]), kind)
        if recogniser is not None and kind in recogniser.kinds
        else 0.0
    )

    def checks(pictures, prepared):
        return appearance.assess(
            pictures, prepared, kind=kind, recogniser=recogniser, profile=profile, kind_threshold=threshold
        )

    others = {}
    for name in sorted(APPEARANCE_KINDS):
        if name != dataset and (Path(root) / name).exists():
            pictures = sample_pictures(root, name, count=200, seed=1)
            others[name] = (pictures, prepare_batch(pictures, spec))
    same = {name for name, (other_kind, _) in APPEARANCE_KINDS.items() if other_kind == kind}
    validation = splits["validation"]
    measured = appearance.measure(checks, (raw_pictures(validation), validation.images), others, same_modality=same)
    record = {
        "kind": kind,
        "kind_threshold": threshold,
        "profile_threshold": profile.threshold,
        "recogniser_trained_on": list(recogniser.trained_on) if recogniser else [],
        **measured,
    }
    card["appearance"] = record
    cards.write_card(directory, card)
    log(
        f"appearance of {card['name']}: {measured['validation_flagged']:.1%} of its validation images flagged; "
        f"other modalities caught: at least {measured['caught_min_other_modality'] or 0:.1%}"
    )
    return record


def save_recogniser(recogniser: appearance.Recogniser, card: dict) -> Path:
    """Write the recogniser and its card beside it (``modality_recogniser.npz`` and ``.json``)."""
    path = recogniser.save()
    appearance.RECOGNISER_CARD.write_text(json.dumps(card, indent=2) + "\n")
    return path
