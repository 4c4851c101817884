"""Pushing messages to open WebSockets through the channel layer.

Each authenticated socket joins its user's group; later issues add hospital
and network groups. What is pushed here is a courtesy copy: anything that
must not be lost is persisted first by the caller.
"""

import asyncio
import logging
import os
import threading
from typing import NamedTuple

from asgiref.sync import SyncToAsync, async_to_sync
from channels.layers import get_channel_layer

PLATFORM_GROUP = "platform"
logger = logging.getLogger(__name__)


def user_group(user_id: int) -> str:
    return f"user.{user_id}"


def hospital_group(hospital_id: int) -> str:
    """Every staff member of the hospital."""
    return f"hospital.{hospital_id}"


# The control message a user's sockets get when the user's rights changed (a staff role granted or
# revoked, the account changed): each socket that joined groups for those rights works them out again
# from the database (``notifications.consumers.AlertConsumer``); it is never forwarded to the client.
RIGHTS_CHANGED = "rights.changed"


def rights_changed(user_id: int) -> None:
    """Tell ``user_id``'s open sockets, once the current transaction commits, to work out their groups
    again: a socket opened before a role was revoked must not go on hearing that hospital's alerts."""
    from django.db import transaction

    def send():
        try:
            push(user_group(user_id), {"user_id": user_id}, kind=RIGHTS_CHANGED)
        except Exception:  # Redis down: the layer's loss closes the sockets, and they reconnect with today's rights
            logger.exception("could not tell user %s's sockets that their rights changed", user_id)

    transaction.on_commit(send)


PUSH_TIMEOUT_S = 10.0


class _Sender(NamedTuple):
    loop: asyncio.AbstractEventLoop
    pid: int
    lock: asyncio.Lock


_sender: _Sender | None = None
_sender_lock = threading.Lock()


def _serving_loop():
    """The event loop of the ASGI server this thread serves a request for (``sync_to_async``), if any."""
    loop = getattr(SyncToAsync.threadlocal, "main_event_loop", None)
    if (
        loop is not None
        and getattr(SyncToAsync.threadlocal, "main_event_loop_pid", None) == os.getpid()
        and loop.is_running()
    ):
        return loop
    return None


def _sending_loop() -> tuple[asyncio.AbstractEventLoop, asyncio.Lock]:
    """This process's own event loop for pushes from outside a server (Celery workers, commands):
    one long-lived loop in a daemon thread, so the channel layer keeps its connections instead of
    opening new ones in a new loop on every push (``async_to_sync`` there costs milliseconds).
    Made again in a forked child, where the parent's thread does not exist. Its lock keeps pushes
    in the order they were handed over (asyncio locks are first come, first served)."""
    global _sender
    with _sender_lock:
        sender = _sender
        if sender is None or sender.pid != os.getpid() or sender.loop.is_closed():
            loop = asyncio.new_event_loop()
            threading.Thread(target=loop.run_forever, name="healthsync-push", daemon=True).start()
            sender = _sender = _Sender(loop=loop, pid=os.getpid(), lock=asyncio.Lock())
        return sender.loop, sender.lock


def _not_pushed(future) -> None:
    if not future.cancelled() and future.exception() is not None:
        logger.warning("push failed", exc_info=future.exception())


def push(group: str, payload: dict, *, kind: str = "push.message", wait: bool = True) -> None:
    """Send ``payload`` (JSON-serialisable) to every socket in ``group``. Callable from sync code and
    tasks, not from a coroutine. Pushes from one thread arrive in the order they were made.

    ``wait=False`` (outside a server: workers, commands) hands the push over and returns at once; a
    failure is logged, not raised. Use it where the caller must not wait for a courtesy copy."""
    layer = get_channel_layer()
    # The group travels with the message: a socket that left the group while this was already in its
    # queue (rights revoked a moment ago) drops it instead of sending it on.
    message = {"type": kind, "payload": payload, "group": group}
    if _serving_loop() is not None:  # inside a request: the server's loop holds the layer's connections
        async_to_sync(layer.group_send)(group, message)
        return
    loop, lock = _sending_loop()

    async def send():
        async with lock:
            await layer.group_send(group, message)

    future = asyncio.run_coroutine_threadsafe(send(), loop)
    if not wait:
        future.add_done_callback(_not_pushed)
        return
    try:
        future.result(timeout=PUSH_TIMEOUT_S)
    except TimeoutError:
        future.cancel()
        raise
