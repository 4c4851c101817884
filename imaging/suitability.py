"""Does an upload fit the model it is sent to? Checks made before anything is queued.

A model answers for any picture, so HealthSync checks first that the picture is one the model can
read: not near-constant (nothing to analyse), in the model's colour mode (a colour photograph is
no chest X-ray; a grayscale image is no fundus photograph), and, through the appearance checks
fitted with each model (``ml_models.appearance``: the modality recogniser and the model's own
appearance profile), like the images it was trained on. DICOM studies are checked by their
modality tag instead (``uploads.check_modality``).

Staff can still analyse an image that fails a check other than ``image_uninformative`` by
asking for it (``force``): the analysis then carries the refusal as a warning, shown wherever
its result is.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import cast

import numpy as np

from ml_models.catalogue import DATASETS

from .models import MLModel
from .selectors import model_directory
from .uploads import Study, UploadRefused, check_modality

# Below this standard deviation of 8-bit intensities an image carries no structure to analyse
# (a flat grey PNG has 0; the darkest real chest X-ray of the training sets has about 30).
UNINFORMATIVE_STD = 2.0
# Channel differences above this (8-bit levels, on average) make a picture a colour one.
COLOUR_SPREAD = 12.0
KIND_NAMES = {
    "chest_xray": "a chest X-ray",
    "msk_xray": "a bone X-ray",
    "ultrasound": "an ultrasound image",
    "brain_mri": "a brain MRI",
    "fundus": "a fundus photograph",
    "dermoscopy": "a dermoscopy image",
    "ct": "a CT slice",
    "microscopy": "a microscopy image",
    "histopathology": "a histopathology slide",
}
FORCEABLE = {"modality_mismatch", "image_not_recognised"}


def _refusal(message: str, code: str, name: str) -> UploadRefused:
    return UploadRefused(message, code=code, fields={"image": [f"{name}: {message}"]})


@functools.lru_cache(maxsize=64)
def _profile(directory: str, stamp: float):
    from ml_models.appearance import Profile

    return Profile.load(Path(directory))


@functools.lru_cache(maxsize=2)
def _recogniser(stamp: float):
    from ml_models.appearance import Recogniser

    return Recogniser.load()


def _checks_of(model: MLModel):
    """The model's profile, the recogniser and the model's thresholds (None where not fitted)."""
    from ml_models.appearance import PROFILE_FILE, RECOGNISER_FILE

    directory = model_directory(model)
    profile_file = directory / PROFILE_FILE
    profile = _profile(str(directory), profile_file.stat().st_mtime) if profile_file.is_file() else None
    recogniser = _recogniser(RECOGNISER_FILE.stat().st_mtime) if RECOGNISER_FILE.is_file() else None
    return profile, recogniser, (model.card or {}).get("appearance", {})


def _kind_of(model: MLModel) -> str:
    info = DATASETS.get(model.dataset)
    return info.modality if info is not None else ""


def problems(studies: list[tuple[str, Study]], *, model: MLModel) -> list[list[UploadRefused]]:
    """Why each of ``studies`` (name, study) does not fit ``model``: one list each, empty when it fits.
    ``image_uninformative`` is final; the others (``modality_mismatch``, ``image_not_recognised``) can
    be overridden with ``force``. The appearance checks run once for the whole batch."""
    from ml_models.appearance import assess
    from ml_models.preprocessing import PreprocessingSpec, prepare_batch

    found: list[list[UploadRefused]] = [[] for _ in studies]
    channels = int(model.input_shape[-1]) if model.input_shape else 1
    kind = _kind_of(model)
    reads = KIND_NAMES.get(kind, f"{model.modality} images")
    pictures: list[tuple[int, np.ndarray]] = []
    for index, (name, study) in enumerate(studies):
        if study.kind == "dicom":
            try:
                check_modality(study, model_modality=model.modality, model_name=model.name)
            except UploadRefused as refusal:
                found[index].append(refusal)
            continue
        pixels = np.asarray(study.preview)
        colour = (
            pixels.ndim == 3
            and float(np.mean(pixels.max(axis=-1).astype(np.int16) - pixels.min(axis=-1))) > COLOUR_SPREAD
        )
        if float((pixels.mean(axis=-1) if pixels.ndim == 3 else pixels).std()) < UNINFORMATIVE_STD:
            found[index].append(
                _refusal(
                    "The image is (nearly) one flat colour: there is nothing to analyse.", "image_uninformative", name
                )
            )
        elif channels == 1 and colour:
            found[index].append(
                _refusal(
                    f"This is a colour image; {model.name} reads grayscale images ({reads}).", "modality_mismatch", name
                )
            )
        elif channels == 3 and not colour:
            found[index].append(
                _refusal(
                    f"This is a grayscale image; {model.name} reads colour images ({reads}).", "modality_mismatch", name
                )
            )
        else:
            pictures.append((index, pixels))
    profile, recogniser, fitted = _checks_of(model)
    if not pictures or (profile is None and recogniser is None):
        return found
    spec = (
        PreprocessingSpec.from_dict(model.card["preprocessing"])
        if model.card.get("preprocessing")
        else PreprocessingSpec(image_size=int(model.input_shape[0]), channels=channels)
    )
    raw = [pixels for _, pixels in pictures]
    results = assess(
        raw,
        prepare_batch(raw, spec),
        kind=kind,
        recogniser=recogniser,
        profile=profile,
        kind_threshold=float(fitted.get("kind_threshold", 0.5)),
    )
    for (index, _), result in zip(pictures, results, strict=True):
        name = studies[index][0]
        if result.refusal == "modality_mismatch":
            # A mismatch always names the kind recognised (ml_models.appearance sets both together).
            seen = cast(str, result.recognised_as)
            looks = KIND_NAMES.get(seen, seen)
            message = (
                f"This looks like {looks} ({result.recognised_probability:.0%} sure), not {reads}, "
                f"which {model.name} reads. Choose a condition and model for this kind of image."
            )
            found[index].append(_refusal(message, "modality_mismatch", name))
        elif result.refusal == "image_not_recognised":
            message = (
                f"This image does not look like the images {model.name} was trained on ({reads}); "
                "its result would not be reliable."
            )
            found[index].append(_refusal(message, "image_not_recognised", name))
    return found
