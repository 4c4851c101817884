"""Waking a waiting request when another process has written what it waits for.

On PostgreSQL this is LISTEN/NOTIFY: the writer calls ``wake(channel)`` after (or inside) the
transaction that wrote, the waiter holds ``listening(channel)`` and sleeps on its connection's
socket until a notification arrives, so it sees the write within a fraction of a millisecond
instead of at its next poll. Elsewhere (SQLite in the embedded mode) the waiter polls with a short
sleep. Either way the waiter re-checks the database after each wake-up: a notification is only a
hint, and a lost one costs at most ``fallback`` seconds.
"""

import select
import time
from contextlib import contextmanager

from django.db import connection

POLL_SECONDS = 0.003


def _notifiable() -> bool:
    return connection.vendor == "postgresql" and connection.get_autocommit()


def wake(channel: str, payload: str = "") -> None:
    """Wake the waiters on ``channel`` (delivered when the current transaction commits)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_notify(%s, %s)", [channel, payload])


@contextmanager
def listening(channel: str, *, fallback: float = 0.25):
    """Yields ``wait(seconds)``: returns after a wake-up on ``channel`` or ``seconds`` (at most
    ``fallback``), whichever comes first. Outside PostgreSQL's autocommit mode it sleeps briefly."""
    if not _notifiable():
        yield lambda seconds: time.sleep(max(0.0, min(seconds, POLL_SECONDS)))
        return
    quoted = connection.ops.quote_name(channel)
    with connection.cursor() as cursor:
        cursor.execute(f"LISTEN {quoted}")
    raw = connection.connection

    def wait(seconds: float) -> None:
        if not raw.notifies:
            select.select([raw], [], [], max(0.0, min(seconds, fallback)))
        raw.poll()
        raw.notifies.clear()

    try:
        yield wait
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"UNLISTEN {quoted}")
        raw.poll()
        raw.notifies.clear()
