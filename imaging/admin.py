from django.contrib import admin, messages

from healthsync.admin_site import HospitalScopedAdmin, StaffReadOnlyAdmin
from healthsync.errors import DomainError
from healthsync.security import require_recent_login

from .models import Condition, Dataset, ImageAnalysis, MLModel
from .selectors import queue_status
from .services import model_activate, model_retire
from .views import analyse, analysis_detail

admin.site.register_view("imaging/analyse/", analyse, name="imaging-analyse", title="Analyse images")
admin.site.register_view(
    "imaging/analyses/<int:analysis_id>/", analysis_detail, name="imaging-analysis", title="Analysis", linked=False
)


@admin.register(Dataset)
class DatasetAdmin(StaffReadOnlyAdmin):
    list_display = ("name", "title", "modality", "license", "redistributable_weights")
    search_fields = ("name", "title")


@admin.register(Condition)
class ConditionAdmin(StaffReadOnlyAdmin):
    list_display = ("name", "code", "specialty", "modalities", "dataset_names", "model_coverage")
    list_filter = ("specialty",)
    search_fields = ("name", "specialty", "modalities")
    filter_horizontal = ("datasets",)

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("datasets", "models")

    @admin.display(description="Data sets")
    def dataset_names(self, condition):
        return ", ".join(dataset.name for dataset in condition.datasets.all()) or "-"

    @admin.display(description="Models")
    def model_coverage(self, condition):
        active = [str(model) for model in condition.models.all() if model.is_active]
        return ", ".join(active) or "no model yet"


@admin.register(MLModel)
class MLModelAdmin(StaffReadOnlyAdmin):
    list_display = (
        "name",
        "version",
        "is_active",
        "dataset",
        "architecture",
        "modality",
        "validation_accuracy",
        "validation_auc",
        "created_at",
    )
    list_filter = ("is_active", "architecture", "dataset")
    search_fields = ("name", "dataset")
    readonly_fields = (
        "name",
        "version",
        "dataset",
        "architecture",
        "modality",
        "classes",
        "input_shape",
        "metrics",
        "artifact_path",
        "card",
        "is_active",
        "created_at",
        "updated_at",
    )
    filter_horizontal = ("conditions",)
    actions = ["activate_selected", "retire_selected"]

    @admin.display(description="Val. accuracy")
    def validation_accuracy(self, model):
        value = model.metrics.get("validation", {}).get("accuracy")
        return "-" if value is None else f"{value:.3f}"

    @admin.display(description="Val. AUC")
    def validation_auc(self, model):
        value = model.metrics.get("validation", {}).get("auc")
        return "-" if value is None else f"{value:.3f}"

    @admin.action(description="Make the selected version the active one of its name", permissions=["change"])
    def activate_selected(self, request, queryset):
        self._change_selected(request, queryset, model_activate, "Activated")

    @admin.action(description="Retire the selected versions (no new analysis uses them)", permissions=["change"])
    def retire_selected(self, request, queryset):
        self._change_selected(request, queryset, model_retire, "Retired")

    def _change_selected(self, request, queryset, service, done: str) -> None:
        """Platform administrators only (the page is theirs), with a recent login, as in the API."""
        try:
            require_recent_login(request)
        except DomainError as exc:
            self.message_user(request, exc.message, messages.ERROR)
            return
        for model in queryset.order_by("name", "-version").distinct():
            service(model=model)
        self.message_user(request, f"{done} {queryset.count()} version(s).", messages.SUCCESS)

    def has_add_permission(self, request):
        return False  # versions come from training (train_model) or from disk (sync_models)


# Shown on the analysis page to the hospital's own staff only, never in the generic admin form.
PERSONAL_FIELDS = [
    "patient_identifiers",
    "patient_reference",
    "accession_number",
    "original_name",
    "patient_digest",
    "accession_digest",
]


@admin.register(ImageAnalysis)
class ImageAnalysisAdmin(HospitalScopedAdmin):
    """The history of analyses, with filters; each opens on the analysis page."""

    list_display = [
        "id",
        "submitted_at",
        "dataset",
        "model",
        "status",
        "predicted_class",
        "confirmation",
        "requested_by",
    ]
    list_filter = ["status", "dataset", "confirmation", "model"]
    search_fields = [
        "predicted_class"
    ]  # file names and patient references are encrypted: search them through the API's digests
    list_select_related = ["model", "requested_by"]
    readonly_fields = [field.name for field in ImageAnalysis._meta.fields if field.name not in PERSONAL_FIELDS]
    exclude = PERSONAL_FIELDS

    def has_add_permission(self, request):
        return False  # analyses start on the analysis page or through the API

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def change_view(self, request, object_id, form_url="", extra_context=None):
        from django.shortcuts import redirect

        if not object_id.isdigit():  # no analysis has this id: as any admin page of a missing object
            return self._get_obj_does_not_exist_redirect(request, self.opts, object_id)
        return redirect("admin:imaging-analysis", analysis_id=object_id)


@admin.site.register_panel
def imaging_queue_panel(request):
    from healthsync.permissions import can_anywhere

    if not (request.user.is_superuser or can_anywhere(request.user)):
        return None
    return {"title": "Imaging queue", "template": "admin/imaging/queue_panel.html", "queue": queue_status()}
