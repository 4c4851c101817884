"""A request waiting for another process's write is woken by it (PostgreSQL LISTEN/NOTIFY)."""

import threading
import time

import pytest
from django.db import connection, connections

from lib import wakeups

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


# Outside PostgreSQL (the embedded mode: SQLite, the Celery worker a thread of this process) a wake-up
# is passed within the process, as the waker's transaction commits.
in_process = pytest.mark.skipif(
    "connection.vendor == 'postgresql'", reason="PostgreSQL wakes through LISTEN/NOTIFY (above)"
)


@in_process
def test_in_process_a_wake_from_another_thread_ends_the_wait():
    started, result = threading.Event(), {}

    def waiter():
        listener = wakeups.Listener("hs_test_thread", fallback=30.0)
        listener.start()
        started.set()
        result["woken"] = listener.wait(30.0)
        listener.close()
        connections.close_all()

    thread = threading.Thread(target=waiter)
    thread.start()
    assert started.wait(10)
    wakeups.wake("hs_test_thread")
    thread.join(20)
    assert not thread.is_alive() and result == {"woken": True}  # woken, not timed out after 30 s


@in_process
def test_in_process_a_wake_between_start_and_wait_is_not_missed():
    listener = wakeups.Listener("hs_test_early", fallback=30.0)
    listener.start()
    wakeups.wake("hs_test_early")
    assert listener.wait(30.0) is True
    assert listener.wait(0.05) is False  # that wake-up is spent
    listener.close()


@in_process
def test_in_process_a_wake_comes_as_its_transaction_commits_and_not_if_it_rolls_back():
    from django.db import transaction

    listener = wakeups.Listener("hs_test_commit", fallback=30.0)
    listener.start()
    with pytest.raises(RuntimeError), transaction.atomic():
        wakeups.wake("hs_test_commit")
        raise RuntimeError("rolled back")
    assert listener.wait(0.05) is False
    with transaction.atomic():
        wakeups.wake("hs_test_commit")
    assert listener.wait(30.0) is True
    listener.close()


@in_process
def test_in_process_a_wake_on_another_channel_does_not_end_the_wait():
    listener = wakeups.Listener("hs_test_mine", fallback=30.0)
    listener.start()
    wakeups.wake("hs_test_theirs")
    assert listener.wait(0.05) is False
    listener.close()


@in_process
def test_where_the_worker_is_another_process_the_waiter_polls(settings):
    """SQLite with a real broker: the results come from a worker process, whose wake-ups cannot reach
    this one, so the waiter does not sleep on them: it returns for its next look at once."""
    from config.celery import app

    settings.CELERY_BROKER_URL = "amqp://guest:guest@127.0.0.1:5672//"
    app.conf.task_always_eager = False
    listener = wakeups.Listener("hs_test_elsewhere", fallback=30.0)
    listener.start()
    wakeups.wake("hs_test_elsewhere")
    assert listener.wait(30.0) is False  # it slept POLL_SECONDS, without looking for wake-ups
    listener.close()


def test_without_a_wake_the_wait_says_it_was_not_woken():
    listener = wakeups.Listener("hs_test_silent", fallback=0.05)
    listener.start()
    try:
        assert listener.wait(0.05) is False
    finally:
        listener.close()
