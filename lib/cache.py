"""The Redis cache, answering like an empty cache while Redis is unreachable.

The cache holds only what may be forgotten: rate-limit counters (DRF throttles, django-allauth). A
Redis outage must not turn every login and rate-limited request into a 500, so while Redis cannot be
reached reads are misses and writes do nothing, logged; limits apply again once it is back.
"""

import functools
import logging
import threading

from django.core.cache.backends.redis import RedisCache, RedisCacheClient
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

logger = logging.getLogger(__name__)


def _fail_soft(answer):
    """Wrap a client method: when Redis is unreachable, log and return ``answer(*args)`` instead."""

    def wrap(method):
        @functools.wraps(method)
        def call(self, *args, **kwargs):
            try:
                return method(self, *args, **kwargs)
            except (RedisConnectionError, RedisTimeoutError) as error:
                logger.warning("cache %s skipped: Redis is unreachable (%s)", method.__name__, error)
                return answer(*args, **kwargs)

        return call

    return wrap


_clients: dict[tuple, object] = {}
_clients_lock = threading.Lock()


class FailSoftRedisCacheClient(RedisCacheClient):
    """Also: one connection pool and client per server for the whole process. Under ASGI, Django
    makes the cache object anew in each request's context, and each made a pool of its own: a new
    Redis connection for every request (and a new client, building its callbacks, per call).
    redis-py's clients and pools are thread-safe and make new connections after a fork."""

    def get_client(self, key=None, *, write=False):
        server = self._servers[self._get_connection_pool_index(write)]
        shared = (server, tuple(sorted((name, repr(value)) for name, value in self._pool_options.items())))
        client = _clients.get(shared)
        if client is None:
            with _clients_lock:
                client = _clients.get(shared)
                if client is None:
                    pool = self._pool_class.from_url(server, **self._pool_options)
                    client = _clients[shared] = self._client(connection_pool=pool)
        return client

    # An empty cache takes an add (True): django-allauth's rate limits take a lock with ``add`` first, and an
    # add that failed would turn every login into "too many attempts" while Redis is down.
    add = _fail_soft(lambda *args, **kwargs: True)(RedisCacheClient.add)
    get = _fail_soft(lambda key, default: default)(RedisCacheClient.get)
    set = _fail_soft(lambda *args, **kwargs: None)(RedisCacheClient.set)
    touch = _fail_soft(lambda *args, **kwargs: False)(RedisCacheClient.touch)
    delete = _fail_soft(lambda *args, **kwargs: False)(RedisCacheClient.delete)
    get_many = _fail_soft(lambda *args, **kwargs: {})(RedisCacheClient.get_many)
    has_key = _fail_soft(lambda *args, **kwargs: False)(RedisCacheClient.has_key)
    set_many = _fail_soft(lambda *args, **kwargs: [])(RedisCacheClient.set_many)
    delete_many = _fail_soft(lambda *args, **kwargs: None)(RedisCacheClient.delete_many)


class FailSoftRedisCache(RedisCache):
    """Django's ``RedisCache``; while Redis is unreachable, a miss on every read and a no-op on every write."""

    def __init__(self, server, params):
        super().__init__(server, params)
        self._class = FailSoftRedisCacheClient
