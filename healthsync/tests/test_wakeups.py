"""A request waiting for another process's write is woken by it (PostgreSQL LISTEN/NOTIFY)."""

import threading
import time

import pytest
from django.db import connection, connections

from healthsync import wakeups

pytestmark = pytest.mark.django_db(transaction=True)


def _waiter(channel, fallback, started, result):
    try:
        listener = wakeups.Listener(channel, fallback=fallback)
        listener.start()
        try:
            started.set()
            began = time.monotonic()
            listener.wait(fallback)
            result["waited"] = time.monotonic() - began
        finally:
            listener.close()
    finally:
        connections.close_all()


def test_a_wake_ends_the_wait_long_before_its_fallback():
    if connection.vendor != "postgresql":
        pytest.skip("LISTEN/NOTIFY needs PostgreSQL (CI sets DATABASE_URL); SQLite polls instead")
    started, result = threading.Event(), {}
    thread = threading.Thread(target=_waiter, args=("hs_test_wake", 30.0, started, result))
    thread.start()
    assert started.wait(10)
    wakeups.wake("hs_test_wake", "batch-1")
    thread.join(35)
    assert result["waited"] < 10, result  # woken, not timed out after 30 s


def test_without_a_wake_the_wait_returns_at_its_fallback():
    started, result = threading.Event(), {}
    thread = threading.Thread(target=_waiter, args=("hs_test_quiet", 0.2, started, result))
    thread.start()
    thread.join(10)
    assert started.is_set() and 0 <= result["waited"] < 5, result
