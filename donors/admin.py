"""Donors in the operations console: donors with their eligibility, deferrals, slots and appointments
(check-in, no-show), screening and collection, infection-marker results, typing and release.

Every write goes through ``services``; rows come through ``scope_to_hospitals`` (HospitalScopedAdmin).
"""

from urllib.parse import urlencode

from django import forms
from django.contrib import admin, messages
from django.http import HttpResponseRedirect
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from bloodbank.models import BloodUnit
from healthsync.admin_site import HospitalScopedAdmin, ServiceAdminMixin
from healthsync.display import when
from healthsync.permissions import ACT, can_anywhere, hospitals_for
from healthsync.security import require_recent_login

from . import selectors, services
from .console import DESK_FIELDS, CollectionForm, ScreeningForm, WalkInDonorForm
from .models import (
    Appointment,
    AppointmentStatus,
    Deferral,
    Donation,
    DonationSlot,
    DonationStatus,
    DonorProfile,
    MarkerResult,
    Screening,
)

site = admin.site


def _after_recent_login(request, service):
    """``service``, run only after a recent login: it may defer the donor or discard units, as the
    blood bank's discard does (``require_recent_login``; refused, the form shows again with the reason)."""

    def run(**kwargs):
        require_recent_login(request)
        return service(**kwargs)

    return run


def _adopt(obj, saved) -> None:
    """Give the admin's unsaved ``obj`` the row a service saved, for the log entry and the next page."""
    obj.__dict__.update({name: value for name, value in saved.__dict__.items() if name != "_state"})
    obj._state.adding, obj._state.db = False, saved._state.db


def _link(url: str, text: str) -> str:
    return format_html('<a class="button" href="{}">{}</a>', url, text)


def _open_visit_url(donor) -> str:
    return f"{reverse('admin:donors_donation_add')}?{urlencode({'donor': donor.pk})}"


@admin.register(DonorProfile)
class DonorProfileAdmin(ServiceAdminMixin, admin.ModelAdmin):
    """The donor desk's search and walk-in registration. Staff see the donors who visited, booked or were registered
    at their hospitals, and every donor of their hospitals' regions; donors edit their own details in the portal."""

    list_display = [
        "donor_name",
        "donor_number",
        "email",
        "blood_group",
        "blood_group_confirmed",
        "region",
        "available_for_emergencies",
        "eligibility",
        "open_visit",
    ]
    list_filter = ["blood_group", "blood_group_confirmed", "region", "available_for_emergencies"]
    search_fields = ["user__name", "user__email", "region__name", "region__code"]
    search_help_text = "Name, email, donor number (D000042), phone number, blood group (O-) or region."
    list_select_related = ["user", "region"]
    fields = [
        "user",
        "donor_number",
        "blood_group",
        "blood_group_confirmed",
        "sex",
        "weight_kg",
        "region",
        "available_for_emergencies",
        "contact_number",
        "notify_by_email",
        "notify_by_sms",
        "quiet_hours_start",
        "quiet_hours_end",
        "eligibility_detail",
        "open_visit",
    ]
    form = WalkInDonorForm

    def get_queryset(self, request):
        return selectors.donors_for_staff(user=request.user, in_their_regions=True).prefetch_related("deferrals")

    def get_search_results(self, request, queryset, search_term):
        found, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        if search_term.strip():
            found = found | selectors.donors_matching(queryset, search_term)
        return found, may_have_duplicates

    def get_fields(self, request, obj=None):
        return self.fields if obj else DESK_FIELDS

    def get_readonly_fields(self, request, obj=None):
        return self.fields if obj else []

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is not None:  # the record itself is read-only: no desk form behind it
            kwargs["form"] = forms.ModelForm
        form = super().get_form(request, obj, change, **kwargs)
        if obj is not None:
            return form
        hospitals = hospitals_for(request.user, ACT)

        class DeskForm(form):
            def __init__(self, *args, **kwargs):
                super().__init__(*args, hospitals=hospitals, **kwargs)

        return DeskForm

    def get_changeform_initial_data(self, request):
        initial = super().get_changeform_initial_data(request)
        hospitals = list(hospitals_for(request.user, ACT)[:2])
        if len(hospitals) == 1:
            initial.setdefault("hospital", hospitals[0].pk)
            initial.setdefault("region", hospitals[0].region)
        return initial

    def has_module_permission(self, request):
        return request.user.is_superuser or can_anywhere(request.user)

    def has_view_permission(self, request, obj=None):
        return self.has_module_permission(request)

    def has_add_permission(self, request):
        return self.has_module_permission(request)

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        created = self.call_service(
            request,
            services.donor_register_at_desk,
            hospital=data["hospital"],
            by=request.user,
            email=data["email"],
            name=data["name"],
            blood_group=data["blood_group"],
            date_of_birth=data["date_of_birth"],
            sex=data["sex"],
            weight_kg=data.get("weight_kg"),
            contact_number=data.get("contact_number", ""),
            address=data.get("address", ""),
            region=data.get("region"),
        )
        _adopt(obj, created)

    def response_add(self, request, obj, post_url_continue=None):
        self.message_user(
            request, f"{obj.user.name} is registered as donor {obj.donor_number}. Open their visit.", messages.SUCCESS
        )
        return HttpResponseRedirect(_open_visit_url(obj))

    @admin.display(description="Name", ordering="user__name")
    def donor_name(self, donor):
        return donor.user.name

    @admin.display(description="Donor number", ordering="pk")
    def donor_number(self, donor):
        return donor.donor_number

    @admin.display(description="Email", ordering="user__email")
    def email(self, donor):
        return donor.user.email

    @admin.display(description="Eligible now")
    def eligibility(self, donor):
        result = selectors.donor_eligibility(donor=donor)
        if result.eligible:
            return "yes"
        after = f" (from {when(result.next_eligible_date)})" if result.next_eligible_date else " (never)"
        return "no" + after + ": " + " ".join(result.messages)

    @admin.display(description="Eligibility")
    def eligibility_detail(self, donor):
        return self.eligibility(donor)

    @admin.display(description="Walk-in")
    def open_visit(self, donor):
        return _link(_open_visit_url(donor), "Open a visit")


@admin.register(Deferral)
class DeferralAdmin(ServiceAdminMixin, HospitalScopedAdmin):
    service_arg = "deferral"
    list_display = ["donor", "reason", "starts_on", "ends_on", "hospital", "set_by", "created_at"]
    list_filter = ["hospital", "starts_on"]
    search_fields = ["donor__user__name", "donor__user__email", "reason"]
    autocomplete_fields = ["donor"]
    list_select_related = ["donor__user", "hospital", "set_by"]
    actions = ["lift"]

    def get_fields(self, request, obj=None):
        return ["donor", "hospital", "reason", "starts_on", "ends_on"] + (
            ["donation", "set_by", "created_at", "lifted_at", "lifted_by"] if obj else []
        )

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        # The donors this user may see, as in the API: not any donor id posted from another hospital.
        if db_field.name == "donor":
            kwargs["queryset"] = selectors.donors_for_staff(user=request.user)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def get_readonly_fields(self, request, obj=None):
        return self.get_fields(request, obj) if obj else []

    def get_changeform_initial_data(self, request):
        return {"starts_on": timezone.localdate()}

    def save_model(self, request, obj, form, change):
        if change:
            return
        created = self.call_service(
            request,
            _after_recent_login(request, services.deferral_create),
            donor=obj.donor,
            reason=obj.reason,
            starts_on=obj.starts_on,
            ends_on=obj.ends_on,
            hospital=obj.hospital,
            by=request.user,
        )
        if created:
            obj.pk = created.pk

    def has_delete_permission(self, request, obj=None):
        return request.user.is_superuser

    @admin.action(description="Lift: eligible again from today")
    def lift(self, request, queryset):
        self.run_each(request, queryset, services.deferral_lift, "deferral(s) lifted", by=request.user)


@admin.register(DonationSlot)
class DonationSlotAdmin(ServiceAdminMixin, HospitalScopedAdmin):
    list_display = ["starts_at", "ends_at", "hospital", "donation_type", "capacity", "places_taken"]
    list_filter = ["hospital", "donation_type"]
    date_hierarchy = "starts_at"
    fields = ["hospital", "starts_at", "ends_at", "capacity", "donation_type"]

    def get_queryset(self, request):
        return selectors.slots_with_places(super().get_queryset(request).select_related("hospital"))

    def get_readonly_fields(self, request, obj=None):
        return ["hospital", "donation_type"] if obj else []

    @admin.display(description="Places taken")
    def places_taken(self, slot):
        return slot.places_taken

    def save_model(self, request, obj, form, change):
        if change:
            self.call_service(
                request,
                services.slot_update,
                slot=obj,
                starts_at=obj.starts_at,
                ends_at=obj.ends_at,
                capacity=obj.capacity,
            )
            return
        created = self.call_service(
            request,
            services.slot_create,
            hospital=obj.hospital,
            starts_at=obj.starts_at,
            ends_at=obj.ends_at,
            capacity=obj.capacity,
            donation_type=obj.donation_type,
            by=request.user,
        )
        if created:
            obj.pk = created.pk

    def delete_model(self, request, obj):
        self.call_service(request, services.slot_delete, slot=obj)

    def delete_queryset(self, request, queryset):
        for slot in queryset:
            self.call_service(request, services.slot_delete, slot=slot)


@admin.register(Appointment)
class AppointmentAdmin(ServiceAdminMixin, HospitalScopedAdmin):
    service_arg = "appointment"
    hospital_lookup = "slot__hospital"
    list_display = ["donor", "slot", "status", "booked_at", "changed_at", "changed_by"]
    list_filter = ["status", "slot__hospital", "slot__donation_type"]
    search_fields = ["donor__user__name", "donor__user__email"]
    list_select_related = ["donor__user", "slot__hospital", "changed_by"]
    readonly_fields = ["donor", "slot", "status", "booked_at", "changed_at", "changed_by"]
    actions = ["check_in", "no_show", "cancel"]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.action(description="Check in: the donor arrived (opens the visit for screening)")
    def check_in(self, request, queryset):
        self.run_each(
            request,
            queryset.filter(status=AppointmentStatus.BOOKED),
            services.appointment_check_in,
            "donor(s) checked in",
            by=request.user,
        )

    @admin.action(description="No-show: the donor did not come")
    def no_show(self, request, queryset):
        self.run_each(request, queryset, services.appointment_no_show, "no-show(s) recorded", by=request.user)

    @admin.action(description="Cancel the appointment")
    def cancel(self, request, queryset):
        self.run_each(request, queryset, services.appointment_cancel, "appointment(s) cancelled", by=request.user)


class ScreeningInline(admin.StackedInline):
    model = Screening
    can_delete = False
    extra = 0
    fields = readonly_fields = [
        "passed",
        "problems",
        "haemoglobin_g_dl",
        "systolic_mmhg",
        "diastolic_mmhg",
        "pulse_bpm",
        "temperature_c",
        "questionnaire_passed",
        "weight_kg",
        "recorded_by",
        "recorded_at",
    ]

    def has_add_permission(self, request, obj=None):
        return False


class MarkerResultInline(admin.TabularInline):
    model = MarkerResult
    can_delete = False
    extra = 0
    fields = readonly_fields = ["marker", "result", "recorded_by", "recorded_at"]

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Donation)
class DonationAdmin(ServiceAdminMixin, HospitalScopedAdmin):
    """Visits: a walk-in visit is opened here (the desk), screening and results are added on their own pages, the
    collection on the visit's own form; typing is set here; collection and release are also actions."""

    service_arg = "donation"
    service_fields = {"hospital_id": "hospital"}
    list_display = ["visit_date", "donor", "hospital", "donation_type", "status", "din", "confirmed_blood_group"]
    list_filter = ["status", "donation_type", "hospital", "visit_date"]
    search_fields = ["donor__user__name", "donor__user__email", "din"]
    list_select_related = ["donor__user", "hospital"]
    inlines = [ScreeningInline, MarkerResultInline]
    autocomplete_fields = ["donor"]
    fields = [
        "donor",
        "hospital",
        "appointment",
        "donation_type",
        "visit_date",
        "quantity_ml",
        "status",
        "next_step",
        "din",
        "units",
        "collected_at",
        "collected_by",
        "confirmed_blood_group",
        "typed_by",
        "typed_at",
        "release_problems",
    ]
    walk_in_fields = ["donor", "hospital", "donation_type", "quantity_ml"]
    actions = ["collect", "release", "cancel"]

    def get_fields(self, request, obj=None):
        return self.fields if obj else self.walk_in_fields

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return []
        editable = (
            {"confirmed_blood_group"}
            if obj.status == DonationStatus.COLLECTED and not obj.confirmed_blood_group
            else set()
        )
        return [field for field in self.fields if field not in editable]

    def get_inlines(self, request, obj):
        return self.inlines if obj else []

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "donor":  # the donors the desk may find, as in its search
            kwargs["queryset"] = selectors.donors_for_staff(user=request.user, in_their_regions=True)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def get_changeform_initial_data(self, request):
        initial = super().get_changeform_initial_data(request)
        hospitals = list(hospitals_for(request.user, ACT)[:2])
        if len(hospitals) == 1:
            initial.setdefault("hospital", hospitals[0].pk)
        return initial

    def response_add(self, request, obj, post_url_continue=None):
        self.message_user(request, f"Visit opened for {obj.donor.user.name}: record the screening.", messages.SUCCESS)
        return HttpResponseRedirect(f"{reverse('admin:donors_screening_add')}?{urlencode({'donation': obj.pk})}")

    def has_delete_permission(self, request, obj=None):
        return False

    def get_urls(self):
        collect = path(
            "<path:object_id>/collect/", self.admin_site.admin_view(self.collect_view), name="donors_donation_collect"
        )
        return [collect, *super().get_urls()]

    def collect_view(self, request, object_id):
        """The collection form of a screened visit: its units enter quarantine under one DIN."""
        donation = self.get_object(request, object_id)
        if donation is None or not self.has_change_permission(request, donation):
            return self._get_obj_does_not_exist_redirect(request, self.opts, object_id)
        form = CollectionForm(request.POST if request.method == "POST" else None, donation=donation)
        if request.method == "POST" and form.is_valid():
            units = self.call_service(
                request, services.donation_collect, donation=donation, by=request.user, **form.cleaned_data
            )
            if units is not None:
                self.message_user(
                    request,
                    f"Collected under DIN {units[0].din_display}: {len(units)} unit(s) in quarantine until tested.",
                    messages.SUCCESS,
                )
                return redirect("admin:donors_donation_change", donation.pk)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "donation": donation,
            "form": form,
            "title": f"Record the collection: {donation}",
        }
        return TemplateResponse(request, "admin/donors/collect.html", context)

    @admin.display(description="Next step")
    def next_step(self, donation):
        if donation.status == DonationStatus.AWAITING_SCREENING:
            return _link(
                f"{reverse('admin:donors_screening_add')}?{urlencode({'donation': donation.pk})}",
                "Record the screening",
            )
        if donation.status == DonationStatus.SCREENED:
            return _link(reverse("admin:donors_donation_collect", args=[donation.pk]), "Record the collection")
        return "—"

    @admin.display(description="Units")
    def units(self, donation):
        if not donation.din:
            return "—"
        units = BloodUnit.objects.filter(din=donation.din).order_by("pk")
        return format_html_join(
            ", ",
            "{} {} {} ({})",
            (
                (unit.din_display, unit.get_component_display(), unit.blood_group, unit.get_status_display())
                for unit in units
            ),
        )

    @admin.display(description="Release blocked by")
    def release_problems(self, donation):
        if not donation.din:
            return "—"
        unit_group = donation.confirmed_blood_group or donation.donor.blood_group
        return (
            " ".join(selectors.release_problems_for_din(din=donation.din, unit_group=unit_group) or [])
            or "nothing: ready to release"
        )

    def save_model(self, request, obj, form, change):
        if not change:  # a walk-in visit: refused when the donor is not eligible today, every reason in words
            _adopt(
                obj,
                self.call_service(
                    request,
                    services.donation_register_walk_in,
                    donor=obj.donor,
                    hospital=obj.hospital,
                    donation_type=obj.donation_type,
                    quantity_ml=obj.quantity_ml,
                ),
            )
        elif "confirmed_blood_group" in form.changed_data and obj.confirmed_blood_group:
            self.call_service(
                request, services.typing_confirm, donation=obj, blood_group=obj.confirmed_blood_group, by=request.user
            )

    def save_related(self, request, form, formsets, change):
        for formset in formsets:  # the inlines are read-only: nothing saved, nothing for the change message
            formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []

    @admin.action(description="Record collection (the donation type's standard units, in quarantine)")
    def collect(self, request, queryset):
        self.run_each(request, queryset, services.donation_collect, "collection(s) recorded", by=request.user)

    @admin.action(description="Release the quarantined units")
    def release(self, request, queryset):
        self.run_each(request, queryset, services.donation_release, "donation(s) released", by=request.user)

    @admin.action(description="Cancel the visit (the donor left before collection)")
    def cancel(self, request, queryset):
        self.run_each(request, queryset, services.donation_cancel, "visit(s) cancelled", by=request.user)


class _DonationChildAdmin(ServiceAdminMixin, HospitalScopedAdmin):
    hospital_lookup = "donation__hospital"
    awaiting: str = ""

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "donation":
            kwargs["queryset"] = selectors.donations_for_staff(user=request.user).filter(status=self.awaiting)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def get_readonly_fields(self, request, obj=None):
        return [field.name for field in self.model._meta.fields] if obj else self.added_readonly

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Screening)
class ScreeningAdmin(_DonationChildAdmin):
    """The screening form: a failed screening defers the donor and makes no unit."""

    awaiting = DonationStatus.AWAITING_SCREENING
    added_readonly = ["passed", "problems"]
    list_display = [
        "donation",
        "passed",
        "haemoglobin_g_dl",
        "systolic_mmhg",
        "diastolic_mmhg",
        "pulse_bpm",
        "temperature_c",
        "recorded_at",
    ]
    list_filter = ["passed"]
    form = ScreeningForm
    exclude = ["recorded_by"]

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        field = super().formfield_for_dbfield(db_field, request, **kwargs)
        if db_field.name == "weight_kg" and field is not None:
            field.required = True  # weighed at every screening (services.screening_record)
        return field

    def save_model(self, request, obj, form, change):
        if change:
            return
        created = self.call_service(
            request,
            _after_recent_login(request, services.screening_record),
            donation=obj.donation,
            haemoglobin_g_dl=obj.haemoglobin_g_dl,
            systolic_mmhg=obj.systolic_mmhg,
            diastolic_mmhg=obj.diastolic_mmhg,
            pulse_bpm=obj.pulse_bpm,
            temperature_c=obj.temperature_c,
            questionnaire_passed=obj.questionnaire_passed,
            weight_kg=obj.weight_kg,
            by=request.user,
            sex=form.cleaned_data.get("sex") or None,
        )
        if created:
            obj.pk = created.pk
            if not created.passed:
                self.message_user(
                    request, "Screening failed, the donor is deferred: " + " ".join(created.problems), messages.WARNING
                )

    def response_add(self, request, obj, post_url_continue=None):
        """Passed: on to the collection; failed: back to the visit, which shows the deferral."""
        obj.refresh_from_db()
        if obj.passed:
            self.message_user(request, "Screening passed: record the collection.", messages.SUCCESS)
            return redirect("admin:donors_donation_collect", obj.donation_id)
        return redirect("admin:donors_donation_change", obj.donation_id)


@admin.register(MarkerResult)
class MarkerResultAdmin(_DonationChildAdmin):
    """Infection-marker results: a positive one discards the donation's units and defers the donor."""

    awaiting = DonationStatus.COLLECTED
    added_readonly = []
    list_display = ["donation", "marker", "result", "recorded_by", "recorded_at"]
    list_filter = ["result", "marker"]
    exclude = ["recorded_by"]

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        if db_field.name == "marker":  # the managed names only (selectors.marker_names)
            return forms.ChoiceField(
                label="Marker", choices=[("", "---------")] + [(name, name) for name in selectors.marker_names()]
            )
        return super().formfield_for_dbfield(db_field, request, **kwargs)

    def save_model(self, request, obj, form, change):
        if change:
            return
        created = self.call_service(
            request,
            _after_recent_login(request, services.marker_result_record),
            donation=obj.donation,
            marker=obj.marker,
            result=obj.result,
            by=request.user,
        )
        if created:
            obj.pk = created.pk


@site.register_panel
def donors_panel(request):
    if not (request.user.is_superuser or can_anywhere(request.user)):
        return None
    return {
        "title": "Donors",
        "template": "admin/donors/panel.html",
        "counts": selectors.dashboard_counts(user=request.user),
    }
