"""The inbox in the operations console, and (for platform administrators) every alert and delivery."""

from django.contrib import admin, messages

from healthsync.display import ReadableColumns, when

from . import services
from .models import Alert, Delivery, Notification

site = admin.site


@admin.register(Notification)
class InboxAdmin(ReadableColumns, admin.ModelAdmin):
    """Everyone's own notifications, newest first."""

    list_display = ["title", "kind", "severity", "created", "read_at"]
    list_filter = ["alert__kind", "alert__severity", ("read_at", admin.EmptyFieldListFilter)]
    readonly_fields = ["alert", "read_at"]
    actions = ["mark_read"]

    @admin.display(ordering="alert__title")
    def title(self, notification):
        return notification.alert.title

    @admin.display(ordering="alert__kind")
    def kind(self, notification):
        return notification.alert.get_kind_display()

    @admin.display(ordering="alert__severity")
    def severity(self, notification):
        return notification.alert.get_severity_display()

    @admin.display(ordering="alert__created")
    def created(self, notification):
        return when(notification.alert.created)

    def get_queryset(self, request):
        return super().get_queryset(request).filter(recipient=request.user).select_related("alert")

    def has_module_permission(self, request):
        return request.user.is_active and request.user.is_staff

    def has_view_permission(self, request, obj=None):
        return self.has_module_permission(request) and (obj is None or obj.recipient_id == request.user.pk)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions["mark_read"] = self.get_action("mark_read")
        return actions

    @admin.action(description="Mark as read")
    def mark_read(self, request, queryset):
        count = services.notifications_mark_read(user=request.user, ids=list(queryset.values_list("pk", flat=True)))
        self.message_user(request, f"{count} notification(s) marked read.", messages.SUCCESS)


@admin.register(Alert)
class AlertAdmin(ReadableColumns, admin.ModelAdmin):
    list_display = ["created", "kind", "severity", "title", "hospital"]
    list_filter = ["kind", "severity"]
    search_fields = ["title", "body", "event_key"]
    readonly_fields = ["kind", "title", "body", "link", "severity", "hospital", "event_key", "groups", "created"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Delivery)
class DeliveryAdmin(ReadableColumns, admin.ModelAdmin):
    list_display = ["notification", "channel", "status", "attempts", "claimed_at", "sent_at"]
    list_filter = ["channel", "status"]
    readonly_fields = ["notification", "channel", "status", "attempts", "claimed_at", "sent_at", "last_error"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@site.register_panel
def alerts_panel(request):
    unread = Notification.objects.filter(recipient=request.user, read_at__isnull=True).select_related("alert")[:8]
    return {
        "title": "Alerts",
        "template": "admin/panels/alerts.html",
        "notifications": list(unread),
        "last_id": Notification.objects.filter(recipient=request.user)
        .order_by("-alert_id")
        .values_list("alert_id", flat=True)
        .first()
        or 0,
    }
