"""The inbox: GET /api/notifications, mark read."""

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import generics, serializers
from rest_framework.decorators import api_view
from rest_framework.response import Response

from healthsync.params import whole_number

from . import services
from .models import Notification


class NotificationSerializer(serializers.ModelSerializer):
    id = serializers.IntegerField(source="alert.id", help_text="The alert id (the same id the socket sends).")
    notification_id = serializers.IntegerField(source="pk")
    kind = serializers.CharField(source="alert.kind")
    title = serializers.CharField(source="alert.title")
    body = serializers.CharField(source="alert.body")
    link = serializers.CharField(source="alert.link")
    severity = serializers.CharField(source="alert.severity")
    created = serializers.DateTimeField(source="alert.created")

    class Meta:
        model = Notification
        fields = ["id", "notification_id", "kind", "title", "body", "link", "severity", "created", "read_at"]


class NotificationList(generics.ListAPIView):
    """The user's notifications, newest first; `?unread=true`, `?kind=`, `?after=<alert id>`."""

    serializer_class = NotificationSerializer
    queryset = Notification.objects.none()  # for the schema; get_queryset scopes to the user

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Notification.objects.none()
        inbox = Notification.objects.filter(recipient=self.request.user).select_related("alert")
        params = self.request.query_params
        if params.get("unread") in ("1", "true"):
            inbox = inbox.filter(read_at__isnull=True)
        if params.get("kind"):
            inbox = inbox.filter(alert__kind=params["kind"])
        # Beyond the largest id there is nothing; the database's integers stop there.
        after = whole_number(params, "after", maximum=2**63 - 1, clamp=True)
        if after is not None:
            inbox = inbox.filter(alert_id__gt=after)
        return inbox


ReadResult = inline_serializer("ReadResult", {"marked_read": serializers.IntegerField()})


@extend_schema(request=None, responses=ReadResult)
@api_view(["POST"])
def mark_read(request, notification_id):
    """Mark one of your notifications read (404 for anyone else's)."""
    if not Notification.objects.filter(pk=notification_id, recipient=request.user).exists():
        from django.http import Http404

        raise Http404("No such notification in your inbox.")
    return Response({"marked_read": services.notifications_mark_read(user=request.user, ids=[notification_id])})


@extend_schema(request=None, responses=ReadResult)
@api_view(["POST"])
def mark_all_read(request):
    return Response({"marked_read": services.notifications_mark_read(user=request.user)})
