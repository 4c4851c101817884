from django.contrib import admin, messages

from .models import Condition, Dataset, MLModel
from .services import model_activate


@admin.register(Dataset)
class DatasetAdmin(admin.ModelAdmin):
    list_display = ("name", "title", "modality", "license", "redistributable_weights")
    search_fields = ("name", "title")


@admin.register(Condition)
class ConditionAdmin(admin.ModelAdmin):
    list_display = ("name", "specialty", "modalities", "dataset_names", "model_coverage")
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
class MLModelAdmin(admin.ModelAdmin):
    list_display = ("name", "version", "is_active", "dataset", "architecture", "modality", "validation_accuracy", "validation_auc", "created_at")
    list_filter = ("is_active", "architecture", "dataset")
    search_fields = ("name", "dataset")
    readonly_fields = ("name", "version", "dataset", "architecture", "modality", "classes", "input_shape", "metrics", "artifact_path", "card", "is_active", "created_at", "updated_at")
    filter_horizontal = ("conditions",)
    actions = ["activate_selected"]

    @admin.display(description="Val. accuracy")
    def validation_accuracy(self, model):
        value = model.metrics.get("validation", {}).get("accuracy")
        return "-" if value is None else f"{value:.3f}"

    @admin.display(description="Val. AUC")
    def validation_auc(self, model):
        value = model.metrics.get("validation", {}).get("auc")
        return "-" if value is None else f"{value:.3f}"

    @admin.action(description="Make the selected version the active one of its name")
    def activate_selected(self, request, queryset):
        for model in queryset.order_by("name", "-version").distinct():
            model_activate(model=model)
        self.message_user(request, f"Activated {queryset.count()} version(s).", messages.SUCCESS)

    def has_add_permission(self, request):
        return False  # versions come from training (train_model) or from disk (sync_models)
