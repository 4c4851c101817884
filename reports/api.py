"""GET /api/reports/<name>: a report as JSON, CSV or PDF; GET /api/reports/units.csv: every unit, streamed."""

from django.http import HttpResponse, StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.decorators import api_view, permission_classes
from rest_framework.response import Response

from healthsync.permissions import IsHospitalStaff

from . import catalogue, exports

PARAMETERS = [
    OpenApiParameter("start", str, description="First day, YYYY-MM-DD (default: 90 days before end)."),
    OpenApiParameter("end", str, description="Last day, YYYY-MM-DD (default: today)."),
    OpenApiParameter(
        "hospital",
        int,
        description="One of your hospitals (default: all of them; network-wide for platform administrators).",
    ),
    OpenApiParameter("format", str, enum=["json", "csv", "pdf"], description="json (default), csv or pdf."),
]


def report_response(name: str, params, user):
    """The report ``name`` for the request's period and hospitals, in the requested format."""
    period = catalogue.period_from(params)
    hospitals = catalogue.hospitals_from(params, user)
    title, figures = catalogue.figures_for(name, hospitals=hospitals, period=period)
    kind = params.get("format", "json")
    filename = f"healthsync-{name}-{period.start}-{period.end}"
    if kind == "csv":
        header, rows = exports.report_table(name, figures)
        response = StreamingHttpResponse(exports.csv_lines(header, rows), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{filename}.csv"'
        return response
    if kind == "pdf":
        pdf = exports.report_pdf(
            title=f"HealthSync: {title}",
            period_label=period.label(),
            scope_label=catalogue.scope_label(hospitals, user),
            name=name,
            figures=figures,
        )
        response = HttpResponse(pdf, content_type="application/pdf")
        response["Content-Disposition"] = f'attachment; filename="{filename}.pdf"'
        return response
    return {
        "report": name,
        "title": title,
        "start": period.start.isoformat(),
        "end": (period.end).isoformat(),
        "hospitals": list(hospitals.values_list("pk", flat=True)),
        "figures": figures,
    }


@extend_schema(parameters=PARAMETERS, responses={200: OpenApiTypes.OBJECT})
@api_view(["GET"])
@permission_classes([IsHospitalStaff])
def report(request, name):
    """A report: `blood-utilisation`, `donors`, `requests` or `diagnostics`."""
    params = request.query_params.copy()
    if params.get("format") not in (None, "json", "csv", "pdf"):
        params["format"] = "json"
    result = report_response(name, params, request.user)
    return Response(result) if isinstance(result, dict) else result


@extend_schema(parameters=PARAMETERS[2:3], responses={(200, "text/csv"): OpenApiTypes.STR})
@api_view(["GET"])
@permission_classes([IsHospitalStaff])
def units_export(request):
    """Every unit of your hospitals as CSV, streamed in chunks (memory stays flat for any row count)."""
    hospitals = catalogue.hospitals_from(request.query_params, request.user)
    response = StreamingHttpResponse(
        exports.csv_lines(exports.UNIT_EXPORT_HEADER, exports.unit_rows(hospitals)),
        content_type="text/csv; charset=utf-8",
    )
    response["Content-Disposition"] = 'attachment; filename="healthsync-units.csv"'
    return response
