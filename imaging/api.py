"""The seed's imaging API: /api/datasets, /api/models, /api/load-model, /api/predict, /api/analyses."""

import json

from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import generics, serializers, status
from rest_framework.decorators import api_view, parser_classes, permission_classes
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.response import Response

from healthsync.api.throttling import rate_limited
from healthsync.permissions import ACT, IsHospitalStaff, acting_hospital, can, scope_to_hospitals

from . import analyses
from .models import AnalysisStatus, Dataset, ImageAnalysis, MLModel


class ModelSerializer(serializers.ModelSerializer):
    active = serializers.BooleanField(source="is_active")
    validation = serializers.SerializerMethodField()

    class Meta:
        model = MLModel
        fields = ["id", "name", "version", "dataset", "architecture", "modality", "classes", "input_shape", "active", "validation", "created_at"]

    def get_validation(self, model) -> dict:
        return model.metrics.get("validation", model.metrics)


_DATETIME = serializers.DateTimeField()


def _stamp(value) -> str | None:
    return _DATETIME.to_representation(value) if value is not None else None


class AnalysisSerializer(serializers.ModelSerializer):
    analysis_id = serializers.IntegerField(source="id")
    model = serializers.SerializerMethodField()
    condition = serializers.CharField(source="condition.name", default=None)
    gradcam_url = serializers.SerializerMethodField()
    image_url = serializers.SerializerMethodField()
    patient_identifiers = serializers.SerializerMethodField()
    timings_ms = serializers.SerializerMethodField()

    class Meta:
        model = ImageAnalysis
        fields = ["analysis_id", "status", "dataset", "condition", "model", "predictions", "predicted_class", "gradcam_url",
                  "image_url", "image_kind", "original_name", "study_metadata", "patient_identifiers", "failure_reason",
                  "submitted_at", "started_at", "finished_at", "timings_ms", "confirmation", "true_finding", "confirmed_at", "batch", "hospital"]

    def to_representation(self, analysis) -> dict:
        """The fields above, built directly: DRF's field-by-field walk cost 1-2 ms for a single
        analysis (most of it building the fields) and about 0.15 ms for each further row, a large
        share of a prediction's overhead over its compute. ``test_analyses_api`` holds the two equal."""
        return {
            "analysis_id": analysis.pk, "status": analysis.status, "dataset": analysis.dataset,
            "condition": analysis.condition.name if analysis.condition_id else None, "model": self.get_model(analysis),
            "predictions": analysis.predictions, "predicted_class": analysis.predicted_class,
            "gradcam_url": self.get_gradcam_url(analysis), "image_url": self.get_image_url(analysis),
            "image_kind": analysis.image_kind, "original_name": analysis.original_name, "study_metadata": analysis.study_metadata,
            "patient_identifiers": self.get_patient_identifiers(analysis), "failure_reason": analysis.failure_reason,
            "submitted_at": _stamp(analysis.submitted_at), "started_at": _stamp(analysis.started_at),
            "finished_at": _stamp(analysis.finished_at), "timings_ms": self.get_timings_ms(analysis),
            "confirmation": analysis.confirmation, "true_finding": analysis.true_finding, "confirmed_at": _stamp(analysis.confirmed_at),
            "batch": str(analysis.batch) if analysis.batch is not None else None, "hospital": analysis.hospital_id,
        }

    def get_model(self, analysis) -> dict:
        return {"name": analysis.model.name, "version": analysis.model.version, "architecture": analysis.model.architecture}

    def _url(self, analysis, kind):
        """The analysis's file URL, absolute when serialising for a request: its scheme and host are
        read once per response (each ``build_absolute_uri`` validates the host again)."""
        if "site" not in self.context:
            request = self.context.get("request")
            self.context["site"] = request.build_absolute_uri("/").rstrip("/") if request else ""
        return f"{self.context['site']}/api/analyses/{analysis.pk}/{kind}"

    def get_gradcam_url(self, analysis) -> str | None:
        return self._url(analysis, "gradcam.png") if analysis.gradcam else None

    def get_image_url(self, analysis) -> str:
        return self._url(analysis, "image")

    def get_patient_identifiers(self, analysis) -> dict | None:
        """The DICOM's original identifiers: only for the hospital's own staff (not for platform administrators)."""
        request = self.context.get("request")
        if not analysis.patient_identifiers or request is None:
            return None
        if "member_of" not in self.context:  # looked up once for all the rows of a response
            self.context["member_of"] = set(request.user.memberships.values_list("hospital_id", flat=True))
        if analysis.hospital_id not in self.context["member_of"]:
            return None
        return json.loads(analysis.patient_identifiers)

    def get_timings_ms(self, analysis) -> dict:
        return {"queue_wait": analysis.queue_wait_ms, "preprocessing": analysis.preprocessing_ms,
                "inference": analysis.inference_ms, "gradcam": analysis.gradcam_ms}


@extend_schema(responses=serializers.ListSerializer(child=serializers.DictField()))
@api_view(["GET"])
@permission_classes([IsHospitalStaff])
def datasets(request):
    """Data sets with their conditions, modality and models."""
    models_by_dataset: dict[str, list] = {}
    for model in MLModel.objects.order_by("name", "-version"):
        models_by_dataset.setdefault(model.dataset, []).append(ModelSerializer(model).data)
    return Response([
        {"name": dataset.name, "title": dataset.title, "modality": dataset.modality, "license": dataset.license,
         "conditions": [condition.name for condition in dataset.conditions.all()], "models": models_by_dataset.get(dataset.name, [])}
        for dataset in Dataset.objects.prefetch_related("conditions")
    ])


@extend_schema(responses=ModelSerializer(many=True))
@api_view(["GET"])
@permission_classes([IsHospitalStaff])
def model_list(request):
    """Models with architecture, version, active flag and validation metrics."""
    return Response(ModelSerializer(MLModel.objects.order_by("name", "-version"), many=True).data)


@extend_schema(request=inline_serializer("LoadModel", {"dataset": serializers.CharField(), "model": serializers.CharField(required=False)}),
               responses={202: OpenApiTypes.OBJECT})
@api_view(["POST"])
@permission_classes([IsHospitalStaff])
def load_model(request):
    """Warm a model in the workers ahead of the first analysis."""
    from .tasks import warm_model

    chosen = analyses.model_for(dataset=str(request.data.get("dataset", "")), model=request.data.get("model") or None)
    warm_model.delay(model_id=chosen.pk)
    return Response({"model": chosen.name, "version": chosen.version, "status": "loading"}, status=status.HTTP_202_ACCEPTED)


def _truthy(value) -> bool:
    return str(value).lower() in {"1", "true", "yes", "on"}


@extend_schema(
    request={"multipart/form-data": inline_serializer("Predict", {
        "image": serializers.ListField(child=serializers.FileField()), "dataset": serializers.CharField(),
        "model": serializers.CharField(required=False), "wait": serializers.BooleanField(required=False),
        "hospital": serializers.IntegerField(required=False)})},
    parameters=[OpenApiParameter("wait", bool, description="Wait for the result (200) instead of 202.")],
    responses={200: OpenApiTypes.OBJECT, 202: OpenApiTypes.OBJECT},
)
@rate_limited("predict")
@api_view(["POST"])
@permission_classes([IsHospitalStaff])
@parser_classes([MultiPartParser, FormParser])
def predict(request):
    """Queue one analysis per `image` part (202 `{analysis_id, status}`); with `wait=true`, 200 with the predictions."""
    hospital = acting_hospital(request.user, request.data.get("hospital"))
    uploads = analyses.uploads_read(request.FILES.getlist("image"))
    wait = _truthy(request.query_params.get("wait", request.data.get("wait", "")))
    queued = (analyses.analyses_submit_and_wait if wait else analyses.analyses_submit)(
        hospital=hospital, user=request.user, dataset=str(request.data.get("dataset", "")).strip(),
        model=(str(request.data.get("model", "")).strip() or None), uploads=uploads,
    )
    if wait and all(analysis.status in (AnalysisStatus.DONE, AnalysisStatus.FAILED) for analysis in queued):
        rows, code = AnalysisSerializer(queued, many=True, context={"request": request}).data, status.HTTP_200_OK
    else:
        rows, code = [{"analysis_id": analysis.pk, "status": analysis.status} for analysis in queued], status.HTTP_202_ACCEPTED
    if len(rows) == 1:
        return Response(rows[0], status=code)
    return Response({"analysis_id": rows[0]["analysis_id"], "status": rows[0]["status"], "batch": str(queued[0].batch), "analyses": rows},
                    status=code)



class AnalysisList(generics.ListAPIView):
    """The hospital's analyses, newest first; filter by status, dataset, batch, confirmation."""

    serializer_class = AnalysisSerializer
    permission_classes = [IsHospitalStaff]
    filterset_fields = ["status", "dataset", "batch", "confirmation", "model"]
    queryset = ImageAnalysis.objects.none()

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return ImageAnalysis.objects.none()
        return scope_to_hospitals(ImageAnalysis.objects.select_related("model", "condition"), self.request.user)


class AnalysisDetail(generics.RetrieveAPIView):
    serializer_class = AnalysisSerializer
    permission_classes = [IsHospitalStaff]
    queryset = ImageAnalysis.objects.none()

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return ImageAnalysis.objects.none()
        return scope_to_hospitals(ImageAnalysis.objects.select_related("model", "condition"), self.request.user)


def _own_analysis(request, analysis_id) -> ImageAnalysis:
    return get_object_or_404(scope_to_hospitals(ImageAnalysis.objects.select_related("model"), request.user), pk=analysis_id)


@extend_schema(request=inline_serializer("Confirm", {"confirmation": serializers.ChoiceField(choices=["agrees", "disagrees", "uncertain"]),
                                                     "true_finding": serializers.CharField(required=False)}), responses=AnalysisSerializer)
@api_view(["POST"])
@permission_classes([IsHospitalStaff])
@parser_classes([JSONParser, FormParser, MultiPartParser])
def confirm(request, analysis_id):
    """A clinician agrees, disagrees (with the true finding) or is uncertain."""
    analysis = _own_analysis(request, analysis_id)
    if not can(request.user, ACT, analysis.hospital):
        raise Http404
    analysis = analyses.analysis_confirm(
        analysis=analysis, by=request.user, confirmation=str(request.data.get("confirmation", "")),
        true_finding=str(request.data.get("true_finding", "")),
    )
    return Response(AnalysisSerializer(analysis, context={"request": request}).data)


@extend_schema(responses={(200, "image/png"): OpenApiTypes.BINARY})
@api_view(["GET"])
@permission_classes([IsHospitalStaff])
def gradcam(request, analysis_id):
    analysis = _own_analysis(request, analysis_id)
    if not analysis.gradcam:
        raise Http404("No heatmap yet.")
    return FileResponse(_stored(analysis.gradcam), content_type="image/png")


@extend_schema(responses={(200, "application/octet-stream"): OpenApiTypes.BINARY})
@api_view(["GET"])
@permission_classes([IsHospitalStaff])
def image(request, analysis_id):
    """The study as kept (a DICOM is de-identified)."""
    analysis = _own_analysis(request, analysis_id)
    types = {"png": "image/png", "jpeg": "image/jpeg", "dicom": "application/dicom"}
    return FileResponse(_stored(analysis.image), content_type=types[analysis.image_kind])


def _stored(field):
    try:
        return field.open("rb")
    except FileNotFoundError:
        raise Http404("The stored file is missing (restore media files from the backup).") from None
