"""Upload-to-result latency of an image analysis through the API and Celery in production mode,
against the predictor's own compute time, per registered pneumoniamnist architecture.

Usage:
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres REDIS_URL=redis://127.0.0.1:6379/0 \\
    CELERY_BROKER_URL=amqp://guest:guest@127.0.0.1:5672// \\
    .venv/bin/python bench/bench_imaging.py [--runs 30] [--batch-runs 5]

It creates (and drops afterwards) its own database, ``healthsync_bench_imaging``, on that
PostgreSQL server, uses a queue of its own on that RabbitMQ (deleted afterwards) and a channel
prefix of its own on that Redis, runs ``migrate`` (which registers every model directory under
ml_models/artifacts) and ``seed_demo``, then starts the production stack of docs/configuration.md as subprocesses,
with ``DJANGO_DEBUG=0``: gunicorn with two uvicorn workers (``--server daphne``: one daphne
process) and one Celery worker (``--pool solo``), and logs in as the demo medical staff account.

For each pneumoniamnist architecture that is registered (basic_cnn is committed; resnet50 and
efficientnet only where their files were trained into ml_models/artifacts) it measures, after a
warm-up, median and p95 in ms:

* predictor: ``Predictor.probabilities`` on an already prepared input, in this process; at batch
  32, one call on 32 images.
* worker compute: what the worker itself recorded computing (``timings_ms``: the span of its
  compute from reading the stored images to the Grad-CAM overlays: decode, prepare,
  probabilities, decision, Grad-CAM, overlay PNGs). The images of one request are one batch,
  computed in one pass (one model call, one Grad-CAM call, the overlays drawn on every core);
  each analysis records an equal share, so the sum over a request's analyses is the batch's
  compute. The same per-image work is also timed in this process, in parts, as a cross-check.
* upload to result: ``POST /api/predict`` (multipart, ``wait=true``) timed by the client from the
  first byte sent to the last byte of the 200 response: upload, validation, storing the image,
  queueing, the worker's claim, compute and result write, and the request's wait for it; at batch
  1 ``--runs`` times, at batch 32 (32 ``image`` parts in one request) ``--batch-runs`` times
  (fewer, but at least 3, once ``--batch-budget-s`` is spent).
* overhead = upload to result - worker compute, per request: everything the path adds to what the
  worker must compute anyway. Target: median under 30 ms. The seed's reported upload-to-result
  time, 3.5 s, is printed beside it. A second table splits the batch-1 overhead by the analysis
  row's timestamps (upload, queue wait, the worker's own bookkeeping, waiting for the response).

Nothing runs concurrently with a timed section: the in-process compute is measured while the
worker is idle. Keep the machine otherwise quiet; p95 on a shared 2-core machine is noisy.

``--embedded`` measures the embedded mode instead (``make run``: ``manage.py serve`` on SQLite, the
in-memory broker, the Celery worker a thread of the server process), needing no service:

    .venv/bin/python bench/bench_imaging.py --embedded [--runs 30] [--idle-s 10]

It migrates and seeds a temporary SQLite database and var directory (``migrate`` registers the
committed basic CNN), starts ``manage.py serve`` on a free port with the embedded defaults, warms
the 28-px basic CNN (pneumoniamnist-basic_cnn) and times ``--runs`` uploads of one image with
``wait=true``, against the predictor's compute in the same run (the ``timings_ms`` the worker
returns, and the same work timed in this process). It also reads the server process's CPU time
over ``--idle-s`` seconds of idleness (its worker and beat threads waiting for work). Target from
the issue: median upload to result at most 100 ms.
"""

import argparse
import io
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from benchdb import own_database  # noqa: E402

from healthsync.tests.servers import (  # noqa: E402
    free_port,
    http_json,
    manage,
    multipart,
    process_env,
    production_settings,
    start_production_server,
    start_server,
    start_worker,
)
from imaging.tests.images import typical_pixels  # noqa: E402

BENCH_DB = "healthsync_bench_imaging"
DATASET = "pneumoniamnist"
ARCHITECTURES = ("basic_cnn", "resnet50", "efficientnet")
SEED_UPLOAD_TO_RESULT_MS = 3500.0
TARGET_OVERHEAD_MS = 30.0
LARGE_BATCH = 32
VALIDATION_NPZ = ROOT.parent / "shared" / "datasets" / DATASET / f"{DATASET}_trainval.npz"


def summary(samples: list[float]) -> tuple[float, float]:
    """Median and p95 (linear interpolation) of ``samples``, in the samples' unit."""
    return float(statistics.median(samples)), float(np.percentile(samples, 95))


def timed(call, repeats: int) -> list[float]:
    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        call()
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def test_images(count: int) -> list[bytes]:
    """PNG files of pneumoniamnist validation images (28x28 grayscale), else random ones of that size."""
    from PIL import Image

    if VALIDATION_NPZ.is_file():
        with np.load(VALIDATION_NPZ) as arrays:
            pictures = list(arrays["val_images"][:count])
    else:
        pictures = [typical_pixels(seed=seed) for seed in range(count)]  # they pass the appearance checks
    files = []
    for picture in pictures:
        buffer = io.BytesIO()
        Image.fromarray(np.asarray(picture, dtype=np.uint8)).save(buffer, format="PNG")
        files.append(buffer.getvalue())
    return files


def predict(url: str, token: str, body: bytes, content_type: str) -> tuple[float, int, dict]:
    """One POST /api/predict: (client-side ms from send to the response's last byte, status, JSON)."""
    request = urllib.request.Request(
        f"{url}/api/predict",
        data=body,
        method="POST",
        headers={"Content-Type": content_type, "Authorization": f"Bearer {token}"},
    )
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(request, timeout=300) as response:
            payload, status = response.read(), response.status
    except urllib.error.HTTPError as error:
        payload, status = error.read(), error.code
    return (time.perf_counter() - started) * 1000, status, json.loads(payload or b"null")


def finished_rows(status: int, body: dict, expected: int) -> list[dict]:
    rows = body.get("analyses", [body]) if isinstance(body, dict) else []
    if status != 200 or len(rows) != expected or any(row.get("status") != "done" for row in rows):
        raise SystemExit(f"the API did not return {expected} finished analyses: {status} {json.dumps(body)[:600]}")
    return rows


def compute_parts(predictor, png: bytes) -> tuple[float, float, float]:
    """What the worker computes for a batch of one analysis (minus the storage read), timed in
    parts, ms: decode + prepare, probabilities + decision, Grad-CAM + overlay."""
    from imaging.analyses import _overlay
    from ml_models.preprocessing import read_image

    started = time.perf_counter()
    pixels = read_image(png)
    prepared = predictor.prepare([pixels])
    prepared_at = time.perf_counter()
    prediction = predictor.predictions(predictor.probabilities(prepared))[0]
    predicted_at = time.perf_counter()
    _overlay(pixels, predictor.explainer.heatmaps(prepared, [prediction.class_index])[0])
    explained_at = time.perf_counter()
    return (prepared_at - started) * 1000, (predicted_at - prepared_at) * 1000, (explained_at - predicted_at) * 1000


def file_creation_ms(directory: Path, count: int = 64) -> float:
    """How long ``count`` new small files (a 32-image batch's uploads and overlays) take to create in
    ``directory``, ms: a reading of the file system's state, which the upload and result paths
    depend on (ext4 on this machine creates files 10-20 times slower for minutes after thousands
    of files were deleted: it skips recently freed inodes one by one)."""
    directory.mkdir(parents=True)
    started = time.perf_counter()
    for number in range(count):
        descriptor = os.open(directory / f"{number}.png", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        os.write(descriptor, bytes(1024))
        os.close(descriptor)
    return (time.perf_counter() - started) * 1000


def worker_compute_ms(row: dict) -> float:
    """The compute span the worker recorded for one analysis (storage read, decode, prepare, predict,
    Grad-CAM, overlay)."""
    timings = row["timings_ms"]
    return timings["preprocessing"] + timings["inference"] + timings["gradcam"]


def epoch(stamp: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


def where_it_goes(rows: list[dict], sent: float, received: float) -> tuple[float, ...]:
    """One request's overhead split by its analyses' timestamps (wall clock, ms): request sent -> last
    row saved; last row saved -> first claim; the worker's bookkeeping: from its first claim to its
    last result, less the compute; last result -> response received."""
    saved = max(epoch(row["submitted_at"]) for row in rows)
    claimed = min(epoch(row["started_at"]) for row in rows)
    finished = max(epoch(row["finished_at"]) for row in rows)
    compute = sum(worker_compute_ms(row) for row in rows)
    return (
        (saved - sent) * 1000,
        (claimed - saved) * 1000,
        (finished - claimed) * 1000 - compute,
        (received - finished) * 1000,
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=30, help="requests at batch 1 per architecture (default 30)")
    parser.add_argument(
        "--batch-runs", type=int, default=5, help=f"requests of {LARGE_BATCH} images per architecture (default 5)"
    )
    parser.add_argument(
        "--batch-budget-s",
        type=float,
        default=40.0,
        help=f"stop the {LARGE_BATCH}-image requests of an architecture after this long, at 3 or more (default 40)",
    )
    parser.add_argument(
        "--server",
        choices=["gunicorn", "daphne"],
        default="gunicorn",
        help="the web server: gunicorn with uvicorn workers (default, as in docs/configuration.md) or daphne",
    )
    parser.add_argument("--workers", type=int, default=2, help="uvicorn workers under gunicorn (default 2)")
    parser.add_argument(
        "--architectures",
        nargs="+",
        choices=ARCHITECTURES,
        default=None,
        help="architectures to measure (default: every registered one; basic_cnn with --embedded)",
    )
    parser.add_argument(
        "--embedded",
        action="store_true",
        help="measure the embedded mode (manage.py serve: SQLite, in-memory broker, worker thread) at batch 1",
    )
    parser.add_argument(
        "--idle-s", type=float, default=10.0, help="with --embedded: seconds of idle server CPU to read (default 10)"
    )
    args = parser.parse_args()

    if args.embedded:
        args.architectures = args.architectures or ["basic_cnn"]
        measure_embedded(args)
        return
    args.architectures = args.architectures or list(ARCHITECTURES)
    with own_database(BENCH_DB):
        measure(args)


def measure(args):
    queue = f"bench-imaging-{uuid.uuid4().hex[:8]}"
    var_dir = tempfile.mkdtemp(prefix="healthsync-bench-imaging-")
    env = process_env(
        DATABASE_URL=os.environ["DATABASE_URL"],
        REDIS_URL=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"),
        CELERY_BROKER_URL=os.environ.get("CELERY_BROKER_URL", "amqp://guest:guest@127.0.0.1:5672//"),
        HEALTHSYNC_TASK_QUEUE=queue,
        HEALTHSYNC_CHANNEL_PREFIX=f"bench{uuid.uuid4().hex[:8]}",
        HEALTHSYNC_VAR_DIR=var_dir,
        **production_settings(),
        HEALTHSYNC_PREDICT_RATE="100000/min",
        HEALTHSYNC_LOG_LEVEL="WARNING",
        DJANGO_EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend",
        TF_CPP_MIN_LOG_LEVEL="2",
    )
    processes = []
    try:
        manage("migrate", "--noinput", env=env, timeout=300)  # registers every model directory on disk
        manage(
            "seed_demo", env={**env, "CELERY_BROKER_URL": "memory://"}
        )  # the demo's notification tasks are not benchmarked
        os.environ.update(env)
        import django

        django.setup()
        port = free_port()
        processes.append(
            start_production_server(
                server=args.server, workers=args.workers, env=env, port=port, log_path=Path(var_dir) / "server.log"
            )
        )
        processes.append(start_worker(env=env, log_path=Path(var_dir) / "worker.log"))
        run(args, f"http://127.0.0.1:{port}", files_ms=file_creation_ms(Path(var_dir) / "media" / "probe"))
    finally:
        for process in reversed(processes):
            process.stop()
        try:
            from config.celery import app

            with app.connection_for_write() as connection:
                connection.default_channel.queue_delete(queue)
        except Exception as exc:  # the broker's queue is only tidied up
            print(f"(could not delete queue {queue}: {exc})", file=sys.stderr)
        shutil.rmtree(var_dir, ignore_errors=True)


def _login_and_models(url: str) -> tuple[str, dict]:
    """The demo doctor's token, and the data set's active models by architecture."""
    from healthsync.demo import DEMO_PASSWORD

    status, tokens = http_json(
        "POST", f"{url}/api/auth/login", {"email": "doctor@stmarys.example", "password": DEMO_PASSWORD}
    )
    assert status == 200, tokens
    token = tokens["access"]
    status, listed = http_json("GET", f"{url}/api/models", token=token)
    assert status == 200, listed
    return token, {model["architecture"]: model for model in listed if model["dataset"] == DATASET and model["active"]}


def _time_single(url: str, token: str, single: list, runs: int) -> tuple[list, list, list, list]:
    """``runs`` one-image requests with ``wait=true``: upload to result, worker compute, overhead (ms)
    and where each request's time went."""
    path, compute, overhead, parts = [], [], [], []
    for number in range(runs):
        sent = time.time()
        elapsed, status, body = predict(url, token, *single[number % len(single)])
        received = time.time()
        row = finished_rows(status, body, 1)[0]
        path.append(elapsed)
        compute.append(worker_compute_ms(row))
        overhead.append(elapsed - compute[-1])
        parts.append(where_it_goes([row], sent, received))
    return path, compute, overhead, parts


def run(args, url: str, *, files_ms: float) -> None:
    import tensorflow as tf

    from imaging.inference import predictor_for
    from imaging.models import MLModel

    token, registered = _login_and_models(url)
    missing = [arch for arch in args.architectures if arch not in registered]
    images = test_images(LARGE_BATCH)
    server = "daphne" if args.server == "daphne" else f"gunicorn + {args.workers} uvicorn workers"
    print(
        f"TensorFlow {tf.__version__}, {os.cpu_count()} CPUs; production mode (DJANGO_DEBUG=0): PostgreSQL, "
        f"RabbitMQ, Redis, {server} + 1 Celery worker (solo)"
    )
    print(
        f"file system: 64 new small files created in {files_ms:.1f} ms (settled ext4 here: about 1 ms; see "
        "file_creation_ms)"
    )
    print(
        f"{args.runs} requests at batch 1, {args.batch_runs} of {LARGE_BATCH} images, per architecture, after a "
        "warm-up; ms, median / p95"
    )

    results, breakdowns, notes = [], [], []
    for arch in args.architectures:
        if arch not in registered:
            continue
        model = registered[arch]
        fields = {"dataset": DATASET, "model": model["name"], "wait": "true"}
        single = [multipart(fields, [image]) for image in images]
        whole = multipart(fields, images)

        # Warm-up: the worker loads and traces the model; the server and connections warm up.
        for number in range(5):
            status, body = predict(url, token, *single[number])[1:]
            finished_rows(status, body, 1)

        path_1, compute_1, overhead_1, parts_1 = _time_single(url, token, single, args.runs)
        path_32, compute_32, overhead_32, parts_32 = [], [], [], []
        batch_started = time.monotonic()
        while len(path_32) < args.batch_runs and (
            len(path_32) < 3 or time.monotonic() - batch_started < args.batch_budget_s
        ):
            sent = time.time()
            elapsed, status, body = predict(url, token, *whole)
            received = time.time()
            rows = finished_rows(status, body, LARGE_BATCH)
            parts_32.append(where_it_goes(rows, sent, received))
            path_32.append(elapsed)
            compute_32.append(sum(worker_compute_ms(row) for row in rows))
            overhead_32.append(elapsed - compute_32[-1])

        # In this process, with the worker idle: the same model file, the same functions.
        predictor = predictor_for(MLModel.objects.get(name=model["name"], version=model["version"]))
        prepared_1 = predictor.prepare([images[0]])
        prepared_32 = predictor.prepare(images)
        for number in range(5):
            compute_parts(predictor, images[number])
        predictor.probabilities(prepared_32)
        predictor_1 = timed(lambda p=predictor, batch=prepared_1: p.probabilities(batch), args.runs)
        predictor_32 = timed(lambda p=predictor, batch=prepared_32: p.probabilities(batch), args.runs)
        in_process = [compute_parts(predictor, images[number % len(images)]) for number in range(args.runs)]
        results.append(
            (
                arch,
                model,
                1,
                len(path_1),
                summary(predictor_1),
                summary(compute_1),
                summary(path_1),
                summary(overhead_1),
            )
        )
        results.append(
            (
                arch,
                model,
                LARGE_BATCH,
                len(path_32),
                summary(predictor_32),
                summary(compute_32),
                summary(path_32),
                summary(overhead_32),
            )
        )
        in_process_medians = [statistics.median(column) for column in zip(*in_process, strict=True)]
        in_process_total = statistics.median(sum(p) for p in in_process)
        breakdowns.append(
            (
                arch,
                1,
                [statistics.median(column) for column in zip(*parts_1, strict=True)],
                in_process_medians,
                in_process_total,
            )
        )
        breakdowns.append(
            (arch, LARGE_BATCH, [statistics.median(column) for column in zip(*parts_32, strict=True)], None, None)
        )
        notes.append(f"{arch}: {model['name']}:{model['version']}")

    header = (
        f"{'architecture':<13} {'input':>8} {'batch':>5} {'n':>3} {'predictor':>15} {'worker compute':>17} "
        f"{'upload->result':>17} {'overhead':>17} {'per image':>9} {'seed':>6} {'target':>7} verdict"
    )
    print()
    print(header)
    print("-" * len(header))
    for arch, model, batch, runs, predictor_ms, compute_ms, path_ms, overhead_ms in results:
        verdict = "meets" if overhead_ms[0] < TARGET_OVERHEAD_MS else "misses"
        print(
            f"{arch:<13} {'x'.join(map(str, model['input_shape'])):>8} {batch:>5} {runs:>3} {predictor_ms[0]:7.2f} / "
            f"{predictor_ms[1]:6.2f} "
            f"{compute_ms[0]:8.1f} / {compute_ms[1]:6.1f} {path_ms[0]:8.1f} / {path_ms[1]:6.1f} {overhead_ms[0]:8.1f} "
            f"/ {overhead_ms[1]:6.1f} "
            f"{overhead_ms[0] / batch:9.1f} {SEED_UPLOAD_TO_RESULT_MS:6.0f} {'<' + str(int(TARGET_OVERHEAD_MS)):>7} "
            f"{verdict}"
        )
    print()
    print("predictor: Predictor.probabilities on a prepared input, in this process (batch 32: one call on 32 images).")
    print(
        "worker compute: what the worker recorded computing (timings_ms: read + decode + prepare, predict, Grad-CAM + "
        "overlay);"
    )
    print(
        "  a request's images are one batch computed in one pass; its analyses' shares add up to the batch's compute."
    )
    print(
        "upload->result: POST /api/predict wait=true, client side. overhead: upload->result - worker compute, per "
        "request."
    )
    print(
        "per image: median overhead / batch. seed: the seed's reported upload-to-result time (ms). target: median "
        "overhead < 30 ms."
    )
    print()
    print(
        "where the overhead goes, medians in ms (timestamps of the analysis rows; one machine, one clock)  | this "
        "process, per image"
    )
    print(
        f"{'architecture':<13} {'batch':>5} {'upload->saved':>13} {'->claim':>8} {'bookkeeping':>11} "
        f"{'done->response':>14} | {'decode+prepare':>14} {'predictor':>9} {'Grad-CAM+overlay':>16} {'total':>7}"
    )
    for arch, batch, (upload, claim, bookkeeping, response), in_process, total in breakdowns:
        own = f"{in_process[0]:14.2f} {in_process[1]:9.2f} {in_process[2]:16.1f} {total:7.1f}" if in_process else ""
        print(f"{arch:<13} {batch:>5} {upload:13.1f} {claim:8.1f} {bookkeeping:11.1f} {response:14.1f} | {own}")
    print()
    print(
        "upload->saved: request sent -> last analysis row saved (upload, validation, storing the images); ->claim: -> "
        "the"
    )
    print(
        "worker claims the batch (commit, publish, broker, worker; queued tasks ahead of it); bookkeeping: the worker's"
    )
    print(
        "claim, status pushes and result write, i.e. claim -> last result less the compute; done->response: last result"
    )
    print("written -> last byte received (the request's polling wait, serialisation, HTTP).")
    for note in notes:
        print(f"model {note}")
    for arch in missing:
        print(
            f"{arch}: not registered (no ml_models/artifacts/{DATASET}-{arch}/<version>/; train it with "
            f"`manage.py train_model --dataset {DATASET} --arch {arch}`)"
        )


# --- The embedded mode -----------------------------------------------------------------------------
TARGET_EMBEDDED_MS = 100.0


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system, all threads) the process ``pid`` has used so far, s."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def idle_cpu_percent(pid: int, seconds: float) -> float:
    """The share of one core that process ``pid`` uses over ``seconds`` while nobody calls it, %."""
    time.sleep(1.0)  # let the last request's work finish
    used, started = cpu_seconds(pid), time.monotonic()
    time.sleep(seconds)
    return (cpu_seconds(pid) - used) / (time.monotonic() - started) * 100


def measure_embedded(args) -> None:
    var_dir = tempfile.mkdtemp(prefix="healthsync-bench-imaging-embedded-")
    env = process_env(  # no DATABASE_URL, CELERY_BROKER_URL, REDIS_URL: the embedded mode, as `make run`
        HEALTHSYNC_VAR_DIR=var_dir,
        HEALTHSYNC_SQLITE_PATH=str(Path(var_dir) / "healthsync.sqlite3"),
        HEALTHSYNC_MEDIA_ROOT=str(Path(var_dir) / "media"),
        HEALTHSYNC_STATIC_ROOT=str(Path(var_dir) / "static"),
        HEALTHSYNC_PREDICT_RATE="100000/min",
        HEALTHSYNC_LOG_LEVEL="WARNING",
        TF_CPP_MIN_LOG_LEVEL="2",
    )
    server = None
    try:
        manage("migrate", "--noinput", env=env, timeout=300)  # registers the committed models
        manage("seed_demo", env=env)
        os.environ.update(env)
        import django

        django.setup()
        port = free_port()
        server = start_server(env=env, port=port, log_path=Path(var_dir) / "server.log")
        run_embedded(args, f"http://127.0.0.1:{port}", server_pid=server.popen.pid)
    finally:
        if server is not None:
            server.stop()
        shutil.rmtree(var_dir, ignore_errors=True)


def run_embedded(args, url: str, *, server_pid: int) -> None:
    import tensorflow as tf
    from django.conf import settings

    from imaging.inference import predictor_for
    from imaging.models import MLModel

    token, registered = _login_and_models(url)
    images = test_images(LARGE_BATCH)
    polling = settings.CELERY_BROKER_TRANSPORT_OPTIONS.get("polling_interval")
    print(
        f"TensorFlow {tf.__version__}, {os.cpu_count()} CPUs; embedded mode (manage.py serve: SQLite, "
        "in-memory broker, the Celery worker a thread of the server; broker polling_interval "
        f"{'kombu default (1 s)' if polling is None else f'{polling * 1000:g} ms'})"
    )
    print(f"{args.runs} requests at batch 1 per architecture, after a warm-up; ms, median / p95")

    results, breakdowns, idle = [], [], None
    for arch in args.architectures:
        if arch not in registered:
            print(f"{arch}: not registered (no ml_models/artifacts/{DATASET}-{arch}/<version>/)")
            continue
        model = registered[arch]
        fields = {"dataset": DATASET, "model": model["name"], "wait": "true"}
        single = [multipart(fields, [image]) for image in images]
        for number in range(5):  # the worker thread loads and traces the model; connections warm up
            status, body = predict(url, token, *single[number])[1:]
            finished_rows(status, body, 1)
        if idle is None:
            idle = idle_cpu_percent(server_pid, args.idle_s)

        path, compute, overhead, parts = _time_single(url, token, single, args.runs)

        # In this process, with the server idle: the same model file, the same functions.
        predictor = predictor_for(MLModel.objects.get(name=model["name"], version=model["version"]))
        prepared = predictor.prepare([images[0]])
        for number in range(5):
            compute_parts(predictor, images[number])
        predictor_1 = timed(lambda p=predictor, batch=prepared: p.probabilities(batch), args.runs)
        in_process = [sum(compute_parts(predictor, images[number % len(images)])) for number in range(args.runs)]
        results.append(
            (
                arch,
                model,
                len(path),
                summary(predictor_1),
                summary(in_process),
                summary(compute),
                summary(path),
                summary(overhead),
                summary([part[1] for part in parts]),
            )
        )
        breakdowns.append((arch, [statistics.median(column) for column in zip(*parts, strict=True)]))

    header = (
        f"{'architecture':<13} {'input':>8} {'batch':>5} {'n':>3} {'predictor':>15} {'compute here':>15} "
        f"{'worker compute':>15} "
        f"{'upload->result':>17} {'overhead':>15} {'->claim':>15} {'target':>7} verdict"
    )
    print()
    print(header)
    print("-" * len(header))
    for arch, model, runs, predictor_ms, here_ms, compute_ms, path_ms, overhead_ms, claim_ms in results:
        verdict = "meets" if path_ms[0] <= TARGET_EMBEDDED_MS else "misses"
        print(
            f"{arch:<13} {'x'.join(map(str, model['input_shape'])):>8} {1:>5} {runs:>3} {predictor_ms[0]:7.2f} / "
            f"{predictor_ms[1]:6.2f} "
            f"{here_ms[0]:6.1f} / {here_ms[1]:6.1f} {compute_ms[0]:6.1f} / {compute_ms[1]:6.1f} {path_ms[0]:8.1f} / "
            f"{path_ms[1]:6.1f} "
            f"{overhead_ms[0]:6.1f} / {overhead_ms[1]:6.1f} {claim_ms[0]:6.1f} / {claim_ms[1]:6.1f} "
            f"{'<=' + str(int(TARGET_EMBEDDED_MS)):>7} {verdict}"
        )
    print()
    print(
        "predictor: Predictor.probabilities on a prepared input, in this process. compute here: decode + prepare, "
        "predict,"
    )
    print(
        "  Grad-CAM + overlay, in this process. worker compute: what the worker thread recorded (timings_ms) for the "
        "same work."
    )
    print("upload->result: POST /api/predict wait=true, client side; overhead: upload->result - worker compute;")
    print(
        "->claim: the row saved -> the worker thread claims it (commit, publish, the broker's poll). target: median "
        "upload->result."
    )
    print()
    print("where the time goes, medians in ms (timestamps of the analysis rows)")
    print(f"{'architecture':<13} {'upload->saved':>13} {'->claim':>8} {'bookkeeping':>11} {'done->response':>14}")
    for arch, (upload, claim, bookkeeping, response) in breakdowns:
        print(f"{arch:<13} {upload:13.1f} {claim:8.1f} {bookkeeping:11.1f} {response:14.1f}")
    if idle is not None:
        print()
        print(
            f"idle server process (worker and beat threads waiting, no request): {idle:.2f}% of one core over "
            f"{args.idle_s:g} s"
        )


if __name__ == "__main__":
    main()
