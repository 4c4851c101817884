"""Architectures, the predictor and a tiny end-to-end training run."""

import numpy as np
import pytest

from ml_models.architectures import build_model, gradcam_layer_name
from ml_models.cards import find_artifacts, read_card
from ml_models.catalogue import DatasetInfo, Recipe
from ml_models.predictor import Predictor, compiled_call
from ml_models.training import TrainingPlan, class_weights, train_model

from .conftest import write_medmnist


@pytest.mark.parametrize("arch, layer", [("resnet50", "conv5_block3_out"), ("efficientnet", "top_activation")])
def test_applications_accept_28_px_by_resizing_inside(arch, layer):
    model = build_model(arch, input_shape=(28, 28, 1), num_classes=3)
    assert model.get_layer("upsample").output.shape[1:3] == (32, 32)
    assert gradcam_layer_name(model) == layer
    out = compiled_call(model, (28, 28, 1))(np.zeros((2, 28, 28, 1), dtype=np.float32)).numpy()
    assert out.shape == (2, 3)
    np.testing.assert_allclose(out.sum(axis=1), 1, rtol=1e-5)
    batch_norms = [layer for layer in model.layers if layer.__class__.__name__ == "BatchNormalization"]
    assert batch_norms and all(layer.momentum == 0.9 for layer in batch_norms)
    names = [layer.name for layer in model.layers]
    if arch == "efficientnet":
        assert "rescale" not in names  # EfficientNet rescales itself: not twice
        assert any(layer.__class__.__name__ == "Rescaling" for layer in model.layers)
    else:
        assert "rescale" in names


def test_class_weights_balance_the_loss():
    weights = class_weights(np.array([0, 1, 1, 1]), 2)
    assert weights == {0: 2.0, 1: pytest.approx(2 / 3)}


def test_training_writes_model_and_card_and_predictor_serves_it(tmp_path):
    (tmp_path / "data").mkdir()
    write_medmnist(tmp_path / "data" / "tiny.npz", n=40)
    info = DatasetInfo(
        name="tiny",
        title="tiny",
        condition="none",
        classes=("no", "yes"),
        modality="chest_xray",
        layout="medmnist",
        channels=1,
        license="CC0",
        redistributable=True,
        citation="none",
        positive_class=1,
    )
    plan = TrainingPlan(
        dataset_dir=tmp_path / "data", info=info, recipe=Recipe("basic_cnn", 28, epochs=2, batch_size=16), verbose=0
    )
    result = train_model(plan, tmp_path / "models", log=lambda line: None)
    assert result.directory == tmp_path / "models" / "tiny-basic_cnn" / "1"
    assert find_artifacts(tmp_path / "models") == [result.directory]
    card = read_card(result.directory)
    for key in (
        "dataset",
        "classes",
        "modality",
        "input_shape",
        "preprocessing",
        "architecture",
        "training",
        "splits",
        "libraries",
        "decision",
    ):
        assert key in card
    assert card["splits"]["validation"]["n"] == 40  # the set's own val split is the reported one
    assert {"train", "early_stop", "calibration"} <= set(card["splits"])
    assert card["decision"]["rule"] == "threshold"
    validation = card["metrics"]["validation"]
    assert set(validation["ci95"]) >= {"accuracy", "auc", "macro_f1"}
    assert card["training"]["seed"] == 42 and card["libraries"]["tensorflow"]

    predictor = Predictor.load(result.directory)
    images = np.random.default_rng(0).integers(0, 256, (70, 28, 28), dtype=np.uint8)
    batch = predictor.prepare(list(images))
    probabilities = predictor.probabilities(batch)  # 70 > batch size 32: three compiled calls
    np.testing.assert_allclose(probabilities, result.model(batch, training=False).numpy(), atol=1e-5)
    predictions = predictor.predict(list(images[:3]))
    assert {prediction.label for prediction in predictions} <= {"no", "yes"}
    assert predictions[0].to_dict()["probabilities"].keys() == {"no", "yes"}
