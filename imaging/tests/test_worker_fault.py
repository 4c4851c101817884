"""A fault test with real processes: a Celery worker SIGKILLed during an analysis leaves the
analysis finished exactly once after a worker restarts.

Production mode (PostgreSQL, Redis, daphne, a separate `celery worker --pool solo`) on a RabbitMQ
broker of the test's own (its own node, ports, data and log directories under ``tmp_path``), not
the machine's shared one: killing a worker there must not disturb anything else, and RabbitMQ puts
the dead worker's unacknowledged message back in the queue as soon as its connection drops.

The worker is warmed up with one analysis (model loaded), then a batch of images is submitted and,
once a few of them are done, the worker's process group is SIGKILLed as soon as the next one is
``running`` in the database (claimed by the worker, no result written). A new worker then finishes the batch. The
analysis that was running at the kill must end done on its second attempt (the redelivery), every
other analysis on its first, each with one result and one Grad-CAM file, and nothing left queued or
running. If a kill lands between two analyses (nothing running when the worker is dead), another
batch is submitted and the new worker is killed instead, up to ``KILL_TRIES`` times.
"""

import io
import json
import os
import shutil
import signal
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import numpy as np
import psycopg2
import pytest
from PIL import Image

from healthsync.demo import DEMO_PASSWORD
from healthsync.tests.servers import free_port, http_json, manage, production_env, start_server, start_worker
from imaging.analyses import MAX_BATCH

pytestmark = pytest.mark.slow
RABBITMQ_SERVER = Path("/usr/lib/rabbitmq/bin/rabbitmq-server")  # the Debian package's script (no `su rabbitmq` wrapper)
DATASET = "pneumoniamnist"
BATCH = 16
KILL_TRIES = 3
DONE_BEFORE_KILL = 3


class PrivateRabbitMQ:
    """A RabbitMQ node of the test's own: node name, AMQP and distribution ports, config, data and
    logs all in ``directory``; the machine's /etc/rabbitmq files are not read."""

    def __init__(self, directory: Path):
        self.directory = directory
        self.port = free_port()
        self.node = f"hs-test-{uuid.uuid4().hex[:8]}@localhost"
        home = directory / "home"  # the Erlang cookie goes to $HOME
        home.mkdir(parents=True)
        (directory / "enabled_plugins").write_text("[].\n")
        (directory / "rabbitmq.conf").write_text(f"listeners.tcp.default = 127.0.0.1:{self.port}\nloopback_users = none\n")
        (directory / "rabbitmq-env.conf").write_text("")
        env = {key: value for key, value in os.environ.items() if not key.startswith(("RABBITMQ_", "ERL_"))}
        env.update(
            HOME=str(home), RABBITMQ_NODENAME=self.node, RABBITMQ_NODE_IP_ADDRESS="127.0.0.1", RABBITMQ_NODE_PORT=str(self.port),
            RABBITMQ_DIST_PORT=str(free_port()), RABBITMQ_CONF_ENV_FILE=str(directory / "rabbitmq-env.conf"),
            RABBITMQ_CONFIG_FILE=str(directory / "rabbitmq.conf"), RABBITMQ_ENABLED_PLUGINS_FILE=str(directory / "enabled_plugins"),
            RABBITMQ_MNESIA_BASE=str(directory / "mnesia"), RABBITMQ_LOG_BASE=str(directory / "log"),
            RABBITMQ_PID_FILE=str(directory / "rabbitmq.pid"), ERL_EPMD_ADDRESS="127.0.0.1",
        )
        self._log = open(directory / "rabbitmq.out", "w")
        self.popen = subprocess.Popen([str(RABBITMQ_SERVER)], cwd=directory, env=env, stdout=self._log, stderr=subprocess.STDOUT,
                                      start_new_session=True)

    @property
    def url(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.port}//"

    def log(self) -> str:
        return (self.directory / "rabbitmq.out").read_text()

    def wait_ready(self, timeout=60) -> None:
        """Until the AMQP port answers with a protocol header (the broker accepts connections)."""
        import kombu

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.popen.poll() is not None:
                raise AssertionError(f"RabbitMQ exited early:\n{self.log()}")
            try:
                with kombu.Connection(self.url, connect_timeout=1) as connection:
                    connection.connect()
                    return
            except Exception:
                time.sleep(0.2)
        raise AssertionError(f"RabbitMQ did not start on port {self.port}:\n{self.log()}")

    def stop(self) -> None:
        if self.popen.poll() is None:
            os.killpg(self.popen.pid, signal.SIGTERM)  # the Erlang VM shuts down cleanly on SIGTERM
            try:
                self.popen.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.popen.pid, signal.SIGKILL)
                self.popen.wait(timeout=10)
        try:  # the VM may outlive the script that started it for a moment
            os.killpg(self.popen.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self._log.close()


@pytest.fixture
def private_rabbitmq(tmp_path):
    if not RABBITMQ_SERVER.is_file() or shutil.which("erl") is None:
        pytest.skip("needs the rabbitmq-server package (a private broker is started for this test)")
    broker = PrivateRabbitMQ(tmp_path / "rabbitmq")
    try:
        yield broker
    finally:
        broker.stop()


def _png(seed: int) -> bytes:
    pixels = np.random.default_rng(seed).integers(0, 256, (28, 28), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def _predict(url: str, token: str, images: list[bytes], *, wait: bool = False) -> tuple[int, dict]:
    """POST /api/predict as multipart: one `image` part per image, `dataset`, optionally `wait`."""
    boundary = uuid.uuid4().hex
    parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="dataset"\r\n\r\n{DATASET}\r\n'.encode()]
    if wait:
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="wait"\r\n\r\ntrue\r\n'.encode())
    for number, data in enumerate(images):
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="image"; filename="xray-{number}.png"\r\n'
                     f"Content-Type: image/png\r\n\r\n".encode() + data + b"\r\n")
    parts.append(f"--{boundary}--\r\n".encode())
    request = urllib.request.Request(f"{url}/api/predict", data=b"".join(parts), method="POST", headers={
        "Content-Type": f"multipart/form-data; boundary={boundary}", "Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(request, timeout=90) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


def _ids(body: dict) -> list[int]:
    return [row["analysis_id"] for row in body["analyses"]] if "analyses" in body else [body["analysis_id"]]


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
            "SELECT id, status, attempts, gradcam, predictions::text FROM imaging_imageanalysis WHERE id = ANY(%s)", (list(ids),))
        return {row[0]: row[1:] for row in cursor.fetchall()}


def _wait_finished(database, ids, timeout=60) -> dict[int, tuple]:
    deadline = time.monotonic() + timeout
    while True:
        rows = _rows(database, ids)
        if all(status in ("done", "failed") for status, *_ in rows.values()) or time.monotonic() > deadline:
            return rows
        time.sleep(0.05)


def _kill_during_an_analysis(database, worker, ids, timeout=30) -> list[int]:
    """SIGKILL the worker's process group as soon as an analysis of ``ids`` is running after
    ``DONE_BEFORE_KILL`` of them are done (so the kill lands mid-batch, with finished and acknowledged
    analyses before it and queued ones after it); returns the analyses still ``running`` once it is
    dead (claimed, no result written: the ones it died during)."""
    deadline = time.monotonic() + timeout
    with database.cursor() as cursor:
        while time.monotonic() < deadline:
            cursor.execute(
                "SELECT count(*) FILTER (WHERE status = 'done'), count(*) FILTER (WHERE status = 'running') "
                "FROM imaging_imageanalysis WHERE id = ANY(%s)", (list(ids),))
            done, running = cursor.fetchone()
            if done >= DONE_BEFORE_KILL and running:
                worker.stop(signal.SIGKILL)
                time.sleep(0.2)  # a statement the worker sent just before dying still runs to its end on the server
                cursor.execute("SELECT id FROM imaging_imageanalysis WHERE id = ANY(%s) AND status = 'running'", (list(ids),))
                return [row[0] for row in cursor.fetchall()]
            time.sleep(0.001)
    raise AssertionError(f"no analysis of the batch ran after {DONE_BEFORE_KILL} done within {timeout} s:\n{worker.log()}")


def test_a_worker_killed_during_an_analysis_leaves_it_done_exactly_once(tmp_path, production_database, private_rabbitmq):
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
        status, tokens = http_json("POST", f"{url}/api/auth/login", {"email": "doctor@stmarys.example", "password": DEMO_PASSWORD})
        assert status == 200, tokens
        token = tokens["access"]
        _wait_for_log(workers[0], " ready.")

        # Warm-up: the worker loads the model, so the kill below lands in a steady-state analysis.
        status, body = _predict(url, token, [_png(0)], wait=True)
        assert status == 200 and body["status"] == "done", body
        every_id = [body["analysis_id"]]

        victims: list[int] = []
        for attempt in range(1, KILL_TRIES + 1):
            status, body = _predict(url, token, [_png(attempt * 100 + n) for n in range(BATCH)])
            assert status == 202, body
            batch = _ids(body)
            assert len(batch) == BATCH <= MAX_BATCH
            every_id += batch
            victims = _kill_during_an_analysis(database, workers[-1], batch)
            workers.append(start_worker(env=env, log_path=tmp_path / f"worker-{len(workers) + 1}.log"))
            rows = _wait_finished(database, batch)
            assert all(status == "done" for status, *_ in rows.values()), (rows, workers[-1].log())
            if victims:
                break
        assert len(victims) == 1, f"after {KILL_TRIES} kills, none landed during an analysis (solo pool: one runs at a time)"
        victim = victims[0]

        # Exactly once: the analysis the worker died during was redelivered and run again (attempt 2),
        # every other analysis ran once; each has one result and one Grad-CAM file; none is left over.
        rows = _rows(database, every_id)
        media = tmp_path / "media"
        for analysis_id, (status, attempts, gradcam, predictions) in rows.items():
            assert status == "done", (analysis_id, status)
            assert attempts == (2 if analysis_id == victim else 1), (analysis_id, attempts, victim)
            assert len(json.loads(predictions)) == 2, (analysis_id, predictions)
            assert gradcam.endswith(f"/gradcam-{analysis_id}-{attempts}.png") and (media / gradcam).is_file(), gradcam
            assert [path.name for path in media.rglob(f"gradcam-{analysis_id}-*.png")] == [Path(gradcam).name]
        with database.cursor() as cursor:
            cursor.execute("SELECT status, count(*) FROM imaging_imageanalysis GROUP BY status")
            assert dict(cursor.fetchall()) == {"done": len(every_id)}
        status, listed = http_json("GET", f"{url}/api/analyses?status=running", token=token)
        assert status == 200 and listed["count"] == 0, listed
        status, detail = http_json("GET", f"{url}/api/analyses/{victim}", token=token)
        assert status == 200 and detail["status"] == "done" and detail["gradcam_url"], detail
        print(f"killed during analysis {victim} (try {attempt}); {len(every_id)} analyses done in {time.monotonic() - started:.1f} s")
    finally:
        database.close()
        for worker in workers:
            worker.stop()
        server.stop()
