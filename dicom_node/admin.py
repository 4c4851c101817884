"""The DICOM node in the console: each hospital's peers and routing rules (written through the
services), the associations received and what became of them, the instances waiting for a person
to choose a condition, and the results sent back."""

from django import forms
from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from healthsync.admin_site import HospitalScopedAdmin, ServiceAdminMixin
from healthsync.permissions import CHANGE
from imaging.models import Condition, MLModel

from . import services
from .models import DicomAssociation, DicomPeer, InstanceStatus, ReceivedInstance, ResultDelivery, RoutingRule


class ReadOnlyRecords:
    """Rows the node writes: staff read them, nobody adds, changes or deletes them by hand."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(DicomPeer)
class DicomPeerAdmin(ServiceAdminMixin, HospitalScopedAdmin):
    """The remote AEs a hospital trusts; hospital administrators register them."""

    change_perm = CHANGE
    list_display = ["ae_title", "host", "port", "is_destination", "hospital", "description"]
    list_filter = ["is_destination"]
    search_fields = ["ae_title", "host", "description"]

    def save_model(self, request, obj, form, change):
        self.call_service(request, services.peer_save, peer=obj)


RULE_FIELDS = [
    "hospital",
    "priority",
    "modality",
    "body_part",
    "series_description",
    "sop_class_uid",
    "condition",
    "model",
    "is_active",
]


class RoutingRuleForm(forms.ModelForm):
    class Meta:
        model = RoutingRule
        fields = RULE_FIELDS

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "model" in self.fields:
            self.fields["model"].queryset = MLModel.objects.filter(is_active=True)


@admin.register(RoutingRule)
class RoutingRuleAdmin(ServiceAdminMixin, HospitalScopedAdmin):
    """Which condition (and model) each received instance is analysed for; tried in order of priority."""

    change_perm = CHANGE
    form = RoutingRuleForm
    list_display = [*RULE_FIELDS[1:], "hospital"]
    list_filter = ["is_active", "modality"]
    list_select_related = ["condition", "model", "hospital"]

    def save_model(self, request, obj, form, change):
        self.call_service(request, services.rule_save, rule=obj)


@admin.register(DicomAssociation)
class DicomAssociationAdmin(ReadOnlyRecords, HospitalScopedAdmin):
    """Every association asked for, accepted or rejected, with what it brought."""

    list_display = [
        "started_at",
        "calling_ae",
        "host",
        "status",
        "received",
        "refused",
        "hospital",
        "ended_at",
        "detail",
    ]
    list_filter = ["status"]
    search_fields = ["calling_ae", "host"]
    list_select_related = ["hospital"]


class ChooseConditionForm(forms.ModelForm):
    """For an instance no rule (or model) took: the condition to analyse it for."""

    condition = forms.ModelChoiceField(
        queryset=Condition.objects.filter(models__is_active=True).distinct(),
        help_text="Its default model reads the instance unless you choose one.",
    )
    model = forms.ModelChoiceField(
        queryset=MLModel.objects.filter(is_active=True), required=False, help_text="Empty: the condition's default."
    )
    force = forms.BooleanField(
        required=False,
        label="Analyse anyway",
        help_text="Analyse an image the model's checks find unlike its own images; the result carries the warning.",
    )

    class Meta:
        model = ReceivedInstance
        fields = []


@admin.register(ReceivedInstance)
class ReceivedInstanceAdmin(ServiceAdminMixin, ReadOnlyRecords, HospitalScopedAdmin):
    """Received instances; one waiting for a person opens on the choice of its condition."""

    form = ChooseConditionForm
    service_fields = {"model": "model", "condition": "condition"}
    list_display = ["id", "received_at", "modality", "body_part", "status", "reason", "analysis_links", "hospital"]
    list_filter = ["status", "modality"]
    list_select_related = ["hospital"]
    readonly_fields = [
        "received_at",
        "association",
        "modality",
        "body_part",
        "sop_class_uid",
        "status",
        "reason",
        "analysis_links",
    ]

    def get_fields(self, request, obj=None):
        waiting = obj is not None and obj.status == InstanceStatus.WAITING
        return self.readonly_fields + (["condition", "model", "force"] if waiting else [])

    @admin.display(description="Analyses")
    def analysis_links(self, instance):
        links = [
            (reverse("admin:imaging-analysis", kwargs={"analysis_id": pk}), pk)
            for pk in instance.analyses.values_list("pk", flat=True)
        ]
        return format_html_join(", ", '<a href="{}">{}</a>', links) if links else "-"

    def has_change_permission(self, request, obj=None):
        """Only the choice of a waiting instance's condition, by its hospital's staff."""
        return HospitalScopedAdmin.has_change_permission(self, request, obj) and (
            obj is None or obj.status == InstanceStatus.WAITING
        )

    def save_model(self, request, obj, form, change):
        self.call_service(
            request,
            services.instance_analyse,
            instance=obj,
            condition=form.cleaned_data["condition"],
            model=form.cleaned_data.get("model"),
            force=form.cleaned_data.get("force", False),
            by=request.user,
        )


@admin.register(ResultDelivery)
class ResultDeliveryAdmin(ServiceAdminMixin, ReadOnlyRecords, HospitalScopedAdmin):
    """Results on their way back (structured report and Grad-CAM secondary capture per analysis)."""

    service_arg = "delivery"
    list_display = [
        "created_at",
        "analysis_link",
        "status",
        "destination",
        "attempts",
        "next_attempt_at",
        "sent_at",
        "last_error",
        "hospital",
    ]
    list_filter = ["status"]
    list_select_related = ["hospital"]
    actions = ["send_again"]

    @admin.display(description="Analysis")
    def analysis_link(self, delivery):
        return format_html(
            '<a href="{}">{}</a>',
            reverse("admin:imaging-analysis", kwargs={"analysis_id": delivery.analysis_id}),
            delivery.analysis_id,
        )

    @admin.action(description="Send the selected results again now")
    def send_again(self, request, queryset):
        from .tasks import send_results

        def resend(*, delivery, by):
            delivery = services.delivery_retry(delivery=delivery, by=by)
            send_results.delay(delivery_id=delivery.pk)
            return delivery

        self.run_each(request, queryset, resend, "deliveries queued", by=request.user)
