"""/dicomweb/: STOW-RS, QIDO-RS and WADO-RS (PS3.18), thin over ``dicomweb``. JWT or session
authentication and the one error shape as the API's; STOW-RS shares the predict rate limit (it
sends studies to analysis as /api/predict does)."""

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.decorators import api_view, content_negotiation_class, permission_classes, renderer_classes
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from healthsync.api.throttling import ClientScopedRateThrottle
from healthsync.audit import note_patient_read
from healthsync.permissions import IsHospitalStaff
from healthsync.security import client_address

from . import dicomweb


class DicomwebNegotiation(DefaultContentNegotiation):
    """DRF renders JSON (DICOM JSON, and errors in the one error shape); ``dicomweb`` checks the
    Accept header itself against what each transaction serves (406 otherwise)."""

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


def _dicomweb(view):
    """A DICOMweb function view: hospital staff, any Accept (checked by the transaction), GET."""
    return api_view(["GET"])(
        permission_classes([IsHospitalStaff])(
            content_negotiation_class(DicomwebNegotiation)(renderer_classes([JSONRenderer])(view))
        )
    )


HOSPITAL = OpenApiParameter("hospital", int, description="For staff of several hospitals: which one.")
MULTIPART = {(200, 'multipart/related; type="application/dicom"'): OpenApiTypes.BINARY}
DICOM_JSON = {(200, dicomweb.DICOM_JSON): serializers.ListSerializer(child=serializers.DictField())}


def _hospital(request):
    return dicomweb.own_hospital(request.user, request.query_params.get("hospital"))


def _base_url(request) -> str:
    return request.build_absolute_uri("/dicomweb").rstrip("/")


def _json(request, found, query=None) -> Response:
    """DICOM JSON, the identifiers it shows recorded as read."""
    for record in found.read:
        note_patient_read(request, record, ["patient_identifiers"])
    response = Response(found.datasets, content_type=dicomweb.DICOM_JSON)
    if query is not None and dicomweb.warning(query):
        response["Warning"] = dicomweb.warning(query)
    return response


def _search(request, search, *uids) -> Response:
    dicomweb.check_accepts_json(request.headers.get("Accept", ""))
    found, query = search(_hospital(request), *uids, request.query_params, base_url=_base_url(request))
    return _json(request, found, query)


def _retrieve(request, *uids, as_metadata: bool = False):
    accept = request.headers.get("Accept", "")
    (dicomweb.check_accepts_json if as_metadata else dicomweb.check_accepts_dicom)(accept)
    found = dicomweb.results(_hospital(request), *uids)
    for delivery, _ in found:
        note_patient_read(request, delivery.analysis, ["patient_identifiers"])
    if as_metadata:
        return _json(request, dicomweb.Found(dicomweb.metadata(found)))
    body, content_type = dicomweb.retrieved(found)
    return HttpResponse(body, content_type=content_type)


def _store(request, study_uid=None) -> Response:
    stored = dicomweb.store(
        hospital=_hospital(request),
        user=request.user,
        address=client_address(request),
        content_type=request.META.get("CONTENT_TYPE", ""),
        body=_body(request),
        study_uid=study_uid,
    )
    response = Response(stored.response, status=stored.status, content_type=dicomweb.DICOM_JSON)
    if stored.reasons:
        reasons = "; ".join(reason.replace('"', "'").replace("\r", " ").replace("\n", " ") for reason in stored.reasons)
        response["Warning"] = f'299 HealthSync "{reasons[:2000]}"'
    return response


def _body(request) -> bytes:
    """The request body, read past Django's form-size limit up to ``HEALTHSYNC_MAX_BATCH_MB`` (413 beyond)."""
    limit = dicomweb.max_body_bytes()
    declared = request.META.get("CONTENT_LENGTH") or "0"
    too_large = dicomweb.TooLarge(f"A STOW-RS request holds at most {limit // 2**20} MB; send the study in several.")
    if declared.isdigit() and int(declared) > limit:
        raise too_large
    body = request._request.read(limit + 1)
    if len(body) > limit:
        raise too_large
    return body


class _StoreOrRead(APIView):
    """A resource that STOW-RS posts to and a GET reads; only the POST counts against the rate limit."""

    permission_classes = [IsHospitalStaff]
    renderer_classes = [JSONRenderer]
    parser_classes: list = []
    content_negotiation_class = DicomwebNegotiation
    throttle_scope = "predict"

    def get_throttles(self):
        return [ClientScopedRateThrottle()] if self.request.method == "POST" else []


STOW = dict(
    request={'multipart/related; type="application/dicom"': OpenApiTypes.BINARY},
    responses={(status, dicomweb.DICOM_JSON): OpenApiTypes.OBJECT for status in (200, 202, 409)},
    parameters=[HOSPITAL],
)


class Studies(_StoreOrRead):
    @extend_schema(operation_id="dicomweb_search_studies", responses=DICOM_JSON, parameters=[HOSPITAL])
    def get(self, request):
        """QIDO-RS: the hospital's studies (StudyInstanceUID, PatientID, PatientName, AccessionNumber,
        StudyDate range, ModalitiesInStudy; limit, offset), as DICOM JSON."""
        return _search(request, dicomweb.search_studies)

    @extend_schema(operation_id="dicomweb_store", **STOW)
    def post(self, request):
        """STOW-RS: store DICOM instances for analysis (200 all, 202 some, 409 none stored)."""
        return _store(request)


class Study(_StoreOrRead):
    @extend_schema(operation_id="dicomweb_retrieve_study", responses=MULTIPART, parameters=[HOSPITAL])
    def get(self, request, study):
        """WADO-RS: the study's result objects (structured reports, Grad-CAM secondary captures)."""
        return _retrieve(request, study)

    @extend_schema(operation_id="dicomweb_store_study", **STOW)
    def post(self, request, study):
        """STOW-RS into one study: an instance of another study fails (FailureReason 0xA900)."""
        return _store(request, study)


@extend_schema(operation_id="dicomweb_study_metadata", responses=DICOM_JSON, parameters=[HOSPITAL])
@_dicomweb
def study_metadata(request, study):
    """WADO-RS: the study's result objects as DICOM JSON (no pixel data)."""
    return _retrieve(request, study, as_metadata=True)


@extend_schema(operation_id="dicomweb_search_series", responses=DICOM_JSON, parameters=[HOSPITAL])
@_dicomweb
def series_search(request, study):
    """QIDO-RS: the study's series, received and made by HealthSync (SeriesInstanceUID, Modality)."""
    return _search(request, dicomweb.search_series, study)


@extend_schema(operation_id="dicomweb_retrieve_series", responses=MULTIPART, parameters=[HOSPITAL])
@_dicomweb
def series_retrieve(request, study, series):
    """WADO-RS: a result series."""
    return _retrieve(request, study, series)


@extend_schema(operation_id="dicomweb_series_metadata", responses=DICOM_JSON, parameters=[HOSPITAL])
@_dicomweb
def series_metadata(request, study, series):
    return _retrieve(request, study, series, as_metadata=True)


@extend_schema(operation_id="dicomweb_search_instances", responses=DICOM_JSON, parameters=[HOSPITAL])
@_dicomweb
def instance_search(request, study, series):
    """QIDO-RS: the series' instances (SOPInstanceUID, SOPClassUID)."""
    return _search(request, dicomweb.search_instances, study, series)


@extend_schema(operation_id="dicomweb_retrieve_instance", responses=MULTIPART, parameters=[HOSPITAL])
@_dicomweb
def instance_retrieve(request, study, series, instance):
    """WADO-RS: one result object."""
    return _retrieve(request, study, series, instance)


@extend_schema(operation_id="dicomweb_instance_metadata", responses=DICOM_JSON, parameters=[HOSPITAL])
@_dicomweb
def instance_metadata(request, study, series, instance):
    return _retrieve(request, study, series, instance, as_metadata=True)
