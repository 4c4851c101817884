"""/fhir/<ResourceType> (a paginated searchset Bundle) and /fhir/<ResourceType>/<id>, as application/fhir+json
(or application/json when asked for, by Accept or ``_format``)."""

from django.core.paginator import EmptyPage, Paginator
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework.decorators import api_view, content_negotiation_class, permission_classes, renderer_classes
from rest_framework.exceptions import NotAcceptable, NotFound
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

from bloodbank.models import BloodRequest, BloodUnit
from healthsync.audit import note_patient_read
from healthsync.params import whole_number
from healthsync.permissions import IsHospitalStaff, scope_to_hospitals
from imaging.models import ImageAnalysis

from . import fhir


class FhirJsonRenderer(JSONRenderer):
    media_type = "application/fhir+json"
    format = "fhir"


class PlainJsonRenderer(JSONRenderer):
    """FHIR JSON for clients that ask for ``application/json`` (as HAPI FHIR serves them)."""

    media_type = "application/json"
    format = "json"


# FHIR's ``_format`` values (R4 3.1.0.1.9) for JSON; XML and Turtle are not served (406).
FORMATS = {"json": FhirJsonRenderer, "application/json": PlainJsonRenderer, "application/fhir+json": FhirJsonRenderer}


class FhirContentNegotiation(DefaultContentNegotiation):
    """The ``Accept`` header, or FHIR's ``_format`` parameter, which overrides it."""

    def select_renderer(self, request, renderers, format_suffix=None):
        wanted = request.query_params.get("_format")
        if wanted is None:
            return super().select_renderer(request, renderers, format_suffix)
        renderer = FORMATS.get(wanted.strip().lower())
        if renderer is None:
            raise NotAcceptable(f"_format {wanted!r} is not served; use json.")
        return renderer(), renderer.media_type


def _negotiated(view):
    return content_negotiation_class(FhirContentNegotiation)(
        renderer_classes([FhirJsonRenderer, PlainJsonRenderer])(view)
    )


RESOURCES = {
    "BiologicallyDerivedProduct": (
        lambda: BloodUnit.objects.select_related("hospital").order_by("pk"),
        fhir.blood_unit,
    ),
    "ServiceRequest": (lambda: BloodRequest.objects.select_related("hospital").order_by("pk"), fhir.blood_request),
    "DiagnosticReport": (
        lambda: ImageAnalysis.objects.select_related(
            "hospital", "model", "requested_condition", "confirmed_by"
        ).order_by("pk"),
        fhir.image_analysis,
    ),
}
PAGE_SIZE = 50


# The patient-identifying fields each resource carries (for the hospital's own staff), whose reading is audited.
PATIENT_FIELDS = {
    fhir.blood_request: ["patient_reference"],
    fhir.image_analysis: ["patient_reference", "accession_number"],
}


def _resource(resource_type: str, request):
    if resource_type not in RESOURCES:
        raise NotFound(f"HealthSync exports no {resource_type} resources; it exports {', '.join(sorted(RESOURCES))}.")
    queryset, build = RESOURCES[resource_type]
    user = request.user
    fields = PATIENT_FIELDS.get(build, [])
    own = set(user.memberships.values_list("hospital_id", flat=True))

    def built(row):
        with_patient = row.hospital_id in own  # patient references only for the hospital's own staff
        if with_patient:
            note_patient_read(request, row, [name for name in fields if getattr(row, name)])
        return build(row, with_patient=with_patient) if fields else build(row)

    return scope_to_hospitals(queryset(), user), built


@extend_schema(
    operation_id="fhir_search",
    responses={200: OpenApiTypes.OBJECT},
    description="A searchset Bundle (FHIR R4B); `_count` and `page` page it.",
)
@api_view(["GET"])
@permission_classes([IsHospitalStaff])
@_negotiated
def search(request, resource_type):
    rows, build = _resource(resource_type, request)
    count = max(whole_number(request.query_params, "_count", default=PAGE_SIZE, maximum=500, clamp=True), 1)
    page_number = whole_number(request.query_params, "page", default=1, maximum=2**31, clamp=True)
    paginator = Paginator(rows, count)
    try:
        page = paginator.page(page_number)
    except EmptyPage:
        page = paginator.page(paginator.num_pages) if page_number > 1 else None
    base = request.build_absolute_uri("/fhir").rstrip("/")

    def url(number):
        return f"{base}/{resource_type}?_count={count}&page={number}"

    resources = [build(row) for row in page.object_list] if page else []
    return Response(
        fhir.bundle(
            resources=resources,
            total=paginator.count,
            base_url=base,
            self_url=url(page.number if page else 1),
            next_url=url(page.next_page_number()) if page and page.has_next() else None,
            previous_url=url(page.previous_page_number()) if page and page.has_previous() else None,
        )
    )


@extend_schema(operation_id="fhir_read", responses={200: OpenApiTypes.OBJECT}, description="One FHIR R4B resource.")
@api_view(["GET"])
@permission_classes([IsHospitalStaff])
@_negotiated
def read(request, resource_type, resource_id):
    rows, build = _resource(resource_type, request)
    row = rows.filter(pk=resource_id).first()
    if row is None:
        raise NotFound(f"{resource_type}/{resource_id} is not among your records.")
    return Response(build(row))
