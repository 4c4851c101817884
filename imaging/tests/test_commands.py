"""train_model on a tiny generated data set: trains, evaluates, saves with its card, registers a new version."""

from io import StringIO

import numpy as np
import pytest
from django.core.management import call_command

from imaging.models import MLModel

pytestmark = pytest.mark.django_db


def test_train_model_registers_a_new_active_version(models_root, tmp_path, settings):
    data = tmp_path / "datasets" / "blobs"
    rng = np.random.default_rng(0)
    for split, n in (("train", 30),):
        for label, name in enumerate(("clear", "spot")):
            folder = data / split / name
            folder.mkdir(parents=True)
            for index in range(n):
                from PIL import Image

                pixels = rng.integers(0, 80, (36, 36), dtype=np.uint8)
                if label:
                    pixels[10:20, 10:20] = 255
                Image.fromarray(pixels).save(folder / f"{name}{index}.png")
    settings.HEALTHSYNC_DATASETS_DIR = str(tmp_path / "datasets")

    for _ in range(2):
        call_command(
            "train_model",
            "--dataset",
            "blobs",
            "--arch",
            "basic_cnn",
            "--epochs",
            "1",
            "--image-size",
            "28",
            stdout=StringIO(),
        )
    versions = MLModel.objects.filter(name="blobs-basic_cnn").order_by("version")
    assert [(model.version, model.is_active) for model in versions] == [(1, False), (2, True)]
    latest = versions.last()
    assert latest.classes == ["clear", "spot"] and latest.input_shape == [28, 28, 1]
    assert (models_root / "blobs-basic_cnn" / "2" / "card.json").is_file()
    assert latest.card["splits"]["validation_source"].startswith("20% of train")
    assert set(latest.metrics["validation"]["ci95"]) >= {"accuracy", "auc"}
