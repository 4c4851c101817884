"""The figures of each report, computed by the database over a date range and a set of hospitals.

Every function takes ``hospitals`` (a queryset, already scoped to the user) and a
half-open range [``start``, ``end``) of dates, and returns plain dicts and lists
that the page, the CSV and the PDF all render.
"""

import statistics
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.db.models import Count, F, Max, Q
from django.db.models.functions import TruncMonth
from django.utils import timezone

from bloodbank.models import BloodGroup, BloodRequest, BloodUnit, Transfer, UnitEvent, UnitStatus
from donors.models import Appointment, AppointmentStatus, Deferral, Donation, DonationStatus, DonorProfile
from notifications.models import Kind, Notification

ACTIVE_WINDOW = timedelta(days=365)
ALERT_RESPONSE_WINDOW = timedelta(hours=72)


@dataclass(frozen=True)
class Period:
    start: date
    end: date  # exclusive

    @property
    def start_at(self) -> datetime:
        return timezone.make_aware(datetime.combine(self.start, time.min))

    @property
    def end_at(self) -> datetime:
        return timezone.make_aware(datetime.combine(self.end, time.min))

    @property
    def days(self) -> int:
        return (self.end - self.start).days

    def label(self) -> str:
        return f"{self.start.isoformat()} to {(self.end - timedelta(days=1)).isoformat()}"


def _month(value) -> str:
    return value.strftime("%Y-%m") if value else ""


def blood_utilisation(*, hospitals, period: Period) -> dict:
    """Units collected, issued, transfused, expired and discarded by month, group and component (each
    unit once a month, however often it moved);
    wastage rate ((expired + discarded) / collected); days of stock on hand per group."""
    moves = (
        UnitEvent.objects.filter(hospital__in=hospitals, at__gte=period.start_at, at__lt=period.end_at)
        .filter(
            Q(from_status="")
            | Q(to_status__in=[UnitStatus.ISSUED, UnitStatus.TRANSFUSED, UnitStatus.EXPIRED, UnitStatus.DISCARDED])
        )
        .annotate(month=TruncMonth("at"), group=F("unit__blood_group"), component=F("unit__component"))
        .values("month", "group", "component", "from_status", "to_status")
        .annotate(n=Count("unit", distinct=True))  # units, not moves: a bag issued, returned and issued again is one
    )
    rows: dict[tuple, dict] = {}
    for move in moves:
        key = (_month(move["month"]), move["group"], move["component"])
        row = rows.setdefault(
            key,
            {
                "month": key[0],
                "blood_group": key[1],
                "component": key[2],
                "collected": 0,
                "issued": 0,
                "transfused": 0,
                "expired": 0,
                "discarded": 0,
            },
        )
        column = "collected" if move["from_status"] == "" else move["to_status"]
        row[column] += move["n"]
    table = sorted(rows.values(), key=lambda r: (r["month"], r["blood_group"], r["component"]))
    totals = {
        name: sum(row[name] for row in table) for name in ("collected", "issued", "transfused", "expired", "discarded")
    }
    wasted = totals["expired"] + totals["discarded"]
    available = dict(
        BloodUnit.objects.available().filter(hospital__in=hospitals).values_list("blood_group").annotate(n=Count("id"))
    )
    issued_by_group: dict[str, int] = {}
    for row in table:
        issued_by_group[row["blood_group"]] = issued_by_group.get(row["blood_group"], 0) + row["issued"]
    stock_days = []
    for group in BloodGroup.values:
        daily_use = issued_by_group.get(group, 0) / period.days if period.days else 0
        stock_days.append(
            {
                "blood_group": group,
                "available_units": available.get(group, 0),
                "issued_per_day": round(daily_use, 3),
                "days_of_stock": round(available.get(group, 0) / daily_use, 1) if daily_use else None,
            }
        )
    return {
        "rows": table,
        "totals": totals,
        "wastage_rate": round(wasted / totals["collected"], 4) if totals["collected"] else None,
        "stock_days": stock_days,
    }


def donors_activity(*, hospitals, period: Period) -> dict:
    """Active, new and lapsed donors; donations per month; deferral reasons; no-show rate;
    response to urgent-need alerts (alerts sent against bookings within 72 hours)."""
    donations = Donation.objects.filter(hospital__in=hospitals)
    collected = donations.filter(status=DonationStatus.COLLECTED)
    donors_seen = DonorProfile.objects.filter(donations__hospital__in=hospitals).distinct()
    last = {
        row["pk"]: row["last"]
        for row in donors_seen.annotate(
            last=Max("donations__visit_date", filter=Q(donations__status=DonationStatus.COLLECTED))
        ).values("pk", "last")
    }
    active_since = period.end - ACTIVE_WINDOW
    active = sum(1 for value in last.values() if value and active_since <= value < period.end)
    lapsed = sum(1 for value in last.values() if value and value < active_since)
    new = DonorProfile.objects.filter(
        pk__in=donors_seen.values("pk"), created_at__gte=period.start_at, created_at__lt=period.end_at
    ).count()
    per_month = [
        {"month": _month(row["month"]), "donations": row["n"]}
        for row in collected.filter(visit_date__gte=period.start, visit_date__lt=period.end)
        .annotate(month=TruncMonth("visit_date"))
        .values("month")
        .annotate(n=Count("id"))
        .order_by("month")
    ]
    deferral_reasons = [
        {"reason": row["reason"], "count": row["n"]}
        for row in Deferral.objects.filter(
            hospital__in=hospitals, starts_on__gte=period.start, starts_on__lt=period.end
        )
        .values("reason")
        .annotate(n=Count("id"))
        .order_by("-n", "reason")
    ]
    appointments = Appointment.objects.filter(
        slot__hospital__in=hospitals, slot__starts_at__gte=period.start_at, slot__starts_at__lt=period.end_at
    )
    attended = appointments.filter(status=AppointmentStatus.ATTENDED).count()
    no_shows = appointments.filter(status=AppointmentStatus.NO_SHOW).count()
    calls = list(
        Notification.objects.filter(
            alert__kind=Kind.URGENT_REQUEST,
            recipient__is_donor=True,
            alert__hospital__in=hospitals,
            alert__created__gte=period.start_at,
            alert__created__lt=period.end_at,
        ).values_list("recipient_id", "alert__created")
    )
    bookings: dict[int, list[datetime]] = {}
    for user_id, booked_at in Appointment.objects.filter(donor__user_id__in={c[0] for c in calls}).values_list(
        "donor__user_id", "booked_at"
    ):
        bookings.setdefault(user_id, []).append(booked_at)
    responded = sum(
        1
        for user_id, sent in calls
        if any(sent <= b <= sent + ALERT_RESPONSE_WINDOW for b in bookings.get(user_id, []))
    )
    return {
        "active_donors": active,
        "new_donors": new,
        "lapsed_donors": lapsed,
        "donations_per_month": per_month,
        "deferral_reasons": deferral_reasons,
        "appointments_attended": attended,
        "appointments_no_show": no_shows,
        "no_show_rate": round(no_shows / (attended + no_shows), 4) if attended + no_shows else None,
        "urgent_alerts_sent": len(calls),
        "bookings_within_72h": responded,
        "alert_response_rate": round(responded / len(calls), 4) if calls else None,
    }


def _percentile(values: list[float], fraction: float) -> float | None:
    if not values:
        return None
    if len(values) == 1:
        return values[0]
    ordered = sorted(values)
    position = (len(ordered) - 1) * fraction
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def requests_activity(*, hospitals, period: Period) -> dict:
    """Fulfilment rate overall and for urgency 4-5; time from request to fulfilment (median, p90, hours);
    transfers in and out by status."""
    requests = BloodRequest.objects.filter(
        hospital__in=hospitals, created_at__gte=period.start_at, created_at__lt=period.end_at
    )
    open_or_done = requests.exclude(status="cancelled")

    def rate(queryset):
        total = queryset.count()
        return {
            "requests": total,
            "fulfilled": queryset.filter(status="fulfilled").count(),
            "rate": round(queryset.filter(status="fulfilled").count() / total, 4) if total else None,
        }

    hours = [
        (fulfilled - created).total_seconds() / 3600
        for created, fulfilled in open_or_done.filter(status="fulfilled").values_list("created_at", "fulfilled_at")
        if fulfilled is not None
    ]
    transfers = Transfer.objects.filter(requested_at__gte=period.start_at, requested_at__lt=period.end_at)
    return {
        "overall": rate(open_or_done),
        "urgent": rate(open_or_done.filter(urgency__gte=4)),
        "cancelled": requests.filter(status="cancelled").count(),
        "hours_to_fulfil_median": round(statistics.median(hours), 2) if hours else None,
        "hours_to_fulfil_p90": round(p90, 2) if (p90 := _percentile(hours, 0.9)) is not None else None,
        "transfers_in": dict(transfers.filter(to_hospital__in=hospitals).values_list("status").annotate(n=Count("id"))),
        "transfers_out": dict(
            transfers.filter(from_hospital__in=hospitals).values_list("status").annotate(n=Count("id"))
        ),
    }


# Classes that mean "nothing found" for multi-class models (binary models name their positive class).
NEGATIVE_FINDINGS = {"normal", "notumor", "not_fractured", "normal_or_benign", "common_nevus", "grade_0"}


def positive_classes(model) -> set[str]:
    """The classes of a model that are findings: the binary decision's positive class, else every class
    but the "nothing found" ones."""
    decision = (model.card or {}).get("decision", {})
    if decision.get("positive_class") is not None and len(model.classes) == 2:
        return {model.classes[int(decision["positive_class"])]}
    return {name for name in model.classes if name.lower() not in NEGATIVE_FINDINGS}


def diagnostics(*, hospitals, period: Period) -> dict:
    """Analyses per condition, model and outcome; share of positive findings; agreement with clinicians'
    confirmations (accuracy, sensitivity, specificity per model version, from confirmed analyses);
    turnaround from submission to result."""
    from imaging.models import ImageAnalysis, MLModel

    analyses = ImageAnalysis.objects.filter(
        hospital__in=hospitals, submitted_at__gte=period.start_at, submitted_at__lt=period.end_at
    )
    models = MLModel.objects.in_bulk(analyses.values_list("model_id", flat=True).distinct())
    rows, per_model = [], []
    grouped = (
        analyses.values("condition__name", "model_id", "status")
        .annotate(n=Count("id"))
        .order_by("condition__name", "model_id", "status")
    )
    for group in grouped:
        model = models[group["model_id"]]
        subset = analyses.filter(
            model_id=group["model_id"], status=group["status"], condition__name=group["condition__name"]
        )
        positive = (
            subset.filter(predicted_class__in=positive_classes(model)).count() if group["status"] == "done" else 0
        )
        confirmed = subset.exclude(confirmation="")
        rows.append(
            {
                "condition": group["condition__name"] or "-",
                "model": model.name,
                "version": model.version,
                "status": group["status"],
                "analyses": group["n"],
                "positive": positive,
                "positive_share": round(positive / group["n"], 4) if group["status"] == "done" and group["n"] else None,
                "confirmed": confirmed.count(),
                "agreed": confirmed.filter(confirmation="agrees").count(),
            }
        )
    for model_id, model in sorted(models.items(), key=lambda item: (item[1].name, item[1].version)):
        positives = positive_classes(model)
        readings = analyses.filter(
            model_id=model_id, status="done", confirmation__in=["agrees", "disagrees"]
        ).values_list("predicted_class", "confirmation", "true_finding")
        tp = tn = fp = fn = agreed = 0
        for predicted, confirmation, true_finding in readings:
            truth = predicted if confirmation == "agrees" else true_finding
            agreed += confirmation == "agrees"
            if predicted in positives:
                tp, fp = tp + (truth in positives), fp + (truth not in positives)
            else:
                fn, tn = fn + (truth in positives), tn + (truth not in positives)
        total = len(readings)
        per_model.append(
            {
                "model": model.name,
                "version": model.version,
                "confirmed": total,
                "accuracy": round(agreed / total, 4) if total else None,
                "sensitivity": round(tp / (tp + fn), 4) if tp + fn else None,
                "specificity": round(tn / (tn + fp), 4) if tn + fp else None,
            }
        )
    seconds = [
        (finished - submitted).total_seconds()
        for submitted, finished in analyses.filter(status="done").values_list("submitted_at", "finished_at")
        if finished is not None
    ]
    return {
        "rows": rows,
        "per_model": per_model,
        "turnaround_seconds_median": round(statistics.median(seconds), 3) if seconds else None,
        "turnaround_seconds_p90": round(p90, 3) if (p90 := _percentile(seconds, 0.9)) is not None else None,
    }
