"""Each page's server part renders in under 300 ms on the demo data (median of 5, after one warm-up request)."""

import io
import statistics
import time

import pytest
from django.core.management import call_command

from healthsync.models import User

from .test_portal_pages import urlpatterns  # noqa: F401  the portal's URLs beside the site's

pytestmark = pytest.mark.urls("donors.tests.test_portal_pages")
BUDGET_MS = 300

PAGES = {
    None: ["/shortages/", "/accounts/login/", "/accounts/signup/"],
    "hannah.osei@donors.example": ["/donor/", "/donor/book/", "/donor/profile/", "/donor/history/", "/donor/inbox/", "/shortages/"],
    "admin@stmarys.example": ["/admin/"],
    "platform@healthsync.example": ["/admin/"],
}


def _median_ms(client, path) -> float:
    assert client.get(path).status_code == 200, path
    timings = []
    for _ in range(5):
        started = time.perf_counter()
        client.get(path)
        timings.append((time.perf_counter() - started) * 1000)
    return statistics.median(timings)


def test_every_main_page_renders_within_budget_on_the_demo_data(db, client, settings, capsys):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    call_command("seed_demo", stdout=io.StringIO())
    report = {}
    for email, paths in PAGES.items():
        client.logout()
        if email:
            client.force_login(User.objects.get(email=email))
        for path in paths:
            report[f"{email or 'anonymous'} {path}"] = _median_ms(client, path)
    with capsys.disabled():
        print("\nserver render times (median ms):\n" + "\n".join(f"  {ms:7.1f}  {page}" for page, ms in report.items()))
    slow = {page: round(ms) for page, ms in report.items() if ms > BUDGET_MS}
    assert not slow, f"over {BUDGET_MS} ms: {slow}"
