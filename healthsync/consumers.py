from channels.generic.websocket import AsyncJsonWebsocketConsumer

from .channel_layers import ReconnectOnLayerLoss
from .realtime import user_group

UNAUTHORISED = 4401


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
