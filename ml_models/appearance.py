"""Does an image look like what a model was trained on? Checks that run before an upload is queued.

A model answers for any picture it is given: a brain MRI sent to a chest X-ray model still gets
"pneumonia 96%". Two checks, both plain NumPy (no TensorFlow, so the web request refuses an image
at once with a 4xx instead of a worker finding out later):

* **The modality recogniser** (one for all models): a multinomial logistic regression over a few
  dozen image statistics (8 x 8 thumbnails, intensity, gradient, Laplacian and colour quantiles,
  shape) that names the kind of image: chest X-ray, brain MRI, ultrasound, fundus... It is fitted
  on the training splits of the data sets whose licence allows shipping what is derived from them,
  and says "this looks like a brain MRI" when a model for chest X-rays is sent one.
* **The appearance profile** (one per model): a probabilistic PCA (Tipping and Bishop, J. R. Stat.
  Soc. B 61(3):611-622, 1999) of the model's own training images as the model sees them (its colour
  mode and size; a 16 x 16 thumbnail of each channel and the intensity quantiles). The score is the
  image's negative log-likelihood up to a constant: the Mahalanobis distance within the leading
  components plus the residual outside them, scaled by the mean discarded variance. It catches what
  the recogniser has no name for (noise, a photograph).

Both thresholds are set on held-out images of the model's own data set (the early-stopping split,
never the reported validation split) so that about 1% of them are flagged; ``measure`` records in
the card, on the validation split, how many of the model's own images each flags and how many
images of other data sets, blank and noise images are caught. Images of the same modality from
another data set (two chest X-ray sets) are not out of distribution and are reported apart.
"""

from __future__ import annotations

import collections.abc
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from PIL import Image

PROFILE_FILE = "appearance.npz"
THUMBNAIL = 16
QUANTILES = np.linspace(0.02, 0.98, 17)
COMPONENTS = 24
IN_DISTRIBUTION_QUANTILE = 0.99  # at most ~1% of a model's own images flagged (the target is at most 5%)


def describe(images: np.ndarray) -> np.ndarray:
    """Prepared images float32 [N, S, S, C] in 0-255 (the model's input) -> descriptions [N, D]."""
    images = np.asarray(images, dtype=np.float32)
    if images.ndim != 4:
        raise ValueError(f"expected prepared images [N, S, S, C], got shape {images.shape}")
    count, channels = len(images), images.shape[-1]
    thumbnails = np.empty((count, THUMBNAIL, THUMBNAIL, channels), dtype=np.float32)
    for index, image in enumerate(images):
        for channel in range(channels):
            thumbnails[index, ..., channel] = np.asarray(
                Image.fromarray(image[..., channel]).resize((THUMBNAIL, THUMBNAIL), Image.Resampling.BOX)
            )
    luma = images.mean(axis=-1).reshape(count, -1)
    return (
        np.concatenate([thumbnails.reshape(count, -1), _quantiles(luma, QUANTILES)], axis=1).astype(np.float64) / 255.0
    )


def _quantiles(rows: np.ndarray, levels: np.ndarray) -> np.ndarray:
    """Quantiles of each row [N, M] -> [N, len(levels)], as ``np.quantile``'s linear method computes
    them, from one sort of the batch (``np.quantile`` partitions once per level: 3x slower here)."""
    ordered = np.sort(rows, axis=1)
    position = levels * (rows.shape[1] - 1)
    below = np.floor(position).astype(int)
    above = np.minimum(below + 1, rows.shape[1] - 1)
    weight = position - below
    return ordered[:, below] * (1 - weight) + ordered[:, above] * weight


@dataclass(frozen=True)
class Profile:
    """A fitted appearance profile: the Gaussian of the descriptions and the threshold of the score."""

    mean: np.ndarray
    components: np.ndarray  # [K, D], orthonormal rows
    variances: np.ndarray  # [K]
    residual_variance: float
    threshold: float

    def scores(self, images: np.ndarray) -> np.ndarray:
        """Prepared images -> one score each; higher means less like the training images."""
        centred = describe(images) - self.mean
        projected = centred @ self.components.T
        residual = np.sum(centred**2, axis=1) - np.sum(projected**2, axis=1)
        dimensions = self.mean.shape[0] - self.components.shape[0]
        within = np.sum(projected**2 / self.variances, axis=1)
        return (within + np.maximum(residual, 0.0) / self.residual_variance) / (self.components.shape[0] + dimensions)

    def save(self, directory: Path) -> Path:
        path = Path(directory) / PROFILE_FILE
        np.savez_compressed(
            path,
            mean=self.mean.astype(np.float32),
            components=self.components.astype(np.float32),
            variances=self.variances,
            residual_variance=self.residual_variance,
            threshold=self.threshold,
        )
        return path

    @classmethod
    def load(cls, directory: Path) -> Profile | None:
        """The profile saved beside a model, or None for a model trained before profiles existed."""
        path = Path(directory) / PROFILE_FILE
        if not path.is_file():
            return None
        with np.load(path) as saved:
            return cls(
                mean=saved["mean"].astype(np.float64),
                components=saved["components"].astype(np.float64),
                variances=saved["variances"],
                residual_variance=float(saved["residual_variance"]),
                threshold=float(saved["threshold"]),
            )


def fit(training: np.ndarray, held_out: np.ndarray, *, components: int = COMPONENTS) -> Profile:
    """Fit the Gaussian on ``training`` images and the threshold on ``held_out`` ones (both prepared)."""
    descriptions = describe(training)
    mean = descriptions.mean(axis=0)
    centred = descriptions - mean
    _, singular, vectors = np.linalg.svd(centred, full_matrices=False)
    eigenvalues = singular**2 / max(1, len(descriptions) - 1)
    k = int(min(components, len(eigenvalues) - 1, descriptions.shape[1] - 1))
    floor = max(float(eigenvalues[0]) * 1e-6, 1e-10)
    residual_variance = max(float(np.mean(eigenvalues[k:])) if len(eigenvalues) > k else floor, floor)
    profile = Profile(
        mean=mean,
        components=vectors[:k],
        variances=np.maximum(eigenvalues[:k], floor),
        residual_variance=residual_variance,
        threshold=np.inf,
    )
    return replace(profile, threshold=float(np.quantile(profile.scores(held_out), IN_DISTRIBUTION_QUANTILE)))


RECOGNISER_FILE = Path(__file__).parent / "modality_recogniser.npz"
RECOGNISER_CARD = RECOGNISER_FILE.with_suffix(".json")
STATISTIC_QUANTILES = np.linspace(0.02, 0.98, 9)


def _thumbnails(values: np.ndarray) -> np.ndarray:
    """[N, 32, 32] -> [N, 64]: the 8 x 8 means of 4 x 4 blocks."""
    return values.reshape(len(values), 8, 4, 8, 4).mean(axis=(2, 4)).reshape(len(values), -1)


def statistics(pictures) -> np.ndarray:
    """Raw pictures (any size; grayscale, RGB or RGBA, any dtype) -> what the recogniser reads [N, D].
    Each picture is brought to 32 x 32 RGB; the rest is computed for the whole batch at once. Its size
    is left out (the MedMNIST sets are all 28 px: size would name the data set, not the kind)."""
    from ml_models.preprocessing import to_uint8

    resized, aspect = [], []
    for picture in pictures:
        pixels = to_uint8(np.asarray(picture))
        if pixels.ndim == 3 and pixels.shape[-1] == 1:
            pixels = pixels[..., 0]
        aspect.append(np.log(pixels.shape[0] / pixels.shape[1]))
        resized.append(
            np.asarray(Image.fromarray(pixels).convert("RGB").resize((32, 32), Image.Resampling.BOX), dtype=np.float32)
        )
    small = np.stack(resized) / 255.0  # [N, 32, 32, 3]
    count = len(small)
    gray = small.mean(axis=-1)
    flat = gray.reshape(count, -1)
    standard = (gray - flat.mean(axis=1)[:, None, None]) / (flat.std(axis=1)[:, None, None] + 1e-3)
    low, high = standard.reshape(count, -1).min(axis=1), standard.reshape(count, -1).max(axis=1)
    standard = (standard - low[:, None, None]) / (high - low + 1e-6)[:, None, None]
    laplacian = (
        4 * gray[:, 1:-1, 1:-1] - gray[:, :-2, 1:-1] - gray[:, 2:, 1:-1] - gray[:, 1:-1, :-2] - gray[:, 1:-1, 2:]
    )
    red, green, blue = (
        small[..., 0].reshape(count, -1),
        small[..., 1].reshape(count, -1),
        small[..., 2].reshape(count, -1),
    )
    quantiles = [
        _quantiles(values.reshape(count, -1), STATISTIC_QUANTILES)
        for values in (
            gray,
            np.abs(np.diff(gray, axis=2)),
            np.abs(np.diff(gray, axis=1)),
            np.abs(laplacian),
            small.max(axis=-1) - small.min(axis=-1),
        )
    ]
    shape = np.stack(
        [
            (red - green).mean(axis=1),
            (blue - green).mean(axis=1),
            (red - green).std(axis=1),
            (blue - green).std(axis=1),
            np.asarray(aspect),
            (flat < 0.05).mean(axis=1),
            (flat > 0.95).mean(axis=1),
        ],
        axis=1,
    )
    return np.concatenate([_thumbnails(gray), _thumbnails(standard), *quantiles, shape], axis=1).astype(np.float64)


@dataclass(frozen=True)
class Recogniser:
    """Names the kind of an image: standardised statistics, then a softmax over ``kinds``."""

    kinds: tuple[str, ...]
    centre: np.ndarray
    scale: np.ndarray
    weights: np.ndarray  # [D, K]
    bias: np.ndarray  # [K]
    trained_on: tuple[str, ...] = ()

    def probabilities(self, pictures) -> np.ndarray:
        logits = ((statistics(pictures) - self.centre) / self.scale) @ self.weights + self.bias
        logits -= logits.max(axis=1, keepdims=True)
        exp = np.exp(logits)
        return exp / exp.sum(axis=1, keepdims=True)

    def save(self, path: Path = RECOGNISER_FILE) -> Path:
        np.savez_compressed(
            path,
            kinds=np.array(self.kinds),
            centre=self.centre,
            scale=self.scale,
            weights=self.weights,
            bias=self.bias,
            trained_on=np.array(self.trained_on),
        )
        return Path(path)

    @classmethod
    def load(cls, path: Path = RECOGNISER_FILE) -> Recogniser | None:
        if not Path(path).is_file():
            return None
        with np.load(path) as saved:
            return cls(
                kinds=tuple(str(kind) for kind in saved["kinds"]),
                centre=saved["centre"],
                scale=saved["scale"],
                weights=saved["weights"],
                bias=saved["bias"],
                trained_on=tuple(str(name) for name in saved["trained_on"]),
            )


def fit_recogniser(
    pictures_by_kind: dict[str, list[np.ndarray]], *, trained_on: tuple[str, ...] = (), seed: int = 42
) -> Recogniser:
    """Fit the recogniser on raw pictures grouped by kind (scikit-learn's L2-regularised logistic regression)."""
    from sklearn.linear_model import LogisticRegression

    kinds = tuple(sorted(pictures_by_kind))
    rows = np.concatenate([statistics(pictures_by_kind[kind]) for kind in kinds])
    labels = np.concatenate([np.full(len(pictures_by_kind[kind]), index) for index, kind in enumerate(kinds)])
    centre, scale = rows.mean(axis=0), rows.std(axis=0) + 1e-6
    classifier = LogisticRegression(max_iter=5000, C=1.0, random_state=seed).fit((rows - centre) / scale, labels)
    weights, bias = classifier.coef_.T, classifier.intercept_
    if (
        len(kinds) == 2
    ):  # scikit-learn keeps one column for two classes: p(second) = sigmoid(x.w + b), a softmax of (0, x.w + b)
        weights, bias = np.concatenate([np.zeros_like(weights), weights], axis=1), np.concatenate([[0.0], bias])
    return Recogniser(
        kinds=kinds,
        centre=centre,
        scale=scale,
        weights=weights.copy(),
        bias=np.asarray(bias, dtype=np.float64),
        trained_on=tuple(trained_on),
    )


@dataclass(frozen=True)
class Assessment:
    """What the checks make of one picture for one model; ``refusal`` is None when it fits."""

    recognised_as: str | None  # the recogniser's top kind
    recognised_probability: float | None
    model_kind_probability: float | None  # the recogniser's probability of the model's own kind
    profile_score: float | None
    refusal: str | None  # None, "modality_mismatch" or "image_not_recognised"


def assess(
    pictures,
    prepared: np.ndarray,
    *,
    kind: str,
    recogniser: Recogniser | None,
    profile: Profile | None,
    kind_threshold: float,
) -> list[Assessment]:
    """The checks for raw ``pictures`` (and the same prepared for the model) sent to a model of ``kind``.

    Another kind recognised where the model's own is below ``kind_threshold``: ``modality_mismatch``;
    an image the profile finds unlike the training images: ``image_not_recognised``."""
    count = len(prepared)
    probabilities: np.ndarray | None = None
    if recogniser is not None and kind in recogniser.kinds:
        probabilities = recogniser.probabilities(pictures)
    scores = profile.scores(prepared) if profile is not None else None
    results = []
    for index in range(count):
        refusal, top, top_p, own_p = None, None, None, None
        if probabilities is not None and recogniser is not None:  # probabilities imply a recogniser
            row = probabilities[index]
            top, top_p, own_p = (
                recogniser.kinds[int(row.argmax())],
                float(row.max()),
                float(row[recogniser.kinds.index(kind)]),
            )
            if own_p < kind_threshold:
                refusal = "modality_mismatch" if top != kind else "image_not_recognised"
        score = float(scores[index]) if scores is not None else None
        if refusal is None and score is not None and profile is not None and score > profile.threshold:
            refusal = "image_not_recognised"
        results.append(Assessment(top, top_p, own_p, score, refusal))
    return results


def kind_threshold(recogniser: Recogniser, held_out_pictures, kind: str) -> float:
    """The recogniser's threshold for one model: at most 0.5, and low enough that about 99% of the
    model's own held-out pictures pass."""
    own = recogniser.probabilities(held_out_pictures)[:, recogniser.kinds.index(kind)]
    return float(min(0.5, np.quantile(own, 1 - IN_DISTRIBUTION_QUANTILE)))


def blank_and_noise(shape: tuple[int, int, int], *, count: int = 50, seed: int = 0) -> dict[str, np.ndarray]:
    """Images no model should accept, in a model's input shape: flat grey levels and uniform noise."""
    generator = np.random.default_rng(seed)
    levels = np.linspace(0, 255, count, dtype=np.float32)
    return {
        "blank": np.broadcast_to(levels[:, None, None, None], (count, *shape)).copy(),
        "noise": generator.uniform(0, 255, size=(count, *shape)).astype(np.float32),
    }


def measure(
    checks,
    validation: tuple[list, np.ndarray],
    others: dict[str, tuple[list, np.ndarray]],
    *,
    same_modality: collections.abc.Set[str] = frozenset(),
) -> dict:
    """What the card records. ``checks(pictures, prepared)`` -> assessments; ``validation`` and each
    of ``others`` are (raw pictures, the same prepared for the model). The share of the model's own
    validation images flagged, and the share caught of blank and noise images and of each other
    data set's images."""
    own_raw, own_prepared = validation
    synthetic = {
        name: ([image[..., 0] if image.shape[-1] == 1 else image for image in images], images)
        for name, images in blank_and_noise(own_prepared.shape[1:]).items()
    }
    caught = {}
    for name, (pictures, prepared) in {**synthetic, **others}.items():
        if len(prepared):
            caught[name] = float(np.mean([result.refusal is not None for result in checks(pictures, prepared)]))
    other_modality = [rate for name, rate in caught.items() if name not in same_modality]
    return {
        "method": (
            "modality recogniser (logistic regression on image statistics) and a per-model probabilistic PCA profile"
        ),
        "validation_flagged": float(np.mean([result.refusal is not None for result in checks(own_raw, own_prepared)])),
        "validation_n": len(own_prepared),
        "caught": caught,
        "same_modality": sorted(same_modality & set(caught)),
        "caught_min_other_modality": min(other_modality) if other_modality else None,
    }
