"""End to end with real processes: a shortage caused through the HTTP API reaches a `websockets` client,
and a client that reconnects with its last id receives what it missed. Once on the embedded default,
once in production mode (daphne + a Celery worker on PostgreSQL, RabbitMQ and Redis)."""

import asyncio
import json
import uuid
from datetime import UTC, datetime

import pytest
import websockets

from healthsync.demo import DEMO_PASSWORD
from healthsync.tests.servers import (
    free_port,
    http_json,
    manage,
    process_env,
    production_env,
    start_server,
    start_worker,
)

pytestmark = pytest.mark.slow
BASE = "/api/blood-bank"


async def _next_alert(socket, kind="shortage", timeout=30):
    while True:
        message = json.loads(await asyncio.wait_for(socket.recv(), timeout=timeout))
        if message.get("kind") == kind:
            return message


async def _scenario(port: int) -> None:
    url = f"http://127.0.0.1:{port}"
    account = {"email": f"bank-{uuid.uuid4().hex[:6]}@e2e.example", "password": DEMO_PASSWORD}
    name = f"E2E General {uuid.uuid4().hex[:4]}"
    status, body = await asyncio.to_thread(
        http_json, "POST", f"{url}{BASE}/hospital/register", {"name": name, **account}
    )
    assert status == 201, body
    status, tokens = await asyncio.to_thread(http_json, "POST", f"{url}{BASE}/hospital/login", account)
    token = tokens["access"]

    async def call(method, path, payload=None):
        path = path if path.startswith("/") else f"{BASE}/{path}"
        status, body = await asyncio.to_thread(http_json, method, f"{url}{path}", payload, token)
        assert status in (200, 201), (path, status, body)
        return body

    await call(
        "POST",
        "hospital/inventory/add",
        {"blood_type": "A+", "units": 6, "quantity_ml": 300, "collected_at": datetime.now(UTC).isoformat()},
    )
    socket_url = f"ws://127.0.0.1:{port}/ws/alerts/?token={token}"
    async with websockets.connect(socket_url, open_timeout=10) as socket:
        request = await call("POST", "hospital/request", {"blood_type": "A+", "units": 2, "urgency_level": 3})
        await call("POST", f"hospital/request/fulfill/{request['request_id']}")  # 4 left: low
        low = await _next_alert(socket)
        assert low["title"] == f"Low stock: A+ red cells at {name}"
        assert {"id", "kind", "title", "body", "severity", "created"} <= set(low)

    # While disconnected, stock falls to critical; reconnecting with the last id replays it.
    request = await call("POST", "hospital/request", {"blood_type": "A+", "units": 2, "urgency_level": 3})
    await call("POST", f"hospital/request/fulfill/{request['request_id']}")  # 2 left: critical
    for _ in range(60):
        inbox = await call("GET", "/api/notifications?kind=shortage")
        if inbox["count"] == 2:
            break
        await asyncio.sleep(0.5)
    async with websockets.connect(f"{socket_url}&last_id={low['id']}", open_timeout=10) as socket:
        critical = await _next_alert(socket)
        assert critical["title"] == f"Critical stock: A+ red cells at {name}" and critical["id"] > low["id"]


def test_live_alerts_on_the_embedded_default(tmp_path):
    env = process_env(HEALTHSYNC_VAR_DIR=str(tmp_path))
    manage("migrate", "--noinput", env=env)
    port = free_port()
    server = start_server(env=env, port=port, log_path=tmp_path / "server.log")
    try:
        asyncio.run(_scenario(port))
    finally:
        server.stop()


def test_live_alerts_in_production_mode_on_redis(tmp_path, production_database):
    env = production_env(var_dir=tmp_path, database_url=production_database, HEALTHSYNC_AUTO_VERIFY_HOSPITALS="1")
    manage("migrate", "--noinput", env=env)
    worker = start_worker(env=env, log_path=tmp_path / "worker.log")
    port = free_port()
    server = start_server(env=env, port=port, log_path=tmp_path / "server.log")
    try:
        asyncio.run(_scenario(port))
    finally:
        server.stop()
        worker.stop()
