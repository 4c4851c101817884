"""The Redis cache (production): one connection pool per process, however many cache objects Django makes."""

import pytest
from django.conf import settings
from django.core.cache import caches

pytestmark = pytest.mark.skipif(
    "FailSoftRedisCache" not in settings.CACHES["default"]["BACKEND"],
    reason="the Redis cache is production's (CI sets REDIS_URL); embedded uses a local-memory cache",
)


def _connected_clients(client) -> int:
    return client.info("clients")["connected_clients"]


def test_cache_objects_made_per_request_context_share_one_redis_connection_pool():
    # Under ASGI Django makes the cache object anew in every request's context (``caches`` is
    # context-local): each used to open a Redis connection of its own.
    first = caches.create_connection("default")
    first.set("hs-test-shared", 1, 30)
    client = first._cache.get_client()
    before = _connected_clients(client)
    for number in range(20):
        fresh = caches.create_connection("default")
        assert fresh.get("hs-test-shared") == 1
        fresh.set(f"hs-test-shared-{number}", number, 30)
        assert fresh._cache.get_client() is client
    assert _connected_clients(client) <= before + 1  # a second pooled connection at most, never one per object


def test_while_redis_is_unreachable_logins_are_not_locked_out(settings, rf):
    """The cache answers like an empty one: django-allauth's rate-limit lock (an ``add``) is taken, so its
    limits pass instead of answering every login "too many attempts" during an outage."""
    from allauth.core import ratelimit

    from healthsync.tests.servers import free_port

    settings.CACHES = {
        "default": {
            "BACKEND": "lib.cache.FailSoftRedisCache",
            "LOCATION": f"redis://127.0.0.1:{free_port()}/0",
            "OPTIONS": {"socket_connect_timeout": 0.2, "socket_timeout": 0.2},
        }
    }
    from django.core.cache import cache

    assert cache.add("healthsync-test-lock", True) is True and cache.get("healthsync-test-lock") is None
    request = rf.post("/accounts/login/", REMOTE_ADDR="198.51.100.7")
    assert all(ratelimit.consume(request, action="login_failed", key="someone@example.com") for _ in range(20))
