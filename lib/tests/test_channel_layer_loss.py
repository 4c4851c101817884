"""The Redis pub/sub channel layer when Redis drops it: local channels hear ``LAYER_LOST`` instead of
silently missing what was published meanwhile, and the layer works again once Redis is back.

Against a private ``redis-server`` (killed and restarted here), no Django process. The end-to-end
story, with daphne, a worker and WebSocket clients replaying what they missed, is
``test_redis_restart.py``.
"""

import asyncio
import signal

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError

from healthsync.tests.servers import PrivateRedis
from lib.channel_layers import LAYER_LOST, WatchedRedisPubSubChannelLayer


def _layer(redis: PrivateRedis) -> WatchedRedisPubSubChannelLayer:
    return WatchedRedisPubSubChannelLayer(
        hosts=[{"address": redis.url, "socket_timeout": 5, "socket_connect_timeout": 2}], prefix="t"
    )


async def _subscribed(layer, group: str) -> str:
    channel = await layer.new_channel()
    await layer.group_add(group, channel)
    return channel


async def _receive(layer, channel: str) -> dict:
    return await asyncio.wait_for(layer.receive(channel), timeout=5)


def test_a_killed_redis_is_reported_and_a_restarted_one_used_again(private_redis):
    redis = private_redis

    async def scenario():
        listener, sender = _layer(redis), _layer(redis)
        channel = await _subscribed(listener, "alerts")
        await sender.group_send("alerts", {"type": "before"})
        assert await _receive(listener, channel) == {"type": "before"}

        redis.stop(signal.SIGKILL)
        assert await _receive(listener, channel) == {"type": LAYER_LOST}
        with pytest.raises(RedisConnectionError):
            await listener.new_channel()  # nobody subscribes while Redis is down

        redis.start()
        fresh = await _subscribed(listener, "alerts")
        await sender.group_send(
            "alerts", {"type": "after"}
        )  # the sender's pooled connection is stale: sent all the same
        assert await _receive(listener, fresh) == {"type": "after"}
        await listener.flush()
        await sender.flush()

    asyncio.run(scenario())


def test_a_dropped_subscriber_connection_is_reported_not_resumed_silently(private_redis):
    redis = private_redis

    async def scenario():
        listener, sender = _layer(redis), _layer(redis)
        channel = await _subscribed(listener, "alerts")
        assert redis.client().client_kill_filter(_type="pubsub") == 1
        assert await _receive(listener, channel) == {"type": LAYER_LOST}

        fresh = await _subscribed(listener, "alerts")
        await sender.group_send("alerts", {"type": "after"})
        assert await _receive(listener, fresh) == {"type": "after"}
        await listener.flush()
        await sender.flush()

    asyncio.run(scenario())
