"""Login throttling that a client cannot talk its way around: the client address comes from the
connection (or from ``HEALTHSYNC_TRUSTED_PROXIES`` trusted proxies), never from an X-Forwarded-For the
client wrote; failed logins are limited per account on every login path together (the web login and
the JWT logins share django-allauth's ``login_failed`` counters), and a locked account is refused
everywhere, its correct password included."""

import pytest
from auditlog.models import LogEntry
from django.test import Client, RequestFactory
from rest_framework.throttling import ScopedRateThrottle

from conftest import PASSWORD
from healthsync.security import client_address

pytestmark = pytest.mark.django_db

LOCKED = "Too many failed login attempts"
ELSEWHERE = "192.0.2.50"
JWT_LOGINS = ["/api/auth/login", "/api/blood-bank/hospital/login", "/api/blood-bank/donor/login"]


def _jwt_login(client, email, password, path="/api/auth/login", **headers):
    return client.post(path, {"email": email, "password": password}, content_type="application/json", **headers)


def _web_login(client, email, password):
    return client.post("/accounts/login/", {"login": email, "password": password})


def _logged_in(client) -> bool:
    return "_auth_user_id" in client.session


def test_a_new_x_forwarded_for_per_attempt_does_not_escape_the_login_rate(client, monkeypatch):
    monkeypatch.setitem(ScopedRateThrottle.THROTTLE_RATES, "login", "3/min")
    statuses = [
        # A different account each time, so only the per-address limit is at work.
        _jwt_login(
            client, f"nobody{n}@example.com", "wrong-password-1", HTTP_X_FORWARDED_FOR=f"203.0.113.{n}"
        ).status_code
        for n in range(4)
    ]
    assert statuses == [401, 401, 401, 429]


def test_a_new_x_forwarded_for_per_attempt_does_not_escape_the_registration_rate(client, monkeypatch):
    monkeypatch.setitem(ScopedRateThrottle.THROTTLE_RATES, "register", "2/hour")
    statuses = [
        client.post(
            "/api/auth/register",
            {"email": f"new{n}@example.com", "password": PASSWORD},
            content_type="application/json",
            HTTP_X_FORWARDED_FOR=f"198.51.100.{n}",
        ).status_code
        for n in range(3)
    ]
    assert statuses == [201, 201, 429]


def test_wrong_passwords_on_the_jwt_login_lock_the_account_everywhere(client, bob):
    for n in range(5):
        assert (
            _jwt_login(client, bob.email, "wrong-password-1", HTTP_X_FORWARDED_FOR=f"203.0.113.{n}").status_code == 401
        )
    for path in JWT_LOGINS:
        locked = _jwt_login(client, bob.email, PASSWORD, path)
        assert locked.status_code == 429, (path, locked.content)
        assert locked.json()["error"]["code"] == "too_many_login_attempts"
        assert LOCKED in locked.json()["error"]["message"]
        assert "access" not in locked.json()

    web = Client(REMOTE_ADDR=ELSEWHERE)  # another address: the account's lock, not the address's
    page = _web_login(web, bob.email, PASSWORD)
    assert page.status_code == 200 and LOCKED in page.content.decode()
    assert not _logged_in(web)
    # The console's login page is allauth's login too.
    console = Client(REMOTE_ADDR=ELSEWHERE)
    page = console.post("/admin/login/", {"login": bob.email, "password": PASSWORD})
    assert page.status_code == 200 and LOCKED in page.content.decode()
    assert not _logged_in(console)


def test_wrong_passwords_on_the_web_login_lock_the_jwt_logins(client, bob):
    web = Client(REMOTE_ADDR=ELSEWHERE)
    for _ in range(5):
        page = _web_login(web, bob.email, "wrong-password-1")
        assert page.status_code == 200 and LOCKED not in page.content.decode()
    for path in JWT_LOGINS:
        locked = _jwt_login(client, bob.email, PASSWORD, path)
        assert locked.status_code == 429, (path, locked.content)
        assert locked.json()["error"]["code"] == "too_many_login_attempts"
    assert LOCKED in _web_login(web, bob.email, PASSWORD).content.decode()
    assert not _logged_in(web)


def test_failures_on_the_two_paths_add_up(client, bob):
    web = Client(REMOTE_ADDR=ELSEWHERE)
    for _ in range(3):
        _web_login(web, bob.email, "wrong-password-1")
    for _ in range(2):
        assert _jwt_login(client, bob.email, "wrong-password-1", "/api/blood-bank/hospital/login").status_code == 401
    assert _jwt_login(client, bob.email, PASSWORD).status_code == 429


def test_a_correct_login_before_the_limit_does_not_reset_it(client, bob):
    for _ in range(4):
        assert _jwt_login(client, bob.email, "wrong-password-1").status_code == 401
    assert _jwt_login(client, bob.email, PASSWORD).status_code == 200  # still under the limit
    assert _jwt_login(client, bob.email, "wrong-password-1").status_code == 401
    assert _jwt_login(client, bob.email, PASSWORD).status_code == 429


def test_an_unknown_account_is_answered_as_a_known_one(client, bob, monkeypatch):
    monkeypatch.setitem(ScopedRateThrottle.THROTTLE_RATES, "login", "100/min")  # the per-account limit alone
    unknown = "nobody-here@alpha.example"
    # From two addresses, each under its per-address limit.
    for _ in range(5):
        known_answer = _jwt_login(client, bob.email, "wrong-password-1")
        unknown_answer = _jwt_login(client, unknown, "wrong-password-1", REMOTE_ADDR=ELSEWHERE)
        assert (known_answer.status_code, known_answer.json()) == (unknown_answer.status_code, unknown_answer.json())
        assert known_answer.status_code == 401
    known_answer = _jwt_login(client, bob.email, PASSWORD)
    unknown_answer = _jwt_login(client, unknown, PASSWORD, REMOTE_ADDR=ELSEWHERE)
    assert known_answer.status_code == unknown_answer.status_code == 429
    assert known_answer.json() == unknown_answer.json()


def test_the_lock_is_per_account(client, bob, alice):
    for _ in range(5):
        _jwt_login(client, bob.email, "wrong-password-1")
    assert _jwt_login(client, bob.email, PASSWORD).status_code == 429
    assert _jwt_login(client, alice.email, PASSWORD).status_code == 200


def test_without_trusted_proxies_the_address_is_the_connection_peer(settings):
    settings.HEALTHSYNC_TRUSTED_PROXIES = 0
    request = RequestFactory().get("/", REMOTE_ADDR="192.0.2.1", HTTP_X_FORWARDED_FOR="203.0.113.9")
    assert client_address(request) == "192.0.2.1"


def test_with_one_trusted_proxy_the_address_is_the_one_it_appended(settings):
    settings.HEALTHSYNC_TRUSTED_PROXIES = 1
    factory = RequestFactory()
    behind = factory.get("/", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="198.51.100.77, 203.0.113.9")
    assert client_address(behind) == "203.0.113.9"  # what the client prepended is ignored
    assert client_address(factory.get("/", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="203.0.113.9")) == "203.0.113.9"
    assert client_address(factory.get("/", REMOTE_ADDR="10.0.0.2")) == "10.0.0.2"  # not through the proxy
    assert client_address(factory.get("/", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="not-an-address")) == "10.0.0.2"
    settings.HEALTHSYNC_TRUSTED_PROXIES = 2
    two = factory.get("/", REMOTE_ADDR="10.0.0.3", HTTP_X_FORWARDED_FOR="1.2.3.4, 203.0.113.9, 10.0.0.2")
    assert client_address(two) == "203.0.113.9"


def test_behind_a_trusted_proxy_each_client_has_its_own_limit(client, settings, monkeypatch):
    settings.HEALTHSYNC_TRUSTED_PROXIES = 1
    monkeypatch.setitem(ScopedRateThrottle.THROTTLE_RATES, "login", "3/min")

    def attempt(n, forwarded):
        return _jwt_login(
            client, f"nobody{n}@example.com", "wrong-password-1", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR=forwarded
        ).status_code

    # One client, rotating what it writes in front of the proxy's entry: still one client.
    assert [attempt(n, f"198.51.100.{n}, 203.0.113.9") for n in range(4)] == [401, 401, 401, 429]
    # Another client behind the same proxy is not held back by the first.
    assert attempt(9, "203.0.113.10") == 401


def test_the_web_login_counts_clients_behind_a_trusted_proxy_by_the_header(settings):
    settings.HEALTHSYNC_TRUSTED_PROXIES = 1
    # allauth's per-address part of login_failed: 10 a minute. Different accounts, so the per-account part
    # stays out of it.
    web = Client(REMOTE_ADDR="10.0.0.2")
    for n in range(10):
        page = web.post(
            "/accounts/login/",
            {"login": f"nobody{n}@example.com", "password": "x-wrong-1"},
            HTTP_X_FORWARDED_FOR="203.0.113.9",
        )
        assert LOCKED not in page.content.decode()
    page = web.post(
        "/accounts/login/",
        {"login": "nobody-else@example.com", "password": "x-wrong-1"},
        HTTP_X_FORWARDED_FOR="198.51.100.1, 203.0.113.9",
    )
    assert LOCKED in page.content.decode()
    other = web.post(
        "/accounts/login/",
        {"login": "nobody-else@example.com", "password": "x-wrong-1"},
        HTTP_X_FORWARDED_FOR="203.0.113.10",
    )
    assert LOCKED not in other.content.decode()


def test_the_audit_record_keeps_the_real_address_not_a_forwarded_one(api, alice, hospital_a):
    response = api(alice).patch(
        f"/api/hospitals/{hospital_a.pk}/",
        {"address": "2 Spoofed Road"},
        format="json",
        HTTP_X_FORWARDED_FOR="203.0.113.66",
    )
    assert response.status_code == 200
    entry = LogEntry.objects.get_for_object(hospital_a).order_by("timestamp").last()
    assert entry.remote_addr == "127.0.0.1"
