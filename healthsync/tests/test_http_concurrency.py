"""HTTP requests run on a bounded set of long-lived threads: past the bound they wait, none is refused,
and a thread (with its database connection) serves one request after another."""

import asyncio
import threading

import pytest
from asgiref.sync import sync_to_async

from config.http_concurrency import BoundedConcurrency


@pytest.mark.asyncio
async def test_requests_past_the_bound_wait_their_turn_on_the_same_threads():
    inside, most_inside, threads = 0, 0, []

    def view():
        threads.append(threading.get_ident())

    async def django(scope, receive, send):
        nonlocal inside, most_inside
        inside += 1
        most_inside = max(most_inside, inside)
        await sync_to_async(view)()  # thread-sensitive, as Django calls views and middleware
        await asyncio.sleep(0.01)
        inside -= 1

    app = BoundedConcurrency(django, limit=3)
    await asyncio.gather(*(app({"type": "http", "path": f"/{n}"}, None, None) for n in range(12)))

    assert most_inside == 3
    assert len(threads) == 12
    assert len(set(threads)) == 3


def test_the_bound_comes_from_settings(settings):
    settings.HEALTHSYNC_HTTP_CONCURRENCY = 5
    assert BoundedConcurrency(None).limit == 5
