"""The Redis cache (production): one connection pool per process, however many cache objects Django makes."""

import pytest
from django.conf import settings
from django.core.cache import caches

pytestmark = pytest.mark.skipif("FailSoftRedisCache" not in settings.CACHES["default"]["BACKEND"],
                                reason="the Redis cache is production's (CI sets REDIS_URL); embedded uses a local-memory cache")


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
