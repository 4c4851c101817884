"""The finding as it was found: against the real server (``manage.py serve``, daphne), a new
X-Forwarded-For per attempt neither escapes the login rate nor gets the right password through once
the account is locked."""

import json
import urllib.error
import urllib.request

import pytest

from .servers import free_port, manage, process_env, start_server

pytestmark = pytest.mark.slow

EMAIL, PASSWORD = "root@served.example", "a-long-served-passphrase-1"


def _login(port: int, email: str, password: str, forwarded: str) -> tuple[int, dict]:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/api/auth/login",
        data=json.dumps({"email": email, "password": password}).encode(),
        method="POST",
        headers={"Content-Type": "application/json", "X-Forwarded-For": forwarded},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


def test_the_served_login_is_not_fooled_by_x_forwarded_for(tmp_path):
    env = process_env(
        HEALTHSYNC_VAR_DIR=str(tmp_path), DJANGO_SUPERUSER_EMAIL=EMAIL, DJANGO_SUPERUSER_PASSWORD=PASSWORD
    )
    manage("migrate", "--noinput", env=env)
    manage("createsuperuser", "--noinput", env=env)
    port = free_port()
    server = start_server(env=env, port=port, log_path=tmp_path / "server.log")
    try:
        # The account: five wrong passwords lock it, whatever address each attempt claimed.
        statuses = [_login(port, EMAIL, "wrong-password-1", f"203.0.113.{n}")[0] for n in range(5)]
        assert statuses == [401] * 5
        status, body = _login(port, EMAIL, PASSWORD, "203.0.113.99")
        assert status == 429 and body["error"]["code"] == "too_many_login_attempts" and "access" not in body, body
        # The address: 10 logins a minute (HEALTHSYNC_LOGIN_RATE), counted by the connection, not by
        # the header daphne was once told to believe; other accounts each time, so no account lock.
        statuses = [
            _login(port, f"nobody{n}@served.example", "wrong-password-1", f"198.51.100.{n}")[0] for n in range(5)
        ]
        assert statuses == [401] * 4 + [429], statuses
    finally:
        server.stop()
