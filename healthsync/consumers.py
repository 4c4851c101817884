from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from lib.channel_layers import ReconnectOnLayerLoss
from lib.realtime import user_group

UNAUTHORISED = 4401
FORBIDDEN = 4403  # the account may no longer listen (deactivated while its socket was open)


@database_sync_to_async
def account_active(user_id: int) -> bool:
    """Whether the account may still hold a socket open (read afresh, not the scope's copy)."""
    from .models import User

    return User.objects.filter(pk=user_id, is_active=True).exists()


class UserSocketConsumer(ReconnectOnLayerLoss, AsyncJsonWebsocketConsumer):
    """An authenticated user's socket; anonymous and bad-token connections are refused."""

    async def connect(self):
        user = self.scope.get("user")
        if user is None or not user.is_authenticated or not user.is_active:
            await self.close(code=UNAUTHORISED)
            return
        self.groups_joined = [user_group(user.pk)]
        for group in self.groups_joined:
            await self.channel_layer.group_add(group, self.channel_name)
        await self.accept()

    async def disconnect(self, code):
        for group in getattr(self, "groups_joined", []):
            await self.channel_layer.group_discard(group, self.channel_name)

    async def push_message(self, event):
        await self.send_json(event["payload"])

    async def rights_changed(self, event):
        """Only the user's own group is joined here, whatever their roles; a deactivated account is let go."""
        if not await account_active(self.scope["user"].pk):
            await self.close(code=FORBIDDEN)
