"""Waking a waiting request when another thread or process has written what it waits for.

On PostgreSQL this is LISTEN/NOTIFY: the writer calls ``wake(channel)`` after (or inside) the
transaction that wrote, the waiter holds a ``Listener`` on the channel and sleeps on its
connection's socket until a notification arrives, so it sees the write within a fraction of a millisecond
instead of at its next poll. Elsewhere (SQLite in the embedded mode) the writer is a thread of the
waiter's own process (the embedded Celery worker, or an eager task): ``wake`` bumps the channel's
count in this process as its transaction commits, and the waiter sleeps on a ``threading.Condition``
until the count moves. Where the writer may be another process (SQLite with a real broker's worker)
the waiter polls with a short sleep. Either way the waiter re-checks the database after each
wake-up: a wake-up is only a hint, and a lost one costs at most ``fallback`` seconds.
"""

import select
import threading
import time
from collections import Counter

from django.conf import settings
from django.db import connection, transaction

POLL_SECONDS = 0.003

# Wake-ups within this process (every database but PostgreSQL): how many times each channel was woken.
_woken: Counter[str] = Counter()
_woken_changed = threading.Condition()


def _wake_here(channel: str) -> None:
    with _woken_changed:
        _woken[channel] += 1
        _woken_changed.notify_all()


def _writers_in_this_process() -> bool:
    """Whether whoever calls ``wake`` runs in this process: the Celery worker is a thread of it (the
    in-memory broker, ``config.embedded``) or tasks run inline (eager)."""
    from celery import current_app as app

    return settings.CELERY_BROKER_URL.startswith("memory://") or bool(app.conf.task_always_eager)


def wake(channel: str, payload: str = "") -> None:
    """Wake the waiters on ``channel`` (delivered when the current transaction commits; not at all
    if it rolls back)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_notify(%s, %s)", [channel, payload])
    else:
        transaction.on_commit(lambda: _wake_here(channel))


class Listener:
    """Listening for wake-ups on ``channel`` on this thread's connection, from ``start()`` to ``close()``.

    Started inside a transaction, it takes effect as that transaction commits (PostgreSQL's rule
    for LISTEN): a caller that starts it in the transaction that sets off the work it will wait
    for misses no wake-up, and needs no first look before its first wait. Outside PostgreSQL it
    counts the wake-ups in this process from ``start()`` on, so none is missed there either; where
    the writers may be other processes ``wait`` sleeps briefly instead."""

    def __init__(self, channel: str, *, fallback: float = 0.25):
        self.channel, self.fallback = channel, fallback
        self._raw = None
        self._seen: int | None = None  # outside PostgreSQL: the channel's count of wake-ups last seen

    def start(self) -> None:
        if connection.vendor != "postgresql":
            if self._seen is None:
                with _woken_changed:
                    self._seen = _woken[self.channel]
            return
        if self._raw is not None:
            return
        with connection.cursor() as cursor:
            cursor.execute(f"LISTEN {connection.ops.quote_name(self.channel)}")
        self._raw = connection.connection

    def wait(self, seconds: float) -> bool:
        """Return after a wake-up or ``seconds`` (at most ``fallback``), whichever comes first: True
        when woken. Call it outside a transaction: PostgreSQL delivers notifications between
        transactions only, and elsewhere a wake-up comes as its writer commits."""
        seconds = max(0.0, seconds)
        if self._seen is not None and connection.get_autocommit() and _writers_in_this_process():
            with _woken_changed:
                woken = _woken_changed.wait_for(lambda: _woken[self.channel] != self._seen, min(seconds, self.fallback))
                self._seen = _woken[self.channel]
            return woken
        raw = self._raw
        if raw is None or not connection.get_autocommit():
            time.sleep(min(seconds, POLL_SECONDS))
            return False
        if not raw.notifies:
            select.select([raw], [], [], min(seconds, self.fallback))
        raw.poll()
        woken = bool(raw.notifies)
        raw.notifies.clear()
        return woken

    def close(self) -> None:
        self._seen = None
        if self._raw is None:
            return
        with connection.cursor() as cursor:
            cursor.execute(f"UNLISTEN {connection.ops.quote_name(self.channel)}")
        self._raw.poll()
        self._raw.notifies.clear()
        self._raw = None
