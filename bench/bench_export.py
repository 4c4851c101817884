"""Peak memory of the streamed units export against row count, beside a naive export that loads every row.

Usage: DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres .venv/bin/python bench/bench_export.py
Builds hospitals holding 1k, 10k and 100k units in a database of its own (``healthsync_bench_export``,
dropped afterwards). Each export runs in a fresh process, which reports its peak RSS growth
(resident memory sampled every 500 lines, minus before) and the time taken. Target: flat memory for the
streamed export (the issue's "an export of 100k units completes with flat memory").
"""

import json
import os
import resource
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
from benchdb import own_database  # noqa: E402

BENCH_DB = "healthsync_bench_export"
SIZES = [1_000, 10_000, 100_000]


def _setup_django():
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ["HEALTHSYNC_LOG_LEVEL"] = "WARNING"
    import django

    django.setup()


def child(fin: str, mode: str) -> None:
    """Export one hospital's units and print JSON: rows, peak RSS growth (MiB), seconds."""
    _setup_django()
    from healthsync.models import Hospital
    from reports import exports

    hospitals = Hospital.objects.filter(fin=fin)
    list(Hospital.objects.all())  # warm the connection and ORM before measuring
    before = _rss_mib()
    peak = before
    started = time.perf_counter()
    rows = exports.unit_rows(hospitals) if mode == "streamed" else list(exports.unit_rows(hospitals))
    count = 0
    with open(os.devnull, "w") as sink:
        for line in exports.csv_lines(exports.UNIT_EXPORT_HEADER, rows):
            sink.write(line)
            count += 1
            if count % 500 == 0:
                peak = max(peak, _rss_mib())
    elapsed = time.perf_counter() - started
    peak = max(peak, _rss_mib())
    print(json.dumps({"rows": count - 1, "rss_growth_mib": peak - before, "seconds": elapsed}))


def _rss_mib() -> float:
    """The process's resident memory now (not its lifetime peak, which Django's start-up sets)."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * resource.getpagesize() / 2**20


def main() -> None:
    with own_database(BENCH_DB):
        _setup_django()
        from django.core.management import call_command
        from django.utils import timezone

        from bloodbank import rules
        from bloodbank.models import BloodUnit
        from healthsync import services as core

        call_command("migrate", verbosity=0)
        now = timezone.now()
        fins = {}
        for size in SIZES:
            hospital = core.hospital_create(name=f"Export {size}", is_verified=True)
            fins[size] = hospital.fin
            BloodUnit.objects.bulk_create(
                (
                    BloodUnit(
                        hospital=hospital,
                        din=rules.format_din(fin=hospital.fin, year=26, sequence=n + 1),
                        component="red_cells",
                        blood_group="O+",
                        volume_ml=300,
                        collected_at=now,
                        expires_at=now + timedelta(days=30),
                        status="available",
                    )
                    for n in range(size)
                ),
                batch_size=5000,
            )
        from django.db import connections

        connections.close_all()
        print(
            f"{'rows':>8} | {'streamed: RSS growth MiB':>24} | {'s':>5} | {'naive list: RSS growth MiB':>26} | {'s':>5}"
        )
        print("-" * 82)
        for size in SIZES:
            results = {}
            for mode in ("streamed", "naive"):
                output = subprocess.run(
                    [sys.executable, __file__, "--child", fins[size], mode],
                    capture_output=True,
                    text=True,
                    env=os.environ,
                    check=True,
                )
                results[mode] = json.loads(output.stdout.strip().splitlines()[-1])
                assert results[mode]["rows"] == size, results
            s, n = results["streamed"], results["naive"]
            print(
                f"{size:>8} | {s['rss_growth_mib']:>24.1f} | {s['seconds']:>5.2f} | {n['rss_growth_mib']:>26.1f} | "
                f"{n['seconds']:>5.2f}"
            )


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--child":
        child(sys.argv[2], sys.argv[3])
    else:
        main()
