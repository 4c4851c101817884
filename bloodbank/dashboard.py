"""Operations dashboard panels of the blood bank beyond the inventory (registered when the app is ready):
receiving units and raising requests, and transfers in and out."""

from django.contrib import admin
from django.db.models import Q

from healthsync.permissions import hospitals_for

from .models import BloodGroup, Component, Transfer, TransferStatus

site = admin.site

OPEN_TRANSFERS = [TransferStatus.REQUESTED, TransferStatus.APPROVED, TransferStatus.DISPATCHED]


@site.register_panel
def stock_actions_panel(request):
    """Receive units (through the inventory API) and raise a request (the admin's add form)."""
    hospitals = list(hospitals_for(request.user).order_by("name"))
    if not hospitals:
        return None
    return {
        "title": "Receive units and request blood",
        "template": "admin/panels/stock_actions.html",
        "hospitals": hospitals,
        "blood_groups": BloodGroup.values,
        "components": Component.choices,
    }


@site.register_panel
def transfers_panel(request):
    """Open transfers into and out of the user's hospitals."""
    mine = hospitals_for(request.user)
    if not mine.exists():
        return None
    ids = set(mine.values_list("pk", flat=True))
    open_transfers = list(
        Transfer.objects.filter(Q(from_hospital__in=ids) | Q(to_hospital__in=ids), status__in=OPEN_TRANSFERS)
        .select_related("from_hospital", "to_hospital")
        .order_by("-requested_at")[:20]
    )
    return {
        "title": "Transfers in and out",
        "template": "admin/panels/transfers.html",
        "incoming": [t for t in open_transfers if t.to_hospital_id in ids],
        "outgoing": [t for t in open_transfers if t.from_hospital_id in ids and t.to_hospital_id not in ids],
    }
