"""One error shape everywhere; the schema and docs are served; the seed data loads idempotently."""

import os
import subprocess
import sys

import pytest
from django.core.management import call_command

from conftest import PASSWORD
from healthsync.models import Hospital, Membership, User

pytestmark = pytest.mark.django_db


def test_unknown_api_path_answers_in_the_error_shape(client):
    response = client.get("/api/no-such-thing")
    assert response.status_code == 404
    assert response.json() == {"error": {"code": "not_found", "message": "Not found.", "fields": {}, "details": {}}}


def test_wrong_method_answers_in_the_error_shape(client):
    response = client.get("/api/auth/login")
    assert response.status_code == 405
    assert response.json()["error"]["code"] == "method_not_allowed"


def test_malformed_json_is_a_400(client):
    response = client.post("/api/auth/login", "{not json", content_type="application/json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "parse_error"


def test_pages_outside_the_api_keep_html_errors(client):
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")


def test_schema_and_docs_are_served_with_local_assets(client):
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert schema.status_code == 200
    paths = schema.json()["paths"]
    for path in ("/api/auth/register", "/api/auth/login", "/api/auth/refresh", "/api/auth/logout", "/api/hospitals/"):
        assert path in paths
    docs = client.get("/api/docs/")
    assert docs.status_code == 200
    assert b"swagger-ui" in docs.content
    assert b"cdn.jsdelivr" not in docs.content and b"unpkg.com" not in docs.content


def test_schema_and_docs_need_a_login_when_they_are_not_public(client, settings, dave):
    """Security test, issue #26, item 13: production keeps the API's map from anonymous visitors."""
    settings.HEALTHSYNC_PUBLIC_API_DOCS = False
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/json")
    assert schema.status_code == 401 and schema.json()["error"]["code"] == "not_authenticated"
    assert client.get("/api/docs/").url == "/accounts/login/?next=/api/docs/"
    token = client.post(
        "/api/auth/login", {"email": dave.email, "password": PASSWORD}, content_type="application/json"
    ).json()["access"]
    assert client.get("/api/schema/", HTTP_AUTHORIZATION=f"Bearer {token}").status_code == 200
    client.force_login(dave)  # the console's session
    assert client.get("/api/schema/").status_code == 200
    assert b"swagger-ui" in client.get("/api/docs/").content


@pytest.mark.parametrize("debug, public", [(None, "True"), ("0", "False")])
def test_schema_and_docs_are_public_by_default_only_in_debug_mode(tmp_path, debug, public):
    from .servers import ROOT, production_settings

    env = {key: value for key, value in os.environ.items() if key not in {"DJANGO_DEBUG", "HEALTHSYNC_PUBLIC_API_DOCS"}}
    env.update(production_settings() if debug == "0" else {}, HEALTHSYNC_VAR_DIR=str(tmp_path))
    result = subprocess.run(
        [
            sys.executable,
            "manage.py",
            "shell",
            "-c",
            "from django.conf import settings; print(settings.HEALTHSYNC_PUBLIC_API_DOCS)",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == public


def test_admin_login_page_is_served(client):
    response = client.get("/admin/login/")
    assert response.status_code == 200
    assert b"HealthSync operations" in response.content


def test_seed_demo_is_idempotent(capsys):
    call_command("seed_demo")
    counts = (User.objects.count(), Hospital.objects.count(), Membership.objects.count())
    call_command("seed_demo")
    assert (User.objects.count(), Hospital.objects.count(), Membership.objects.count()) == counts
    assert counts[1:] == (3, 6) and counts[0] >= 7
    out = capsys.readouterr().out
    assert "platform@healthsync.example" in out and "doctor@stmarys.example" in out
    assert User.objects.get(email="platform@healthsync.example").is_superuser


def test_createsuperuser_noinput_from_environment(monkeypatch):
    monkeypatch.setenv("DJANGO_SUPERUSER_EMAIL", "ops@healthsync.example")
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", "a-long-admin-password")
    call_command("createsuperuser", interactive=False, verbosity=0)
    user = User.objects.get(email="ops@healthsync.example")
    assert user.is_superuser and user.check_password("a-long-admin-password")


def test_web_login_is_django_allauth_with_email(client, dave):
    page = client.get("/accounts/login/")
    assert page.status_code == 200
    assert b'name="login"' in page.content
    from conftest import PASSWORD

    response = client.post("/accounts/login/", {"login": dave.email, "password": PASSWORD})
    assert response.status_code == 302
    assert client.get("/api/me").json()["email"] == dave.email
