"""Instances per second that HealthSync's DICOM listener receives and queues for analysis, against
Orthanc's own reception of the same files, both sent with dcmtk's ``storescu``.

Usage:
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres \\
    CELERY_BROKER_URL=amqp://guest:guest@127.0.0.1:5672// \\
    .venv/bin/python bench/bench_dicom.py [--instances 200] [--runs 5]

It creates (and drops afterwards) its own database, ``healthsync_bench_dicom``, on that PostgreSQL
server and uses a Celery queue of its own on that RabbitMQ (deleted afterwards), runs ``migrate``
(which registers the committed basic CNN), makes a hospital with a registered peer (``BENCHSCU``
from 127.0.0.1) and a routing rule (CR chest → pneumonia, basic CNN), then starts, in production
mode (``DJANGO_DEBUG=0``), ``manage.py dicom_listener`` on a free port, and Orthanc (the baseline:
``Orthanc`` from Debian's package, the configuration of the DICOM node's tests, storage in a
temporary directory). No Celery worker runs: the analyses stay queued, and are not benchmarked.

Each run makes ``--instances`` synthetic CR instances with pydicom (``dicom_node.tests.dicoms``:
28-px pictures like the default model's training images, so they pass the checks; fresh UIDs each
run, one study, one series) and sends the same files with ``storescu`` in one association to each
receiver (the order alternates between runs):

* HealthSync: from starting ``storescu`` until every instance of the run is ``analysing`` in the
  database: received, checked, de-identified, stored, and, once the association is released,
  routed and submitted (``studies_submit``, a Celery message per batch of 32 published).
* Orthanc: from starting ``storescu`` until it exits (Orthanc answers each C-STORE once the
  instance is written and indexed).

Throughput is instances / that time, per run (median and p95 over the runs); the per-instance
latency is from ``storescu``'s log (milliseconds timestamps): each C-STORE request sent to its
response received, over every instance of every run. Needs dcmtk and orthanc (``apt-get install
dcmtk orthanc``). Takes under four minutes with the defaults on a busy 2-core machine.
"""

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from benchdb import own_database  # noqa: E402

from healthsync.tests.servers import Process, free_port, manage, process_env, production_settings  # noqa: E402

BENCH_DB = "healthsync_bench_dicom"
PEER_AE = "BENCHSCU"
SEARCH_PATH = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/usr/local/sbin"])
# dcmtk's logger with microsecond timestamps, for the per-instance latency.
LOG_CONFIG = """log4cplus.rootLogger = INFO, console
log4cplus.appender.console = log4cplus::ConsoleAppender
log4cplus.appender.console.layout = log4cplus::PatternLayout
log4cplus.appender.console.layout.ConversionPattern = %D{%H:%M:%S.%Q} %m%n
"""
LINE = re.compile(r"^(\d\d):(\d\d):(\d\d)\.(\d{3})\.(\d{3}) (Sending Store Request|Received Store Response)(.*)$")


def summary(samples: list[float]) -> tuple[float, float]:
    """Median and p95 (linear interpolation) of ``samples``."""
    return float(statistics.median(samples)), float(np.percentile(samples, 95))


def tool(name: str) -> str:
    found = shutil.which(name, path=SEARCH_PATH)
    if found is None:
        sys.exit(f"{name} is missing: apt-get install -y dcmtk orthanc")
    return found


def latencies_ms(log: str) -> list[float]:
    """Each C-STORE's request-to-response time from storescu's timestamped log, in ms."""
    sent, found = None, []
    for line in log.splitlines():
        match = LINE.match(line.strip())
        if not match:
            continue
        hours, minutes, seconds, millis, micros, what, rest = match.groups()
        at = ((int(hours) * 60 + int(minutes)) * 60 + int(seconds)) * 1000 + int(millis) + int(micros) / 1000
        if what.startswith("Sending"):
            sent = at
        elif sent is not None:
            assert "Success" in rest, line
            found.append((at - sent) % 86_400_000)
            sent = None
    return found


def send(storescu: str, log_config: Path, *, ae_title: str, port: int, paths: list[Path]):
    """Start storescu (one association, every file); (process, start time)."""
    started = time.perf_counter()
    process = subprocess.Popen(
        [storescu, "-lc", str(log_config), "-aet", PEER_AE, "-aec", ae_title, "127.0.0.1", str(port), *map(str, paths)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    return process, started


def wait_listening(echoscu: str, ae_title: str, port: int, *, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done = subprocess.run(
            [echoscu, "-aet", PEER_AE, "-aec", ae_title, "127.0.0.1", str(port)], capture_output=True, timeout=30
        )
        if done.returncode == 0:
            return
        time.sleep(0.3)
    raise SystemExit(f"{ae_title} did not answer a C-ECHO on port {port}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--instances", type=int, default=200, help="instances per run and receiver (default 200)")
    parser.add_argument("--runs", type=int, default=5, help="runs per receiver (default 5)")
    args = parser.parse_args()
    tools = {name: tool(name) for name in ("storescu", "echoscu", "Orthanc")}
    with own_database(BENCH_DB):
        measure(args, tools)


def measure(args, tools):
    queue = f"bench-dicom-{uuid.uuid4().hex[:8]}"
    var_dir = Path(tempfile.mkdtemp(prefix="healthsync-bench-dicom-"))
    port = free_port()
    env = process_env(
        DATABASE_URL=os.environ["DATABASE_URL"],
        REDIS_URL=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"),
        CELERY_BROKER_URL=os.environ.get("CELERY_BROKER_URL", "amqp://guest:guest@127.0.0.1:5672//"),
        HEALTHSYNC_TASK_QUEUE=queue,
        HEALTHSYNC_CHANNEL_PREFIX=f"bench{uuid.uuid4().hex[:8]}",
        HEALTHSYNC_VAR_DIR=str(var_dir),
        HEALTHSYNC_DICOM_HOST="127.0.0.1",
        HEALTHSYNC_DICOM_PORT=str(port),
        **production_settings(),
        HEALTHSYNC_LOG_LEVEL="WARNING",
        TF_CPP_MIN_LOG_LEVEL="2",
    )
    log_config = var_dir / "dcmtk-log.cfg"
    log_config.write_text(LOG_CONFIG)
    processes, orthanc = [], None
    try:
        manage("migrate", "--noinput", env=env, timeout=300)
        os.environ.update(env)
        import django

        django.setup()
        from django.conf import settings

        from dicom_node.models import InstanceStatus, ReceivedInstance
        from dicom_node.tests.conftest import Orthanc

        hospital = setup_hospital()
        ae_title = settings.HEALTHSYNC_DICOM_AE_TITLE
        processes.append(
            Process(
                [sys.executable, "manage.py", "dicom_listener", "--port", str(port)],
                env=env,
                log_path=var_dir / "listener.log",
            )
        )
        orthanc = Orthanc(tools["Orthanc"], var_dir / "orthanc", healthsync_ae=ae_title, healthsync_port=port)
        orthanc.start()
        wait_listening(tools["echoscu"], ae_title, port)
        wait_listening(tools["echoscu"], Orthanc.AE_TITLE, orthanc.dicom_port)

        def healthsync(paths, expected):
            process, started = send(tools["storescu"], log_config, ae_title=ae_title, port=port, paths=paths)
            log, _ = process.communicate(timeout=600)
            acknowledged = time.perf_counter()
            assert process.returncode == 0, log
            queued = ReceivedInstance.objects.filter(hospital=hospital, status=InstanceStatus.ANALYSING)
            deadline = time.monotonic() + 120
            while queued.count() < expected:
                if time.monotonic() > deadline:
                    raise SystemExit(f"only {queued.count()} of {expected} instances queued:\n{processes[0].log()}")
                time.sleep(0.005)
            return time.perf_counter() - started, acknowledged - started, log

        def baseline(paths, expected):
            process, started = send(
                tools["storescu"], log_config, ae_title=Orthanc.AE_TITLE, port=orthanc.dicom_port, paths=paths
            )
            log, _ = process.communicate(timeout=600)
            elapsed = time.perf_counter() - started
            assert process.returncode == 0, log
            assert orthanc.get("/statistics")["CountInstances"] == expected
            return elapsed, elapsed, log

        results = {
            "HealthSync": {"rate": [], "acked": [], "latency": []},
            "Orthanc": {"rate": [], "acked": [], "latency": []},
        }
        print(f"{args.runs} runs of {args.instances} instances per receiver, one association each", file=sys.stderr)
        for run in range(args.runs + 1):  # the first is a warm-up, not counted
            paths = make_instances(var_dir / f"run{run}", args.instances, seed=run)
            order = [("HealthSync", healthsync), ("Orthanc", baseline)]
            for name, receive in order if run % 2 == 0 else order[::-1]:
                total, acked, log = receive(paths, args.instances * (run + 1))
                if run == 0:
                    continue
                results[name]["rate"].append(args.instances / total)
                results[name]["acked"].append(args.instances / acked)
                results[name]["latency"] += latencies_ms(log)
                print(f"run {run} {name}: {args.instances / total:.1f} instances/s", file=sys.stderr)
            shutil.rmtree(var_dir / f"run{run}")
        depth = queue_depth(queue)
        report(args, results, depth)
    finally:
        for process in reversed(processes):
            process.stop()
        if orthanc is not None:
            orthanc.stop()
        try:
            from config.celery import app

            with app.connection_for_write() as connection:
                connection.default_channel.queue_delete(queue)
        except Exception as exc:  # the broker's queue is only tidied up
            print(f"(could not delete queue {queue}: {exc})", file=sys.stderr)
        shutil.rmtree(var_dir, ignore_errors=True)


def setup_hospital():
    """A hospital that trusts BENCHSCU on 127.0.0.1 and routes CR chest studies to the basic CNN."""
    from dicom_node import services as node
    from dicom_node.models import DicomPeer, RoutingRule
    from healthsync import services
    from healthsync.models import Region
    from healthsync.regions import code_for
    from imaging.models import Condition, MLModel

    region = Region.objects.get_or_create(code=code_for("Bench"), defaults={"name": "Bench"})[0]
    hospital = services.hospital_create(name="Bench General", region=region, is_verified=True)
    node.peer_save(peer=DicomPeer(hospital=hospital, ae_title=PEER_AE, host="127.0.0.1", port=104))
    node.rule_save(
        rule=RoutingRule(
            hospital=hospital,
            condition=Condition.objects.get(code="pneumonia"),
            model=MLModel.objects.get(name="pneumoniamnist-basic_cnn", is_active=True),
            modality="CR",
            body_part="CHEST",
        )
    )
    return hospital


def make_instances(directory: Path, count: int, *, seed: int) -> list[Path]:
    from pydicom.uid import generate_uid

    from dicom_node.tests import dicoms

    directory.mkdir(parents=True)
    study, series = generate_uid(), generate_uid()
    return [
        dicoms.write(
            dicoms.chest_xray(seed=seed * count + index, study_uid=study, series_uid=series, patient_id=f"MRN-{seed}"),
            directory / f"{index:04d}.dcm",
        )
        for index in range(count)
    ]


def queue_depth(queue: str) -> int | None:
    """The Celery messages waiting in the bench's queue (the analyses queued, in batches)."""
    try:
        from config.celery import app

        with app.connection_for_write() as connection:
            return connection.default_channel.queue_declare(queue, passive=True).message_count
    except Exception:
        return None


def report(args, results, depth) -> None:
    healthsync, orthanc = results["HealthSync"], results["Orthanc"]
    rows = [
        ("HealthSync listener: received and queued", healthsync["rate"], healthsync["latency"]),
        ("HealthSync listener: last C-STORE acknowledged", healthsync["acked"], None),
        ("Orthanc (baseline): received", orthanc["rate"], orthanc["latency"]),
    ]
    when = f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC"
    print(f"\n{when}, {args.runs} runs of {args.instances} instances, one association each")
    print("\n| receiver | instances/s median | p95 | per-instance ms median | p95 |")
    print("|---|---:|---:|---:|---:|")
    for name, rates, latencies in rows:
        rate = summary(rates)
        latency = f"{summary(latencies)[0]:.1f} | {summary(latencies)[1]:.1f}" if latencies else "– | –"
        print(f"| {name} | {rate[0]:.1f} | {rate[1]:.1f} | {latency} |")
    ratio = summary(healthsync["rate"])[0] / summary(orthanc["rate"])[0]
    print(f"\nHealthSync received and queued ×{ratio:.2f} the instances per second of Orthanc (medians).")
    print(f"Celery messages queued for analysis (no worker): {depth}")


if __name__ == "__main__":
    main()
