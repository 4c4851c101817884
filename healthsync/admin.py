from auditlog.admin import LogEntryAdmin
from auditlog.models import LogEntry
from django import forms
from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.core.exceptions import ValidationError

from . import services, task_admin  # noqa: F401  task_admin: the Celery pages, re-registered
from .admin_site import HospitalScopedAdmin, PlatformWritesMixin, ServiceAdminMixin
from .display import when
from .health import run_checks
from .models import Hospital, Membership, User
from .permissions import CHANGE, MANAGE_STAFF, VIEW, hospitals_for
from .realtime import rights_changed

site = admin.site


@admin.register(User)
class UserAdmin(PlatformWritesMixin, HospitalScopedAdmin, DjangoUserAdmin):
    """Platform administrators manage every account; hospital administrators see their staff."""

    hospital_lookup = "memberships__hospital"
    view_perm = MANAGE_STAFF
    ordering = ["email"]
    list_display = ["email", "name", "is_staff", "is_donor", "is_superuser", "is_active", "date_joined"]
    list_filter = ["is_staff", "is_donor", "is_superuser", "is_active", "memberships__role"]
    search_fields = ["email", "name"]
    readonly_fields = ["last_login", "date_joined"]
    fieldsets = [
        (None, {"fields": ["email", "password"]}),
        ("Person", {"fields": ["name", "phone_number"]}),
        ("Access", {"fields": ["is_active", "is_staff", "is_donor", "is_superuser"]}),
        ("Dates", {"fields": ["last_login", "date_joined"]}),
    ]
    add_fieldsets = [(None, {"classes": ["wide"], "fields": ["email", "name", "password1", "password2"]})]
    filter_horizontal = []

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if change and {"is_active", "is_superuser"} & set(form.changed_data):
            rights_changed(obj.pk)  # the account's open sockets hear what it may hear now (or close)

    # Nobody deletes the account they are using: the deletion's own audit record names it (a 500 at commit).
    def has_delete_permission(self, request, obj=None):
        return super().has_delete_permission(request, obj) and obj != request.user

    def delete_queryset(self, request, queryset):
        if queryset.filter(pk=request.user.pk).exists():
            self.message_user(request, "Your own account was not deleted.", messages.WARNING)
        super().delete_queryset(request, queryset.exclude(pk=request.user.pk))


class MembershipForm(forms.ModelForm):
    email = forms.EmailField(help_text="The account to grant the role to; the person registers first.")

    class Meta:
        model = Membership
        fields = ["hospital", "role"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.fields["email"].initial = self.instance.user.email
            self.fields["email"].disabled = True

    def clean_email(self):
        if self.instance.pk:
            return self.instance.user.email  # the account of a role is not changed; grant a new one instead
        user = User.objects.filter(email__iexact=self.cleaned_data["email"]).first()
        if user is None:
            raise ValidationError("No account has this email; ask the person to register first.")
        self.instance.user = user
        return user.email


@admin.register(Membership)
class MembershipAdmin(ServiceAdminMixin, HospitalScopedAdmin):
    """Hospital administrators grant roles at their own hospitals to existing accounts (by email),
    through ``services.membership_grant``; platform administrators at any hospital."""

    form = MembershipForm
    view_perm = MANAGE_STAFF
    change_perm = MANAGE_STAFF
    list_display = ["account", "user_name", "hospital", "role", "granted_by", "created_at"]
    list_filter = ["role", "hospital"]
    search_fields = ["user__email", "user__name", "hospital__name", "hospital__fin"]
    list_select_related = ["user", "hospital", "granted_by"]
    readonly_fields = ["granted_by", "created_at"]

    @admin.display(description="Account", ordering="user__email")
    def account(self, membership):
        return membership.user.email

    @admin.display(description="Name", ordering="user__name")
    def user_name(self, membership):
        return membership.user.name

    def save_model(self, request, obj, form, change):
        saved = self.call_service(request, services.membership_grant, hospital=obj.hospital, user=obj.user, role=obj.role, by=request.user)
        if saved is not None:
            obj.pk, obj.granted_by, obj.created_at = saved.pk, saved.granted_by, saved.created_at

    def get_readonly_fields(self, request, obj=None):
        # A role changes; it does not move to another hospital (that is a new grant).
        return [*self.readonly_fields, "hospital"] if obj is not None else self.readonly_fields

    def delete_model(self, request, obj):
        services.membership_revoke(membership=obj, by=request.user)

    def delete_queryset(self, request, queryset):
        for membership in queryset:
            services.membership_revoke(membership=membership, by=request.user)


@admin.register(Hospital)
class HospitalAdmin(ServiceAdminMixin, HospitalScopedAdmin):
    hospital_lookup = "pk"
    view_perm = VIEW
    change_perm = CHANGE
    list_display = ["name", "fin", "region", "is_verified", "contact_number", "email", "created_at"]
    list_filter = ["is_verified", "region"]
    list_select_related = ["region"]
    search_fields = ["name", "fin", "region__name", "region__code", "email"]
    readonly_fields = ["fin", "is_verified", "created_at"]

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "region":  # the managed list; a code or name posted in any case picks its region
            from .regions import RegionChoiceField  # (the rest of this module is edited elsewhere)

            return RegionChoiceField(label="Region", help_text=db_field.help_text)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)
    actions = ["verify_hospitals"]

    def has_add_permission(self, request):
        return request.user.is_superuser

    def has_delete_permission(self, request, obj=None):
        return request.user.is_superuser

    def get_actions(self, request):
        actions = super().get_actions(request)
        if not request.user.is_superuser:
            actions.pop("verify_hospitals", None)
        return actions

    def save_model(self, request, obj, form, change):
        if change:  # a renamed verified hospital waits for verification again (services.hospital_update)
            updated = self.call_service(
                request, services.hospital_update, hospital=obj, by=request.user,
                **{field: getattr(obj, field) for field in services.HOSPITAL_DETAILS},
            )
            if updated is not None:
                obj.name, obj.is_verified = updated.name, updated.is_verified
            return
        created = services.hospital_create(
            name=obj.name, address=obj.address, contact_number=obj.contact_number, email=obj.email, region=obj.region
        )
        obj.pk, obj.fin = created.pk, created.fin

    @admin.action(description="Verify: admit to the network")
    def verify_hospitals(self, request, queryset):
        for hospital in queryset:
            services.hospital_verify(hospital=hospital, by=request.user)
        self.message_user(request, f"{queryset.count()} hospital(s) verified.", messages.SUCCESS)


site.unregister(LogEntry)


@admin.register(LogEntry)
class AuditRecordAdmin(LogEntryAdmin):
    """Audit records, read-only; platform administrators only (model permission)."""

    search_fields = ["object_repr", "changes", "actor__email", "actor__name"]

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="Created", ordering="timestamp")
    def created(self, entry):
        return when(entry.timestamp)


@site.register_panel
def hospitals_panel(request):
    hospitals = hospitals_for(request.user, VIEW)
    if not hospitals.exists():
        return None
    return {
        "title": "Your hospitals" if not request.user.is_superuser else "Hospitals",
        "template": "admin/panels/hospitals.html",
        "hospitals": hospitals[:20],
    }


@site.register_panel
def services_panel(request):
    if not request.user.is_superuser:
        return None
    return {"title": "Services", "template": "admin/panels/services.html", "checks": run_checks()}
