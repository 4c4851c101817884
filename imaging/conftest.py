"""Registry fixtures: tiny real models written to a temporary models directory."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import pytest

from ml_models import cards


def write_model(
    root, *, name="tinyset-basic_cnn", version=1, dataset="tinyset", classes=("normal", "pneumonia"), seed=0
):
    """A saved, untrained 28 px basic CNN with a card, as training would leave it."""
    import keras

    from ml_models.architectures import build_model
    from ml_models.preprocessing import PreprocessingSpec

    keras.utils.set_random_seed(seed)
    spec = PreprocessingSpec(image_size=28, channels=1)
    directory = root / name / str(version)
    directory.mkdir(parents=True)
    build_model("basic_cnn", input_shape=spec.input_shape, num_classes=len(classes)).save(directory / cards.MODEL_FILE)
    cards.write_card(
        directory,
        {
            "name": name,
            "version": version,
            "dataset": {"name": dataset, "license": "CC BY 4.0"},
            "condition": "pneumonia",
            "modality": "chest X-ray",
            "classes": list(classes),
            "input_shape": list(spec.input_shape),
            "preprocessing": spec.to_dict(),
            "architecture": {"name": "basic_cnn", "parameters": 1},
            "decision": {"rule": "argmax"},
            "metrics": {"validation": {"accuracy": 0.5, "auc": 0.5 + version / 100}},
        },
    )
    return directory


@pytest.fixture
def models_root(tmp_path, settings, db):
    """An empty models directory and registry (the test database's migrate registered whatever
    models the working tree holds)."""
    from imaging.inference import forget_predictors
    from imaging.models import MLModel

    root = tmp_path / "models"
    root.mkdir()
    settings.HEALTHSYNC_MODELS_DIR = str(root)
    MLModel.objects.all().delete()

    forget_predictors()
    yield root
    forget_predictors()


@pytest.fixture
def tiny_npz(tmp_path):
    rng = np.random.default_rng(0)
    path = tmp_path / "tiny.npz"
    np.savez(
        path,
        val_images=rng.integers(0, 256, (12, 28, 28), dtype=np.uint8),
        val_labels=(np.arange(12) % 2).reshape(-1, 1).astype(np.uint8),
        test_images=rng.integers(0, 256, (8, 28, 28), dtype=np.uint8),
        test_labels=(np.arange(8) % 2).reshape(-1, 1).astype(np.uint8),
    )
    return path
