"""Latency of the HealthSync predictor against the bare compiled Keras call, per architecture.

    .venv/bin/python bench/bench_predictor.py [--models-dir DIR] [--repeats N]

For each architecture it uses the trained pneumoniamnist model when one is on disk (else an
untrained one of the same shape) and times, at batch 1 and 32, median and p95 in ms:
  * bare:      the model traced once as a tf.function (the fastest Keras path; never model.predict),
  * predictor: ml_models.predictor.Predictor.probabilities, what serving calls,
  * int8:      a dynamic-range quantized LiteRT copy, with its accuracy change on the validation split.
Inputs are already preprocessed: preprocessing is the same for all three and timed separately.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402

from ml_models.cards import find_artifacts  # noqa: E402
from ml_models.preprocessing import PreprocessingSpec, prepare_batch  # noqa: E402

ARCHES = ("basic_cnn", "resnet50", "efficientnet")
VALIDATION_NPZ = REPO.parent / "shared" / "datasets" / "pneumoniamnist" / "pneumoniamnist_trainval.npz"


def timings(call, batch, repeats):
    call(batch)  # warm-up
    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        call(batch)
        samples.append((time.perf_counter() - started) * 1000)
    return float(np.median(samples)), float(np.percentile(samples, 95))


def latest_directory(models_dir: Path, name: str) -> Path | None:
    found = [directory for directory in find_artifacts(models_dir) if directory.parent.name == name]
    return max(found, key=lambda directory: int(directory.name)) if found else None


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--models-dir",
        type=Path,
        default=Path(os.environ.get("HEALTHSYNC_MODELS_DIR", REPO / "ml_models" / "artifacts")),
    )
    parser.add_argument("--repeats", type=int, default=50)
    parser.add_argument("--no-quantized", action="store_true")
    args = parser.parse_args()

    import tensorflow as tf

    from ml_models.architectures import build_model
    from ml_models.evaluation import point_metrics
    from ml_models.predictor import Predictor, compiled_call
    from ml_models.quantized import QuantizedPredictor, export_quantized

    validation = None
    if VALIDATION_NPZ.is_file():
        with np.load(VALIDATION_NPZ) as arrays:
            validation = (arrays["val_images"], arrays["val_labels"].reshape(-1))

    print(f"TensorFlow {tf.__version__}, {os.cpu_count()} CPUs; times in ms (median / p95), {args.repeats} calls each")
    header = (
        f"{'architecture':<13} {'input':>9} {'batch':>5} {'bare compiled':>15} {'predictor':>15} "
        f"{'predictor/bare':>14} {'int8 LiteRT':>15}"
    )
    rows, notes = [header, "-" * len(header)], []
    for arch in ARCHES:
        directory = latest_directory(args.models_dir, f"pneumoniamnist-{arch}")
        if directory:
            predictor = Predictor.load(directory)
            source = f"{directory.parent.name}:{directory.name}"
        else:
            spec = PreprocessingSpec(image_size=28 if arch == "basic_cnn" else 32, channels=1)
            predictor = Predictor(
                build_model(arch, input_shape=spec.input_shape, num_classes=2),
                spec=spec,
                classes=("normal", "pneumonia"),
            )
            source = "untrained (no trained model on disk)"
        model, spec = predictor.model, predictor.spec
        bare = compiled_call(model, spec.input_shape)
        quantized = None
        if not args.no_quantized:
            with tempfile.TemporaryDirectory() as scratch:
                with contextlib.redirect_stdout(io.StringIO()):  # the converter lists every captured tensor
                    path = export_quantized(model, Path(scratch) / "model.int8.tflite")
                size = path.stat().st_size
                quantized = QuantizedPredictor(
                    path,
                    spec=spec,
                    classes=predictor.classes,
                    threshold=predictor.threshold,
                    positive_class=predictor.positive_class,
                )
            float_size = (directory / "model.keras").stat().st_size if directory else None
            note = f"{arch}: {source}; int8 copy {size / 1e6:.1f} MB" + (
                f" (Keras file {float_size / 1e6:.1f} MB)" if float_size else ""
            )
            if validation is not None:
                images = prepare_batch(validation[0], spec)
                keras_metrics = point_metrics(
                    validation[1],
                    predictor.probabilities(images),
                    predictor.classes,
                    threshold=predictor.threshold,
                    positive_class=predictor.positive_class,
                )
                int8_probabilities = np.concatenate(
                    [quantized.probabilities(images[i : i + 32]) for i in range(0, len(images), 32)]
                )
                int8_metrics = point_metrics(
                    validation[1],
                    int8_probabilities,
                    predictor.classes,
                    threshold=predictor.threshold,
                    positive_class=predictor.positive_class,
                )
                note += (
                    f"; validation accuracy {keras_metrics['accuracy']:.4f} -> {int8_metrics['accuracy']:.4f}, "
                    f"AUC {keras_metrics['auc']:.4f} -> {int8_metrics['auc']:.4f} (n={len(images)})"
                )
            notes.append(note)
        else:
            notes.append(f"{arch}: {source}")
        repeats = args.repeats
        for batch_size in (1, 32):
            batch = np.random.default_rng(0).uniform(0, 255, (batch_size, *spec.input_shape)).astype(np.float32)
            bare_ms = timings(lambda x, bare=bare: bare(x).numpy(), batch, repeats)
            predictor_ms = timings(predictor.probabilities, batch, repeats)
            int8_ms = timings(quantized.probabilities, batch, repeats) if quantized else None
            int8_text = f"{int8_ms[0]:7.2f} / {int8_ms[1]:6.2f}" if int8_ms else "-"
            rows.append(
                f"{arch:<13} {'x'.join(map(str, spec.input_shape)):>9} {batch_size:>5} {bare_ms[0]:7.2f} / "
                f"{bare_ms[1]:6.2f} "
                f"{predictor_ms[0]:7.2f} / {predictor_ms[1]:6.2f} {predictor_ms[0] / bare_ms[0]:13.2f}x {int8_text:>15}"
            )
    raw = [np.random.default_rng(0).integers(0, 256, (28, 28), dtype=np.uint8) for _ in range(32)]
    prep_ms = timings(
        lambda pictures: prepare_batch(pictures, PreprocessingSpec(image_size=28, channels=1)), raw, args.repeats
    )
    print("\n".join(rows))
    print(f"\npreprocessing (shared by all): 32 MedMNIST arrays {prep_ms[0]:.2f} / {prep_ms[1]:.2f} ms")
    print("\n".join(notes))


if __name__ == "__main__":
    main()
