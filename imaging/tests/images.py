"""Test pictures that look like a committed model's training images: its appearance profile's mean
(``ml_models.appearance``), at the model's size, with a little seeded noise so each differs."""

import io
from pathlib import Path

import numpy as np
from PIL import Image

from ml_models.appearance import THUMBNAIL, Profile
from ml_models.cards import read_card

ARTIFACTS = Path(__file__).resolve().parents[2] / "ml_models" / "artifacts"


def typical_png(model: str = "pneumoniamnist-basic_cnn", *, size: int = 28, seed: int = 0) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(typical_pixels(model, size=size, seed=seed)).save(buffer, format="PNG")
    return buffer.getvalue()


def typical_pixels(model: str = "pneumoniamnist-basic_cnn", *, size: int = 28, seed: int = 0) -> np.ndarray:
    directory = ARTIFACTS / model / "1"
    profile = Profile.load(directory)
    channels = read_card(directory)["preprocessing"]["channels"]
    mean = np.clip(profile.mean[: THUMBNAIL * THUMBNAIL * channels] * 255, 0, 255).reshape(
        THUMBNAIL, THUMBNAIL, channels
    )
    picture = Image.fromarray(mean.astype(np.uint8).squeeze()).resize((size, size), Image.Resampling.BILINEAR)
    pixels = np.asarray(picture, dtype=np.float32) + np.random.default_rng(seed).normal(
        0, 4, size=np.asarray(picture).shape
    )
    return np.clip(pixels, 0, 255).astype(np.uint8)
