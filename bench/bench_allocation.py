"""Allocation latency against network inventories of 1k, 10k and 100k units on PostgreSQL.

Usage: DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres .venv/bin/python bench/bench_allocation.py
It creates (and drops afterwards) its own database, ``healthsync_bench``, on that server.
Prints one table: per inventory size, the median and p95 of one ``request_fulfil``
(a 2-unit red-cell request at one hospital, allocated by the compatibility rules),
against the issue's target of 20 ms at 100k units.
"""

import math
import os
import random
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
from benchdb import own_database  # noqa: E402

SIZES = [1_000, 10_000, 100_000]
HOSPITALS = 20
RUNS = 60
TARGET_MS = 20.0
BENCH_DB = "healthsync_bench"


def main():
    with own_database(BENCH_DB):
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
        os.environ["HEALTHSYNC_LOG_LEVEL"] = "WARNING"
        run()


def run():
    import django

    django.setup()
    from django.core.management import call_command
    from django.utils import timezone

    from bloodbank import rules, services
    from bloodbank.models import BloodGroup, BloodUnit, Component, UnitStatus
    from healthsync import services as core
    from healthsync.models import User

    call_command("migrate", verbosity=0)
    random.seed(7)
    staff = User.objects.create_user(email="bench@healthsync.example", password=None)
    hospitals = [core.hospital_create(name=f"Bench {i}", is_verified=True) for i in range(HOSPITALS)]
    groups = BloodGroup.values
    weights = [34, 6, 9, 2, 3, 1, 38, 7]  # rough population frequencies
    components = Component.values
    statuses = [UnitStatus.AVAILABLE] * 8 + [UnitStatus.ISSUED, UnitStatus.EXPIRED, UnitStatus.QUARANTINED]
    now = timezone.now()
    sequence = 0
    rows = []
    print(f"{'units':>8} | {'median ms':>9} | {'p95 ms':>7} | {'target':>8} | verdict")
    print("-" * 52)
    results = {}
    for size in SIZES:
        while sequence < size:
            sequence += 1
            hospital = hospitals[sequence % HOSPITALS]
            rows.append(
                BloodUnit(
                    hospital=hospital,
                    din=rules.format_din(fin=hospital.fin, year=26, sequence=sequence),
                    component=random.choice(components),
                    blood_group=random.choices(groups, weights)[0],
                    volume_ml=300,
                    collected_at=now - timedelta(days=3),
                    expires_at=now + timedelta(days=random.randint(1, 40)),
                    status=random.choice(statuses),
                )
            )
            if len(rows) == 5000:
                BloodUnit.objects.bulk_create(rows)
                rows = []
        if rows:
            BloodUnit.objects.bulk_create(rows)
            rows = []
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
        timings = []
        for run_number in range(RUNS):
            hospital = hospitals[run_number % HOSPITALS]
            request = services.request_create(
                hospital=hospital, blood_group=random.choices(groups, weights)[0], units=2, urgency=3, by=staff
            )
            started = time.perf_counter()
            try:
                services.request_fulfil(request=request, by=staff)
            except Exception:  # nothing compatible left: still a full allocation attempt
                pass
            timings.append((time.perf_counter() - started) * 1000)
        median = statistics.median(timings)
        p95 = statistics.quantiles(timings, n=20)[18]
        results[size] = median
        verdict = "meets" if p95 < TARGET_MS else "misses"
        print(f"{size:>8} | {median:>9.2f} | {p95:>7.2f} | {'<' + str(int(TARGET_MS)) + ' ms':>8} | {verdict}")
    growth = results[SIZES[-1]] / results[SIZES[0]]
    print(
        f"\nmedian growth 1k→100k: ×{growth:.2f} for ×100 units (log n would allow about "
        f"×{math.log(SIZES[-1]) / math.log(SIZES[0]):.2f})"
    )


if __name__ == "__main__":
    main()
