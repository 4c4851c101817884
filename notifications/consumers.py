"""/ws/alerts/: live alerts for authenticated users, with replay of what a reconnecting client missed."""

from collections import deque

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from healthsync.consumers import FORBIDDEN, UNAUTHORISED
from lib.channel_layers import ReconnectOnLayerLoss
from lib.realtime import PLATFORM_GROUP, hospital_group, user_group

from .models import Notification

REPLAY_LIMIT = 500


@database_sync_to_async
def _groups_for(user_id: int) -> list[str] | None:
    """The groups the account hears now, read afresh from the database; None when it may not listen."""
    from healthsync.models import User

    user = User.objects.filter(pk=user_id, is_active=True).first()
    if user is None:
        return None
    groups = [user_group(user.pk)]
    groups += [hospital_group(pk) for pk in user.memberships.values_list("hospital_id", flat=True)]
    if user.is_superuser:
        groups.append(PLATFORM_GROUP)
    return groups


@database_sync_to_async
def _missed(user, after_id: int) -> list[dict]:
    inbox = (
        Notification.objects.filter(recipient=user, alert_id__gt=after_id)
        .select_related("alert")
        .order_by("alert_id")[:REPLAY_LIMIT]
    )
    return [notification.alert.as_message() for notification in inbox]


class AlertConsumer(ReconnectOnLayerLoss, AsyncJsonWebsocketConsumer):
    """Staff hear their hospitals' alerts and network alerts; donors the calls meant for them;
    platform administrators everything. ``?last_id=N`` replays alerts after N from the inbox.

    The hospital and platform groups follow the account's rights while the socket is open: a role
    granted or revoked (``healthsync.services``) sends ``rights.changed`` to the user's own group, and
    the socket leaves the groups it may no longer hear and joins the new ones (a deactivated account's
    socket is closed with 4403)."""

    async def connect(self):
        user = self.scope.get("user")
        if user is None or not user.is_authenticated or not user.is_active:
            await self.close(code=UNAUTHORISED)
            return
        self.user = user
        self.recently_sent = deque(maxlen=512)
        # The user's own group first, then the rights: a change committed after they are read is heard here.
        self.joined = [user_group(user.pk)]
        await self.channel_layer.group_add(self.joined[0], self.channel_name)
        groups = await _groups_for(user.pk)
        if groups is None:
            await self.close(code=UNAUTHORISED)
            return
        # Join before replaying: an alert raised in between arrives twice at worst (and is dropped by id),
        # never not at all.
        await self._join(groups)
        await self.accept()
        last_id = self._last_id()
        if last_id is not None:
            for message in await _missed(user, last_id):
                await self._send_once(message)

    def _last_id(self) -> int | None:
        from urllib.parse import parse_qs

        query = parse_qs(self.scope.get("query_string", b"").decode("latin-1"))
        value = (query.get("last_id") or [None])[0]
        # ASCII digits only (``str.isdigit`` also takes "²", which ``int`` refuses), of an id's length at most.
        return int(value) if value and value.isascii() and value.isdigit() and len(value) <= 18 else None

    async def disconnect(self, code):
        for group in getattr(self, "joined", []):
            await self.channel_layer.group_discard(group, self.channel_name)

    async def _join(self, groups: list[str]) -> None:
        """Hear exactly ``groups``: leave the others first, then join the new ones."""
        for group in [group for group in self.joined if group not in groups]:
            await self.channel_layer.group_discard(group, self.channel_name)
        self.joined = [group for group in self.joined if group in groups]
        for group in groups:
            if group not in self.joined:
                await self.channel_layer.group_add(group, self.channel_name)
                self.joined.append(group)

    async def rights_changed(self, event):
        """The account's roles changed: hear what it may hear now (``lib.realtime.rights_changed``)."""
        groups = await _groups_for(self.user.pk)
        if groups is None:
            await self.close(code=FORBIDDEN)
            return
        await self._join(groups)

    async def _send_once(self, message: dict) -> None:
        if message["id"] in self.recently_sent:
            return
        self.recently_sent.append(message["id"])
        await self.send_json(message)

    async def push_message(self, event):
        if event.get("group", self.joined[0]) not in self.joined:
            return  # queued before this socket left the group: no longer for it
        message = event["payload"]
        if "id" in message and "kind" in message:
            await self._send_once(message)
        else:
            await self.send_json(message)


class AnalysisConsumer(ReconnectOnLayerLoss, AsyncJsonWebsocketConsumer):
    """/ws/analyses/: the status of the user's own image analyses as they change: {analysis_id, status}."""

    async def connect(self):
        from .receivers import analyses_group

        user = self.scope.get("user")
        if user is None or not user.is_authenticated or not user.is_active:
            await self.close(code=UNAUTHORISED)
            return
        self.group = analyses_group(user.pk)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()

    async def disconnect(self, code):
        if hasattr(self, "group"):
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def analyses_status(self, event):
        """One status change of a batch: a frame per analysis, in the batch's order."""
        for row in event["payload"]["analyses"]:
            await self.send_json(row)
