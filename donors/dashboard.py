"""Operations dashboard panel of the donors app (registered when the app is ready): today's appointments."""

from datetime import datetime, time, timedelta

from django.contrib import admin
from django.utils import timezone

from healthsync.permissions import can_anywhere

from . import selectors

site = admin.site


@site.register_panel
def appointments_today_panel(request):
    if not (request.user.is_superuser or can_anywhere(request.user)):
        return None
    today = timezone.localdate()
    start = timezone.make_aware(datetime.combine(today, time.min))
    appointments = list(
        selectors.appointments_for_staff(user=request.user)
        .filter(slot__starts_at__gte=start, slot__starts_at__lt=start + timedelta(days=1))
        .order_by("slot__starts_at", "id")[:30]
    )
    return {
        "title": "Today's appointments",
        "template": "admin/panels/appointments_today.html",
        "appointments": appointments,
        "booked": sum(1 for a in appointments if a.status == "booked"),
    }
