"""One alert fanned out to 1,000 connected WebSocket clients on the Redis channel layer.

Usage: DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres REDIS_URL=redis://127.0.0.1:6379/0 \\
       .venv/bin/python bench/bench_alert_fanout.py [--clients 1000] [--rounds 3]
Starts daphne in production mode on a database of its own (``healthsync_bench_ws``, dropped
afterwards), connects the clients with the ``websockets`` library as 1,000 staff of one hospital,
raises alerts through ``notifications.services.alert_raise`` (persist, then push) and reports,
per round, how many clients received the alert and the delivery latency from the raise to
receipt (p50, p99), against the issue's target: p99 under 500 ms and every client served.
"""

import argparse
import asyncio
import json
import os
import resource
import statistics
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
from benchdb import own_database  # noqa: E402

BENCH_DB = "healthsync_bench_ws"
TARGET_P99_MS = 500.0


def _raise_fd_limit():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(max(soft, 8192), hard), hard))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    _raise_fd_limit()
    with own_database(BENCH_DB):
        os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/0")
        os.environ.setdefault("CELERY_BROKER_URL", "memory://")
        os.environ["HEALTHSYNC_CHANNEL_PREFIX"] = f"bench{uuid.uuid4().hex[:6]}"
        os.environ["HEALTHSYNC_LOG_LEVEL"] = "WARNING"
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
        run(args.clients, args.rounds)


def run(clients: int, rounds: int):
    import django

    django.setup()
    from django.contrib.auth.hashers import make_password
    from django.core.management import call_command
    from django.db.models import Q
    from rest_framework_simplejwt.tokens import AccessToken

    from healthsync import services as core
    from healthsync.models import Membership, User
    from healthsync.tests.servers import Process, free_port, process_env, start_server
    from lib.realtime import hospital_group
    from notifications import services

    call_command("migrate", verbosity=0)
    hospital = core.hospital_create(name="Fan-out General", is_verified=True)
    unusable = make_password(None)
    users = User.objects.bulk_create(
        [User(email=f"staff{n}@fanout.example", password=unusable, is_staff=True) for n in range(clients)]
    )
    Membership.objects.bulk_create([Membership(user=user, hospital=hospital, role="medical_staff") for user in users])
    tokens = [str(AccessToken.for_user(user)) for user in users]

    port = free_port()
    env = process_env(
        **{
            key: os.environ[key]
            for key in ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "HEALTHSYNC_CHANNEL_PREFIX")
        },
        HEALTHSYNC_LOG_LEVEL="WARNING",
        HEALTHSYNC_VAR_DIR=str(ROOT / "var" / "bench"),
    )
    (ROOT / "var" / "bench").mkdir(parents=True, exist_ok=True)
    server: Process = start_server(env=env, port=port, log_path=ROOT / "var" / "bench" / "fanout-server.log")
    try:
        results = asyncio.run(
            _measure(
                port,
                tokens,
                rounds,
                lambda n: services.alert_raise(
                    kind="shortage",
                    title=f"Fan-out round {n}",
                    body="Benchmark alert",
                    severity="warning",
                    event_key=f"bench-fanout-{uuid.uuid4().hex}",
                    audience=Q(memberships__hospital=hospital),
                    groups=[hospital_group(hospital.pk)],
                    hospital_id=hospital.pk,
                ),
            )
        )
    finally:
        server.stop()
    print(
        f"{'round':>5} | {'clients':>7} | {'received':>8} | {'persist+push ms':>15} | {'p50 ms':>7} | {'p99 ms':>7} | "
        f"{'max ms':>7} | target p99 < {int(TARGET_P99_MS)} ms, all served"
    )
    print("-" * 106)
    for n, (received, latencies) in enumerate(results, 1):
        p50 = statistics.median(latencies) if latencies else float("nan")
        p99 = statistics.quantiles(latencies, n=100)[98] if len(latencies) > 1 else float("nan")
        verdict = "meets" if received == clients and p99 < TARGET_P99_MS else "misses"
        print(
            f"{n:>5} | {clients:>7} | {received:>8} | {persisted_ms[n - 1]:>15.1f} | {p50:>7.1f} | {p99:>7.1f} | "
            f"{max(latencies):>7.1f} | {verdict}"
        )


persisted_ms: list[float] = []  # time alert_raise took (persisting 1 alert + N inbox rows, then the push)


async def _measure(port, tokens, rounds, raise_alert):
    import websockets
    from asgiref.sync import sync_to_async

    sockets = []
    for start in range(0, len(tokens), 100):  # connect in batches so the server is not flooded
        sockets += await asyncio.gather(
            *[
                websockets.connect(f"ws://127.0.0.1:{port}/ws/alerts/?token={token}", open_timeout=60, max_queue=None)
                for token in tokens[start : start + 100]
            ]
        )
    await asyncio.sleep(1)
    results = []
    persisted_ms.clear()
    try:
        for n in range(1, rounds + 1):

            async def receive(socket, title):
                try:
                    message = json.loads(await asyncio.wait_for(socket.recv(), timeout=15))
                    return time.perf_counter() if message.get("title") == title else None
                except (TimeoutError, websockets.ConnectionClosed):
                    return None

            waiting = [asyncio.create_task(receive(socket, f"Fan-out round {n}")) for socket in sockets]
            await asyncio.sleep(0.2)
            raised = time.perf_counter()
            await sync_to_async(raise_alert, thread_sensitive=False)(n)
            persisted_ms.append((time.perf_counter() - raised) * 1000)
            arrivals = [arrival for arrival in await asyncio.gather(*waiting) if arrival is not None]
            results.append((len(arrivals), [(arrival - raised) * 1000 for arrival in arrivals]))
            await asyncio.sleep(0.5)
    finally:
        await asyncio.gather(*[socket.close() for socket in sockets], return_exceptions=True)
    return results


if __name__ == "__main__":
    main()
