"""PostgreSQL unavailable for a moment: requests get 503 with a clear message (not a traceback, not
a 500) and recover by themselves; /healthz names the database while it is down.

The test runs its own PostgreSQL (Debian's PostgreSQL 15 binaries) on a free port in a temporary
directory, never the machine's shared server, and a real ``manage.py serve`` against it.
"""

import json
import time
import urllib.error
import urllib.request

import pytest

from .servers import PG_BIN, PrivatePostgres, free_port, manage, process_env, start_server

pytestmark = pytest.mark.slow

DEMO_LOGIN = {"email": "platform@healthsync.example", "password": "healthsync-demo"}


@pytest.fixture
def postgres():
    missing = PrivatePostgres.missing_binaries()
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
        DATABASE_URL=database_url,
        CELERY_BROKER_URL="memory://",
        HEALTHSYNC_VAR_DIR=str(var_dir),
        DJANGO_CONN_MAX_AGE="60",
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

        for method, path, payload in (
            ("GET", "/api/blood-bank/hospitals", None),
            ("POST", "/api/auth/login", DEMO_LOGIN),
        ):
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
            return (
                call("GET", f"{base}/healthz")[0] == 200 and call("GET", f"{base}/api/blood-bank/hospitals")[0] == 200
            )

        assert wait_for(healthy, timeout=15), f"no recovery within 15 s:\n{server.log()[-3000:]}"
        status, _, body = call("POST", f"{base}/api/auth/login", DEMO_LOGIN)
        assert status == 200 and "access" in json.loads(body), body[:500]
        assert call("GET", f"{base}/shortages/")[0] == 200
    finally:
        server.stop()
