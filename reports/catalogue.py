"""The reports HealthSync offers, and how a request names its period and hospitals."""

from datetime import timedelta

from django.utils import timezone

from healthsync.errors import DomainError
from healthsync.models import Hospital
from healthsync.params import calendar_date, whole_number
from healthsync.permissions import scope_to_hospitals

from . import selectors

REPORTS = {
    "blood-utilisation": ("Blood utilisation", selectors.blood_utilisation),
    "donors": ("Donors", selectors.donors_activity),
    "requests": ("Requests and transfers", selectors.requests_activity),
    "diagnostics": ("Diagnostics", selectors.diagnostics),
}
DEFAULT_DAYS = 90
MAX_DAYS = 3660


def period_from(params) -> selectors.Period:
    """``start`` and ``end`` (inclusive) from query parameters; the last 90 days by default. Both lie
    within ``healthsync.params``' bounds, so the reports' date arithmetic cannot overflow."""
    today = timezone.localdate()
    end = calendar_date(params["end"], "end") if params.get("end") else today
    start = calendar_date(params["start"], "start") if params.get("start") else end - timedelta(days=DEFAULT_DAYS - 1)
    if start > end:
        raise DomainError("start must not be after end.", fields={"start": ["Must not be after end."]})
    if (end - start).days > MAX_DAYS:
        raise DomainError("A report covers at most ten years.", fields={"start": ["Choose a shorter period."]})
    return selectors.Period(start=start, end=end + timedelta(days=1))


def hospitals_from(params, user):
    """The user's hospitals (all of them for platform administrators: network-wide), or the one named."""
    hospitals = scope_to_hospitals(Hospital.objects.all(), user, via="pk")
    hospital = whole_number(params, "hospital")
    if hospital is not None:
        hospitals = hospitals.filter(pk=hospital)
    return hospitals


def scope_label(hospitals, user) -> str:
    names = list(hospitals.values_list("name", flat=True)[:4])
    if user.is_superuser and len(names) > 3:
        return "Network-wide"
    return ", ".join(names) or "No hospital"


def figures_for(name: str, *, hospitals, period) -> tuple[str, dict]:
    if name not in REPORTS:
        raise DomainError(f"Unknown report {name!r}; choose one of {', '.join(REPORTS)}.", code="unknown_report")
    title, compute = REPORTS[name]
    return title, compute(hospitals=hospitals, period=period)
