"""The three architectures HealthSync trains, all from scratch (``weights=None``: no weights
can be downloaded here).

Every model takes float32 pixels in 0-255 (see ml_models.preprocessing) and owns its
normalisation, so training and serving cannot disagree about it.
"""

from __future__ import annotations

ARCHITECTURES = ("basic_cnn", "resnet50", "efficientnet")
# Keras' ResNet50 and EfficientNetB0 refuse inputs smaller than this.
MIN_APPLICATION_SIZE = 32
# The layer Grad-CAM reads: the last convolutional feature map before pooling.
BATCH_NORM_MOMENTUM = 0.9
GRADCAM_LAYERS = {"resnet50": "conv5_block3_out", "efficientnet": "top_activation", "basic_cnn": "last_conv"}


def build_model(arch: str, *, input_shape: tuple[int, int, int], num_classes: int, dropout: float = 0.3):
    import keras
    from keras import layers

    if arch not in ARCHITECTURES:
        raise ValueError(f"unknown architecture {arch!r}; choose one of {', '.join(ARCHITECTURES)}")
    inputs = keras.Input(shape=input_shape, name="pixels")
    if arch == "basic_cnn":
        # The seed's network; dropout added because it overfits the small medical sets.
        x = layers.Rescaling(1.0 / 255, name="rescale")(inputs)
        x = layers.Conv2D(32, 3, activation="relu", name="conv1")(x)
        x = layers.MaxPooling2D(name="pool1")(x)
        x = layers.Conv2D(64, 3, activation="relu", name="last_conv")(x)
        x = layers.MaxPooling2D(name="pool2")(x)
        x = layers.Flatten(name="flatten")(x)
        x = layers.Dropout(dropout, name="dropout_features")(x)
        x = layers.Dense(128, activation="relu", name="dense")(x)
        x = layers.Dropout(dropout, name="dropout_dense")(x)
        outputs = layers.Dense(num_classes, activation="softmax", name="probabilities")(x)
        return keras.Model(inputs, outputs, name="basic_cnn")

    x = inputs
    if min(input_shape[:2]) < MIN_APPLICATION_SIZE:
        x = layers.Resizing(MIN_APPLICATION_SIZE, MIN_APPLICATION_SIZE, interpolation="bilinear", name="upsample")(x)
    if arch == "resnet50":
        x = layers.Rescaling(1.0 / 255, name="rescale")(x)
        base = keras.applications.ResNet50(include_top=False, weights=None, input_tensor=x, pooling="avg")
    else:
        # EfficientNet rescales 0-255 itself (its Rescaling and Normalization layers): no /255 here.
        base = keras.applications.EfficientNetB0(include_top=False, weights=None, input_tensor=x, pooling="avg")
    for layer in base.layers:
        if isinstance(layer, layers.BatchNormalization):
            # Keras' 0.99 suits ImageNet-length runs; trained from scratch for a few hundred steps,
            # the moving statistics lag the weights and the model answers one class at inference.
            layer.momentum = BATCH_NORM_MOMENTUM
    features = layers.Dropout(dropout, name="dropout_features")(base.output)
    outputs = layers.Dense(num_classes, activation="softmax", name="probabilities")(features)
    return keras.Model(inputs, outputs, name=arch)


def gradcam_layer_name(model) -> str:
    """The last convolutional feature map: the named layer where known, else the last 4-D output
    that is not a pooling layer."""
    names = {layer.name for layer in model.layers}
    for candidate in GRADCAM_LAYERS.values():
        if candidate in names:
            return candidate
    for layer in reversed(model.layers):
        shape = getattr(layer, "output", None)
        if shape is not None and len(layer.output.shape) == 4 and "pool" not in layer.name:
            return layer.name
    raise ValueError(f"{model.name} has no convolutional layer for Grad-CAM")


def count_parameters(model) -> int:
    return int(model.count_params())
