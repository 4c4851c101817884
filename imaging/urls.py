from django.urls import path

from . import api

urlpatterns = [
    path("datasets", api.datasets, name="imaging-datasets"),
    path("conditions", api.condition_list, name="imaging-conditions"),
    path("conditions/<str:reference>", api.condition_detail, name="imaging-condition"),
    path("models", api.model_list, name="imaging-models"),
    path("models/<int:model_id>/activate", api.model_activate, name="imaging-model-activate"),
    path("models/<int:model_id>/retire", api.model_retire, name="imaging-model-retire"),
    path("load-model", api.load_model, name="imaging-load-model"),
    path("predict", api.predict, name="imaging-predict"),
    path("analyses", api.AnalysisList.as_view(), name="imaging-analyses"),
    path("analyses/<int:pk>", api.AnalysisDetail.as_view(), name="imaging-analysis"),
    path("analyses/<int:analysis_id>/confirm", api.confirm, name="imaging-analysis-confirm"),
    path("analyses/<int:analysis_id>/gradcam.png", api.gradcam, name="imaging-analysis-gradcam"),
    path("analyses/<int:analysis_id>/image", api.image, name="imaging-analysis-image"),
]
