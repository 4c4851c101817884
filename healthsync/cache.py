"""The Redis cache, answering like an empty cache while Redis is unreachable.

The cache holds only what may be forgotten: rate-limit counters (DRF throttles, django-allauth). A
Redis outage must not turn every login and rate-limited request into a 500, so while Redis cannot be
reached reads are misses and writes do nothing, logged; limits apply again once it is back.
"""

import functools
import logging

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


class FailSoftRedisCacheClient(RedisCacheClient):
    add = _fail_soft(lambda *args, **kwargs: False)(RedisCacheClient.add)
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
