"""Channel layer for the embedded mode (one process, no Redis)."""

import asyncio

from channels.layers import InMemoryChannelLayer


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
