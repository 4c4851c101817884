"""The seed's imaging API: /api/datasets, /api/models, /api/load-model, /api/predict, /api/analyses."""

import json

from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import generics, serializers, status
from rest_framework.decorators import api_view, parser_classes, permission_classes
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response

from healthsync.api.parsers import JSONParser
from healthsync.api.throttling import rate_limited
from healthsync.audit import note_patient_read
from healthsync.permissions import ACT, IsHospitalStaff, acting_hospital, can, scope_to_hospitals
from healthsync.security import require_recent_login

from . import analyses, selectors, services
from .models import AnalysisStatus, Dataset, ImageAnalysis, MLModel


class ModelSerializer(serializers.ModelSerializer):
    active = serializers.BooleanField(source="is_active")
    validation = serializers.SerializerMethodField()

    class Meta:
        model = MLModel
        fields = [
            "id",
            "name",
            "version",
            "dataset",
            "architecture",
            "modality",
            "classes",
            "input_shape",
            "active",
            "validation",
            "external",
            "created_at",
        ]

    external = serializers.SerializerMethodField()

    def get_validation(self, model) -> dict:
        return model.metrics.get("validation", model.metrics)

    def get_external(self, model) -> dict | None:
        """Metrics measured outside the project (a held-out test split), when recorded in the card."""
        return model.metrics.get("external")


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
    patient_reference = serializers.SerializerMethodField()
    accession_number = serializers.SerializerMethodField()
    original_name = serializers.SerializerMethodField()
    timings_ms = serializers.SerializerMethodField()

    class Meta:
        model = ImageAnalysis
        fields = [
            "analysis_id",
            "status",
            "dataset",
            "condition",
            "requested_condition",
            "findings",
            "warnings",
            "model",
            "predictions",
            "predicted_class",
            "gradcam_url",
            "image_url",
            "image_kind",
            "original_name",
            "study_metadata",
            "patient_identifiers",
            "patient_reference",
            "accession_number",
            "failure_reason",
            "submitted_at",
            "started_at",
            "finished_at",
            "timings_ms",
            "confirmation",
            "true_finding",
            "confirmed_at",
            "amended_at",
            "batch",
            "hospital",
        ]

    def to_representation(self, analysis) -> dict:
        """The fields above, built directly: DRF's field-by-field walk cost 1-2 ms for a single
        analysis (most of it building the fields) and about 0.15 ms for each further row, a large
        share of a prediction's overhead over its compute. ``test_analyses_api`` holds the two equal."""
        return {
            "analysis_id": analysis.pk,
            "status": analysis.status,
            "dataset": analysis.dataset,
            "condition": analysis.findings[0]["condition"] if analysis.findings else None,
            "requested_condition": analysis.requested_condition.name if analysis.requested_condition_id else None,
            "findings": analysis.findings,
            "warnings": analysis.warnings,
            "model": self.get_model(analysis),
            "predictions": analysis.predictions,
            "predicted_class": analysis.predicted_class,
            "gradcam_url": self.get_gradcam_url(analysis),
            "image_url": self.get_image_url(analysis),
            "image_kind": analysis.image_kind,
            "original_name": self.get_original_name(analysis),
            "study_metadata": analysis.study_metadata,
            "patient_identifiers": self.get_patient_identifiers(analysis),
            **self.get_patient_context(analysis),
            "failure_reason": analysis.failure_reason,
            "submitted_at": _stamp(analysis.submitted_at),
            "started_at": _stamp(analysis.started_at),
            "finished_at": _stamp(analysis.finished_at),
            "timings_ms": self.get_timings_ms(analysis),
            "confirmation": analysis.confirmation,
            "true_finding": analysis.true_finding,
            "confirmed_at": _stamp(analysis.confirmed_at),
            "amended_at": _stamp(analysis.amended_at),
            "batch": str(analysis.batch) if analysis.batch is not None else None,
            "hospital": analysis.hospital_id,
        }

    def get_model(self, analysis) -> dict:
        return {
            "name": analysis.model.name,
            "version": analysis.model.version,
            "architecture": analysis.model.architecture,
        }

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

    def _own_staff(self, analysis) -> bool:
        """Whether the requester works for the analysis's hospital (platform administrators do not see patients)."""
        request = self.context.get("request")
        if request is None:
            return False
        if "member_of" not in self.context:  # looked up once for all the rows of a response
            self.context["member_of"] = set(request.user.memberships.values_list("hospital_id", flat=True))
        return analysis.hospital_id in self.context["member_of"]

    def get_patient_identifiers(self, analysis) -> dict | None:
        """The DICOM's original identifiers: only for the hospital's own staff (not for platform administrators)."""
        if not analysis.patient_identifiers or not self._own_staff(analysis):
            return None
        return json.loads(self._shown(analysis, "patient_identifiers"))

    def get_original_name(self, analysis) -> str | None:
        """The uploaded file's name (it often names the patient): only for the hospital's own staff."""
        return self._shown(analysis, "original_name") if self._own_staff(analysis) else None

    def get_patient_reference(self, analysis) -> str | None:
        return self.get_patient_context(analysis)["patient_reference"]

    def get_accession_number(self, analysis) -> str | None:
        return self.get_patient_context(analysis)["accession_number"]

    def get_patient_context(self, analysis) -> dict:
        """The patient reference and accession number: only for the hospital's own staff."""
        own = self._own_staff(analysis)
        return {
            "patient_reference": self._shown(analysis, "patient_reference") if own else None,
            "accession_number": self._shown(analysis, "accession_number") if own else None,
        }

    def _shown(self, analysis, field: str) -> str | None:
        """The value of a patient-identifying field, its reading recorded in the audit log (when it has one)."""
        value = getattr(analysis, field) or None
        if value and self.context.get("request") is not None:
            note_patient_read(self.context["request"], analysis, [field])
        return value

    def get_timings_ms(self, analysis) -> dict:
        return {
            "queue_wait": analysis.queue_wait_ms,
            "preprocessing": analysis.preprocessing_ms,
            "inference": analysis.inference_ms,
            "gradcam": analysis.gradcam_ms,
        }


@extend_schema(responses=serializers.ListSerializer(child=serializers.DictField()))
@api_view(["GET"])
@permission_classes([IsHospitalStaff])
def datasets(request):
    """Data sets with their conditions, modality and models."""
    models_by_dataset: dict[str, list] = {}
    for model in MLModel.objects.order_by("name", "-version"):
        models_by_dataset.setdefault(model.dataset, []).append(ModelSerializer(model).data)
    return Response(
        [
            {
                "name": dataset.name,
                "title": dataset.title,
                "modality": dataset.modality,
                "license": dataset.license,
                "conditions": [condition.name for condition in dataset.conditions.all()],
                "models": models_by_dataset.get(dataset.name, []),
            }
            for dataset in Dataset.objects.prefetch_related("conditions")
        ]
    )


@extend_schema(responses=serializers.ListSerializer(child=serializers.DictField()))
@api_view(["GET"])
@permission_classes([IsHospitalStaff])
def condition_list(request):
    """The condition catalogue: every condition with its specialty, modalities, data sets and active
    models (default first, with validation metrics), and whether it can be analysed here."""
    return Response(selectors.condition_catalogue())


@extend_schema(responses=OpenApiTypes.OBJECT)
@api_view(["GET"])
@permission_classes([IsHospitalStaff])
def condition_detail(request, reference):
    """One condition of the catalogue, by its code or name."""
    rows = selectors.condition_catalogue(reference=reference)
    if not rows:
        raise Http404("No such condition.")
    return Response(rows[0])


@extend_schema(responses=ModelSerializer(many=True))
@api_view(["GET"])
@permission_classes([IsHospitalStaff])
def model_list(request):
    """Models with architecture, version, active flag and validation metrics."""
    return Response(ModelSerializer(MLModel.objects.order_by("name", "-version"), many=True).data)


def _platform_model_change(request, model_id: int, change) -> Response:
    """Platform administrators only (404 for anyone else: other roles cannot see this action), with a
    recent login, as in the console."""
    if not request.user.is_superuser:
        raise Http404
    require_recent_login(request)
    model = change(model=get_object_or_404(MLModel, pk=model_id))
    return Response(ModelSerializer(model).data)


@extend_schema(request=None, responses=ModelSerializer)
@api_view(["POST"])
@permission_classes([IsHospitalStaff])
def model_activate(request, model_id):
    """Make this version the active one of its name (platform administrators; recent login)."""
    return _platform_model_change(request, model_id, services.model_activate)


@extend_schema(request=None, responses=ModelSerializer)
@api_view(["POST"])
@permission_classes([IsHospitalStaff])
def model_retire(request, model_id):
    """Take this version out of service (platform administrators; recent login)."""
    return _platform_model_change(request, model_id, services.model_retire)


@extend_schema(
    request=inline_serializer(
        "LoadModel", {"dataset": serializers.CharField(), "model": serializers.CharField(required=False)}
    ),
    responses={202: OpenApiTypes.OBJECT},
)
@api_view(["POST"])
@permission_classes([IsHospitalStaff])
def load_model(request):
    """Warm a model in the workers ahead of the first analysis."""
    from .tasks import warm_model

    model = request.data.get("model")
    chosen, _ = analyses.models_choose(
        dataset=str(request.data.get("dataset", "")),
        condition=str(request.data.get("condition", "")),
        model=str(model) if model is not None else None,
    )
    chosen = chosen[0]
    warm_model.delay(model_id=chosen.pk)
    return Response(
        {"model": chosen.name, "version": chosen.version, "status": "loading"}, status=status.HTTP_202_ACCEPTED
    )


def _truthy(value) -> bool:
    return str(value).lower() in {"1", "true", "yes", "on"}


def analyses_options(data) -> dict:
    """What a submission names, from the API's or the console's form fields."""
    text = {
        name: str(data.get(name, "") or "").strip()
        for name in ("dataset", "condition", "model", "patient_reference", "accession_number")
    }
    return {**text, "model": text["model"] or None, "force": _truthy(data.get("force", ""))}


@extend_schema(
    request={
        "multipart/form-data": inline_serializer(
            "Predict",
            {
                "image": serializers.ListField(child=serializers.FileField()),
                "condition": serializers.CharField(
                    required=False, help_text="A condition's code or name (GET /api/conditions)."
                ),
                "dataset": serializers.CharField(
                    required=False, help_text="A data set (the legacy field); a condition's name is taken too."
                ),
                "model": serializers.CharField(
                    required=False, help_text="A model name, an architecture, or `all` to compare every model."
                ),
                "force": serializers.BooleanField(
                    required=False, help_text="Analyse an image that does not look like the model's, with a warning."
                ),
                "patient_reference": serializers.CharField(required=False),
                "accession_number": serializers.CharField(required=False),
                "wait": serializers.BooleanField(required=False),
                "hospital": serializers.IntegerField(required=False),
            },
        )
    },
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
        hospital=hospital,
        user=request.user,
        uploads=uploads,
        **analyses_options(request.data),
    )
    if wait and all(analysis.status in (AnalysisStatus.DONE, AnalysisStatus.FAILED) for analysis in queued):
        rows, code = AnalysisSerializer(queued, many=True, context={"request": request}).data, status.HTTP_200_OK
    else:
        rows, code = (
            [{"analysis_id": analysis.pk, "status": analysis.status} for analysis in queued],
            status.HTTP_202_ACCEPTED,
        )
    if len(rows) == 1:
        return Response(rows[0], status=code)
    return Response(
        {
            "analysis_id": rows[0]["analysis_id"],
            "status": rows[0]["status"],
            "batch": str(queued[0].batch),
            "analyses": rows,
        },
        status=code,
    )


class AnalysisList(generics.ListAPIView):
    """The hospital's analyses, newest first; filter by status, dataset, batch, confirmation, model,
    and by `patient_reference` or `accession_number` (exact, spaces and case ignored)."""

    serializer_class = AnalysisSerializer
    permission_classes = [IsHospitalStaff]
    filterset_fields = ["status", "dataset", "batch", "confirmation", "model"]
    queryset = ImageAnalysis.objects.none()

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return ImageAnalysis.objects.none()
        found = scope_to_hospitals(
            ImageAnalysis.objects.select_related("model", "requested_condition"), self.request.user
        )
        for parameter, column in (("patient_reference", "patient_digest"), ("accession_number", "accession_digest")):
            value = self.request.query_params.get(parameter)
            if value is not None:
                found = found.filter(**{column: analyses.patient_digest(value) or "-"})
        return found


class AnalysisDetail(generics.RetrieveAPIView):
    serializer_class = AnalysisSerializer
    permission_classes = [IsHospitalStaff]
    queryset = ImageAnalysis.objects.none()

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return ImageAnalysis.objects.none()
        return scope_to_hospitals(
            ImageAnalysis.objects.select_related("model", "requested_condition"), self.request.user
        )


def _own_analysis(request, analysis_id) -> ImageAnalysis:
    return get_object_or_404(
        scope_to_hospitals(ImageAnalysis.objects.select_related("model"), request.user), pk=analysis_id
    )


@extend_schema(
    request=inline_serializer(
        "Confirm",
        {
            "confirmation": serializers.ChoiceField(choices=["agrees", "disagrees", "uncertain"]),
            "true_finding": serializers.CharField(required=False),
        },
    ),
    responses=AnalysisSerializer,
)
@api_view(["POST"])
@permission_classes([IsHospitalStaff])
@parser_classes([JSONParser, FormParser, MultiPartParser])
def confirm(request, analysis_id):
    """A clinician agrees, disagrees (with the true finding) or is uncertain."""
    analysis = _own_analysis(request, analysis_id)
    if not can(request.user, ACT, analysis.hospital):
        raise Http404
    analysis = analyses.analysis_confirm(
        analysis=analysis,
        by=request.user,
        confirmation=str(request.data.get("confirmation", "")),
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
