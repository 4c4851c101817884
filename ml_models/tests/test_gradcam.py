"""Grad-CAM localisation: a model that can only tell the classes apart by a bright blob should look at it."""

import numpy as np

from ml_models.gradcam import heatmap, overlay_png

SIZE = 32


def blob_images(n, rng):
    images = rng.normal(60, 20, (n, SIZE, SIZE, 1)).clip(0, 255).astype(np.float32)
    labels = np.arange(n) % 2
    centres = rng.integers(6, SIZE - 6, (n, 2))
    yy, xx = np.mgrid[:SIZE, :SIZE]
    for image, label, (cy, cx) in zip(images, labels, centres, strict=True):
        if label:
            image[(yy - cy) ** 2 + (xx - cx) ** 2 <= 9, 0] = 250.0
    return images, labels, centres


def test_heatmap_peak_falls_inside_the_blob():
    import keras

    from ml_models.architectures import build_model

    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    images, labels, _ = blob_images(400, rng)
    model = build_model("basic_cnn", input_shape=(SIZE, SIZE, 1), num_classes=2, dropout=0.0)
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(images, labels, epochs=4, batch_size=32, verbose=0)

    test_images, test_labels, centres = blob_images(40, rng)
    hits = total = 0
    for image, label, (cy, cx) in zip(test_images, test_labels, centres, strict=True):
        if not label:
            continue
        cam = heatmap(model, image, class_index=1)
        assert cam.shape == (SIZE, SIZE) and 0 <= cam.min() and cam.max() <= 1
        py, px = np.unravel_index(np.argmax(cam), cam.shape)
        hits += (py - cy) ** 2 + (px - cx) ** 2 <= 5**2  # within the blob (radius 3) and its edge
        total += 1
    assert hits / total >= 0.7, f"peak in the blob for only {hits}/{total} images"

    png = overlay_png(test_images[1], heatmap(model, test_images[1]))
    assert png.startswith(b"\x89PNG")
