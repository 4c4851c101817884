"""make backup / make restore: a restore into an empty database matches every table's row count and checksum."""

import json
import uuid

import psycopg2
import pytest
from django.conf import settings

from healthsync.tests.servers import manage, process_env

pytestmark = pytest.mark.slow


def _fingerprints(env) -> dict:
    out = manage(
        "shell",
        "-c",
        "import json; from lib.backups import table_fingerprints; print(json.dumps(table_fingerprints()))",
        env=env,
    )
    return json.loads(out.strip().splitlines()[-1])


def _seeded(env, media_dir):
    manage("migrate", "--noinput", env=env)
    manage("seed_demo", env=env)
    media_dir.mkdir(parents=True, exist_ok=True)
    (media_dir / "study.txt").write_text("an uploaded file")


def test_sqlite_backup_restores_into_an_empty_database(tmp_path):
    source = process_env(HEALTHSYNC_VAR_DIR=str(tmp_path / "a"))
    _seeded(source, tmp_path / "a" / "media")
    manage("backup", "--output", str(tmp_path / "backup"), env=source)
    target = process_env(HEALTHSYNC_VAR_DIR=str(tmp_path / "b"))
    out = manage("restore", "--input", str(tmp_path / "backup"), env=target)
    assert "every row count and checksum matches" in out
    before, after = _fingerprints(source), _fingerprints(target)
    assert after == before and before["healthsync_user"]["rows"] >= 7 and before["bloodbank_bloodunit"]["rows"] > 100
    assert (tmp_path / "b" / "media" / "study.txt").read_text() == "an uploaded file"


@pytest.fixture
def empty_postgres_database():
    if settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
        pytest.skip("PostgreSQL backups need DATABASE_URL to name a PostgreSQL server (CI sets it)")
    base = settings.DATABASES["default"]
    admin = psycopg2.connect(
        host=base["HOST"], port=base["PORT"] or 5432, user=base["USER"], password=base["PASSWORD"], dbname="postgres"
    )
    admin.autocommit = True
    names = []

    def create():
        name = f"healthsync_restore_{uuid.uuid4().hex[:10]}"
        with admin.cursor() as cursor:
            cursor.execute(f'CREATE DATABASE "{name}"')
        names.append(name)
        auth = base["USER"] + (f":{base['PASSWORD']}" if base["PASSWORD"] else "")
        return f"postgres://{auth}@{base['HOST']}:{base['PORT'] or 5432}/{name}"

    yield create
    with admin.cursor() as cursor:
        for name in names:
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.close()


def test_postgresql_backup_restores_into_an_empty_database(tmp_path, empty_postgres_database):
    source = process_env(HEALTHSYNC_VAR_DIR=str(tmp_path / "a"), DATABASE_URL=empty_postgres_database())
    _seeded(source, tmp_path / "a" / "media")
    manage("backup", "--output", str(tmp_path / "backup"), env=source)
    target = process_env(HEALTHSYNC_VAR_DIR=str(tmp_path / "b"), DATABASE_URL=empty_postgres_database())
    out = manage("restore", "--input", str(tmp_path / "backup"), env=target)
    assert "every row count and checksum matches" in out
    assert _fingerprints(target) == _fingerprints(source)
    assert (tmp_path / "b" / "media" / "study.txt").exists()
