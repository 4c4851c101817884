"""Grad-CAM (Selvaraju et al., ICCV 2017), as in the Keras example: the gradient of the class
score before softmax with respect to the last convolutional feature map, averaged over space to
weigh each channel; ReLU of the weighted sum, scaled to 0-1 and resized to the image."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

from ml_models.architectures import gradcam_layer_name

OVERLAY_OPACITY = 0.4


def _feature_and_logit_model(model, layer_name: str):
    import keras

    head = model.get_layer("probabilities")
    return keras.Model(model.inputs, [model.get_layer(layer_name).output, head.input]), head


def heatmap(model, image: np.ndarray, *, class_index: int | None = None, layer_name: str | None = None) -> np.ndarray:
    """A preprocessed image [S, S, C] -> heatmap [S, S] in 0-1 for ``class_index`` (default: the top class)."""
    import tensorflow as tf

    layer_name = layer_name or gradcam_layer_name(model)
    features_model, head = _feature_and_logit_model(model, layer_name)
    batch = tf.convert_to_tensor(np.asarray(image, dtype=np.float32)[np.newaxis])
    with tf.GradientTape() as tape:
        features, penultimate = features_model(batch, training=False)
        kernel, bias = head.kernel, head.bias
        logits = tf.matmul(penultimate, kernel) + bias
        if class_index is None:
            class_index = int(tf.argmax(logits[0]))
        score = logits[:, class_index]
    gradients = tape.gradient(score, features)
    weights = tf.reduce_mean(gradients, axis=(1, 2))  # one weight per channel
    cam = tf.nn.relu(tf.reduce_sum(features[0] * weights[0], axis=-1)).numpy()
    peak = cam.max()
    cam = cam / peak if peak > 0 else np.zeros_like(cam)
    size = image.shape[:2]
    resized = Image.fromarray(cam.astype(np.float32), mode="F").resize((size[1], size[0]), Image.Resampling.BILINEAR)
    return np.clip(np.asarray(resized, dtype=np.float32), 0.0, 1.0)


def jet(values: np.ndarray) -> np.ndarray:
    """The jet colour map, 0-1 -> uint8 RGB (no matplotlib needed)."""
    v = np.clip(values, 0, 1)[..., np.newaxis]
    rgb = np.clip(1.5 - np.abs(4 * v - np.array([3.0, 2.0, 1.0])), 0, 1)
    return (rgb * 255).astype(np.uint8)


def overlay_png(image: np.ndarray, cam: np.ndarray, *, opacity: float = OVERLAY_OPACITY) -> bytes:
    """The image (0-255, [S, S, C]) with the heatmap blended over it, as PNG bytes."""
    base = np.asarray(image, dtype=np.float32)
    if base.ndim == 2:
        base = base[..., np.newaxis]
    if base.shape[-1] == 1:
        base = np.repeat(base, 3, axis=-1)
    blended = (1 - opacity) * base + opacity * jet(cam).astype(np.float32)
    buffer = io.BytesIO()
    Image.fromarray(np.clip(blended, 0, 255).astype(np.uint8)).save(buffer, format="PNG")
    return buffer.getvalue()
