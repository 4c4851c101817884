"""The donor portal (/donor/) and the public shortage page.

Thin views: a form or a selector in, one service call, a page out."""

from functools import wraps

from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from bloodbank.rules import level_shortness
from healthsync.errors import DomainError
from healthsync.params import whole_number
from healthsync.permissions import can_anywhere
from healthsync.regions import region_or_none

from . import selectors, services
from .forms import DonorPreferencesForm, DonorProfileCreateForm, SlotFilterForm, bootstrap
from .models import Appointment, DonationSlot, DonationType


def _is_staff(user) -> bool:
    return user.is_superuser or can_anywhere(user)


def donor_required(view):
    """Donors only: anonymous visitors log in first, staff go to the operations console,
    and an account without a donor profile completes one."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        user = request.user
        if not user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        profile = getattr(user, "donor_profile", None) if user.is_donor else None
        if profile is None:
            return redirect("admin:index") if _is_staff(user) else redirect("portal-welcome")
        request.donor = profile
        return view(request, *args, **kwargs)

    return wrapper


def _refused(request, exc: DomainError) -> None:
    messages.error(request, exc.message)


def welcome(request):
    """A new web account gives its donor details once."""
    user = request.user
    if not user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    if user.is_donor and hasattr(user, "donor_profile"):
        return redirect("portal-home")
    if _is_staff(user):
        return redirect("admin:index")
    form = bootstrap(DonorProfileCreateForm(request.POST or None, initial={"name": user.name}))
    if request.method == "POST" and form.is_valid():
        try:
            services.donor_profile_create(user=user, **form.cleaned_data)
        except DomainError as exc:
            for field, problems in exc.fields.items():
                form.add_error(field if field in form.fields else None, problems)
            if not exc.fields:
                form.add_error(None, exc.message)
        else:
            messages.success(request, "Welcome! Your donor profile is ready.")
            return redirect("portal-home")
    return render(request, "portal/welcome.html", {"form": form})


@donor_required
def home(request):
    donor = request.donor
    today = timezone.localdate()
    eligibility = [
        (label, selectors.donor_eligibility(donor=donor, donation_type=kind, on_date=today))
        for kind, label in DonationType.choices
    ]
    return render(
        request,
        "portal/home.html",
        {
            "donor": donor,
            "whole_blood": eligibility[0][1],
            "eligibility": eligibility,
            "appointment": selectors.donor_upcoming_appointment(donor=donor),
        },
    )


@donor_required
def profile(request):
    donor = request.donor
    initial = {
        "name": donor.user.name,
        "contact_number": donor.contact_number,
        "address": donor.address,
        "region": donor.region,
        "weight_kg": donor.weight_kg,
        "available_for_emergencies": donor.available_for_emergencies,
        "notify_by_email": donor.notify_by_email,
        "notify_by_sms": donor.notify_by_sms,
        "quiet_hours_start": donor.quiet_hours_start,
        "quiet_hours_end": donor.quiet_hours_end,
    }
    form = bootstrap(DonorPreferencesForm(request.POST or None, initial=initial))
    if request.method == "POST" and form.is_valid():
        try:
            services.donor_profile_update(donor=donor, **form.cleaned_data)
        except DomainError as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(request, "Your profile and preferences are saved.")
            return redirect("portal-profile")
    return render(request, "portal/profile.html", {"donor": donor, "form": form})


@donor_required
def book(request):
    donor = request.donor
    params = request.GET.copy()
    params.setdefault("region", donor.region.code if donor.region else "")
    filters = bootstrap(SlotFilterForm(params))
    filters.is_valid()
    try:
        hospital_id = whole_number(request.GET, "hospital")
    except DomainError:
        hospital_id = None  # a hand-edited link: slots at every hospital
    slots = selectors.slots_free(
        region=filters.cleaned_data.get("region") or None,
        donation_type=filters.cleaned_data.get("donation_type") or None,
        hospital_id=hospital_id,
    )[:60]
    return render(
        request,
        "portal/book.html",
        {
            "donor": donor,
            "filters": filters,
            "slots": slots,
            "appointment": selectors.donor_upcoming_appointment(donor=donor),
        },
    )


@require_POST
@donor_required
def book_slot(request, slot_id):
    slot = get_object_or_404(DonationSlot, pk=slot_id)
    try:
        appointment = services.appointment_book(donor=request.donor, slot=slot)
    except DomainError as exc:
        _refused(request, exc)
        return redirect("portal-book")
    messages.success(
        request, f"Booked: {timezone.localtime(appointment.slot.starts_at):%A %d %B, %H:%M} at {slot.hospital.name}."
    )
    return redirect("portal-home")


@require_POST
@donor_required
def cancel_appointment(request, appointment_id):
    appointment = get_object_or_404(Appointment, pk=appointment_id, donor=request.donor)
    try:
        services.appointment_cancel(appointment=appointment, by=request.user)
    except DomainError as exc:
        _refused(request, exc)
    else:
        messages.success(request, "Your appointment is cancelled; the place is free for someone else.")
    return redirect("portal-home")


@donor_required
def history(request):
    return render(
        request, "portal/history.html", {"donor": request.donor, **selectors.donor_history(donor=request.donor)}
    )


@donor_required
def inbox(request):
    # The inbox is read from the notifications API (/api/notifications), the one way to the inbox.
    return render(request, "portal/inbox.html", {"donor": request.donor})


def shortages(request):
    """Public: current shortages by blood group in a region (the donor's own by default), named by its code or name."""
    regions = selectors.network_regions()
    donor = (
        getattr(request.user, "donor_profile", None)
        if request.user.is_authenticated and request.user.is_donor
        else None
    )
    region = region_or_none(
        request.GET.get("region") or (donor.region if donor else None) or (regions[0] if regions else None)
    )
    rows = selectors.regional_shortages(region=region) if region else []
    return render(
        request,
        "portal/shortages.html",
        {
            "regions": regions,
            "region": region.name if region else "",
            "rows": rows,
            "shortage": [row for row in rows if level_shortness(row["level"])],
        },
    )
