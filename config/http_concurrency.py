"""Worker threads for Django's HTTP requests: a fixed number per server process, each keeping its
database connection.

Left to itself, Django runs each ASGI request's synchronous code (middleware, view) in a new thread,
and a database connection belongs to a thread: every request then opens (and closes) a PostgreSQL
connection of its own, and a burst opens as many at once as there are requests in flight, past the
server's ``max_connections`` under load (requests then fail with 503), with as many threads fighting
over the cores. Here each request runs on one of ``HEALTHSYNC_HTTP_CONCURRENCY`` long-lived threads
(asgiref's ``ThreadSensitiveContext`` with an executor), so connections are reused as
``DJANGO_CONN_MAX_AGE`` allows and never number more than the threads; past the bound, requests
wait their turn in the event loop, which costs nothing.
"""

import asyncio
from concurrent.futures import ThreadPoolExecutor

from asgiref.sync import ThreadSensitiveContext
from django.conf import settings


class BoundedConcurrency:
    """ASGI middleware: each HTTP request of this process runs on one of ``limit`` worker threads.

    A long request holds its thread while it runs (``/api/predict?wait=true``, streamed exports), so
    keep the bound above the number of those expected at once.
    """

    def __init__(self, app, *, limit: int | None = None):
        self.app = app
        self.limit = limit or settings.HEALTHSYNC_HTTP_CONCURRENCY
        self._idle = None  # the idle threads' executors; made on first use, inside the server's event loop

    async def __call__(self, scope, receive, send):
        if self._idle is None:
            self._idle = asyncio.Queue()
            for _ in range(self.limit):
                self._idle.put_nowait(ThreadPoolExecutor(max_workers=1, thread_name_prefix="http"))
        thread = await self._idle.get()
        try:
            # Django's own per-request context, entered inside this one, then uses this thread too.
            async with ThreadSensitiveContext(executor=thread):
                await self.app(scope, receive, send)
        finally:
            self._idle.put_nowait(thread)
