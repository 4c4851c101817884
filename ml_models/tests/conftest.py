"""Small generated data for the ml_models tests: no real data set is read, nothing big is trained."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import pytest
from PIL import Image


def write_medmnist(path, splits=("train", "val"), n=24, size=28, rgb=False, seed=0):
    rng = np.random.default_rng(seed)
    arrays = {}
    for split in splits:
        shape = (n, size, size, 3) if rgb else (n, size, size)
        arrays[f"{split}_images"] = rng.integers(0, 256, shape, dtype=np.uint8)
        arrays[f"{split}_labels"] = (np.arange(n) % 2).astype(np.uint8).reshape(-1, 1)
    np.savez(path, **arrays)
    return path


@pytest.fixture
def medmnist_file(tmp_path):
    return write_medmnist(tmp_path / "tiny_trainval.npz")


@pytest.fixture
def image_folders(tmp_path):
    """``root/train/{cat,dog}/`` with PNG and JPEG files of different sizes and modes, and a DICOM."""
    from pydicom.data import get_testdata_file

    root = tmp_path / "folders"
    rng = np.random.default_rng(1)
    for split in ("train", "test"):
        for name in ("cat", "dog"):
            folder = root / split / name
            folder.mkdir(parents=True)
            for index in range(3):
                pixels = rng.integers(0, 256, (40 + index, 50, 3), dtype=np.uint8)
                Image.fromarray(pixels).save(folder / f"person{index}_{name}.png")
            Image.fromarray(rng.integers(0, 256, (30, 30), dtype=np.uint8)).save(folder / "IM-0001-0001.jpeg")
    (root / "train" / "dog" / "ct.dcm").write_bytes(open(get_testdata_file("CT_small.dcm"), "rb").read())
    (root / "train" / "dog" / "notes.txt").write_text("not an image")
    return root
