"""The staff analysis page of the operations console: choose a condition and a model, upload, watch, read, confirm."""

from django.contrib import admin, messages
from django.http import HttpResponseForbidden
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse

from healthsync.errors import DomainError
from healthsync.permissions import ACT, acting_hospital, can_anywhere, scope_to_hospitals

from . import analyses, selectors
from .models import Confirmation, ImageAnalysis, MLModel

DISCLAIMER = "Results support, not replace, a clinician's reading. Confirm or correct every finding."


def _staff_only(request):
    return request.user.is_superuser or can_anywhere(request.user, ACT)


def analyse(request):
    if not _staff_only(request):
        return HttpResponseForbidden("The analysis page is for hospital staff.")
    if request.method == "POST":
        try:
            hospital = acting_hospital(request.user, request.POST.get("hospital"))
            queued = analyses.analyses_submit(
                hospital=hospital, user=request.user, dataset=request.POST.get("dataset", ""),
                model=request.POST.get("model") or None,
                uploads=analyses.uploads_read(request.FILES.getlist("image")),
            )
        except DomainError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, f"{len(queued)} image(s) queued.")
            return redirect(f"{request.path}?batch={queued[0].batch}")
    models = MLModel.objects.filter(is_active=True).order_by("dataset", "name")
    mine = scope_to_hospitals(ImageAnalysis.objects.select_related("model"), request.user)
    batch = request.GET.get("batch")
    context = {
        **admin.site.each_context(request), "title": "Analyse images", "disclaimer": DISCLAIMER,
        "models": models, "datasets": sorted({model.dataset for model in models}),
        "queue": selectors.queue_status(), "batch": batch,
        "batch_analyses": list(mine.filter(batch=batch)) if batch else [],
        "recent": list(mine[:15]),
    }
    return TemplateResponse(request, "admin/imaging/analyse.html", context)


def analysis_detail(request, analysis_id):
    if not _staff_only(request):
        return HttpResponseForbidden("The analysis page is for hospital staff.")
    analysis = get_object_or_404(scope_to_hospitals(ImageAnalysis.objects.select_related("model", "condition"), request.user), pk=analysis_id)
    if request.method == "POST":
        try:
            analysis = analyses.analysis_confirm(
                analysis=analysis, by=request.user, confirmation=request.POST.get("confirmation", ""),
                true_finding=request.POST.get("true_finding", ""),
            )
            messages.success(request, "Your reading is recorded.")
        except DomainError as exc:
            messages.error(request, exc.message)
        return redirect(request.path)
    context = {
        **admin.site.each_context(request), "title": f"Analysis {analysis.pk}", "analysis": analysis,
        "disclaimer": DISCLAIMER, "confirmations": Confirmation.choices,
    }
    return TemplateResponse(request, "admin/imaging/analysis.html", context)
