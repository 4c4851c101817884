"""Server render time of each main page on the demo data (median and p95 of 20 requests after a warm-up).

Usage: .venv/bin/python bench/bench_pages.py
Runs in the embedded mode on a throwaway SQLite database under var/bench/ (migrate + seed_demo),
through Django's test client, so it measures the server part alone. Target from the issue:
under 300 ms per page.
"""

import io
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
BUDGET_MS = 300
RUNS = 20
PAGES = {
    None: ["/shortages/", "/accounts/login/", "/accounts/signup/"],
    "hannah.osei@donors.example": ["/donor/", "/donor/book/", "/donor/profile/", "/donor/history/", "/donor/inbox/"],
    "doctor@stmarys.example": [
        "/admin/",
        "/admin/bloodbank/bloodunit/",
        "/admin/imaging/analyse/",
        "/admin/reports/blood-utilisation/",
    ],
    "admin@stmarys.example": ["/admin/"],
    "platform@healthsync.example": ["/admin/"],
}


def main():
    directory = Path(tempfile.mkdtemp(prefix="bench-pages-"))
    os.environ.update(
        {
            "HEALTHSYNC_VAR_DIR": str(directory),
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "HEALTHSYNC_LOG_LEVEL": "WARNING",
        }
    )
    for name in ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL"):
        os.environ.pop(name, None)
    try:
        import django

        django.setup()
        from django.conf import settings
        from django.core.management import call_command
        from django.test import Client

        from healthsync.models import User

        settings.ALLOWED_HOSTS = ["testserver"]
        call_command("migrate", verbosity=0)
        call_command("seed_demo", stdout=io.StringIO())
        client = Client()
        print(f"{'page':58} | {'median ms':>9} | {'p95 ms':>7} | target < {BUDGET_MS} ms")
        print("-" * 96)
        for email, paths in PAGES.items():
            client.logout()
            if email:
                client.force_login(User.objects.get(email=email))
            for path in paths:
                assert client.get(path).status_code == 200, path
                timings = []
                for _ in range(RUNS):
                    started = time.perf_counter()
                    client.get(path)
                    timings.append((time.perf_counter() - started) * 1000)
                median, p95 = statistics.median(timings), statistics.quantiles(timings, n=20)[18]
                verdict = "meets" if median < BUDGET_MS else "misses"
                print(f"{(email or 'anonymous') + ' ' + path:58} | {median:>9.1f} | {p95:>7.1f} | {verdict}")
    finally:
        shutil.rmtree(directory, ignore_errors=True)


if __name__ == "__main__":
    main()
