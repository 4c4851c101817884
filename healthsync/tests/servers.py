"""Real HealthSync processes for end-to-end tests: daphne (``manage.py serve``) and Celery workers."""

import json
import os
import signal
import socket
import subprocess
import sys
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
    env.update({"PYTHONUNBUFFERED": "1", "DJANGO_SETTINGS_MODULE": "healthsync.settings"})
    env.update(overrides)
    return env


def production_env(*, var_dir, database_url, **overrides) -> dict:
    """Production mode on the machine's PostgreSQL, RabbitMQ and Redis, with a database, queue and
    channel prefix of the test's own."""
    from django.conf import settings

    return process_env(
        HEALTHSYNC_VAR_DIR=str(var_dir), DATABASE_URL=database_url, REDIS_URL=settings.REDIS_URL,
        CELERY_BROKER_URL=settings.CELERY_BROKER_URL, HEALTHSYNC_TASK_QUEUE=f"e2e-{uuid.uuid4().hex[:8]}",
        HEALTHSYNC_CHANNEL_PREFIX=f"e2e{uuid.uuid4().hex[:8]}", **overrides,
    )


def manage(*args, env, timeout=180):
    result = subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


class Process:
    def __init__(self, args, *, env, log_path):
        self.log_path = log_path
        self._log = open(log_path, "w")
        self.popen = subprocess.Popen(args, cwd=ROOT, env=env, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True)

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


def start_server(*, env, port, log_path) -> Process:
    server = Process([sys.executable, "manage.py", "serve", "--port", str(port)], env=env, log_path=log_path)
    deadline = time.monotonic() + 90
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


def start_worker(*, env, log_path, extra=()) -> Process:
    return Process(
        [sys.executable, "-m", "celery", "-A", "healthsync", "worker", "--pool", "solo", "--loglevel", "INFO",
         "--without-mingle", "--without-gossip", *extra],
        env=env, log_path=log_path,
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
