from auditlog.admin import LogEntryAdmin
from auditlog.models import LogEntry
from django import forms
from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin

from lib.realtime import rights_changed

from . import invitations, services, task_admin  # noqa: F401  task_admin: the Celery pages, re-registered
from .admin_site import HospitalScopedAdmin, PlatformWritesMixin, ServiceAdminMixin
from .display import when
from .health import run_checks
from .models import Hospital, Invitation, Membership, User
from .permissions import CHANGE, MANAGE_STAFF, VIEW, hospitals_for

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


@admin.register(Membership)
class MembershipAdmin(ServiceAdminMixin, HospitalScopedAdmin):
    """The staff of the hospitals one manages: change a role, or revoke it. A person joins by accepting an
    invitation (``InvitationAdmin``), never added here."""

    view_perm = MANAGE_STAFF
    change_perm = MANAGE_STAFF
    fields = ["account", "user_name", "hospital", "role", "granted_by", "created_at"]
    list_display = ["account", "user_name", "hospital", "role", "granted_by", "created_at"]
    list_filter = ["role", "hospital"]
    search_fields = ["user__email", "user__name", "hospital__name", "hospital__fin"]
    list_select_related = ["user", "hospital", "granted_by"]
    readonly_fields = ["account", "user_name", "hospital", "granted_by", "created_at"]

    @admin.display(description="Account", ordering="user__email")
    def account(self, membership):
        return membership.user.email

    @admin.display(description="Name", ordering="user__name")
    def user_name(self, membership):
        return membership.user.name

    def has_add_permission(self, request):
        return False  # staff are invited

    def save_model(self, request, obj, form, change):
        self.call_service(
            request, services.membership_grant, hospital=obj.hospital, user=obj.user, role=obj.role, by=request.user
        )

    def delete_model(self, request, obj):
        services.membership_revoke(membership=obj, by=request.user)

    def delete_queryset(self, request, queryset):
        for membership in queryset:
            services.membership_revoke(membership=membership, by=request.user)


class InvitationForm(forms.ModelForm):
    class Meta:
        model = Invitation
        fields = ["email", "hospital", "role"]
        help_texts = {"email": "The person receives a link to accept (or to set a password, without an account yet)."}

    def validate_unique(self):
        pass  # a new invitation to the same address replaces the open one (invitations.invitation_send)


@admin.register(Invitation)
class InvitationAdmin(ServiceAdminMixin, HospitalScopedAdmin):
    """Invite a person by email to a role at a hospital one manages; see who has not accepted yet;
    withdraw an invitation. Sent through ``invitations.invitation_send``."""

    form = InvitationForm
    view_perm = MANAGE_STAFF
    change_perm = MANAGE_STAFF
    list_display = ["email", "hospital", "role", "status_label", "invited_by", "created_at", "expires_at"]
    list_filter = [
        ("accepted_at", admin.EmptyFieldListFilter),
        ("withdrawn_at", admin.EmptyFieldListFilter),
        "role",
        "hospital",
    ]
    search_fields = ["email", "hospital__name"]
    list_select_related = ["hospital", "invited_by"]
    actions = ["withdraw"]
    service_arg = "invitation"

    @admin.display(description="Status")
    def status_label(self, invitation):
        return invitation.status

    def has_change_permission(self, request, obj=None):
        return obj is None and super().has_change_permission(
            request
        )  # the list and its actions; an invitation is not edited

    def has_delete_permission(self, request, obj=None):
        return False  # withdrawn, and kept as a record

    def save_model(self, request, obj, form, change):
        sent = self.call_service(
            request,
            invitations.invitation_send,
            hospital=obj.hospital,
            email=obj.email,
            role=obj.role,
            by=request.user,
            site=request.build_absolute_uri("/"),
        )
        obj.pk = sent.pk

    @admin.action(description="Withdraw the selected invitations")
    def withdraw(self, request, queryset):
        self.run_each(request, queryset, invitations.invitation_withdraw, "invitations withdrawn", by=request.user)


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
                request,
                services.hospital_update,
                hospital=obj,
                by=request.user,
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
