"""Pushing messages to open WebSockets through the channel layer.

Each authenticated socket joins its user's group; later issues add hospital
and network groups. What is pushed here is a courtesy copy: anything that
must not be lost is persisted first by the caller.
"""

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer


PLATFORM_GROUP = "platform"


def user_group(user_id: int) -> str:
    return f"user.{user_id}"


def hospital_group(hospital_id: int) -> str:
    """Every staff member of the hospital."""
    return f"hospital.{hospital_id}"


def push(group: str, payload: dict, *, kind: str = "push.message") -> None:
    """Send ``payload`` (JSON-serialisable) to every socket in ``group``. Callable from sync code and tasks."""
    async_to_sync(get_channel_layer().group_send)(group, {"type": kind, "payload": payload})
