"""The embedded mode's background work: a Celery worker (and beat) in threads of the server process.

With the in-memory broker, producers and the worker must share one process;
threads do that without forking (TensorFlow is not fork-safe). The ``solo``
pool runs tasks one at a time in the worker thread, in order of submission.

Latency: the worker thread polls the in-memory broker every 10 ms (``polling_interval`` in
settings; kombu's default, 1 s, left each analysis up to a second in the queue), and a request
waiting for results is woken within this process as the worker commits them
(``lib.wakeups``), so a warm analysis is answered within milliseconds of its compute.
"""

import logging
import threading

from django.conf import settings

from .celery import app

logger = logging.getLogger(__name__)

_started = threading.Event()


def _run_worker():
    worker = app.WorkController(
        pool_cls="solo",
        concurrency=1,
        hostname="embedded@%h",
        without_heartbeat=True,
        without_mingle=True,
        without_gossip=True,
        loglevel="INFO",
    )
    _started.set()
    worker.start()


def _run_beat():
    from celery.beat import Service

    Service(app, scheduler_cls=settings.CELERY_BEAT_SCHEDULER).start()


def start_background_work(*, beat: bool = True) -> None:
    """Start the worker (and beat) threads once per process."""
    if _started.is_set():
        return
    if not settings.CELERY_BROKER_URL.startswith("memory://"):
        logger.info(
            "Broker is %s: run Celery workers as their own processes.", settings.CELERY_BROKER_URL.split("://")[0]
        )
        return
    threading.Thread(target=_run_worker, name="celery-worker", daemon=True).start()
    if beat:
        threading.Thread(target=_run_beat, name="celery-beat", daemon=True).start()
    _started.wait(timeout=10)
