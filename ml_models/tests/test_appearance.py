"""The appearance checks on pictures the test makes: two kinds of image that differ as modalities do."""

import numpy as np
import pytest

from ml_models import appearance
from ml_models.preprocessing import PreprocessingSpec, prepare_batch

SPEC = PreprocessingSpec(image_size=28, channels=1)


def blobs(count: int, seed: int) -> list[np.ndarray]:
    """A bright disc on a dark field, placed and sized at random (an X-ray-like kind)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:64, 0:64]
    pictures = []
    for _ in range(count):
        cy, cx, radius = rng.uniform(20, 44), rng.uniform(20, 44), rng.uniform(10, 20)
        disc = np.exp(-((y - cy) ** 2 + (x - cx) ** 2) / (2 * radius**2))
        pictures.append(np.clip(40 + 180 * disc + rng.normal(0, 6, disc.shape), 0, 255).astype(np.uint8))
    return pictures


def stripes(count: int, seed: int) -> list[np.ndarray]:
    """Fine stripes at random angles and phases (a textured kind)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:64, 0:64]
    pictures = []
    for _ in range(count):
        angle, period = rng.uniform(0, np.pi), rng.uniform(3, 6)
        wave = np.sin((x * np.cos(angle) + y * np.sin(angle)) * 2 * np.pi / period + rng.uniform(0, 6))
        pictures.append(np.clip(128 + 100 * wave + rng.normal(0, 6, wave.shape), 0, 255).astype(np.uint8))
    return pictures


def test_statistics_are_the_same_alone_or_in_a_batch():
    pictures = blobs(3, 0) + stripes(3, 0)
    batch = appearance.statistics(pictures)
    alone = np.concatenate([appearance.statistics([picture]) for picture in pictures])
    assert batch.shape == alone.shape and np.allclose(batch, alone)


def test_the_recogniser_names_each_kind_and_survives_a_round_trip(tmp_path):
    recogniser = appearance.fit_recogniser({"blobs": blobs(60, 1), "stripes": stripes(60, 1)}, trained_on=("a", "b"))
    path = recogniser.save(tmp_path / "recogniser.npz")
    loaded = appearance.Recogniser.load(path)
    assert loaded.kinds == ("blobs", "stripes") and loaded.trained_on == ("a", "b")
    probabilities = loaded.probabilities(blobs(20, 2) + stripes(20, 2))
    assert (probabilities[:20, 0] > 0.9).all() and (probabilities[20:, 1] > 0.9).all()
    assert np.allclose(probabilities.sum(axis=1), 1)
    assert appearance.Recogniser.load(tmp_path / "missing.npz") is None


def test_a_profile_flags_about_one_percent_of_its_own_kind_and_the_other_kind(tmp_path):
    profile = appearance.fit(prepare_batch(blobs(300, 3), SPEC), prepare_batch(blobs(200, 4), SPEC))
    own = profile.scores(prepare_batch(blobs(200, 5), SPEC)) > profile.threshold
    other = profile.scores(prepare_batch(stripes(100, 5), SPEC)) > profile.threshold
    assert own.mean() <= 0.05 and other.mean() >= 0.95
    profile.save(tmp_path)
    again = appearance.Profile.load(tmp_path)
    assert again.threshold == pytest.approx(profile.threshold)
    assert appearance.Profile.load(tmp_path / "nowhere") is None


def test_assess_names_the_reason_and_measure_records_the_rates():
    recogniser = appearance.fit_recogniser({"blobs": blobs(60, 6), "stripes": stripes(60, 6)})
    profile = appearance.fit(prepare_batch(blobs(300, 7), SPEC), prepare_batch(blobs(200, 8), SPEC))

    def checks(pictures, prepared):
        return appearance.assess(
            pictures, prepared, kind="blobs", recogniser=recogniser, profile=profile, kind_threshold=0.5
        )

    own, other = blobs(50, 9), stripes(50, 9)
    assert [result.refusal for result in checks(own[:5], prepare_batch(own[:5], SPEC))] == [None] * 5
    refused = checks(other[:5], prepare_batch(other[:5], SPEC))
    assert {result.refusal for result in refused} == {"modality_mismatch"} and refused[0].recognised_as == "stripes"
    measured = appearance.measure(
        checks, (own, prepare_batch(own, SPEC)), {"stripes": (other, prepare_batch(other, SPEC))}
    )
    assert measured["validation_flagged"] <= 0.1 and measured["caught"]["stripes"] == 1.0
    assert measured["caught"]["noise"] == 1.0 and measured["caught_min_other_modality"] >= 0.95
