"""Blood bank pages of the operations console. Actions call services; nothing is decided here."""

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.admin.widgets import AdminSplitDateTime
from django.db.models import Count, Q
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone

from healthsync.admin_site import HospitalScopedAdmin, ServiceAdminMixin
from healthsync.audit import note_patient_read
from healthsync.display import use_by
from healthsync.errors import DomainError
from healthsync.permissions import hospitals_for
from healthsync.security import require_recent_login

from . import console, selectors, services
from .display import UrgencyFilter, urgency_choices, urgency_label
from .models import Allocation, AllocationStatus, BloodRequest, BloodUnit, ParLevel, Transfer, UnitEvent, UnitStatus

site = admin.site

# The blood network's console pages (bloodbank/console.py), linked from the dashboard.
site.register_view("bloodbank/network/", console.network_stock, name="bloodbank-network", title="Blood network")
site.register_view(
    "bloodbank/network/transfers/", console.transfers, name="bloodbank-network-transfers", title="Transfers in and out"
)
site.register_view(
    "bloodbank/network/ask/", console.ask_for_units, name="bloodbank-network-ask", title="Ask for units", linked=False
)
site.register_view(
    "bloodbank/network/transfers/<int:transfer_id>/<slug:step>/",
    console.transfer_step,
    name="bloodbank-network-transfer-step",
    title="Transfer step",
    linked=False,
)
site.register_view(
    "bloodbank/network/requests/<int:request_id>/",
    console.network_request,
    name="bloodbank-network-request",
    title="Network request",
    linked=False,
)
site.register_view(
    "bloodbank/requests/<int:request_id>/emergency-release/",
    console.emergency_release,
    name="bloodbank-emergency-release",
    title="Emergency release",
    linked=False,
)
site.register_panel(console.network_panel)


def _run(modeladmin, request, queryset, action, done: str):
    """Apply a service to each selected row, reporting refusals instead of failing the whole batch."""
    succeeded = 0
    for obj in queryset:
        try:
            action(obj)
            succeeded += 1
        except DomainError as exc:
            modeladmin.message_user(request, f"{obj}: {exc.message}", messages.ERROR)
    if succeeded:
        modeladmin.message_user(request, f"{succeeded} {done}.", messages.SUCCESS)


class ExpiringSoonFilter(admin.SimpleListFilter):
    title = "expiring"
    parameter_name = "expiring"

    def lookups(self, request, model_admin):
        return [("1", "within 1 day"), ("3", "within 3 days"), ("7", "within 7 days")]

    def queryset(self, request, queryset):
        if self.value() in {"1", "3", "7"}:
            now = timezone.now()
            return queryset.filter(expires_at__gt=now, expires_at__lte=now + timezone.timedelta(days=int(self.value())))
        return queryset


class ReadOnlyInline(admin.TabularInline):
    """Rows shown under an object the user may already see (the parent admin scoped it)."""

    extra = 0
    can_delete = False

    def has_view_permission(self, request, obj=None):
        return True

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class UnitEventInline(ReadOnlyInline):
    model = UnitEvent
    fields = ["at", "from_status", "to_status", "hospital", "by", "reason", "request", "transfer"]
    readonly_fields = fields
    verbose_name_plural = "History (vein to vein)"


def _with_form(
    modeladmin, request, queryset, *, form_class, title: str, intro: str, button: str, apply, recent_login: bool = False
):
    """An action that asks for details first: a page of its own with ``form_class`` for the selected
    rows; once the form is valid, ``apply(cleaned_data)`` runs. ``recent_login``: the action may
    discard units, so it needs a recent login (``require_recent_login``)."""
    if recent_login:
        try:
            require_recent_login(request)
        except DomainError as exc:
            modeladmin.message_user(request, exc.message, messages.ERROR)
            return None
    if "apply" in request.POST:
        form = form_class(request.POST)
        if form.is_valid():
            apply(form.cleaned_data)
            return None
    else:
        form = form_class()
    return render(
        request,
        "admin/bloodbank/action_form.html",
        {
            **modeladmin.admin_site.each_context(request),
            "title": title,
            "intro": intro,
            "button": button,
            "rows": queryset,
            "form": form,
            "action": request.POST.get("action", ""),
            "action_checkbox_name": ACTION_CHECKBOX_NAME,
            "opts": modeladmin.model._meta,
        },
    )


class DiscardForm(forms.Form):
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), help_text="Recorded on each unit's history.")


class TransfusedForm(forms.Form):
    started_at = forms.SplitDateTimeField(label="Started at", widget=AdminSplitDateTime)
    ended_at = forms.SplitDateTimeField(label="Ended at", required=False, widget=AdminSplitDateTime)
    reaction = forms.BooleanField(label="Suspected transfusion reaction", required=False)
    note = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}), required=False, help_text="What was seen (required with a reaction)."
    )


class LaterReactionForm(forms.Form):
    reaction_note = forms.CharField(label="What was seen", widget=forms.Textarea(attrs={"rows": 3}))


class ReturnForm(forms.Form):
    seal_intact = forms.TypedChoiceField(
        label="Seal intact",
        choices=[("yes", "Yes: not spiked or opened"), ("no", "No")],
        coerce=lambda value: value == "yes",
        widget=forms.RadioSelect,
        help_text="A red cell unit also goes back to stock only within the return limit after issue.",
    )


@admin.register(BloodUnit)
class BloodUnitAdmin(HospitalScopedAdmin):
    list_display = ["din_display", "component", "blood_group", "volume_ml", "status", "expires_at", "hospital"]
    list_filter = ["status", "component", "blood_group", ExpiringSoonFilter, "hospital"]
    search_fields = ["din"]
    list_select_related = ["hospital"]
    readonly_fields = ["din", "status", "collected_at", "expires_at", "created_at", "updated_at"]
    fields = [
        "hospital",
        "din",
        "component",
        "product_code",
        "blood_group",
        "volume_ml",
        "anticoagulant",
        "status",
        "collected_at",
        "use_by",
        "created_at",
        "updated_at",
    ]
    inlines = [UnitEventInline]
    actions = ["release_from_quarantine", "discard_units"]

    def get_search_results(self, request, queryset, search_term):
        # Staff type or scan DINs with spaces and the check character.
        return super().get_search_results(request, queryset, search_term.replace(" ", "").upper()[:13])

    def has_add_permission(self, request):
        return False  # units enter through receipt (API) or collection (donors), which assign DINs

    def has_delete_permission(self, request, obj=None):
        return False  # units are discarded, never deleted: their history is kept

    def get_readonly_fields(self, request, obj=None):
        return self.fields

    @admin.display(description="Expiry")
    def use_by(self, unit):
        return use_by(unit.expires_at)

    @admin.action(description="Release from quarantine")
    def release_from_quarantine(self, request, queryset):
        _run(
            self, request, queryset, lambda unit: services.unit_release(unit=unit, by=request.user), "unit(s) released"
        )

    @admin.action(description="Discard (with a reason)")
    def discard_units(self, request, queryset):
        return _with_form(
            self,
            request,
            queryset,
            form_class=DiscardForm,
            title="Discard units",
            button="Discard",
            recent_login=True,
            intro="Discard these units? Each unit's history records the reason and that you discarded it.",
            apply=lambda data: _run(
                self,
                request,
                queryset,
                lambda unit: services.unit_discard(unit=unit, by=request.user, reason=data["reason"]),
                "unit(s) discarded",
            ),
        )


class AllocationInline(ReadOnlyInline):
    model = Allocation
    fields = [
        "unit",
        "status",
        "emergency",
        "anti_d_advised",
        "crossmatch_compatible",
        "allocated_at",
        "allocated_by",
        "issued_at",
    ]
    readonly_fields = fields


class BloodRequestForm(forms.ModelForm):
    """The bounds of ``services.request_create``, so most mistakes are caught on the form itself."""

    urgency = forms.TypedChoiceField(
        choices=urgency_choices, coerce=int, help_text="4 and 5 alert the network and donors."
    )
    units_requested = forms.IntegerField(label="Units requested", min_value=1, max_value=services.MAX_REQUEST_UNITS)

    class Meta:
        model = BloodRequest
        fields = [
            "hospital",
            "component",
            "blood_group",
            "units_requested",
            "urgency",
            "needed_by",
            "patient_reference",
        ]


@admin.register(BloodRequest)
class BloodRequestAdmin(ServiceAdminMixin, HospitalScopedAdmin):
    form = BloodRequestForm
    service_fields = {"units": "units_requested"}
    list_display = [
        "id",
        "hospital",
        "component",
        "blood_group",
        "units_requested",
        "urgency",
        "status",
        "needed_by",
        "created_at",
    ]
    list_filter = ["status", UrgencyFilter, "component", "blood_group", "hospital"]
    search_fields = ["id"]
    list_select_related = ["hospital"]
    readonly_fields = [
        "status",
        "created_by",
        "created_at",
        "fulfilled_at",
        "emergency_physician",
        "emergency_released_at",
        "emergency_released_by",
    ]
    fields = [
        "hospital",
        "component",
        "blood_group",
        "units_requested",
        "urgency",
        "needed_by",
        "patient_reference",
        *readonly_fields,
    ]
    inlines = [AllocationInline]
    actions = ["fulfil", "cancel", "ask_network", "release_in_emergency"]

    def has_delete_permission(self, request, obj=None):
        return False

    def get_fields(self, request, obj=None):
        return (
            self.fields if obj is None else [name if name != "urgency" else "urgency_display" for name in self.fields]
        )

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return self.readonly_fields
        return self.get_fields(request, obj)  # a request is changed through its actions, not edited

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None and obj.patient_reference:
            note_patient_read(request, obj, ["patient_reference"])  # only the hospital's staff reach this page
        return super().render_change_form(request, context, add, change, form_url, obj)

    @admin.display(description="Urgency")
    def urgency_display(self, blood_request):
        return urgency_label(blood_request.urgency)

    def save_model(self, request, obj, form, change):
        if change:
            return
        created = self.call_service(
            request,
            services.request_create,
            hospital=obj.hospital,
            component=obj.component,
            blood_group=obj.blood_group,
            units=obj.units_requested,
            urgency=obj.urgency,
            needed_by=obj.needed_by,
            patient_reference=obj.patient_reference or "",
            by=request.user,
        )
        if created is not None:
            obj.pk, obj.status, obj.created_by, obj.created_at = (
                created.pk,
                created.status,
                created.created_by,
                created.created_at,
            )

    @admin.action(description="Fulfil from own stock")
    def fulfil(self, request, queryset):
        _run(
            self,
            request,
            queryset,
            lambda r: services.request_fulfil(request=r, by=request.user),
            "request(s) allocated",
        )

    @admin.action(description="Cancel")
    def cancel(self, request, queryset):
        _run(
            self,
            request,
            queryset,
            lambda r: services.request_cancel(request=r, by=request.user),
            "request(s) cancelled",
        )

    def _open_for_one(self, request, queryset, url_of, what: str):
        """Go to the console page ``url_of(pk)`` of the one selected request."""
        if len(queryset) != 1:
            self.message_user(request, f"{what} for one request at a time.", messages.ERROR)
            return None
        return redirect(url_of(queryset[0].pk))

    @admin.action(description="Ask the network for units")
    def ask_network(self, request, queryset):
        return self._open_for_one(
            request, queryset, lambda pk: f"{reverse('admin:bloodbank-network-ask')}?request={pk}", "Ask the network"
        )

    @admin.action(description="Emergency release (urgency 5, uncrossmatched group O)")
    def release_in_emergency(self, request, queryset):
        return self._open_for_one(
            request,
            queryset,
            lambda pk: reverse("admin:bloodbank-emergency-release", args=[pk]),
            "Release in an emergency",
        )


@admin.register(Allocation)
class AllocationAdmin(ServiceAdminMixin, HospitalScopedAdmin):
    """Reserved units are crossmatched on their change page (saved through
    ``services.allocation_crossmatch``), then issued."""

    hospital_lookup = "request__hospital"
    list_display = [
        "unit",
        "request",
        "status",
        "emergency",
        "anti_d_advised",
        "crossmatch_compatible",
        "allocated_at",
        "issued_at",
    ]
    list_filter = ["status", "emergency", "crossmatch_compatible"]
    search_fields = ["unit__din"]
    list_select_related = ["unit", "request"]
    crossmatch_fields = [
        "crossmatch_method",
        "crossmatch_sample_id",
        "crossmatch_sample_drawn_at",
        "crossmatch_compatible",
    ]
    readonly_fields = [
        "unit",
        "request",
        "status",
        "emergency",
        "anti_d_advised",
        "allocated_at",
        "allocated_by",
        "issued_at",
    ]
    fields = [
        *readonly_fields,
        *crossmatch_fields,
        "crossmatched_by",
        "crossmatched_at",
        "transfusion_started_at",
        "transfusion_ended_at",
        "transfusion_reaction",
        "transfusion_note",
        "transfusion_recorded_by",
        "returned_at",
        "returned_by",
    ]
    actions = ["issue", "record_transfused", "report_later_reaction", "return_unused"]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_readonly_fields(self, request, obj=None):
        if obj is not None and obj.status == AllocationStatus.RESERVED:
            return [field for field in self.fields if field not in self.crossmatch_fields]
        return self.fields

    def save_model(self, request, obj, form, change):
        if not set(self.crossmatch_fields) & set(form.changed_data):
            return
        data = form.cleaned_data
        allocation = self.call_service(
            request,
            services.allocation_crossmatch,
            allocation=obj,
            method=data.get("crossmatch_method"),
            sample_id=data.get("crossmatch_sample_id"),
            sample_drawn_at=data.get("crossmatch_sample_drawn_at"),
            compatible=data.get("crossmatch_compatible"),
            by=request.user,
        )
        if allocation is not None and allocation.status == AllocationStatus.CANCELLED:
            self.message_user(
                request, "Incompatible: the reservation is cancelled and the unit is back in stock.", messages.WARNING
            )

    def save_related(self, request, form, formsets, change):
        pass  # nothing related is edited here

    @admin.action(description="Issue to the patient")
    def issue(self, request, queryset):
        _run(
            self,
            request,
            queryset,
            lambda a: services.allocation_issue(allocation=a, by=request.user),
            "unit(s) issued",
        )

    @admin.action(description="Record as transfused")
    def record_transfused(self, request, queryset):
        def apply(data):
            if data["reaction"] and len(queryset) > 1:
                self.message_user(request, "Record a suspected reaction for one unit at a time.", messages.ERROR)
                return
            _run(
                self,
                request,
                queryset,
                lambda a: services.allocation_transfuse(
                    allocation=a,
                    by=request.user,
                    started_at=data["started_at"],
                    ended_at=data["ended_at"],
                    reaction=data["reaction"],
                    note=data["note"],
                ),
                "transfusion(s) recorded",
            )

        return _with_form(
            self,
            request,
            queryset,
            form_class=TransfusedForm,
            title="Record transfusions",
            button="Record",
            intro="These issued units were transfused to their request's patient.",
            apply=apply,
        )

    @admin.action(description="Report a reaction seen after the transfusion")
    def report_later_reaction(self, request, queryset):
        if len(queryset) > 1:
            self.message_user(request, "Report a reaction for one unit at a time.", messages.ERROR)
            return None

        def apply(data):
            _run(
                self,
                request,
                queryset,
                lambda a: services.allocation_transfusion_amend(
                    allocation=a, by=request.user, reaction_note=data["reaction_note"]
                ),
                "reaction(s) reported",
            )

        return _with_form(
            self,
            request,
            queryset,
            form_class=LaterReactionForm,
            title="Report a transfusion reaction",
            button="Report",
            intro="A suspected reaction to this transfused unit, seen since the transfusion was recorded. "
            "The hospital's staff are alerted.",
            apply=apply,
        )

    @admin.action(description="Return unused to the blood bank")
    def return_unused(self, request, queryset):
        def apply(data):
            _run(
                self,
                request,
                queryset,
                lambda a: services.allocation_return(allocation=a, by=request.user, seal_intact=data["seal_intact"]),
                "unit(s) returned",
            )

        return _with_form(
            self,
            request,
            queryset,
            form_class=ReturnForm,
            title="Return unused units",
            button="Return",
            recent_login=True,
            intro="These issued units came back unused. Each goes back to stock if the rules allow it, otherwise it is "
            "discarded with the reason on its history.",
            apply=apply,
        )


@admin.register(Transfer)
class TransferAdmin(ServiceAdminMixin, HospitalScopedAdmin):
    list_display = [
        "id",
        "from_hospital",
        "to_hospital",
        "component",
        "blood_group",
        "units_requested",
        "status",
        "requested_at",
    ]
    list_filter = ["status", "component", "blood_group"]
    readonly_fields = [
        "status",
        "units",
        "requested_by",
        "requested_at",
        "decided_by",
        "decided_at",
        "dispatched_by",
        "dispatched_at",
        "received_by",
        "received_at",
    ]
    actions = ["approve", "decline", "dispatch", "receive", "cancel"]
    service_arg = "transfer"

    def get_queryset(self, request):
        mine = hospitals_for(request.user)
        queryset = super(HospitalScopedAdmin, self).get_queryset(request)
        if request.user.is_superuser:
            return queryset
        return queryset.filter(Q(from_hospital__in=mine) | Q(to_hospital__in=mine))

    def has_view_permission(self, request, obj=None):
        return self.has_module_permission(request)

    def has_add_permission(self, request):
        return False  # asked for on the console's network page (or the API), from a shortage or a request

    def has_change_permission(self, request, obj=None):
        return False  # a transfer moves through its actions

    def has_delete_permission(self, request, obj=None):
        return False

    def _step(self, request, queryset, step: str, done: str):
        """``step`` on each selected transfer; one of the other side's, or one it cannot take now, is
        refused with the reason."""
        self.run_each(request, queryset, services.transfer_step, done, step=step, by=request.user)

    @admin.action(description="Approve (holding hospital)")
    def approve(self, request, queryset):
        self._step(request, queryset, "approve", "transfer(s) approved")

    @admin.action(description="Decline (holding hospital)")
    def decline(self, request, queryset):
        self._step(request, queryset, "decline", "transfer(s) declined")

    @admin.action(description="Dispatch (holding hospital)")
    def dispatch(self, request, queryset):
        self._step(request, queryset, "dispatch", "transfer(s) dispatched")

    @admin.action(description="Receive (requesting hospital)")
    def receive(self, request, queryset):
        self._step(request, queryset, "receive", "transfer(s) received")

    @admin.action(description="Cancel before dispatch (either hospital; reserved units back to stock)")
    def cancel(self, request, queryset):
        self._step(request, queryset, "cancel", "transfer(s) cancelled")


@admin.register(ParLevel)
class ParLevelAdmin(HospitalScopedAdmin):
    list_display = ["hospital", "component", "blood_group", "critical_units", "low_units"]
    list_filter = ["component", "blood_group", "hospital"]
    list_editable = ["critical_units", "low_units"]


@site.register_panel
def inventory_panel(request):
    hospitals = hospitals_for(request.user)
    if not hospitals.exists():
        return None
    summary = selectors.inventory_summary(hospitals=hospitals)
    open_requests = (
        BloodRequest.objects.filter(hospital__in=hospitals, status__in=["pending", "partially_fulfilled"])
        .values("urgency")
        .annotate(n=Count("id"))
        .order_by("-urgency")
    )
    return {
        "title": "Blood inventory" + (" (all hospitals)" if request.user.is_superuser else ""),
        "template": "admin/panels/inventory.html",
        "wide": True,  # a column per blood group
        "rows": [row for row in summary["components"] if row["component"] in ("red_cells", "platelets", "plasma")],
        "seed_rows": summary["inventory"],
        "expiring": selectors.units_expiring(hospitals=hospitals, days=3)[:10],
        "open_requests": list(open_requests),
        "quarantined": BloodUnit.objects.filter(hospital__in=hospitals, status=UnitStatus.QUARANTINED).count(),
    }
