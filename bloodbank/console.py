"""The blood network in the operations console: network stock with "ask for units", transfers in and
out with their steps, emergency release, and the network's view of another hospital's urgent request
(where its alert links) with "offer units".

Views only read through ``selectors`` and write through ``services``; a refused service call goes
through the console's one mechanism (``ServiceAdminMixin``): the form again with the reason, or a
message. The network pages are for staff of verified hospitals (403 for anyone else)."""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.views.decorators.http import require_POST

from healthsync.admin_site import ServiceAdminMixin
from healthsync.errors import DomainError
from healthsync.models import Hospital
from healthsync.permissions import hospitals_for, scope_to_hospitals
from healthsync.security import require_recent_login

from . import rules, selectors, services
from .models import BloodGroup, BloodRequest, Component

NOT_IN_NETWORK = "Your hospital joins the network once a platform administrator has verified it."
STEP_LABELS = {
    "approve": "Approve",
    "decline": "Decline",
    "dispatch": "Dispatch",
    "receive": "Receive",
    "cancel": "Cancel",
}
STEP_DONE = {
    "approve": "approved: its units are reserved",
    "decline": "declined",
    "dispatch": "dispatched",
    "receive": "received into your stock",
    "cancel": "cancelled",
}


class _Console(ServiceAdminMixin):
    """``ServiceAdminMixin`` for these pages, which are no ModelAdmin: a refused step is a message,
    a refused form is shown again with the reason on the field the service named."""

    def message_user(self, request, message, level=messages.INFO):
        messages.add_message(request, level, message)

    def submit(self, request, form, action):
        """``action()`` (a service call): its result, or None with the refusal on ``form``."""
        request._service_form_save = True  # call_service raises the refusal instead of a message
        try:
            return self.call_service(request, action)
        except DomainError as exc:
            form.add_error(next((name for name in exc.fields if name in form.fields), None), exc.message)
            return None
        finally:
            request._service_form_save = False


console = _Console()


def _page(request, template: str, title: str, **context):
    return TemplateResponse(
        request, f"admin/bloodbank/{template}", {**admin.site.each_context(request), "title": title, **context}
    )


def _number(value) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise Http404("No such record.") from None


def _network_hospitals(request):
    """The user's verified hospitals: the network's members they work for (403 when none)."""
    mine = hospitals_for(request.user).filter(is_verified=True).order_by("name")
    if not mine.exists():
        raise PermissionDenied(NOT_IN_NETWORK)
    return mine


def _acting(request, mine) -> Hospital:
    """The one of ``mine`` a page acts for: the ``hospital`` named in the query or form, else the first."""
    named = request.POST.get("hospital") or request.GET.get("hospital")
    return get_object_or_404(mine, pk=_number(named)) if named else mine.first()


def _requested(blood_request) -> str:
    return (
        f"{blood_request.units_requested} × {blood_request.blood_group} {blood_request.get_component_display().lower()}"
    )


def _transfer_made(request, form, action, outcome):
    """``action()`` makes a transfer: the transfers page with "Transfer N: ``outcome(transfer)``", or
    None with the refusal on ``form``."""
    transfer = console.submit(request, form, action)
    if transfer is None:
        return None
    messages.success(request, f"Transfer {transfer.pk}: {outcome(transfer)}")
    return redirect("admin:bloodbank-network-transfers")


# --- network stock and asking for units ----------------------------------------------------------


def network_stock(request):
    """Available units across the verified hospitals by component and group, beside the acting
    hospital's own with its level; "ask for units" on its shortages and on its open requests."""
    mine = _network_hospitals(request)
    hospital = _acting(request, mine)
    network = selectors.inventory_summary(hospitals=Hospital.objects.filter(is_verified=True))["components"]
    own = selectors.inventory_summary(hospitals=Hospital.objects.filter(pk=hospital.pk))["components"]
    rows = [
        {
            **row,
            "component_label": Component(row["component"]).label,
            "own_units": ours["units"],
            "level": ours["level"],
            "short": ours["level"] != rules.ADEQUATE,
        }
        for row, ours in zip(network, own, strict=True)
    ]
    return _page(
        request,
        "network.html",
        "Blood network",
        hospital=hospital,
        hospitals=mine,
        rows=rows,
        requests=selectors.open_requests(hospitals=[hospital]),
        emergency=rules.EMERGENCY,
    )


class AskForm(forms.Form):
    from_hospital = forms.TypedChoiceField(label="Ask", coerce=int)
    units_requested = forms.IntegerField(label="Units", min_value=1, max_value=services.MAX_REQUEST_UNITS)
    note = forms.CharField(required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args, holders, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["from_hospital"].choices = [
            (
                row["hospital_id"],
                f"{row['hospital']} ({row['fin']}){', ' + row['region'] if row['region'] else ''}: "
                f"{row['compatible_units']} compatible unit(s)",
            )
            for row in holders
        ]


def ask_for_units(request):
    """Ask a verified hospital for units: for one of the acting hospital's open requests
    (``?request=``), or for a shortage (``?component=&blood_group=``)."""
    mine = _network_hospitals(request)
    blood_request = None
    if request.GET.get("request"):
        blood_request = get_object_or_404(selectors.open_requests(hospitals=mine), pk=_number(request.GET["request"]))
        hospital, component, blood_group = blood_request.hospital, blood_request.component, blood_request.blood_group
        what, initial = f"request {blood_request.pk}: {_requested(blood_request)}", blood_request.units_requested
    else:
        hospital, component, blood_group = (
            _acting(request, mine),
            request.GET.get("component"),
            request.GET.get("blood_group"),
        )
        if component not in Component.values or blood_group not in BloodGroup.values:
            raise Http404("Choose a component and a blood group.")
        what, initial = f"{blood_group} {Component(component).label.lower()}", 1
    holders = selectors.network_holders(hospital=hospital, component=component, blood_group=blood_group)
    form = AskForm(request.POST or None, holders=holders, initial={"units_requested": initial})
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        done = _transfer_made(
            request,
            form,
            lambda: services.transfer_request(
                from_hospital=Hospital.objects.get(pk=data["from_hospital"]),
                to_hospital=hospital,
                component=component,
                blood_group=blood_group,
                units_requested=data["units_requested"],
                request=blood_request,
                note=data["note"],
                by=request.user,
            ),
            lambda transfer: (
                f"{transfer.units_requested} unit(s) asked of {transfer.from_hospital.name}; "
                "it waits for their approval."
            ),
        )
        if done:
            return done
    return _page(
        request,
        "network_form.html",
        f"Ask the network for {what}",
        form=form,
        button="Ask for units",
        facts=[("For", hospital.name)],
        empty=None if holders else "No other verified hospital holds compatible units now.",
    )


# --- transfers ----------------------------------------------------------------------------------


def transfers(request):
    """Transfers into and out of the user's verified hospitals, each with the steps their side may take now."""
    mine = _network_hospitals(request)
    ids = set(mine.values_list("pk", flat=True))
    rows = list(selectors.transfers_of(hospitals=mine)[:200])
    for transfer in rows:
        transfer.steps = [
            (step, STEP_LABELS[step]) for step in services.transfer_steps_open(transfer=transfer, user=request.user)
        ]
    return _page(
        request,
        "transfers.html",
        "Transfers in and out",
        sections=[
            (
                "incoming",
                "Incoming: units asked for by, or offered to, your hospital",
                [t for t in rows if t.to_hospital_id in ids],
                "From",
            ),
            (
                "outgoing",
                "Outgoing: units your hospital holds for others",
                [t for t in rows if t.from_hospital_id in ids],
                "To",
            ),
        ],
    )


@require_POST
def transfer_step(request, transfer_id, step):
    """Take one step on a transfer of the user's hospitals; a refusal (the other side's step, a
    transfer moved on meanwhile, no stock left) is a message on the transfers page."""
    if step not in services.TRANSFER_STEPS:
        raise Http404("Unknown transfer step.")
    transfer = get_object_or_404(selectors.transfers_of(hospitals=_network_hospitals(request)), pk=transfer_id)
    if console.call_service(request, services.transfer_step, transfer=transfer, step=step, by=request.user) is not None:
        messages.success(request, f"Transfer {transfer.pk} {STEP_DONE[step]}.")
    return redirect("admin:bloodbank-network-transfers")


# --- another hospital's urgent request, seen from the network -------------------------------------


class OfferForm(forms.Form):
    from_hospital = forms.ModelChoiceField(label="From", queryset=Hospital.objects.none(), empty_label=None)
    units_requested = forms.IntegerField(label="Units", min_value=1)
    note = forms.CharField(required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args, hospitals, most: int, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["from_hospital"].queryset = hospitals
        if len(hospitals) == 1:
            self.fields["from_hospital"].widget = forms.HiddenInput()
        self.fields["units_requested"].max_value = most
        self.fields["units_requested"].widget.attrs["max"] = most


def network_request(request, request_id):
    """Another verified hospital's urgent request as the network sees it (no patient data), with
    "offer units". The request's own staff go to its full page."""
    if scope_to_hospitals(BloodRequest.objects.filter(pk=_number(request_id)), request.user).exists():
        return redirect("admin:bloodbank_bloodrequest_change", request_id)
    mine = _network_hospitals(request)
    blood_request = get_object_or_404(selectors.network_requests(hospitals=mine), pk=request_id)
    held = {row["hospital_id"]: row["compatible_units"] for row in selectors.network_stock_for(request=blood_request)}
    form = OfferForm(
        request.POST or None,
        hospitals=mine,
        most=blood_request.units_requested,
        initial={"from_hospital": mine.first(), "units_requested": blood_request.units_requested},
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        done = _transfer_made(
            request,
            form,
            lambda: services.transfer_offer(
                from_hospital=data["from_hospital"],
                request=blood_request,
                units_requested=data["units_requested"],
                note=data["note"],
                by=request.user,
            ),
            lambda transfer: (
                f"{transfer.units.count()} unit(s) reserved for {blood_request.hospital.name}. Dispatch them from here."
            ),
        )
        if done:
            return done
    facts = [
        ("Hospital", f"{blood_request.hospital.name} ({blood_request.hospital.fin})"),
        ("Recipient group", blood_request.blood_group),
        ("Component", blood_request.get_component_display()),
        ("Units", blood_request.units_requested),
        ("Urgency", blood_request.urgency),
        ("Needed by", blood_request.needed_by or "not given"),
        ("Status", blood_request.get_status_display()),
        ("You hold", ", ".join(f"{hospital.name}: {held.get(hospital.pk, 0)} compatible unit(s)" for hospital in mine)),
    ]
    return _page(
        request,
        "network_form.html",
        f"Network request {blood_request.pk}: {_requested(blood_request)}",
        form=form,
        facts=facts,
        button="Offer units",
        empty=None
        if blood_request.status in selectors.OPEN_REQUEST_STATUSES
        else f"The request is {blood_request.get_status_display().lower()}: it needs no more units.",
    )


# --- emergency release ---------------------------------------------------------------------------


class EmergencyReleaseForm(forms.Form):
    physician = forms.CharField(label="Authorising physician", max_length=150)
    reason = forms.CharField(
        label="Clinical reason",
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Why the patient cannot wait for crossmatched blood; recorded on each unit's history.",
    )
    units = forms.IntegerField(
        required=False,
        min_value=1,
        max_value=services.MAX_REQUEST_UNITS,
        help_text="Leave empty for all the request still needs.",
    )


def emergency_release(request, request_id):
    """Uncrossmatched group O red cells for one of the user's urgency-5 requests, with the authorising
    physician and the reason; it needs a recent login, so a stale one is sent to confirm who they are."""
    blood_request = get_object_or_404(
        scope_to_hospitals(BloodRequest.objects.select_related("hospital"), request.user), pk=request_id
    )
    try:
        require_recent_login(request)
    except DomainError as exc:
        if not exc.details.get("reauthenticate_url"):
            raise PermissionDenied(exc.message) from exc
        messages.warning(
            request, "An emergency release needs a recent login: confirm it is you, and you come back here."
        )
        return redirect(exc.details["reauthenticate_url"])
    form = EmergencyReleaseForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        allocations = console.submit(
            request,
            form,
            lambda: services.emergency_release(
                request=blood_request,
                physician=data["physician"],
                reason=data["reason"],
                units=data["units"],
                by=request.user,
            ),
        )
        if allocations is not None:
            dins = ", ".join(allocation.unit.din_display for allocation in allocations)
            messages.success(
                request,
                f"{len(allocations)} unit(s) of group O red cells issued uncrossmatched for request "
                f"{blood_request.pk}, authorised by {data['physician']}: {dins}.",
            )
            return redirect("admin:bloodbank_bloodrequest_change", blood_request.pk)
    return _page(
        request,
        "network_form.html",
        f"Emergency release for request {blood_request.pk}",
        form=form,
        button="Release",
        facts=[
            ("Hospital", blood_request.hospital.name),
            ("Request", _requested(blood_request)),
            ("Urgency", blood_request.urgency),
            ("Status", blood_request.get_status_display()),
        ],
        intro="Uncrossmatched group O red cells are issued at once (O-negative for RhD-negative patients), "
        "recorded with the authorising physician and the reason (21 CFR 606.151(e)).",
    )


def network_panel(request):
    """The dashboard's way into the network pages, for staff of verified hospitals."""
    if not hospitals_for(request.user).filter(is_verified=True).exists():
        return None
    return {
        "title": "Blood network",
        "template": "admin/bloodbank/network_panel.html",
        "links": [
            (reverse("admin:bloodbank-network"), "Network stock and asking for units"),
            (reverse("admin:bloodbank-network-transfers"), "Transfers in and out"),
        ],
    }
