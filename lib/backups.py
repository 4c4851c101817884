"""Backup and restore of the database and media files.

PostgreSQL: ``pg_dump --format=custom`` and ``pg_restore --clean``; SQLite (the embedded
default): the SQLite online backup API, safe while the server runs. Media files travel in
a tar archive. Each backup carries a manifest with every table's row count and checksum, so
a restore can be verified table by table.
"""

import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import tarfile
from pathlib import Path

from django.conf import settings
from django.db import connection, connections
from django.utils import timezone

MANIFEST = "manifest.json"


def table_fingerprints(using: str = "default") -> dict[str, dict]:
    """Row count and an order-independent checksum of every table: {table: {"rows", "checksum"}}."""
    db = connections[using]
    fingerprints = {}
    with db.cursor() as cursor:
        for table in sorted(db.introspection.table_names(cursor)):
            # The table name comes from the database's own catalogue, quoted by the backend.
            cursor.execute(f"SELECT * FROM {db.ops.quote_name(table)}")  # nosec B608
            digests = sorted(
                hashlib.sha256(repr(tuple(str(v) for v in row)).encode()).hexdigest() for row in cursor.fetchall()
            )
            fingerprints[table] = {
                "rows": len(digests),
                "checksum": hashlib.sha256("".join(digests).encode()).hexdigest(),
            }
    return fingerprints


def _pg_environment(db_settings: dict) -> tuple[list[str], dict]:
    arguments = [
        "--host",
        db_settings.get("HOST") or "localhost",
        "--port",
        str(db_settings.get("PORT") or 5432),
        "--username",
        db_settings.get("USER") or "postgres",
    ]
    env = dict(os.environ)
    if db_settings.get("PASSWORD"):
        env["PGPASSWORD"] = db_settings["PASSWORD"]
    return arguments, env


def backup(*, output: Path) -> Path:
    """Write a backup into the new directory ``output`` and return it."""
    output.mkdir(parents=True, exist_ok=False)
    db = settings.DATABASES["default"]
    if connection.vendor == "postgresql":
        arguments, env = _pg_environment(db)
        subprocess.run(
            [
                "pg_dump",
                "--format=custom",
                "--no-owner",
                *arguments,
                "--file",
                str(output / "database.pgdump"),
                db["NAME"],
            ],
            check=True,
            env=env,
            capture_output=True,
            text=True,
        )
        database_file = "database.pgdump"
    else:
        source = sqlite3.connect(db["NAME"])
        target = sqlite3.connect(output / "database.sqlite3")
        with target:
            source.backup(target)
        source.close()
        target.close()
        database_file = "database.sqlite3"
    media = Path(settings.MEDIA_ROOT)
    with tarfile.open(output / "media.tar.gz", "w:gz") as archive:
        if media.exists():
            archive.add(media, arcname="media")
    manifest = {
        "created": timezone.now().isoformat(),
        "vendor": connection.vendor,
        "database": database_file,
        "tables": table_fingerprints(),
    }
    (output / MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True))
    return output


def restore(*, source: Path) -> dict:
    """Restore the backup in ``source`` into the configured database and media directory.

    The database should be empty or disposable: PostgreSQL objects are dropped and recreated
    (``--clean``), the SQLite file is overwritten. Returns the manifest.
    """
    manifest = json.loads((source / MANIFEST).read_text())
    if manifest["vendor"] != connection.vendor:
        raise ValueError(
            f"This backup is of a {manifest['vendor']} database; the configured one is {connection.vendor}."
        )
    db = settings.DATABASES["default"]
    connections.close_all()
    if connection.vendor == "postgresql":
        arguments, env = _pg_environment(db)
        subprocess.run(
            [
                "pg_restore",
                "--clean",
                "--if-exists",
                "--no-owner",
                "--single-transaction",
                *arguments,
                "--dbname",
                db["NAME"],
                str(source / manifest["database"]),
            ],
            check=True,
            env=env,
            capture_output=True,
            text=True,
        )
    else:
        backup_file = sqlite3.connect(source / manifest["database"])
        target = sqlite3.connect(db["NAME"])
        with target:
            backup_file.backup(target)
        backup_file.close()
        target.close()
    media = Path(settings.MEDIA_ROOT)
    with tarfile.open(source / "media.tar.gz", "r:gz") as archive:
        if media.exists():
            shutil.rmtree(media)
        media.parent.mkdir(parents=True, exist_ok=True)
        archive.extractall(media.parent, filter="data")
        extracted = media.parent / "media"
        if extracted != media and extracted.exists():
            extracted.rename(media)
    return manifest


def verify(manifest: dict) -> list[str]:
    """Tables whose row count or checksum differs from the backup's manifest (empty when all match)."""
    now = table_fingerprints()
    return [table for table, expected in manifest["tables"].items() if now.get(table) != expected]
