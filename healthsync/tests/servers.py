"""Real HealthSync processes for end-to-end tests: daphne (``manage.py serve``) and Celery workers, and
private PostgreSQL, Redis and RabbitMQ instances for fault tests."""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MODE_VARIABLES = ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "CELERY_RESULT_BACKEND", "HEALTHSYNC_TASK_QUEUE")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def process_env(**overrides) -> dict:
    """The test's environment without the mode variables, plus ``overrides``."""
    env = {key: value for key, value in os.environ.items() if key not in MODE_VARIABLES}
    env.update({"PYTHONUNBUFFERED": "1", "DJANGO_SETTINGS_MODULE": "config.settings"})
    env.update(overrides)
    return env


def production_env(*, var_dir, database_url, **overrides) -> dict:
    """Production mode on the machine's PostgreSQL, RabbitMQ and Redis, with a database, queue and
    channel prefix of the test's own."""
    from django.conf import settings

    return process_env(
        HEALTHSYNC_VAR_DIR=str(var_dir),
        DATABASE_URL=database_url,
        REDIS_URL=settings.REDIS_URL,
        CELERY_BROKER_URL=settings.CELERY_BROKER_URL,
        HEALTHSYNC_TASK_QUEUE=f"e2e-{uuid.uuid4().hex[:8]}",
        HEALTHSYNC_CHANNEL_PREFIX=f"e2e{uuid.uuid4().hex[:8]}",
        **overrides,
    )


def manage(*args, env, timeout=180):
    result = subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


class Process:
    def __init__(self, args, *, env, log_path):
        self.log_path = log_path
        self._log = open(log_path, "w")
        self.popen = subprocess.Popen(
            args, cwd=ROOT, env=env, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True
        )

    def log(self) -> str:
        return Path(self.log_path).read_text()

    def stop(self, sig=signal.SIGTERM, timeout=20):
        if self.popen.poll() is None:
            os.killpg(self.popen.pid, sig)
            try:
                self.popen.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.popen.pid, signal.SIGKILL)
                self.popen.wait(timeout=timeout)
        self._log.close()


def start_server(*, env, port, log_path, args=None, timeout=90) -> Process:
    """``manage.py serve`` (or the server ``args`` name) on ``port``, once ``/healthz`` answers 200."""
    server = Process(args or [sys.executable, "manage.py", "serve", "--port", str(port)], env=env, log_path=log_path)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.popen.poll() is not None:
            raise AssertionError(f"server exited early:\n{server.log()}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as response:
                if response.status == 200:
                    return server
        except (urllib.error.URLError, ConnectionError, OSError):
            time.sleep(0.3)
    server.stop()
    raise AssertionError(f"server did not become healthy:\n{server.log()}")


def private_stack_env(*, var_dir, database_url, rabbitmq, redis, email_backend: str) -> dict:
    """Production mode on a private RabbitMQ and Redis (the fault tests'), migrated, with the
    superuser root@e2e.example; returns once the broker answers."""
    from healthsync.demo import DEMO_PASSWORD

    env = production_env(var_dir=var_dir, database_url=database_url)
    env.update(
        CELERY_BROKER_URL=rabbitmq.url,
        REDIS_URL=redis.url,
        HEALTHSYNC_AUTO_VERIFY_HOSPITALS="1",
        DJANGO_EMAIL_BACKEND=email_backend,
        DJANGO_SUPERUSER_EMAIL="root@e2e.example",
        DJANGO_SUPERUSER_PASSWORD=DEMO_PASSWORD,
    )
    manage("migrate", "--noinput", env=env)  # also registers the committed models
    manage("createsuperuser", "--noinput", env=env)
    rabbitmq.wait_ready()
    return env


def production_settings() -> dict:
    """The environment of ``DJANGO_DEBUG=0`` (docs/configuration.md, Production) with throwaway keys,
    over plain HTTP."""
    return {
        "DJANGO_DEBUG": "0",
        "DJANGO_SECRET_KEY": uuid.uuid4().hex * 2,
        "HEALTHSYNC_FIELD_ENCRYPTION_KEYS": uuid.uuid4().hex,
        "DJANGO_SECURE_SSL_REDIRECT": "0",
    }


def start_production_server(*, server: str = "gunicorn", workers: int = 2, env, port, log_path) -> Process:
    """The production web server of docs/configuration.md on ``port``: gunicorn with ``workers`` uvicorn workers,
    or one daphne process (``manage.py serve``)."""
    if server == "daphne":
        args = [sys.executable, "manage.py", "serve", "--port", str(port), "--no-beat"]
    else:
        args = [
            str(Path(sys.executable).parent / "gunicorn"),
            "config.asgi:application",
            "-k",
            "uvicorn.workers.UvicornWorker",
            "-w",
            str(workers),
            "-b",
            f"127.0.0.1:{port}",
            "--graceful-timeout",
            "5",
            "--timeout",
            "120",
            "--keep-alive",
            "75",
        ]  # longer than any think time: no idle connection closed under a client about to reuse it
    return start_server(env=env, port=port, log_path=log_path, args=args, timeout=120)


def start_worker(*, env, log_path, extra=()) -> Process:
    # A node name of its own: two workers named alike on one broker fight over their exclusive control queue.
    return Process(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "config",
            "worker",
            "--pool",
            "solo",
            "--loglevel",
            "INFO",
            "--without-mingle",
            "--without-gossip",
            "--hostname",
            f"e2e-{uuid.uuid4().hex[:8]}@%h",
            *extra,
        ],
        env=env,
        log_path=log_path,
    )


def http_json(method, url, payload=None, token=None):
    data = json.dumps(payload).encode() if payload is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


# --- Private service instances for fault tests ---------------------------------------------------
# Fault tests stop and restart these, so they are never the machine's shared services: each runs on
# free ports with its data under a directory of the test's own.

PG_BIN = Path(os.environ.get("HEALTHSYNC_PG_BIN", "/usr/lib/postgresql/15/bin"))
RABBITMQ_SERVER = Path(
    "/usr/lib/rabbitmq/bin/rabbitmq-server"
)  # the Debian package's script (no `su rabbitmq` wrapper)
REDIS_SERVER = shutil.which("redis-server")


def _wait_until_gone(popen: subprocess.Popen, timeout: float) -> None:
    """Wait for a signalled ``popen`` and until nothing of its process group is left (so its ports are free)."""
    try:
        popen.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(popen.pid, signal.SIGKILL)
        popen.wait(timeout=10)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:  # an Erlang VM may outlive the script that started it for a moment
        try:
            os.killpg(popen.pid, signal.SIGKILL)
        except ProcessLookupError:
            return
        time.sleep(0.05)


class PrivateRedis:
    """A ``redis-server`` of the test's own (no persistence), restartable on the same port."""

    def __init__(self, directory: Path):
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.popen = None
        self._log = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def log(self) -> str:
        return (self.directory / "redis.out").read_text()

    def start(self, timeout=20) -> None:
        """Start and wait until it answers PING."""
        import redis

        self._log = open(self.directory / "redis.out", "a")
        self.popen = subprocess.Popen(
            [
                REDIS_SERVER,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.directory),
                "--protected-mode",
                "no",
            ],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.popen.poll() is not None:
                raise AssertionError(f"redis-server exited early:\n{self.log()}")
            try:
                if self.client().ping():
                    return
            except redis.ConnectionError:
                time.sleep(0.05)
        raise AssertionError(f"redis-server did not answer on port {self.port}:\n{self.log()}")

    def client(self):
        import redis

        return redis.Redis.from_url(self.url, socket_timeout=5)

    def stop(self, sig=signal.SIGTERM) -> None:
        if self.popen is not None and self.popen.poll() is None:
            os.killpg(self.popen.pid, sig)
            _wait_until_gone(self.popen, timeout=20)
        if self._log is not None:
            self._log.close()
            self._log = None


class PrivateRabbitMQ:
    """A RabbitMQ node of the test's own: node name, AMQP and distribution ports, config, data and
    logs all in ``directory``; the machine's /etc/rabbitmq files are not read. ``stop()`` then
    ``start()`` restarts the same node on the same ports and mnesia directory, so durable queues and
    persistent messages survive."""

    def __init__(self, directory: Path):
        self.directory = directory
        self.port = free_port()
        self.node = f"hs-test-{uuid.uuid4().hex[:8]}@localhost"
        home = directory / "home"  # the Erlang cookie goes to $HOME
        home.mkdir(parents=True)
        (directory / "enabled_plugins").write_text("[].\n")
        (directory / "rabbitmq.conf").write_text(
            f"listeners.tcp.default = 127.0.0.1:{self.port}\nloopback_users = none\n"
        )
        (directory / "rabbitmq-env.conf").write_text("")
        self.env = {key: value for key, value in os.environ.items() if not key.startswith(("RABBITMQ_", "ERL_"))}
        self.env.update(
            HOME=str(home),
            RABBITMQ_NODENAME=self.node,
            RABBITMQ_NODE_IP_ADDRESS="127.0.0.1",
            RABBITMQ_NODE_PORT=str(self.port),
            RABBITMQ_DIST_PORT=str(free_port()),
            RABBITMQ_CONF_ENV_FILE=str(directory / "rabbitmq-env.conf"),
            RABBITMQ_CONFIG_FILE=str(directory / "rabbitmq.conf"),
            RABBITMQ_ENABLED_PLUGINS_FILE=str(directory / "enabled_plugins"),
            RABBITMQ_MNESIA_BASE=str(directory / "mnesia"),
            RABBITMQ_LOG_BASE=str(directory / "log"),
            RABBITMQ_PID_FILE=str(directory / "rabbitmq.pid"),
            ERL_EPMD_ADDRESS="127.0.0.1",
        )
        self.popen = None
        self._log = None

    @staticmethod
    def available() -> bool:
        return RABBITMQ_SERVER.is_file() and shutil.which("erl") is not None

    @property
    def url(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.port}//"

    def log(self) -> str:
        return (self.directory / "rabbitmq.out").read_text()

    def start(self) -> None:
        """Start the node without waiting (it boots in a few seconds): see ``wait_ready``."""
        self._log = open(self.directory / "rabbitmq.out", "a")
        self.popen = subprocess.Popen(
            [str(RABBITMQ_SERVER)],
            cwd=self.directory,
            env=self.env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

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
                time.sleep(0.1)
        raise AssertionError(f"RabbitMQ did not start on port {self.port}:\n{self.log()}")

    def queue_depth(self, queue: str) -> int:
        """Messages ready in ``queue`` (0 when it does not exist)."""
        import kombu

        with kombu.Connection(self.url, connect_timeout=5) as connection:
            try:
                return connection.default_channel.queue_declare(queue=queue, passive=True).message_count
            except connection.channel_errors:
                return 0

    def stop(self) -> None:
        """A clean shutdown (the Erlang VM stops on SIGTERM), waiting until every process of the node is gone."""
        if self.popen is not None and self.popen.poll() is None:
            os.killpg(self.popen.pid, signal.SIGTERM)
            _wait_until_gone(self.popen, timeout=30)
        if self._log is not None:
            self._log.close()
            self._log = None


class PrivatePostgres:
    """A throw-away PostgreSQL cluster: trust authentication on 127.0.0.1, a port of its own.

    PostgreSQL refuses to run as root: as root, every command runs as the ``postgres`` OS user."""

    def __init__(self):
        self.dir = Path(tempfile.mkdtemp(prefix="healthsync-pg-"))
        self.data = self.dir / "data"
        self.log = self.dir / "postgres.log"
        self.port = free_port()
        self.as_postgres = []
        if os.geteuid() == 0:
            self.as_postgres = ["runuser", "-u", "postgres", "--"]
            shutil.chown(self.dir, "postgres", "postgres")
        os.chmod(self.dir, 0o700)

    @staticmethod
    def missing_binaries() -> list[str]:
        return [name for name in ("initdb", "pg_ctl", "postgres") if not (PG_BIN / name).exists()]

    def _run(self, *args, timeout=60):
        result = subprocess.run([*self.as_postgres, *args], capture_output=True, text=True, timeout=timeout)
        assert result.returncode == 0, f"{args[0]} failed:\n{result.stdout}{result.stderr}\n{self.read_log()}"
        return result.stdout

    def read_log(self) -> str:
        try:
            return self.log.read_text()
        except OSError:
            return ""

    def init(self):
        self._run(
            str(PG_BIN / "initdb"),
            "-D",
            str(self.data),
            "-U",
            "postgres",
            "--auth=trust",
            "-E",
            "UTF8",
            "--no-sync",
            "--locale=C",
        )

    def start(self):
        options = f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.dir} -c fsync=off -c full_page_writes=off"
        self._run(
            str(PG_BIN / "pg_ctl"),
            "-D",
            str(self.data),
            "-l",
            str(self.log),
            "-o",
            options,
            "-w",
            "-t",
            "60",
            "start",
            timeout=90,
        )

    def stop(self, mode="immediate"):
        self._run(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop", timeout=90)

    def running(self) -> bool:
        return (self.data / "postmaster.pid").exists()

    def create_database(self, name):
        import psycopg2

        connection = psycopg2.connect(host="127.0.0.1", port=self.port, user="postgres", dbname="postgres")
        connection.autocommit = True
        with connection.cursor() as cursor:
            cursor.execute(f'CREATE DATABASE "{name}"')
        connection.close()
        return f"postgres://postgres@127.0.0.1:{self.port}/{name}"

    def cleanup(self):
        if self.running():
            try:
                self.stop("immediate")
            except AssertionError:
                pass
        shutil.rmtree(self.dir, ignore_errors=True)


def png_bytes(seed: int, size: int = 28) -> bytes:
    """A grayscale PNG like the default model's training images (it passes imaging.suitability)."""
    from imaging.tests.images import typical_png

    return typical_png(size=size, seed=seed)


def multipart(fields: dict, images: list[bytes]) -> tuple[bytes, str]:
    """A multipart/form-data body of ``fields`` and one ``image`` part per PNG, and its content type."""
    boundary = uuid.uuid4().hex
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        for name, value in fields.items()
    ]
    for number, data in enumerate(images):
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="image"; filename="xray-{number}.png"\r\n'
            f"Content-Type: image/png\r\n\r\n".encode()
            + data
            + b"\r\n"
        )
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


def predict_over_http(
    url: str, token: str, images: list[bytes], *, dataset: str, wait: bool = False, timeout=90
) -> tuple[int, dict]:
    """POST /api/predict with ``images`` for ``dataset`` (and ``wait=true``): (status, JSON)."""
    body, content_type = multipart({"dataset": dataset, **({"wait": "true"} if wait else {})}, images)
    request = urllib.request.Request(
        f"{url}/api/predict",
        data=body,
        method="POST",
        headers={"Content-Type": content_type, "Authorization": f"Bearer {token}"},
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


def analysis_ids(body: dict) -> list[int]:
    """The analysis ids of a /api/predict answer (one image or a batch)."""
    return [row["analysis_id"] for row in body["analyses"]] if "analyses" in body else [body["analysis_id"]]
