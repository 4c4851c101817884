"""A transaction PostgreSQL rolls back to break a deadlock is a 409 "try again", not a 503 outage:
the database is up. The deadlock here is a real one, between two connections on two threads."""

import json
import threading

import pytest
from django.db import OperationalError, connection, connections
from django.test import RequestFactory

from healthsync import services
from healthsync.middleware import DatabaseUnavailableMiddleware, is_concurrent_change, is_database_outage
from healthsync.models import Hospital


@pytest.fixture
def deadlock_error(transactional_db):
    """The ``OperationalError`` Django raised in the transaction PostgreSQL chose to roll back."""
    if connection.vendor != "postgresql":
        pytest.skip("deadlocks are PostgreSQL's (CI sets DATABASE_URL)")
    first = services.hospital_create(name="Lock One", is_verified=True)
    second = services.hospital_create(name="Lock Two", is_verified=True)
    both_hold_one = threading.Barrier(2)
    errors = []

    def writer(mine, theirs):
        from django.db import transaction

        try:
            with transaction.atomic():
                Hospital.objects.filter(pk=mine.pk).update(address="East")
                both_hold_one.wait(timeout=10)
                Hospital.objects.filter(pk=theirs.pk).update(address="West")
        except OperationalError as error:
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=writer, args=pair) for pair in ((first, second), (second, first))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert len(errors) == 1, errors  # PostgreSQL rolled back exactly one of the two
    return errors[0]


def test_a_deadlock_is_a_concurrent_change_not_an_outage(deadlock_error):
    assert is_concurrent_change(deadlock_error)
    assert not is_database_outage(deadlock_error)


def test_the_api_answers_409_in_the_error_shape_and_pages_a_plain_409(deadlock_error):
    middleware = DatabaseUnavailableMiddleware(lambda request: None)
    api = middleware.process_exception(RequestFactory().post("/api/blood-bank/allocations/1/issue"), deadlock_error)
    assert api.status_code == 409
    assert json.loads(api.content)["error"]["code"] == "concurrent_change"
    page = middleware.process_exception(RequestFactory().post("/admin/bloodbank/allocation/"), deadlock_error)
    assert page.status_code == 409 and b"try again" in page.content


def test_a_lost_connection_is_still_an_outage():
    lost = OperationalError("server closed the connection unexpectedly")
    assert is_database_outage(lost) and not is_concurrent_change(lost)
