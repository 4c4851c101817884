"""Waking a waiting request when another process has written what it waits for.

On PostgreSQL this is LISTEN/NOTIFY: the writer calls ``wake(channel)`` after (or inside) the
transaction that wrote, the waiter holds a ``Listener`` on the channel and sleeps on its
connection's socket until a notification arrives, so it sees the write within a fraction of a millisecond
instead of at its next poll. Elsewhere (SQLite in the embedded mode) the waiter polls with a short
sleep. Either way the waiter re-checks the database after each wake-up: a notification is only a
hint, and a lost one costs at most ``fallback`` seconds.
"""

import select
import time

from django.db import connection

POLL_SECONDS = 0.003


def wake(channel: str, payload: str = "") -> None:
    """Wake the waiters on ``channel`` (delivered when the current transaction commits)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_notify(%s, %s)", [channel, payload])


class Listener:
    """Listening for wake-ups on ``channel`` on this thread's connection, from ``start()`` to ``close()``.

    Started inside a transaction, it takes effect as that transaction commits (PostgreSQL's rule
    for LISTEN): a caller that starts it in the transaction that sets off the work it will wait
    for misses no wake-up, and needs no first look before its first wait. Outside PostgreSQL
    (SQLite, embedded) ``wait`` sleeps briefly instead."""

    def __init__(self, channel: str, *, fallback: float = 0.25):
        self.channel, self.fallback = channel, fallback
        self._raw = None

    def start(self) -> None:
        if connection.vendor != "postgresql" or self._raw is not None:
            return
        with connection.cursor() as cursor:
            cursor.execute(f"LISTEN {connection.ops.quote_name(self.channel)}")
        self._raw = connection.connection

    def wait(self, seconds: float) -> None:
        """Return after a wake-up or ``seconds`` (at most ``fallback``), whichever comes first. Call it
        outside a transaction: PostgreSQL delivers notifications between transactions only."""
        raw = self._raw
        if raw is None or not connection.get_autocommit():
            time.sleep(max(0.0, min(seconds, POLL_SECONDS)))
            return
        if not raw.notifies:
            select.select([raw], [], [], max(0.0, min(seconds, self.fallback)))
        raw.poll()
        raw.notifies.clear()

    def close(self) -> None:
        if self._raw is None:
            return
        with connection.cursor() as cursor:
            cursor.execute(f"UNLISTEN {connection.ops.quote_name(self.channel)}")
        self._raw.poll()
        self._raw.notifies.clear()
        self._raw = None

