"""A PostgreSQL database of a benchmark's own, created before and dropped after it runs."""

import contextlib
import os
from urllib.parse import urlparse

import psycopg2


@contextlib.contextmanager
def own_database(name: str):
    """Create ``name`` on the server ``DATABASE_URL`` names (default: the local one), point
    ``DATABASE_URL`` at it for this process and its children, and drop it afterwards."""
    base = urlparse(os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres"))
    admin = psycopg2.connect(
        host=base.hostname,
        port=base.port or 5432,
        user=base.username or "postgres",
        password=base.password,
        dbname="postgres",
    )
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        cursor.execute(f'CREATE DATABASE "{name}"')
    os.environ["DATABASE_URL"] = base._replace(path=f"/{name}").geturl()
    try:
        yield
    finally:
        try:
            from django.db import connections

            connections.close_all()
        except Exception:  # Django was never set up
            pass
        with admin.cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()
