"""Loading labelled images from the two layouts HealthSync trains on.

* MedMNIST: one ``.npz`` with any subset of ``train_``/``val_``/``test_`` ``images``/``labels``.
* Image folders: ``<root>/<split>/<class>/<image>`` with PNG, JPEG or DICOM files.

Either way the pictures go through :func:`ml_models.preprocessing.prepare_image`, the same call
the serving predictor makes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ml_models.preprocessing import (
    DICOM_SUFFIXES,
    IMAGE_SUFFIXES,
    PreprocessingSpec,
    prepare_batch,
    prepare_image,
    read_image,
)

SPLITS = ("train", "val", "test")
SPLIT_ALIASES = {"validation": "val", "valid": "val", "val": "val", "train": "train", "test": "test"}

# Kermany chest X-ray names: person1234_bacteria_5678.jpeg, IM-0115-0001.jpeg, NORMAL2-IM-0383-0001.jpeg
PATIENT_PATTERN = re.compile(r"^(person\d+|NORMAL2-IM-\d+|IM-\d+)", re.IGNORECASE)


@dataclass
class LabelledImages:
    images: np.ndarray  # float32 [N, S, S, C], 0-255
    labels: np.ndarray  # int64 [N]
    classes: tuple[str, ...]
    patients: np.ndarray | None = None  # patient id per image where file names show one
    paths: list[str] | None = None

    def __len__(self) -> int:
        return len(self.labels)

    def subset(self, indices: np.ndarray) -> LabelledImages:
        return LabelledImages(
            images=self.images[indices],
            labels=self.labels[indices],
            classes=self.classes,
            patients=None if self.patients is None else self.patients[indices],
            paths=None if self.paths is None else [self.paths[i] for i in indices],
        )

    def class_counts(self) -> dict[str, int]:
        counts = np.bincount(self.labels, minlength=len(self.classes))
        # counts is longer than classes where a label is outside them: such labels are not counted.
        return {name: int(count) for name, count in zip(self.classes, counts, strict=False)}


def normalise_split(split: str) -> str:
    try:
        return SPLIT_ALIASES[split.lower()]
    except KeyError:
        raise ValueError(f"unknown split {split!r}; use train, val or test") from None


def layout_of(path: Path) -> str:
    path = Path(path)
    if path.is_file() and path.suffix == ".npz":
        return "medmnist"
    if path.is_dir():
        if any(path.glob("*.npz")) and not any((path / split).is_dir() for split in SPLITS):
            return "medmnist"
        return "folders"
    raise FileNotFoundError(f"no dataset at {path}")


def medmnist_file(path: Path) -> Path:
    """A MedMNIST dataset folder holds one npz; accept the folder or the file."""
    path = Path(path)
    if path.is_file():
        return path
    files = sorted(path.glob("*.npz"))
    if len(files) != 1:
        raise FileNotFoundError(f"expected one .npz in {path}, found {len(files)}")
    return files[0]


def available_splits(path: Path) -> list[str]:
    path = Path(path)
    if layout_of(path) == "medmnist":
        with np.load(medmnist_file(path)) as arrays:
            return [split for split in SPLITS if f"{split}_images" in arrays.files]
    return [split for split in SPLITS if (path / split).is_dir()]


def load_medmnist(
    path: Path, split: str, spec: PreprocessingSpec, classes: tuple[str, ...] | None = None
) -> LabelledImages:
    split = normalise_split(split)
    with np.load(medmnist_file(path)) as arrays:
        if f"{split}_images" not in arrays.files:
            raise KeyError(f"{path} has no {split} split (has: {', '.join(arrays.files)})")
        raw = arrays[f"{split}_images"]
        labels = arrays[f"{split}_labels"].reshape(-1).astype(np.int64)
    if classes is None:
        classes = tuple(str(label) for label in range(int(labels.max()) + 1))
    return LabelledImages(images=prepare_batch(raw, spec), labels=labels, classes=tuple(classes))


def load_image_folders(
    root: Path, split: str, spec: PreprocessingSpec, classes: tuple[str, ...] | None = None
) -> LabelledImages:
    """Reads ``root/split/<class>/*``. ``classes`` fixes the label order (a model's classes);
    without it the sorted folder names are the classes."""
    split_dir = Path(root) / normalise_split(split)
    if not split_dir.is_dir():
        raise FileNotFoundError(f"{root} has no {split} split")
    folders = sorted(child.name for child in split_dir.iterdir() if child.is_dir())
    if classes is None:
        classes = tuple(folders)
    unknown = set(folders) - set(classes)
    if unknown:
        raise ValueError(f"{split_dir} has classes the model does not know: {sorted(unknown)}")
    suffixes = IMAGE_SUFFIXES | DICOM_SUFFIXES
    paths, labels = [], []
    for label, name in enumerate(classes):
        for file in sorted((split_dir / name).glob("*")) if (split_dir / name).is_dir() else []:
            if file.suffix.lower() in suffixes and file.is_file():
                paths.append(file)
                labels.append(label)
    images = np.empty((len(paths), *spec.input_shape), dtype=np.float32)
    for index, path in enumerate(paths):
        images[index] = prepare_image(read_image(path), spec)
    shown = [patient_of(path.name) for path in paths]
    # Where no file name shows a patient, each image stands alone when splits are carved.
    patients = (
        np.array([p or f"{path.parent.name}/{path.name}" for p, path in zip(shown, paths, strict=True)])
        if any(shown)
        else None
    )
    return LabelledImages(
        images=images,
        labels=np.array(labels, dtype=np.int64),
        classes=tuple(classes),
        patients=patients,
        paths=[str(path) for path in paths],
    )


def load_split(
    path: Path, split: str, spec: PreprocessingSpec, classes: tuple[str, ...] | None = None
) -> LabelledImages:
    if layout_of(Path(path)) == "medmnist":
        return load_medmnist(path, split, spec, classes)
    return load_image_folders(path, split, spec, classes)


def patient_of(file_name: str) -> str | None:
    match = PATIENT_PATTERN.match(file_name)
    return match.group(1).lower() if match else None


def carve(
    labels: np.ndarray, fraction: float, *, seed: int, groups: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Splits indices into (kept, carved), stratified by class, never splitting a group (patient).

    Each class contributes about ``fraction`` of its images; a patient's images all go the
    same way, so no patient is on both sides."""
    rng = np.random.default_rng(seed)
    indices = np.arange(len(labels))
    if groups is None:
        groups = indices.astype(str)
    carved: list[int] = []
    for label in np.unique(labels):
        in_class = indices[labels == label]
        class_groups = np.unique(groups[in_class])
        rng.shuffle(class_groups)
        target = max(1, round(fraction * len(in_class)))
        taken = 0
        for group in class_groups:
            if taken >= target:
                break
            members = in_class[groups[in_class] == group]
            carved.extend(members.tolist())
            taken += len(members)
    carved_set = set(carved)
    # A patient with images in two classes goes wholly to the carved side.
    carved_groups = set(groups[list(carved_set)].tolist())
    carved_mask = np.array([g in carved_groups for g in groups])
    return indices[~carved_mask], indices[carved_mask]
