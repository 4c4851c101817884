"""Both modes end to end with real processes: a task raised through HTTP reaches an open WebSocket.

* Embedded default: one ``manage.py serve`` process (daphne + a Celery worker thread on the
  in-memory broker + the in-process channel layer), SQLite under a temporary directory.
* Production: daphne and a separate Celery worker process on PostgreSQL, RabbitMQ and Redis
  (the machine's services, a database and queue of the test's own).
"""

import asyncio
import json

import pytest
import websockets

from healthsync.demo import DEMO_PASSWORD

from .servers import free_port, http_json, manage, process_env, production_env, start_server, start_worker

pytestmark = pytest.mark.slow


async def _worker_check_round_trip(port: int, token: str) -> dict:
    uri = f"ws://127.0.0.1:{port}/ws/system/?token={token}"
    async with websockets.connect(uri, open_timeout=10) as socket:
        status, body = await asyncio.to_thread(
            http_json, "POST", f"http://127.0.0.1:{port}/api/system/worker-check", {}, token
        )
        assert status == 202, body
        message = json.loads(await asyncio.wait_for(socket.recv(), timeout=30))
        assert message["kind"] == "worker_check"
        assert message["task_id"] == body["task_id"]
        return message


async def _refused(uri: str) -> bool:
    try:
        async with websockets.connect(uri, open_timeout=10) as socket:
            await asyncio.wait_for(socket.recv(), timeout=10)
    except websockets.ConnectionClosed as closed:
        return closed.rcvd is not None and closed.rcvd.code == 4401
    except websockets.InvalidStatus:
        return True
    return False


async def _opens(uri: str, origin: str) -> bool:
    """Whether a browser-like client (sending ``Origin``) gets the socket; a refusal is 403 at the handshake."""
    try:
        async with websockets.connect(uri, origin=origin, open_timeout=10):
            return True
    except websockets.InvalidStatus as refused:
        assert refused.response.status_code == 403
        return False


def _login(port: int, email: str) -> str:
    status, body = http_json(
        "POST", f"http://127.0.0.1:{port}/api/auth/login", {"email": email, "password": DEMO_PASSWORD}
    )
    assert status == 200, body
    return body["access"]


def _exercise(port: int) -> dict:
    token = _login(port, "doctor@stmarys.example")
    message = asyncio.run(_worker_check_round_trip(port, token))
    assert asyncio.run(_refused(f"ws://127.0.0.1:{port}/ws/system/"))
    assert asyncio.run(_refused(f"ws://127.0.0.1:{port}/ws/system/?token=not-a-token"))
    # Origin: the server's own scheme, host and port only (another port of 127.0.0.1 is another site).
    uri = f"ws://127.0.0.1:{port}/ws/system/?token={token}"
    assert asyncio.run(_opens(uri, f"http://127.0.0.1:{port}"))
    assert not asyncio.run(_opens(uri, f"http://127.0.0.1:{free_port()}"))
    assert not asyncio.run(_opens(uri, f"https://127.0.0.1:{port}"))
    return message


def test_embedded_mode_round_trips_a_task_and_a_websocket_message(tmp_path):
    env = process_env(HEALTHSYNC_VAR_DIR=str(tmp_path))
    manage("migrate", "--noinput", env=env)
    manage("seed_demo", env=env)
    assert (tmp_path / "healthsync.sqlite3").exists()
    port = free_port()
    server = start_server(env=env, port=port, log_path=tmp_path / "server.log")
    try:
        message = _exercise(port)
        assert message["worker_pid"] == server.popen.pid  # the worker runs inside the server process
    finally:
        server.stop()


def test_production_mode_round_trips_through_rabbitmq_and_redis(tmp_path, production_database):
    env = production_env(var_dir=tmp_path, database_url=production_database)
    manage("migrate", "--noinput", env=env)
    manage("seed_demo", env=env)
    worker = start_worker(env=env, log_path=tmp_path / "worker.log")
    port = free_port()
    server = start_server(env=env, port=port, log_path=tmp_path / "server.log")
    try:
        message = _exercise(port)
        assert message["worker_pid"] == worker.popen.pid  # the separate worker process answered
    finally:
        server.stop()
        worker.stop()
