"""The development modes generate their secret keys into var/ and show no debug pages unless asked."""

import os
import stat
import subprocess
import sys
from datetime import timedelta

import jwt
from django.conf import settings
from django.utils import timezone

from healthsync.fields import PersonalTextField, _old_development_key
from healthsync.tests.servers import ROOT

OLD_CONSTANT_KEY = "healthsync-embedded-development-key-not-for-production-use-0123456789"
SHOW = (
    "from django.conf import settings; "
    "print(settings.DEBUG, settings.PRODUCTION, settings.SECRET_KEY, settings.SALT_KEY[0])"
)


def _settings_in(var_dir, **extra) -> list[str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if key
        not in {"DJANGO_DEBUG", "DJANGO_SECRET_KEY", "DJANGO_SECRET_KEY_FILE", "HEALTHSYNC_FIELD_ENCRYPTION_KEYS"}
    }
    env.update(HEALTHSYNC_VAR_DIR=str(var_dir), **extra)
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", SHOW],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().splitlines()[-1].split()


def test_keys_are_generated_once_per_installation_into_private_files(tmp_path):
    first = _settings_in(tmp_path / "one")
    again = _settings_in(tmp_path / "one")
    other = _settings_in(tmp_path / "two")
    assert first == again  # read back, not made anew: sessions and encrypted data survive a restart
    assert first[2] != other[2] and first[3] != other[3]  # each installation its own
    assert OLD_CONSTANT_KEY not in first and len(first[2]) >= 50
    for name in ("secret_key", "field_encryption_keys"):
        mode = stat.S_IMODE((tmp_path / "one" / name).stat().st_mode)
        assert mode == 0o600, f"{name} is {oct(mode)}"


def test_debug_pages_only_when_asked_for_and_production_only_when_set(tmp_path):
    assert _settings_in(tmp_path)[:2] == ["False", "False"]
    assert _settings_in(tmp_path, DJANGO_DEBUG="1")[:2] == ["True", "False"]
    production = _settings_in(
        tmp_path, DJANGO_DEBUG="0", DJANGO_SECRET_KEY="s" * 50, HEALTHSYNC_FIELD_ENCRYPTION_KEYS="f" * 32
    )
    assert production == ["False", "True", "s" * 50, "f" * 32]


def test_a_token_signed_with_the_old_constant_key_is_refused(client, alice):
    from rest_framework_simplejwt.tokens import AccessToken

    genuine = AccessToken.for_user(alice)
    genuine.set_exp(lifetime=timedelta(days=3650))
    claims = {**genuine.payload, "iat": int(timezone.now().timestamp())}  # a fresh login time, ten years' life
    forged = jwt.encode(claims, OLD_CONSTANT_KEY, algorithm="HS256")
    assert (
        client.get(
            "/api/me", HTTP_AUTHORIZATION=f"Bearer {jwt.encode(claims, settings.SECRET_KEY, algorithm='HS256')}"
        ).status_code
        == 200
    )
    response = client.get("/api/me", HTTP_AUTHORIZATION=f"Bearer {forged}")
    assert response.status_code == 401


def test_development_data_written_under_the_old_constant_keys_stays_readable(settings):
    from cryptography.fernet import Fernet

    old_ciphertext = Fernet(_old_development_key()).encrypt(b"Jane Doe").decode()
    assert PersonalTextField().to_python(old_ciphertext) == "Jane Doe"
    new_ciphertext = PersonalTextField().get_db_prep_save("Jane Doe", connection=None)
    assert Fernet(PersonalTextField().keys[0]).decrypt(new_ciphertext.encode()) == b"Jane Doe"  # new writes: new key
    settings.HEALTHSYNC_READ_OLD_DEVELOPMENT_KEYS = False  # production
    assert _old_development_key() not in PersonalTextField().keys
