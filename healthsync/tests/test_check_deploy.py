"""Production settings pass Django's deployment checks with no warnings."""

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _check_deploy(var_dir: Path) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "DJANGO_DEBUG": "0",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        "HEALTHSYNC_FIELD_ENCRYPTION_KEYS": secrets.token_urlsafe(32),
        "DJANGO_ALLOWED_HOSTS": "healthsync.example",
        "HEALTHSYNC_VAR_DIR": str(var_dir),
    }
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_check_deploy_is_clean_with_production_settings(tmp_path):
    # What collectstatic leaves for the check to find (running it compresses every file: 40 s here).
    (tmp_path / "static").mkdir()
    (tmp_path / "static" / "staticfiles.json").write_text(json.dumps({"paths": {}, "version": "1.1", "hash": ""}))
    result = _check_deploy(tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_check_deploy_says_when_static_files_are_not_collected(tmp_path):
    result = _check_deploy(tmp_path)
    assert result.returncode != 0
    assert "healthsync.E001" in result.stderr and "collectstatic" in result.stderr


def test_production_refuses_to_start_without_a_secret_key(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in {"DJANGO_SECRET_KEY", "DJANGO_SECRET_KEY_FILE"}}
    env.update({"DJANGO_DEBUG": "0", "HEALTHSYNC_VAR_DIR": str(tmp_path)})
    result = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY" in result.stderr
