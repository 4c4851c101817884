"""Shared test setup: named users at two hospitals, and API clients that log in with JWT."""

import uuid

import pytest
from django.conf import settings as django_settings
from django.db import connection
from rest_framework.test import APIClient

from healthsync import services
from healthsync.models import Role, User

PASSWORD = "correct-horse-battery-staple"


def pytest_report_header(config):
    from django.conf import settings

    database = settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1]
    broker = settings.CELERY_BROKER_URL.split("://", 1)[0]
    layer = settings.CHANNEL_LAYERS["default"]["BACKEND"].rsplit(".", 1)[-1]
    return [f"HealthSync: database={database} broker={broker} channel_layer={layer} cache={settings.CACHES['default']['BACKEND'].rsplit('.', 1)[-1]}"]


@pytest.fixture(autouse=True)
def _isolated_cache(settings):
    """Each test gets its own cache key space (rate-limit counters live there), even on a shared Redis."""
    caches = {name: dict(config) for name, config in django_settings.CACHES.items()}
    caches["default"]["KEY_PREFIX"] = f"test-{uuid.uuid4().hex}"
    settings.CACHES = caches


@pytest.fixture
def vendor():
    return connection.vendor


@pytest.fixture
def hospital_a(db):
    return services.hospital_create(name="Alpha General", region="North", is_verified=True)


@pytest.fixture
def hospital_b(db):
    return services.hospital_create(name="Beta Infirmary", region="South", is_verified=True)


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
