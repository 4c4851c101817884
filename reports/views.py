"""The reports page of the operations console: charts, tables and downloads."""

from django.contrib import admin
from django.http import HttpResponseForbidden
from django.template.response import TemplateResponse

from healthsync.errors import DomainError
from healthsync.permissions import can_anywhere

from . import catalogue, exports
from .api import report_response


def reports_page(request, name="blood-utilisation"):
    if not (request.user.is_superuser or can_anywhere(request.user)):
        return HttpResponseForbidden("Reports are for hospital staff.")
    try:
        if request.GET.get("format") in ("csv", "pdf"):
            return report_response(name, request.GET, request.user)
        period = catalogue.period_from(request.GET)
        hospitals = catalogue.hospitals_from(request.GET, request.user)
        title, figures = catalogue.figures_for(name, hospitals=hospitals, period=period)
        error = None
    except DomainError as exc:
        title, figures, error, period, hospitals = "Report", None, exc.message, None, None
    context = {
        **admin.site.each_context(request),
        "title": f"Reports: {title}",
        "report_name": name,
        "reports": [(key, value[0]) for key, value in catalogue.REPORTS.items()],
        "figures": figures,
        "error": error,
        "period": period,
        "scope": catalogue.scope_label(hospitals, request.user) if hospitals is not None else "",
        "query": request.GET.urlencode(),
    }
    if figures is not None:
        header, rows = exports.report_table(name, figures)
        labels, series, names = exports.chart_series(name, figures)
        context.update({"header": header, "rows": rows, "chart": {"labels": labels, "series": series, "names": names}})
    return TemplateResponse(request, "admin/reports/report.html", context)
