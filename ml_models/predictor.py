"""Serving: load a model once, then answer with one compiled call per batch.

``model.predict`` costs about 50 ms of fixed overhead per call on this CPU, so the predictor
traces the model once into a ``tf.function`` with a fixed input signature (any batch size)
and calls that. Preprocessing is ml_models.preprocessing, the same code training used.

TensorFlow is not fork-safe: create predictors in the process that uses them (after a Celery
worker process starts, ``worker_process_init``, or with a non-forking pool), never in a parent
that forks afterwards.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ml_models.cards import MODEL_FILE, read_card
from ml_models.evaluation import decide
from ml_models.preprocessing import PreprocessingSpec, prepare_batch, read_image


@dataclass(frozen=True)
class Prediction:
    label: str
    class_index: int
    confidence: float
    probabilities: dict[str, float]

    def to_dict(self) -> dict:
        return {
            "label": self.label,
            "class_index": self.class_index,
            "confidence": self.confidence,
            "probabilities": self.probabilities,
        }


def load_keras_model(path: Path):
    import keras

    return keras.saving.load_model(str(path), compile=False)


def compiled_call(model, input_shape):
    """The model as one traced graph for any batch size: the fast path both the predictor and the
    benchmark's bare baseline use."""
    import tensorflow as tf

    signature = [tf.TensorSpec(shape=(None, *input_shape), dtype=tf.float32)]

    @tf.function(input_signature=signature)
    def call(pixels):
        return model(pixels, training=False)

    return call


class Predictor:
    """A loaded model and its card. The compiled call is safe to use from several threads."""

    def __init__(
        self,
        model,
        *,
        spec: PreprocessingSpec,
        classes,
        threshold=None,
        positive_class=None,
        card: dict | None = None,
        batch_size: int = 32,
    ):
        self.model = model
        self.spec = spec
        self.classes = tuple(classes)
        self.threshold = threshold
        self.positive_class = positive_class
        self.card = card or {}
        self.batch_size = batch_size
        self._call = compiled_call(model, spec.input_shape)
        # Trace now, so the first request does not pay for it.
        self._call(np.zeros((1, *spec.input_shape), dtype=np.float32))

    @classmethod
    def load(cls, directory: Path, *, batch_size: int = 32) -> Predictor:
        """A model directory (``model.keras`` + ``card.json``) -> a ready predictor."""
        directory = Path(directory)
        card = read_card(directory)
        decision = card.get("decision", {})
        return cls(
            load_keras_model(directory / MODEL_FILE),
            spec=PreprocessingSpec.from_dict(card["preprocessing"]),
            classes=card["classes"],
            threshold=decision.get("threshold"),
            positive_class=decision.get("positive_class"),
            card=card,
            batch_size=batch_size,
        )

    @property
    def explainer(self):
        """The model's Grad-CAM (built and traced on first use)."""
        from ml_models.gradcam import gradcam_for

        return gradcam_for(self.model)

    @property
    def name(self) -> str:
        return self.card.get("name", self.model.name)

    @property
    def version(self) -> int:
        return int(self.card.get("version", 0))

    def probabilities(self, images: np.ndarray) -> np.ndarray:
        """Preprocessed float32 [N, S, S, C] -> class probabilities [N, K], in batches."""
        images = np.asarray(images, dtype=np.float32)
        if len(images) <= self.batch_size:
            return self._call(images).numpy()
        return np.concatenate(
            [
                self._call(images[start : start + self.batch_size]).numpy()
                for start in range(0, len(images), self.batch_size)
            ]
        )

    def decide(self, probabilities: np.ndarray) -> np.ndarray:
        return decide(probabilities, threshold=self.threshold, positive_class=self.positive_class)

    def prepare(self, pictures) -> np.ndarray:
        """Raw pictures (pixel arrays, file paths or file bytes) -> the model's input batch."""
        arrays = [picture if isinstance(picture, np.ndarray) else read_image(picture) for picture in pictures]
        return prepare_batch(arrays, self.spec)

    def predict(self, pictures) -> list[Prediction]:
        """Raw pictures -> one prediction each, in one batched pass."""
        return self.predictions(self.probabilities(self.prepare(pictures)))

    def predictions(self, probabilities: np.ndarray) -> list[Prediction]:
        chosen = self.decide(probabilities)
        return [
            Prediction(
                label=self.classes[index],
                class_index=int(index),
                confidence=float(row[index]),
                probabilities={name: round(float(p), 6) for name, p in zip(self.classes, row, strict=True)},
            )
            for row, index in zip(probabilities, chosen, strict=True)
        ]
