from django.urls import path

from .consumers import UserSocketConsumer

websocket_urlpatterns = [
    path("ws/system/", UserSocketConsumer.as_asgi()),
]
