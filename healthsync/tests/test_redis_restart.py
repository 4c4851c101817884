"""A fault test with real processes: Redis restarted under open WebSockets. Clients are told to
reconnect, replay exactly what they missed, and hear new alerts live again; HTTP keeps answering.

Production mode (PostgreSQL, daphne, a separate Celery worker) with a Redis and a RabbitMQ of the
test's own on free ports (never the machine's shared ones: this test kills Redis). Redis is the
channel layer and the cache. Four ``websockets`` clients (a hospital administrator with two tabs,
another hospital's administrator, a platform administrator) behave like ``static/js/live-alerts.js``:
keep ``/ws/alerts/`` open and, whenever it closes, reconnect with ``?last_id=`` the newest alert id
they hold. Alerts are raised the real way: urgent blood requests through the API, which the worker
turns into alerts (one per request, to the hospital's staff and the platform administrator).

1. Alerts are delivered live.
2. Redis is SIGKILLed. The server closes every socket (4503: their subscriptions are gone),
   /healthz names the channel layer, logins and the API still answer, and alerts raised meanwhile
   are written (persist first, push after commit, a failed push tolerated).
3. Redis starts again on the same port: every client reconnects and receives exactly what it missed.
4. New alerts arrive live again, on the same sockets.
5. A clean restart (SIGTERM) with nothing sent meanwhile leaves every process's pooled Redis
   connections stale: the first alerts afterwards must still arrive live.
6. Redis drops the server's subscriber connection (CLIENT KILL) without restarting: the sockets are
   closed and reconnect, instead of silently resubscribing past a gap.

At the end each client holds exactly its user's inbox, in order: no loss, no duplicates.
"""

import asyncio
import json
import signal
import time
import uuid

import pytest
import websockets

from healthsync.demo import DEMO_PASSWORD
from lib.channel_layers import LAYER_UNAVAILABLE

from .servers import PrivateRedis, free_port, http_json, private_stack_env, start_server, start_worker

pytestmark = pytest.mark.slow
BASE = "/api/blood-bank"
RECONNECT_DELAY_S = 0.2


class AlertClient:
    """One browser tab's /ws/alerts/ socket: reconnects after every close with the newest id it holds,
    and records every message the server sent (duplicates included: the server must not send any)."""

    def __init__(self, name: str, user: str, port: int, token: str):
        self.name, self.user, self.port, self.token = name, user, port, token
        self.received: list[dict] = []
        self.opened = 0
        self.close_codes: list[int | None] = []
        self.is_open = False

    @property
    def ids(self) -> list[int]:
        return [message["id"] for message in self.received]

    async def run(self) -> None:
        while True:
            last_id = max(self.ids, default=0)
            url = f"ws://127.0.0.1:{self.port}/ws/alerts/?token={self.token}&last_id={last_id}"
            try:
                async with websockets.connect(url, open_timeout=5) as socket:
                    self.opened += 1
                    self.is_open = True
                    try:
                        async for raw in socket:
                            self.received.append(json.loads(raw))
                    finally:
                        self.is_open = False
                        self.close_codes.append(socket.close_code)
            except (TimeoutError, OSError, websockets.WebSocketException):
                pass  # refused while Redis is down: try again, like the page's script
            await asyncio.sleep(RECONNECT_DELAY_S)


async def _until(predicate, *, timeout: float, what, interval: float = 0.05):
    """Poll ``predicate`` (a function, or one returning a coroutine) until it gives something true."""
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout} s: {what() if callable(what) else what}")
        await asyncio.sleep(interval)


class Site:
    """The HTTP API of the server under test, called from the event loop without blocking it."""

    def __init__(self, port: int):
        self.url = f"http://127.0.0.1:{port}"

    async def call(self, method, path, payload=None, token=None) -> tuple[int, dict]:
        return await asyncio.to_thread(http_json, method, f"{self.url}{path}", payload, token)

    async def login(self, email: str) -> str:
        status, body = await self.call("POST", f"{BASE}/hospital/login", {"email": email, "password": DEMO_PASSWORD})
        assert status == 200, body
        return body["access"]

    async def register_hospital(self, name: str) -> tuple[int, str]:
        email = f"admin-{uuid.uuid4().hex[:6]}@{name.split()[0].lower()}.example"
        status, body = await self.call(
            "POST", f"{BASE}/hospital/register", {"name": name, "email": email, "password": DEMO_PASSWORD}
        )
        assert status == 201 and body["is_verified"], body
        return body["id"], await self.login(email)

    async def urgent_request(self, token: str) -> int:
        """An urgency-4 request: the worker raises one urgent-request alert for it."""
        status, body = await self.call(
            "POST", f"{BASE}/hospital/request", {"blood_type": "O-", "units": 2, "urgency_level": 4}, token
        )
        assert status == 201, body
        return body["request_id"]

    async def inbox_ids(self, token: str) -> list[int]:
        """The user's alert ids, oldest first."""
        status, body = await self.call("GET", "/api/notifications?kind=urgent_request&page_size=500", token=token)
        assert status == 200, body
        return sorted(row["id"] for row in body["results"])

    async def healthz(self) -> tuple[int, dict]:
        status, body = await self.call("GET", "/healthz")
        return status, (body.get("checks") or body["error"]["details"]["checks"])


async def _scenario(port: int, redis: PrivateRedis, worker) -> str:
    site = Site(port)
    _, alpha = await site.register_hospital("Alpha General")
    _, beta = await site.register_hospital("Beta Infirmary")
    root = await site.login("root@e2e.example")
    tokens = {"alpha": alpha, "beta": beta, "root": root}
    clients = [
        AlertClient("alpha-1", "alpha", port, alpha),
        AlertClient("alpha-2", "alpha", port, alpha),
        AlertClient("beta", "beta", port, beta),
        AlertClient("root", "root", port, root),
    ]
    runners = [asyncio.create_task(client.run()) for client in clients]

    async def raise_alerts():
        for token in (alpha, alpha, beta):
            await site.urgent_request(token)

    async def alerts_written(count):
        """Each user's inbox once the platform administrator's holds ``count`` alerts (it hears them all;
        each alert is written with all its recipients in one transaction, so read it first)."""
        if len(await site.inbox_ids(root)) != count:
            return None
        return {user: await site.inbox_ids(token) for user, token in tokens.items()}

    def all_hold(inboxes):
        return all(client.ids == inboxes[client.user] for client in clients)

    def holdings():
        return {client.name: client.ids for client in clients}

    def opened():
        return {client.name: client.opened for client in clients}

    async def healthy():
        return (await site.healthz())[0] == 200

    async def delivered_live(total: int, when: str) -> dict:
        """Raise 3 alerts with every socket open: each reaches its clients on the sockets they have."""
        await _until(
            lambda: all(client.is_open for client in clients), timeout=20, what=f"every client connected {when}"
        )
        sockets = opened()
        await raise_alerts()
        alerts = await _until(
            lambda: alerts_written(total), timeout=30, what=lambda: f"{total} alerts written:\n{worker.log()[-3000:]}"
        )
        await _until(
            lambda: all_hold(alerts), timeout=20, what=lambda: f"live delivery {when}: {holdings()} != {alerts}"
        )
        assert opened() == sockets, f"{when}: delivered live, not by reconnecting"
        return alerts

    async def all_closed(closes: int) -> None:
        await _until(
            lambda: all(len(client.close_codes) == closes for client in clients),
            timeout=10,
            what=lambda: f"the server closed every socket: {[client.close_codes for client in clients]}",
        )
        assert all(client.close_codes == [LAYER_UNAVAILABLE] * closes for client in clients), [
            c.close_codes for c in clients
        ]

    try:
        # 1. Live: each request's alert reaches the open sockets of its hospital's staff and the platform administrator.
        alerts = await delivered_live(3, "before the outage")
        assert [len(alerts[user]) for user in ("alpha", "beta", "root")] == [2, 1, 3], alerts

        # 2. Redis dies. The server closes the sockets (their subscriptions are gone) and keeps answering HTTP:
        #    /healthz names the channel layer, logins work (no rate-limit counters meanwhile), alerts are written.
        redis.stop(signal.SIGKILL)
        down_at = time.monotonic()
        await all_closed(1)
        status, checks = await site.healthz()
        # The DICOM listener reports apart.
        core = {name: checks.get(name) for name in ("database", "channel_layer", "broker")}
        assert status == 503 and core == {"database": "ok", "channel_layer": "down", "broker": "ok"}, checks
        await site.login("root@e2e.example")
        before = holdings()
        await raise_alerts()
        alerts = await _until(
            lambda: alerts_written(6),
            timeout=60,
            what=lambda: f"3 more alerts written with Redis down:\n{worker.log()[-3000:]}",
        )
        assert [len(alerts[user]) for user in ("alpha", "beta", "root")] == [4, 2, 6], alerts
        assert not any(client.is_open for client in clients) and holdings() == before, (
            "nothing is delivered while Redis is down"
        )
        outage_s = time.monotonic() - down_at

        # 3. Redis again on the same port: every client reconnects with its last id and receives exactly what it missed.
        redis.start()
        await _until(healthy, timeout=20, what="/healthz 200 after Redis restarted")
        await _until(
            lambda: all_hold(alerts), timeout=30, what=lambda: f"replay after the restart: {holdings()} != {alerts}"
        )
        assert all(client.opened >= 2 for client in clients), opened()

        # 4. Alerts are live again.
        alerts = await delivered_live(9, "after the restart")

        # 5. A clean restart (SIGTERM) with nothing sent meanwhile: the connections the server and the worker
        #    keep to Redis are stale now, and the very first alerts afterwards must still arrive live.
        redis.stop(signal.SIGTERM)
        await all_closed(2)
        redis.start()
        alerts = await delivered_live(12, "after a quiet restart")

        # 6. Redis drops the server's subscriber connection without restarting. redis-py would reconnect and
        #    subscribe again at once, silently missing what was published in between: the sockets close instead.
        assert redis.client().client_kill_filter(_type="pubsub") >= 1
        await all_closed(3)
        alerts = await delivered_live(15, "after a dropped connection")

        # No loss, no duplicates: each client holds exactly its user's inbox, oldest first.
        for client in clients:
            assert client.ids == sorted(set(client.ids)) == alerts[client.user], (client.name, client.ids, alerts)
        return f"outage {outage_s:.1f} s; sockets opened {opened()}"
    finally:
        for runner in runners:
            runner.cancel()
        await asyncio.gather(*runners, return_exceptions=True)


def test_redis_restart_clients_reconnect_and_replay_what_they_missed(
    tmp_path, production_database, private_redis, private_rabbitmq
):
    started = time.monotonic()
    env = private_stack_env(
        var_dir=tmp_path,
        database_url=production_database,
        rabbitmq=private_rabbitmq,
        redis=private_redis,
        email_backend="django.core.mail.backends.locmem.EmailBackend",
    )
    worker = start_worker(env=env, log_path=tmp_path / "worker.log")
    port = free_port()
    server = start_server(env=env, port=port, log_path=tmp_path / "server.log")
    try:
        summary = asyncio.run(_scenario(port, private_redis, worker))
        print(f"{summary}; {time.monotonic() - started:.1f} s in all")
    finally:
        server.stop()
        worker.stop()
