from django.urls import path

from .consumers import AlertConsumer, AnalysisConsumer

websocket_urlpatterns = [
    path("ws/alerts/", AlertConsumer.as_asgi()),
    path("ws/analyses/", AnalysisConsumer.as_asgi()),
]
