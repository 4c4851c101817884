"""A fault test with real processes: a Celery worker SIGKILLed during a batch of analyses leaves
each analysis finished exactly once after a worker restarts.

Production mode (PostgreSQL, Redis, daphne, a separate `celery worker --pool solo`) on a RabbitMQ
broker of the test's own (its own node, ports, data and log directories under ``tmp_path``), not
the machine's shared one: killing a worker there must not disturb anything else, and RabbitMQ puts
the dead worker's unacknowledged message back in the queue as soon as its connection drops.

The worker is warmed up with one analysis (model loaded), then ``BATCHES`` requests of ``BATCH``
images each are submitted (one task per request, claimed and computed as one batch) and, once the
first batch is done, the worker's process group is SIGKILLed as soon as another batch is
``running`` in the database (claimed by the worker, no result written). A new worker then finishes
the work. The analyses of the batch that was running at the kill must end done on their second
attempt (the redelivered task runs them one at a time), every other analysis on its first, each
with one result and one Grad-CAM file, and nothing left queued or running. If a kill lands between
two batches (nothing running when the worker is dead), more batches are submitted and the new
worker is killed instead, up to ``KILL_TRIES`` times.
"""

import json
import signal
import time
from pathlib import Path

import psycopg2
import pytest

from healthsync.demo import DEMO_PASSWORD
from healthsync.tests.servers import (
    analysis_ids,
    free_port,
    http_json,
    manage,
    png_bytes,
    predict_over_http,
    production_env,
    start_server,
    start_worker,
)
from imaging.analyses import MAX_BATCH

pytestmark = pytest.mark.slow
DATASET = "pneumoniamnist"
BATCH = 16
BATCHES = 4
KILL_TRIES = 3


def _wait_for_log(process, text: str, timeout=60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if text in process.log():
            return
        if process.popen.poll() is not None:
            raise AssertionError(f"process exited early:\n{process.log()}")
        time.sleep(0.1)
    raise AssertionError(f"{text!r} not in the log after {timeout} s:\n{process.log()}")


def _rows(database, ids) -> dict[int, tuple]:
    with database.cursor() as cursor:
        cursor.execute(
            "SELECT id, status, attempts, gradcam, predictions::text FROM imaging_imageanalysis WHERE id = ANY(%s)",
            (list(ids),),
        )
        return {row[0]: row[1:] for row in cursor.fetchall()}


def _wait_finished(database, ids, timeout=60) -> dict[int, tuple]:
    deadline = time.monotonic() + timeout
    while True:
        rows = _rows(database, ids)
        if all(status in ("done", "failed") for status, *_ in rows.values()) or time.monotonic() > deadline:
            return rows
        time.sleep(0.05)


def _kill_during_a_batch(database, worker, ids, timeout=60) -> list[int]:
    """SIGKILL the worker's process group as soon as analyses of ``ids`` are running after a first
    batch of them is done (so the kill lands with finished and acknowledged work before it and
    queued work after it); returns the analyses still ``running`` once it is dead (claimed, no
    result written: the batch it died during)."""
    deadline = time.monotonic() + timeout
    with database.cursor() as cursor:
        while time.monotonic() < deadline:
            cursor.execute(
                "SELECT count(*) FILTER (WHERE status = 'done'), count(*) FILTER (WHERE status = 'running') "
                "FROM imaging_imageanalysis WHERE id = ANY(%s)",
                (list(ids),),
            )
            done, running = cursor.fetchone()
            if done >= BATCH and running:
                worker.stop(signal.SIGKILL)
                time.sleep(0.2)  # a statement the worker sent just before dying still runs to its end on the server
                cursor.execute(
                    "SELECT id FROM imaging_imageanalysis WHERE id = ANY(%s) AND status = 'running'", (list(ids),)
                )
                return [row[0] for row in cursor.fetchall()]
            time.sleep(0.001)
    raise AssertionError(f"no batch ran after the first one was done within {timeout} s:\n{worker.log()}")


def test_a_worker_killed_during_a_batch_leaves_each_analysis_done_exactly_once(
    tmp_path, production_database, private_rabbitmq
):
    started = time.monotonic()
    env = production_env(var_dir=tmp_path, database_url=production_database)
    env["CELERY_BROKER_URL"] = private_rabbitmq.url  # never the machine's shared broker: this test kills workers
    env["DJANGO_EMAIL_BACKEND"] = "django.core.mail.backends.locmem.EmailBackend"  # no SMTP server here
    manage("migrate", "--noinput", env=env)  # registers the committed pneumoniamnist-basic_cnn
    # The demo data's hundreds of notification tasks are not this test's business: they go to the
    # seeding process's in-memory broker and vanish with it, instead of queueing before the analyses.
    manage("seed_demo", env={**env, "CELERY_BROKER_URL": "memory://"})
    private_rabbitmq.wait_ready()
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = start_server(env=env, port=port, log_path=tmp_path / "server.log")
    workers = [start_worker(env=env, log_path=tmp_path / "worker-1.log")]
    database = psycopg2.connect(production_database)
    database.autocommit = True
    try:
        status, tokens = http_json(
            "POST", f"{url}/api/auth/login", {"email": "doctor@stmarys.example", "password": DEMO_PASSWORD}
        )
        assert status == 200, tokens
        token = tokens["access"]
        _wait_for_log(workers[0], " ready.")

        # Warm-up: the worker loads the model, so the kill below lands in a steady-state analysis.
        status, body = predict_over_http(url, token, [png_bytes(0)], dataset=DATASET, wait=True)
        assert status == 200 and body["status"] == "done", body
        every_id = [body["analysis_id"]]

        victims: list[int] = []
        for attempt in range(1, KILL_TRIES + 1):
            batches = []
            for number in range(BATCHES):
                status, body = predict_over_http(
                    url, token, [png_bytes(attempt * 1000 + number * 100 + n) for n in range(BATCH)], dataset=DATASET
                )
                assert status == 202, body
                batches.append(analysis_ids(body))
                assert len(batches[-1]) == BATCH <= MAX_BATCH
            submitted = [analysis_id for batch in batches for analysis_id in batch]
            every_id += submitted
            victims = _kill_during_a_batch(database, workers[-1], submitted)
            workers.append(start_worker(env=env, log_path=tmp_path / f"worker-{len(workers) + 1}.log"))
            rows = _wait_finished(database, submitted)
            assert all(status == "done" for status, *_ in rows.values()), (rows, workers[-1].log())
            if victims:
                break
        assert victims, f"after {KILL_TRIES} kills, none landed during a batch (solo pool: one batch runs at a time)"
        assert sorted(victims) in [sorted(batch) for batch in batches], ("the whole batch is claimed together", victims)
        # Exactly once: the batch the worker died during was redelivered and each of its analyses run
        # again (attempt 2); every other analysis ran once; each has one result and one Grad-CAM file.
        rows = _rows(database, every_id)
        media = tmp_path / "media"
        for analysis_id, (status, attempts, gradcam, predictions) in rows.items():
            assert status == "done", (analysis_id, status)
            assert attempts == (2 if analysis_id in victims else 1), (analysis_id, attempts, victims)
            assert len(json.loads(predictions)) == 2, (analysis_id, predictions)
            assert gradcam.endswith(f"/gradcam-{analysis_id}-{attempts}.png") and (media / gradcam).is_file(), gradcam
            assert [path.name for path in media.rglob(f"gradcam-{analysis_id}-*.png")] == [Path(gradcam).name]
        with database.cursor() as cursor:
            cursor.execute("SELECT status, count(*) FROM imaging_imageanalysis GROUP BY status")
            assert dict(cursor.fetchall()) == {"done": len(every_id)}
        status, listed = http_json("GET", f"{url}/api/analyses?status=running", token=token)
        assert status == 200 and listed["count"] == 0, listed
        status, detail = http_json("GET", f"{url}/api/analyses/{victims[0]}", token=token)
        assert status == 200 and detail["status"] == "done" and detail["gradcam_url"], detail
        print(
            f"killed during the batch of {victims[0]} (try {attempt}); {len(every_id)} analyses done in "
            f"{time.monotonic() - started:.1f} s"
        )
    finally:
        database.close()
        for worker in workers:
            worker.stop()
        server.stop()
