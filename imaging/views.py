"""The staff analysis page of the operations console: choose a condition and a model, upload, watch, read, confirm."""

import uuid
from itertools import groupby
from operator import itemgetter
from urllib.parse import urlencode

from django.contrib import admin, messages
from django.http import HttpResponseForbidden
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse

from healthsync.audit import note_patient_read
from healthsync.errors import DomainError
from healthsync.permissions import ACT, acting_hospital, can_anywhere, scope_to_hospitals

from . import analyses, selectors
from .api import analyses_options
from .models import Confirmation, ImageAnalysis

DISCLAIMER = "Results support, not replace, a clinician's reading. Confirm or correct every finding."


def _staff_only(request):
    return request.user.is_superuser or can_anywhere(request.user, ACT)


def analyse(request):
    """Choose a condition (by name, grouped by specialty) and one of its models, upload, watch. The
    choice stays after each submission, so the next study goes to the same condition and model."""
    if not _staff_only(request):
        return HttpResponseForbidden("The analysis page is for hospital staff.")
    chosen = {"condition": request.GET.get("condition", ""), "model": request.GET.get("model", "")}
    if request.method == "POST":
        options = analyses_options(request.POST)
        chosen = {"condition": options["condition"], "model": options["model"] or ""}
        try:
            hospital = acting_hospital(request.user, request.POST.get("hospital"))
            queued = analyses.analyses_submit(
                hospital=hospital,
                user=request.user,
                uploads=analyses.uploads_read(request.FILES.getlist("image")),
                **options,
            )
        except DomainError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, f"{len(queued)} analysis(es) queued.")
            return redirect(f"{request.path}?{urlencode({'batch': queued[0].batch, **chosen})}")
    catalogue = selectors.condition_catalogue()
    found = selectors.condition_find(reference=chosen["condition"]) if chosen["condition"] else None
    mine = scope_to_hospitals(ImageAnalysis.objects.select_related("model"), request.user)
    batch = request.GET.get("batch")
    context = {
        **admin.site.each_context(request),
        "title": "Analyse images",
        "disclaimer": DISCLAIMER,
        "catalogue": catalogue,
        "specialties": [(specialty, list(rows)) for specialty, rows in groupby(catalogue, key=itemgetter("specialty"))],
        "chosen_condition": found.code if found else "",
        "chosen_model": chosen["model"],
        "queue": selectors.queue_status(),
        "batch": batch,
        "batch_analyses": _labelled(request, mine.filter(batch=batch).order_by("pk")) if _is_uuid(batch) else [],
        "recent": _labelled(request, mine[:15]),
    }
    return TemplateResponse(request, "admin/imaging/analyse.html", context)


def _labelled(request, analyses) -> list[ImageAnalysis]:
    """The analyses, each with ``label``: its uploaded file's name for the hospital's own staff (the
    name often names the patient; its reading is audited), else its number."""
    own = set(request.user.memberships.values_list("hospital_id", flat=True))
    rows = list(analyses)
    for analysis in rows:
        shown = analysis.original_name if analysis.hospital_id in own else ""
        if shown:
            note_patient_read(request, analysis, ["original_name"])
        analysis.label = shown or f"Image {analysis.pk}"
    return rows


def _is_uuid(value) -> bool:
    try:
        uuid.UUID(str(value))
    except ValueError:
        return False
    return True


def analysis_detail(request, analysis_id):
    if not _staff_only(request):
        return HttpResponseForbidden("The analysis page is for hospital staff.")
    analysis = get_object_or_404(
        scope_to_hospitals(ImageAnalysis.objects.select_related("model", "requested_condition"), request.user),
        pk=analysis_id,
    )
    if request.method == "POST":
        try:
            analysis = analyses.analysis_confirm(
                analysis=analysis,
                by=request.user,
                confirmation=request.POST.get("confirmation", ""),
                true_finding=request.POST.get("true_finding", ""),
            )
            messages.success(request, "Your reading is recorded.")
        except DomainError as exc:
            messages.error(request, exc.message)
        return redirect(request.path)
    context = {
        **admin.site.each_context(request),
        "title": f"Analysis {analysis.pk}",
        "analysis": analysis,
        "disclaimer": DISCLAIMER,
        "confirmations": Confirmation.choices,
        "own_staff": request.user.memberships.filter(hospital_id=analysis.hospital_id).exists(),
        "label": _labelled(request, [analysis])[0].label,
    }
    if context["own_staff"]:
        note_patient_read(
            request, analysis, [name for name in ("patient_reference", "accession_number") if getattr(analysis, name)]
        )
    return TemplateResponse(request, "admin/imaging/analysis.html", context)
