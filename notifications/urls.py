from django.urls import path

from . import api

urlpatterns = [
    path("notifications", api.NotificationList.as_view(), name="notifications"),
    path("notifications/<int:notification_id>/read", api.mark_read, name="notification-read"),
    path("notifications/read-all", api.mark_all_read, name="notifications-read-all"),
]
