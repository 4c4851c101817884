"""Channel layers: the in-process one of the embedded mode, and Redis pub/sub that tells its sockets
when Redis dropped them."""

import asyncio
import logging

from channels.layers import InMemoryChannelLayer
from channels_redis.pubsub import RedisPubSubChannelLayer, RedisPubSubLoopLayer, RedisSingleShardConnection
from channels_redis.utils import _wrap_close
from redis.asyncio.client import PubSub
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

logger = logging.getLogger(__name__)

LAYER_LOST = "channel_layer.lost"  # the message type every local channel gets when its subscriptions were lost
# WebSocket close code: reconnect in a moment. Like 4401 (unauthorised), HTTP's status in the private
# range; the registered 1012 ("service restart") is refused by daphne's WebSocket library.
LAYER_UNAVAILABLE = 4503


class ThreadSafeInMemoryChannelLayer(InMemoryChannelLayer):
    """The in-memory layer, safe to send to from other threads.

    In the embedded mode the Celery worker runs in a thread of the daphne
    process and sends with ``async_to_sync``, which runs in an event loop of
    its own. The in-memory layer's queues belong to the server's loop and are
    not thread-safe, so sends from elsewhere are handed to that loop.
    """

    _home_loop = None

    async def receive(self, channel):
        self._home_loop = asyncio.get_running_loop()
        return await super().receive(channel)

    async def send(self, channel, message):
        home = self._home_loop
        running = asyncio.get_running_loop()
        if home is None or home is running or home.is_closed():
            return await super().send(channel, message)
        future = asyncio.run_coroutine_threadsafe(super().send(channel, message), home)
        return await asyncio.wrap_future(future)


class _UnresumablePubSub(PubSub):
    """A pub/sub connection that is never silently made again: redis-py would reconnect and subscribe
    anew, but whatever was published while it was down is gone, so the error goes to the shard."""

    async def on_connect(self, connection):  # called on every reconnection, not on the first connection
        raise RedisConnectionError("the Redis pub/sub connection dropped; messages published meanwhile were missed")


class _WatchedShard(RedisSingleShardConnection):
    """One Redis connection of the pub/sub layer that reports its loss, and publishes across a restart.

    When the connection drops, Redis forgets this process's subscriptions: whatever is published
    until redis-py reconnects and subscribes again is gone, and channels-redis would resume as if
    nothing had been missed. Instead, every local channel that listened through this connection
    gets a ``LAYER_LOST`` message (its consumer closes the socket; the client reconnects and replays
    from the inbox) and the subscriptions are dropped, to be made again by whoever connects next.
    """

    def _ensure_redis(self):
        if self._redis is None:
            super()._ensure_redis()
            self._pubsub = _UnresumablePubSub(self._redis.connection_pool)

    async def publish(self, channel, message):
        try:
            await super().publish(channel, message)
        except RedisConnectionError:
            # A pooled connection to a Redis that restarted fails once and is dropped: the next one is new.
            await super().publish(channel, message)

    async def subscribe(self, channel):
        try:
            await super().subscribe(channel)
        except RedisConnectionError:  # the connection broke: every subscription on it is gone, not only this one
            await self._lost()
            raise

    async def unsubscribe(self, channel):
        try:
            await super().unsubscribe(channel)
        except RedisConnectionError:
            await self._lost()

    async def _do_receiving(self):
        while True:
            try:
                if self._pubsub and self._pubsub.subscribed:
                    message = await self._pubsub.get_message(ignore_subscribe_messages=True, timeout=0.1)
                    self._receive_message(message)
                else:
                    await asyncio.sleep(0.1)
            except (TimeoutError, asyncio.CancelledError, GeneratorExit):
                raise
            except (RedisConnectionError, RedisTimeoutError, OSError) as error:
                logger.warning("Redis pub/sub connection lost (%s): closing its sockets", error)
                await self._lost()
            except BaseException:
                logger.exception("Unexpected exception in receive task")
                await asyncio.sleep(1)

    async def _lost(self) -> None:
        layer = self.channel_layer
        notice = layer.channel_layer.serialize({"type": LAYER_LOST})
        async with self._lock:
            listening = {name for name in self._subscribed_to if name in layer.channels}
            for group in self._subscribed_to & layer.groups.keys():
                listening |= layer.groups[group]
            for name in listening:
                if name in layer.channels:
                    layer.channels[name].put_nowait(notice)
            self._subscribed_to = set()
            old, self._pubsub = self._pubsub, _UnresumablePubSub(self._redis.connection_pool)
        try:
            await old.aclose()
        except Exception:  # the connection is already broken; closing it is housekeeping
            pass


class _WatchedLoopLayer(RedisPubSubLoopLayer):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._shards = [_WatchedShard(shard.host, self) for shard in self._shards]

    async def _subscribe_to_channel(self, channel):
        try:
            await super()._subscribe_to_channel(channel)
        except BaseException:  # Redis is down: no queue left behind for a channel nobody will use
            self.channels.pop(channel, None)
            raise


class WatchedRedisPubSubChannelLayer(RedisPubSubChannelLayer):
    """channels-redis's pub/sub layer whose consumers hear ``LAYER_LOST`` when Redis dropped their
    subscriptions (see ``_WatchedShard``), instead of silently missing what was sent meanwhile."""

    def _get_layer(self):
        loop = asyncio.get_running_loop()
        try:
            return self._layers[loop]
        except KeyError:
            layer = self._layers[loop] = _WatchedLoopLayer(*self._args, **self._kwargs, channel_layer=self)
            _wrap_close(self, loop)
            return layer


class ReconnectOnLayerLoss:
    """For WebSocket consumers: when the layer lost this socket's subscriptions, close it with 4503 so
    the client reconnects (and, on /ws/alerts/, replays what it missed with ``?last_id=``)."""

    async def channel_layer_lost(self, event):
        await self.close(code=LAYER_UNAVAILABLE)
