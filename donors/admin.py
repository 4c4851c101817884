"""Donors in the operations console: donors with their eligibility, deferrals, slots and appointments
(check-in, no-show), screening and collection, infection-marker results, typing and release.

Every write goes through ``services``; rows come through ``scope_to_hospitals`` (HospitalScopedAdmin).
"""

from django import forms
from django.contrib import admin, messages
from django.utils import timezone

from healthsync.admin_site import HospitalScopedAdmin, ServiceAdminMixin
from healthsync.display import when
from healthsync.permissions import can_anywhere
from healthsync.security import require_recent_login

from . import selectors, services
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


@admin.register(DonorProfile)
class DonorProfileAdmin(admin.ModelAdmin):
    """Donors who visited or booked at the user's hospitals; donors edit their own details through the portal."""

    list_display = ["donor_name", "email", "blood_group", "blood_group_confirmed", "region", "available_for_emergencies", "eligibility"]
    list_filter = ["blood_group", "blood_group_confirmed", "region", "available_for_emergencies"]
    search_fields = ["user__name", "user__email", "blood_group", "region"]
    list_select_related = ["user"]
    fields = ["user", "blood_group", "blood_group_confirmed", "sex", "weight_kg", "region", "available_for_emergencies",
              "contact_number", "notify_by_email", "notify_by_sms", "quiet_hours_start", "quiet_hours_end", "eligibility_detail"]
    readonly_fields = fields

    def get_queryset(self, request):
        return selectors.donors_for_staff(user=request.user).prefetch_related("deferrals")

    def has_module_permission(self, request):
        return request.user.is_superuser or can_anywhere(request.user)

    def has_view_permission(self, request, obj=None):
        return self.has_module_permission(request)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="Name", ordering="user__name")
    def donor_name(self, donor):
        return donor.user.name

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
            request, _after_recent_login(request, services.deferral_create), donor=obj.donor, reason=obj.reason, starts_on=obj.starts_on,
            ends_on=obj.ends_on, hospital=obj.hospital, by=request.user,
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
            self.call_service(request, services.slot_update, slot=obj, starts_at=obj.starts_at, ends_at=obj.ends_at, capacity=obj.capacity)
            return
        created = self.call_service(
            request, services.slot_create, hospital=obj.hospital, starts_at=obj.starts_at, ends_at=obj.ends_at,
            capacity=obj.capacity, donation_type=obj.donation_type, by=request.user,
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
        self.run_each(request, queryset.filter(status=AppointmentStatus.BOOKED), services.appointment_check_in, "donor(s) checked in", by=request.user)

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
    fields = readonly_fields = ["passed", "problems", "haemoglobin_g_dl", "systolic_mmhg", "diastolic_mmhg", "pulse_bpm",
                                "temperature_c", "questionnaire_passed", "weight_kg", "recorded_by", "recorded_at"]

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
    """Visits: screening and results are added on their own pages; typing is set here; collection and release are actions."""

    service_arg = "donation"
    list_display = ["visit_date", "donor", "hospital", "donation_type", "status", "din", "confirmed_blood_group"]
    list_filter = ["status", "donation_type", "hospital", "visit_date"]
    search_fields = ["donor__user__name", "donor__user__email", "din"]
    list_select_related = ["donor__user", "hospital"]
    inlines = [ScreeningInline, MarkerResultInline]
    fields = ["donor", "hospital", "appointment", "donation_type", "visit_date", "quantity_ml", "status", "din",
              "collected_at", "collected_by", "confirmed_blood_group", "typed_by", "typed_at", "release_problems"]
    actions = ["collect", "release", "cancel"]

    def get_readonly_fields(self, request, obj=None):
        editable = {"confirmed_blood_group"} if obj and obj.status == DonationStatus.COLLECTED and not obj.confirmed_blood_group else set()
        return [field for field in self.fields if field not in editable]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="Release blocked by")
    def release_problems(self, donation):
        if not donation.din:
            return "—"
        unit_group = donation.confirmed_blood_group or donation.donor.blood_group
        return " ".join(selectors.release_problems_for_din(din=donation.din, unit_group=unit_group) or []) or "nothing: ready to release"

    def save_model(self, request, obj, form, change):
        if "confirmed_blood_group" in form.changed_data and obj.confirmed_blood_group:
            self.call_service(request, services.typing_confirm, donation=obj, blood_group=obj.confirmed_blood_group, by=request.user)

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
    list_display = ["donation", "passed", "haemoglobin_g_dl", "systolic_mmhg", "diastolic_mmhg", "pulse_bpm", "temperature_c", "recorded_at"]
    list_filter = ["passed"]
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
            request, _after_recent_login(request, services.screening_record), donation=obj.donation, haemoglobin_g_dl=obj.haemoglobin_g_dl,
            systolic_mmhg=obj.systolic_mmhg, diastolic_mmhg=obj.diastolic_mmhg, pulse_bpm=obj.pulse_bpm,
            temperature_c=obj.temperature_c, questionnaire_passed=obj.questionnaire_passed, weight_kg=obj.weight_kg, by=request.user,
        )
        if created:
            obj.pk = created.pk
            if not created.passed:
                self.message_user(request, "Screening failed: " + " ".join(created.problems), messages.WARNING)


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
            return forms.ChoiceField(label="Marker", choices=[("", "---------")] + [(name, name) for name in selectors.marker_names()])
        return super().formfield_for_dbfield(db_field, request, **kwargs)

    def save_model(self, request, obj, form, change):
        if change:
            return
        created = self.call_service(
            request, _after_recent_login(request, services.marker_result_record), donation=obj.donation, marker=obj.marker,
            result=obj.result, by=request.user,
        )
        if created:
            obj.pk = created.pk


@site.register_panel
def donors_panel(request):
    if not (request.user.is_superuser or can_anywhere(request.user)):
        return None
    return {"title": "Donors", "template": "admin/donors/panel.html", "counts": selectors.dashboard_counts(user=request.user)}
