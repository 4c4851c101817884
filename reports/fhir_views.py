"""/fhir/<ResourceType> (a paginated searchset Bundle) and /fhir/<ResourceType>/<id>, as application/fhir+json."""

from django.core.paginator import EmptyPage, Paginator
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework.decorators import api_view, permission_classes, renderer_classes
from rest_framework.exceptions import NotFound
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

from bloodbank.models import BloodRequest, BloodUnit
from healthsync.permissions import IsHospitalStaff, scope_to_hospitals
from imaging.models import ImageAnalysis

from . import fhir


class FhirJsonRenderer(JSONRenderer):
    media_type = "application/fhir+json"
    format = "fhir"


RESOURCES = {
    "BiologicallyDerivedProduct": (lambda: BloodUnit.objects.select_related("hospital").order_by("pk"), fhir.blood_unit),
    "ServiceRequest": (lambda: BloodRequest.objects.select_related("hospital").order_by("pk"), fhir.blood_request),
    "DiagnosticReport": (lambda: ImageAnalysis.objects.select_related("hospital", "model", "condition").order_by("pk"), fhir.image_analysis),
}
PAGE_SIZE = 50


def _resource(resource_type: str, user):
    if resource_type not in RESOURCES:
        raise NotFound(f"HealthSync exports no {resource_type} resources; it exports {', '.join(sorted(RESOURCES))}.")
    queryset, build = RESOURCES[resource_type]
    return scope_to_hospitals(queryset(), user), build


@extend_schema(operation_id="fhir_search", responses={200: OpenApiTypes.OBJECT}, description="A searchset Bundle (FHIR R4B); `_count` and `page` page it.")
@api_view(["GET"])
@permission_classes([IsHospitalStaff])
@renderer_classes([FhirJsonRenderer])
def search(request, resource_type):
    rows, build = _resource(resource_type, request.user)
    count = min(max(int(request.query_params.get("_count", PAGE_SIZE)) if str(request.query_params.get("_count", "")).isdigit() else PAGE_SIZE, 1), 500)
    page_number = int(request.query_params["page"]) if str(request.query_params.get("page", "")).isdigit() else 1
    paginator = Paginator(rows, count)
    try:
        page = paginator.page(page_number)
    except EmptyPage:
        page = paginator.page(paginator.num_pages) if page_number > 1 else None
    base = request.build_absolute_uri("/fhir").rstrip("/")

    def url(number):
        return f"{base}/{resource_type}?_count={count}&page={number}"

    resources = [build(row) for row in page.object_list] if page else []
    return Response(fhir.bundle(
        resources=resources, total=paginator.count, base_url=base, self_url=url(page.number if page else 1),
        next_url=url(page.next_page_number()) if page and page.has_next() else None,
        previous_url=url(page.previous_page_number()) if page and page.has_previous() else None,
    ))


@extend_schema(operation_id="fhir_read", responses={200: OpenApiTypes.OBJECT}, description="One FHIR R4B resource.")
@api_view(["GET"])
@permission_classes([IsHospitalStaff])
@renderer_classes([FhirJsonRenderer])
def read(request, resource_type, resource_id):
    rows, build = _resource(resource_type, request.user)
    row = rows.filter(pk=resource_id).first()
    if row is None:
        raise NotFound(f"{resource_type}/{resource_id} is not among your records.")
    return Response(build(row))
