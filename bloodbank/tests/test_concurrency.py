"""Allocation is exactly-once under parallel fulfilments: on PostgreSQL with threads, and through HTTP
against the embedded server."""

from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import close_old_connections, connection
from django.utils import timezone

from bloodbank import services
from bloodbank.models import Allocation, BloodRequest, BloodUnit, UnitStatus
from healthsync.demo import DEMO_PASSWORD
from healthsync.errors import Conflict
from healthsync.tests.servers import free_port, http_json, manage, process_env, start_server

BASE = "/api/blood-bank"


def _fulfil(request_id, by):
    close_old_connections()
    try:
        return len(services.request_fulfil(request=BloodRequest.objects.get(pk=request_id), by=by))
    except Conflict:
        return 0
    finally:
        connection.close()


@pytest.mark.django_db(transaction=True)
def test_twenty_parallel_fulfilments_never_share_a_unit(hospital_a, bob, stock):
    if connection.vendor != "postgresql":
        pytest.skip("row locks are exercised on PostgreSQL (CI); SQLite is covered through the embedded server below")
    stock(hospital_a, "A+", 10)
    requests = [
        services.request_create(hospital=hospital_a, blood_group="A+", units=1, urgency=3, by=bob).pk for _ in range(20)
    ]
    with ThreadPoolExecutor(max_workers=20) as pool:
        allocated = list(pool.map(lambda pk: _fulfil(pk, bob), requests))
    assert sum(allocated) == 10
    live = Allocation.objects.filter(status__in=["reserved", "issued"])
    assert live.count() == 10 and live.values("unit").distinct().count() == 10
    assert BloodUnit.objects.filter(status=UnitStatus.RESERVED).count() == 10
    assert BloodUnit.objects.filter(status=UnitStatus.AVAILABLE).count() == 0
    assert BloodRequest.objects.filter(status="fulfilled").count() == 10
    assert BloodRequest.objects.filter(status="pending").count() == 10


@pytest.mark.django_db(transaction=True)
def test_one_request_fulfilled_twenty_times_in_parallel_allocates_once(hospital_a, bob, stock):
    if connection.vendor != "postgresql":
        pytest.skip("row locks are exercised on PostgreSQL (CI)")
    stock(hospital_a, "O+", 12)
    request = services.request_create(hospital=hospital_a, blood_group="O+", units=10, urgency=3, by=bob)
    with ThreadPoolExecutor(max_workers=20) as pool:
        allocated = list(pool.map(lambda _: _fulfil(request.pk, bob), range(20)))
    assert sum(allocated) == 10
    assert Allocation.objects.filter(request=request).count() == 10
    assert BloodUnit.objects.filter(status=UnitStatus.AVAILABLE).count() == 2


@pytest.mark.django_db(transaction=True)
def test_parallel_routine_fulfilments_never_take_the_o_negative_reserve(hospital_a, bob, stock, settings):
    if connection.vendor != "postgresql":
        pytest.skip("row locks are exercised on PostgreSQL (CI); SQLite runs one writer at a time")
    settings.HEALTHSYNC_O_NEGATIVE_RESERVE = 4
    stock(hospital_a, "O-", 6)
    requests = [
        services.request_create(hospital=hospital_a, blood_group="A-", units=1, urgency=3, by=bob).pk for _ in range(10)
    ]
    with ThreadPoolExecutor(max_workers=10) as pool:
        allocated = list(pool.map(lambda pk: _fulfil(pk, bob), requests))
    assert sum(allocated) == 2  # 6 O-negative, 4 kept back
    assert BloodUnit.objects.filter(blood_group="O-", status=UnitStatus.AVAILABLE).count() == 4


@pytest.mark.slow
def test_parallel_fulfilments_through_http_on_the_embedded_server(tmp_path):
    env = process_env(HEALTHSYNC_VAR_DIR=str(tmp_path))
    manage("migrate", "--noinput", env=env)
    port = free_port()
    server = start_server(env=env, port=port, log_path=tmp_path / "server.log")
    url = f"http://127.0.0.1:{port}{BASE}"
    try:
        # A hospital of its own, so that no other stock can serve the requests.
        account = {"email": "bank@concurrency.example", "password": DEMO_PASSWORD}
        status, body = http_json("POST", f"{url}/hospital/register", {"name": "Concurrency General", **account})
        assert status == 201, body
        status, tokens = http_json("POST", f"{url}/hospital/login", account)
        assert status == 200, tokens
        token = tokens["access"]
        status, added = http_json(
            "POST",
            f"{url}/hospital/inventory/add",
            {"blood_type": "AB-", "units": 10, "quantity_ml": 300, "collected_at": timezone.now().isoformat()},
            token,
        )
        assert status == 201, added
        request_ids = []
        for _ in range(20):
            status, created = http_json(
                "POST",
                f"{url}/hospital/request",
                {"blood_type": "AB-", "units": 1, "urgency_level": 3, "component": "red_cells"},
                token,
            )
            assert status == 201, created
            request_ids.append(created["request_id"])
        with ThreadPoolExecutor(max_workers=20) as pool:
            answers = list(
                pool.map(lambda pk: http_json("POST", f"{url}/hospital/request/fulfill/{pk}", None, token), request_ids)
            )
        statuses = sorted(status for status, _ in answers)
        assert set(statuses) <= {200, 409}, answers
        dins = [unit["din"] for status, body in answers if status == 200 for unit in body["allocated"]]
        assert len(dins) == len(set(dins)) == 10
        assert _available(url, token, "AB-") == 0
        assert "database is locked" not in server.log()
    finally:
        server.stop()


def _available(url, token, group):
    status, body = http_json("GET", f"{url}/hospital/inventory", None, token)
    assert status == 200, body
    return next(row["units"] for row in body["inventory"] if row["blood_type"] == group)
