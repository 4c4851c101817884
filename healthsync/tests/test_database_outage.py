"""PostgreSQL unavailable for a moment: requests get 503 with a clear message (not a traceback, not
a 500) and recover by themselves; /healthz names the database while it is down.

The test runs its own PostgreSQL (Debian's PostgreSQL 15 binaries) on a free port in a temporary
directory, never the machine's shared server, and a real ``manage.py serve`` against it.
"""

import json
import os
import shutil
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from .servers import free_port, manage, process_env, start_server

pytestmark = pytest.mark.slow

PG_BIN = Path(os.environ.get("HEALTHSYNC_PG_BIN", "/usr/lib/postgresql/15/bin"))
DEMO_LOGIN = {"email": "platform@healthsync.example", "password": "healthsync-demo"}


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
        self._run(str(PG_BIN / "initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync", "--locale=C")

    def start(self):
        options = f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.dir} -c fsync=off -c full_page_writes=off"
        self._run(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-o", options, "-w", "-t", "60", "start", timeout=90)

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


@pytest.fixture
def postgres():
    missing = [name for name in ("initdb", "pg_ctl", "postgres") if not (PG_BIN / name).exists()]
    if missing:
        pytest.skip(f"PostgreSQL server binaries not found in {PG_BIN} ({', '.join(missing)}); install postgresql-15")
    server = PrivatePostgres()
    try:
        server.init()
        server.start()
        yield server
    finally:
        server.cleanup()


def call(method, url, payload=None):
    """(status, headers, body text) of one request; error statuses are answers, not exceptions."""
    data = json.dumps(payload).encode() if payload is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.headers, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read().decode()


def wait_for(predicate, *, timeout, interval=0.25):
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result or time.monotonic() > deadline:
            return result
        time.sleep(interval)


def test_a_database_outage_is_a_clear_503_and_service_recovers(postgres, tmp_path):
    database_url = postgres.create_database("healthsync_outage")
    var_dir = tmp_path / "var"
    var_dir.mkdir()
    env = process_env(
        DATABASE_URL=database_url, CELERY_BROKER_URL="memory://", HEALTHSYNC_VAR_DIR=str(var_dir), DJANGO_CONN_MAX_AGE="60",
    )
    manage("migrate", "--noinput", env=env, timeout=300)
    manage("seed_demo", env=env, timeout=300)
    port = free_port()
    server = start_server(env={**env, "HEALTHSYNC_LOGIN_RATE": "1000/min"}, port=port, log_path=tmp_path / "serve.log")
    base = f"http://127.0.0.1:{port}"
    try:
        # Healthy: /healthz, a public read and a login (both through the database).
        assert call("GET", f"{base}/healthz")[0] == 200
        assert call("GET", f"{base}/api/blood-bank/hospitals")[0] == 200
        assert call("POST", f"{base}/api/auth/login", DEMO_LOGIN)[0] == 200

        postgres.stop("immediate")
        outage_log_start = len(server.log())

        status, _, body = call("GET", f"{base}/healthz")
        assert status == 503, body
        error = json.loads(body)["error"]
        assert error["code"] == "service_unavailable" and "database" in error["message"]
        assert error["details"]["checks"]["database"] == "down"

        for method, path, payload in (("GET", "/api/blood-bank/hospitals", None), ("POST", "/api/auth/login", DEMO_LOGIN)):
            status, headers, body = call(method, f"{base}{path}", payload)
            assert status == 503, f"{method} {path}: {status} {body[:500]}"
            assert headers.get("Content-Type", "").startswith("application/json"), headers
            assert "Traceback" not in body
            error = json.loads(body)["error"]
            assert error["code"] == "service_unavailable", error
            assert error["message"] == "The database is unavailable; try again shortly."
            assert set(error) >= {"code", "message", "fields", "details"}
            assert int(headers["Retry-After"]) > 0

        # A page outside the API gets a short, friendly 503 page.
        status, headers, body = call("GET", f"{base}/shortages/")
        assert status == 503, body[:500]
        assert headers.get("Content-Type", "").startswith("text/html") and "Traceback" not in body
        assert "temporarily unavailable" in body.lower()

        outage_log = server.log()[outage_log_start:]
        assert "Internal Server Error" not in outage_log, outage_log[-3000:]

        postgres.start()

        def healthy():
            return call("GET", f"{base}/healthz")[0] == 200 and call("GET", f"{base}/api/blood-bank/hospitals")[0] == 200

        assert wait_for(healthy, timeout=15), f"no recovery within 15 s:\n{server.log()[-3000:]}"
        status, _, body = call("POST", f"{base}/api/auth/login", DEMO_LOGIN)
        assert status == 200 and "access" in json.loads(body), body[:500]
        assert call("GET", f"{base}/shortages/")[0] == 200
    finally:
        server.stop()
