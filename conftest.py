"""Shared test setup: named users at two hospitals, and API clients that log in with JWT."""

import time
import uuid

import psycopg2
import pytest
from asgiref.sync import SyncToAsync
from django.conf import settings as django_settings
from django.db import connection, connections
from django.test import Client
from rest_framework.test import APIClient

from healthsync import services
from healthsync.models import Role, User

PASSWORD = "correct-horse-battery-staple"


def pytest_report_header(config):
    from django.conf import settings

    database = settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1]
    broker = settings.CELERY_BROKER_URL.split("://", 1)[0]
    layer = settings.CHANNEL_LAYERS["default"]["BACKEND"].rsplit(".", 1)[-1]
    cache = settings.CACHES["default"]["BACKEND"].rsplit(".", 1)[-1]
    return [f"HealthSync: database={database} broker={broker} channel_layer={layer} cache={cache}"]


@pytest.fixture(autouse=True)
def _isolated_cache(settings):
    """Each test gets its own cache key space (rate-limit counters live there), even on a shared Redis."""
    caches = {name: dict(config) for name, config in django_settings.CACHES.items()}
    caches["default"]["KEY_PREFIX"] = f"test-{uuid.uuid4().hex}"
    settings.CACHES = caches


@pytest.fixture(autouse=True)
def _tasks_run_inline():
    """In-process tests run Celery tasks inline (real brokers and workers are exercised by the
    end-to-end tests, which start their own processes), so nothing piles up on a shared broker."""
    from config.celery import app

    app.conf.task_always_eager = True
    app.conf.task_eager_propagates = True
    yield
    app.conf.task_always_eager = False


@pytest.fixture(autouse=True)
def _sync_thread_connection_closed():
    """Consumers reach the database from asgiref's one sync thread (``database_sync_to_async``), and
    that thread's connection outlives the test (``CONN_MAX_AGE``): closed after each test, or
    PostgreSQL cannot drop the test database at the end of the run ("being accessed by other users")."""
    yield
    SyncToAsync.single_thread_executor.submit(connections.close_all).result(timeout=30)


@pytest.fixture
def vendor():
    return connection.vendor


def make_region(name: str, code: str | None = None):
    """The managed region ``name`` (its code made from the name unless given), made once."""
    from healthsync.models import Region
    from healthsync.regions import code_for

    return Region.objects.get_or_create(code=code or code_for(name), defaults={"name": name})[0]


@pytest.fixture
def hospital_a(db):
    return services.hospital_create(name="Alpha General", region=make_region("North"), is_verified=True)


@pytest.fixture
def hospital_b(db):
    return services.hospital_create(name="Beta Infirmary", region=make_region("South"), is_verified=True)


def make_user(email, *, hospital=None, role=None, **extra):
    user = User.objects.create_user(email=email, password=PASSWORD, name=email.split("@")[0].title(), **extra)
    if hospital is not None:
        services.membership_grant(hospital=hospital, user=user, role=role, by=None)
    return user


@pytest.fixture
def alice(hospital_a):
    """Hospital administrator at Alpha."""
    return make_user("alice@alpha.example", hospital=hospital_a, role=Role.HOSPITAL_ADMIN)


@pytest.fixture
def bob(hospital_a):
    """Medical staff at Alpha."""
    return make_user("bob@alpha.example", hospital=hospital_a, role=Role.MEDICAL_STAFF)


@pytest.fixture
def carol(hospital_b):
    """Hospital administrator at Beta."""
    return make_user("carol@beta.example", hospital=hospital_b, role=Role.HOSPITAL_ADMIN)


@pytest.fixture
def dave(db):
    """A registered account with no staff rights."""
    return make_user("dave@example.com")


@pytest.fixture
def root(db):
    """Platform administrator."""
    return User.objects.create_superuser(email="root@healthsync.example", password=PASSWORD, name="Root")


def console_logged_in_ago(user, *, seconds: int = 3600) -> Client:
    """A console (session) client of ``user`` whose login was ``seconds`` ago: too old for the actions
    that need a recent login (``healthsync.security.require_recent_login``)."""
    from healthsync.security import LOGGED_IN_AT

    client = Client()
    assert client.login(email=user.email, password=PASSWORD)
    session = client.session
    session[LOGGED_IN_AT] = int(time.time()) - seconds
    session.save()
    return client


def jwt_client(user) -> APIClient:
    client = APIClient()
    response = client.post("/api/auth/login", {"email": user.email, "password": PASSWORD}, format="json")
    assert response.status_code == 200, response.content
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {response.json()['access']}")
    return client


@pytest.fixture
def api():
    """A factory: ``api(user)`` is an APIClient logged in as ``user`` through the JWT login."""
    return jwt_client


@pytest.fixture
def production_database():
    """A fresh PostgreSQL database for end-to-end processes in production mode (dropped afterwards)."""
    if django_settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
        pytest.skip("production mode needs DATABASE_URL to name a PostgreSQL server (CI sets it)")
    base = django_settings.DATABASES["default"]
    name = f"healthsync_e2e_{uuid.uuid4().hex[:10]}"
    admin = psycopg2.connect(
        host=base["HOST"], port=base["PORT"] or 5432, user=base["USER"], password=base["PASSWORD"], dbname="postgres"
    )
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute(f'CREATE DATABASE "{name}"')
    port = base["PORT"] or 5432
    auth = base["USER"] + (f":{base['PASSWORD']}" if base["PASSWORD"] else "")
    yield f"postgres://{auth}@{base['HOST']}:{port}/{name}"
    with admin.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.close()


@pytest.fixture
def private_rabbitmq(tmp_path):
    """A RabbitMQ node of the test's own (fault tests stop, restart and kill what runs on it)."""
    from healthsync.tests.servers import PrivateRabbitMQ

    if not PrivateRabbitMQ.available():
        pytest.skip("needs the rabbitmq-server package (a private broker is started for this test)")
    broker = PrivateRabbitMQ(tmp_path / "rabbitmq")
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()


@pytest.fixture
def private_redis(tmp_path):
    """A Redis server of the test's own."""
    from healthsync.tests.servers import REDIS_SERVER, PrivateRedis

    if REDIS_SERVER is None:
        pytest.skip("needs redis-server (a private Redis is started for this test)")
    redis = PrivateRedis(tmp_path / "redis")
    redis.start()
    try:
        yield redis
    finally:
        redis.stop()
