from django.urls import path

from healthsync.consumers import UserSocketConsumer

websocket_urlpatterns = [
    path("ws/system/", UserSocketConsumer.as_asgi()),
]
