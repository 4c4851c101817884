"""A fault test with real processes: RabbitMQ restarted with tasks queued, and down while the web
process takes work. Every analysis and notification completes exactly once afterwards.

Production mode (PostgreSQL, daphne, a separate ``celery worker --pool solo``) on a RabbitMQ and a
Redis of the test's own (never the machine's shared ones: this test stops the broker).

1. With no worker running, image analyses are submitted through ``POST /api/predict`` and urgent
   blood requests through the API (each a ``request_created`` task, whose alert gets an email
   delivery per recipient): their messages wait in the durable queue.
2. RabbitMQ is stopped and started again on the same node, port and data directory: the persistent
   messages are still there.
3. The web process, whose pooled broker connection died with the old node, queues more at once.
4. RabbitMQ is down: an urgent request still raises its alert (handled in the web process, its
   emails pending), and an analysis is still accepted (stored queued, its message unpublished).
5. RabbitMQ is back and a worker starts; the sweeps beat would send find the pending deliveries and
   the unpublished analysis. Every analysis ends done on its first attempt with one result and one
   Grad-CAM file, every delivery is sent once (the console email backend writes each to the
   worker's log with its idempotency key), and nothing is left in the queue.
"""

import json
import re
import time
from collections import Counter

import psycopg2
import pytest

from config.celery import app as celery_app
from healthsync.demo import DEMO_PASSWORD

from .servers import (
    PrivateRabbitMQ,
    analysis_ids,
    free_port,
    http_json,
    png_bytes,
    predict_over_http,
    private_stack_env,
    start_server,
    start_worker,
)

pytestmark = pytest.mark.slow
BASE = "/api/blood-bank"
DATASET = "pneumoniamnist"


def _until(predicate, *, timeout: float, what, interval: float = 0.1):
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout} s: {what() if callable(what) else what}")
        time.sleep(interval)


class Stack:
    """The server under test, seen through its API, its database and its broker queue."""

    def __init__(self, url: str, database, broker: PrivateRabbitMQ, queue: str):
        self.url, self.database, self.broker, self.queue = url, database, broker, queue
        self.analyses: list[int] = []
        self.requests: list[int] = []

    def login(self, email: str) -> str:
        status, body = http_json(
            "POST", f"{self.url}{BASE}/hospital/login", {"email": email, "password": DEMO_PASSWORD}
        )
        assert status == 200, body
        return body["access"]

    def submit(self, token: str, images: int, seed: int) -> None:
        status, body = predict_over_http(
            self.url, token, [png_bytes(seed + n) for n in range(images)], dataset=DATASET, timeout=60
        )
        assert status == 202, body
        self.analyses += analysis_ids(body)

    def urgent_request(self, token: str) -> None:
        status, body = http_json(
            "POST", f"{self.url}{BASE}/hospital/request", {"blood_type": "O-", "units": 2, "urgency_level": 4}, token
        )
        assert status == 201, body
        self.requests.append(body["request_id"])

    def rows(self, sql: str, *params) -> list[tuple]:
        with self.database.cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.fetchall()


def test_rabbitmq_restart_with_tasks_queued_completes_each_once(
    tmp_path, production_database, private_rabbitmq, private_redis
):
    started = time.monotonic()
    env = private_stack_env(
        var_dir=tmp_path,
        database_url=production_database,
        rabbitmq=private_rabbitmq,
        redis=private_redis,
        email_backend="django.core.mail.backends.console.EmailBackend",
    )
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = start_server(env=env, port=port, log_path=tmp_path / "server.log")
    worker = None
    database = psycopg2.connect(production_database)
    database.autocommit = True
    stack = Stack(url, database, private_rabbitmq, env["HEALTHSYNC_TASK_QUEUE"])
    try:
        status, body = http_json(
            "POST",
            f"{url}{BASE}/hospital/register",
            {"name": "Alpha General", "email": "admin@alpha.example", "password": DEMO_PASSWORD},
        )
        assert status == 201 and body["is_verified"], body
        token = stack.login("admin@alpha.example")

        # 1. No worker: two batches of analyses and three urgent requests wait in the queue, one message each.
        stack.submit(token, images=4, seed=0)
        stack.submit(token, images=1, seed=10)
        for _ in range(3):
            stack.urgent_request(token)
        assert private_rabbitmq.queue_depth(stack.queue) == 5

        # 2. RabbitMQ restarts on the same node and data: the durable queue kept its persistent messages.
        private_rabbitmq.stop()
        private_rabbitmq.start()
        private_rabbitmq.wait_ready()
        assert private_rabbitmq.queue_depth(stack.queue) == 5

        # 3. The web process's broker connection died with the old node; it publishes again at once.
        stack.submit(token, images=2, seed=20)
        stack.urgent_request(token)
        assert private_rabbitmq.queue_depth(stack.queue) == 7
        assert stack.rows("SELECT status, count(*) FROM imaging_imageanalysis GROUP BY status") == [("queued", 7)]
        assert stack.rows("SELECT count(*) FROM notifications_alert") == [(0,)], "no worker has run yet"

        # 4. While the broker is down the web process still accepts work and loses none of it. An urgent
        #    request raises its alert (the web process handles the event itself; the emails wait as pending
        #    deliveries for the resend sweep); analyses are stored queued for the stale-batch sweep.
        private_rabbitmq.stop()
        stack.urgent_request(token)
        assert (
            stack.rows(
                "SELECT a.event_key, d.status FROM notifications_delivery d JOIN notifications_notification n "
                "ON n.id = d.notification_id JOIN notifications_alert a ON a.id = n.alert_id"
            )
            == [(f"urgent-request:{stack.requests[-1]}", "pending")] * 2
        )
        stack.submit(token, images=1, seed=30)
        unpublished = stack.analyses[-1:]
        private_rabbitmq.start()

        # 5. A worker drains the queue. The sweeps that beat sends (every 5 minutes, every minute) find the
        #    pending deliveries (with those the worker is about to send anyway) and the unpublished analysis:
        #    every analysis and every email exactly once.
        worker = start_worker(env=env, log_path=tmp_path / "worker.log")  # it waits for the broker to boot
        private_rabbitmq.wait_ready()
        # The stale-batch sweep re-queues analyses left queued and untouched for 5 minutes: make it 10.
        assert stack.rows(
            "UPDATE imaging_imageanalysis SET submitted_at = submitted_at - interval '10 minutes' "
            "WHERE id = ANY(%s) AND status = 'queued' RETURNING id",
            unpublished,
        ) == [(unpublished[0],)]
        celery_app.conf.task_always_eager = False  # this suite's in-process default; send_task publishes regardless
        with celery_app.connection_for_write(private_rabbitmq.url) as connection:
            for sweep in ("notifications.tasks.resend_due_deliveries", "imaging.tasks.requeue_stale_analyses"):
                celery_app.send_task(sweep, queue=stack.queue, connection=connection, ignore_result=True)

        def finished():
            analyses = dict(stack.rows("SELECT status, count(*) FROM imaging_imageanalysis GROUP BY status"))
            deliveries = dict(stack.rows("SELECT status, count(*) FROM notifications_delivery GROUP BY status"))
            urgent = stack.rows("SELECT count(*) FROM notifications_alert WHERE kind = 'urgent_request'")[0][0]
            return (
                analyses == {"done": 8}
                and urgent == 5
                and deliveries == {"sent": 10}
                and private_rabbitmq.queue_depth(stack.queue) == 0
            )

        _until(finished, timeout=180, what=lambda: f"everything finished:\n{worker.log()[-4000:]}")
        worker.stop()  # a warm shutdown: anything unacknowledged would go back to the queue now

        for analysis_id, attempts, gradcam, predictions in stack.rows(
            "SELECT id, attempts, gradcam, predictions::text FROM imaging_imageanalysis WHERE id = ANY(%s)",
            stack.analyses,
        ):
            assert attempts == 1, (analysis_id, attempts)
            assert len(json.loads(predictions)) == 2, (analysis_id, predictions)
            assert [path.name for path in (tmp_path / "media").rglob(f"gradcam-{analysis_id}-*.png")] == [
                gradcam.rsplit("/", 1)[-1]
            ]
        assert len(stack.analyses) == 8
        # One urgent alert per request, to the hospital's administrator and the platform administrator, each
        # emailed once: one delivery row per recipient, one attempt, and one message per idempotency key.
        assert sorted(
            key for (key,) in stack.rows("SELECT event_key FROM notifications_alert WHERE kind = 'urgent_request'")
        ) == sorted(f"urgent-request:{request_id}" for request_id in stack.requests)
        deliveries = stack.rows(
            "SELECT notification_id, channel, status, attempts FROM notifications_delivery ORDER BY id"
        )
        assert [(channel, status, attempts) for _, channel, status, attempts in deliveries] == [
            ("email", "sent", 1)
        ] * 10
        sent = Counter(
            int(key) for key in re.findall(r"X-HealthSync-Idempotency-Key: healthsync-notification-(\d+)", worker.log())
        )
        assert sent == Counter({notification_id: 1 for notification_id, *_ in deliveries}), sent
        assert private_rabbitmq.queue_depth(stack.queue) == 0
        print(
            f"{len(stack.analyses)} analyses and {len(deliveries)} deliveries once each in "
            f"{time.monotonic() - started:.1f} s"
        )
    finally:
        database.close()
        if worker is not None:
            worker.stop()
        server.stop()
