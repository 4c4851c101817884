"""The operations console: the Django admin, titled and scoped for HealthSync."""

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect
from django.urls import reverse

from .display import ReadableColumns
from .errors import DomainError
from .permissions import ACT, can, can_anywhere, hospitals_for, scope_to_hospitals


class OperationsAdminSite(admin.AdminSite):
    site_header = "HealthSync operations"
    site_title = "HealthSync operations"
    index_title = "Operations dashboard"
    index_template = "admin/healthsync_index.html"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._dashboard_panels = []
        self._extra_views = []

    def register_view(self, route: str, view, *, name: str, title: str, linked: bool = True):
        """Add a page of the console at ``<admin>/<route>`` (staff login and CSRF as every admin page).
        Linked views are listed on the index under "Pages"."""
        self._extra_views.append({"route": route, "view": view, "name": name, "title": title, "linked": linked})

    def get_urls(self):
        from django.urls import path

        extra = [path(item["route"], self.admin_view(item["view"]), name=item["name"]) for item in self._extra_views]
        return extra + super().get_urls()

    def each_context(self, request):
        context = super().each_context(request)
        context["extra_pages"] = [item for item in self._extra_views if item["linked"]]
        return context

    def register_panel(self, panel):
        """Add a dashboard panel to the index: ``panel(request)`` returns
        ``{"title", "template", ...context}``, or None to hide itself."""
        self._dashboard_panels.append(panel)
        return panel

    def dashboard_panels(self, request):
        panels = []
        for panel in self._dashboard_panels:
            rendered = panel(request)
            if rendered:
                panels.append(rendered)
        return panels

    def index(self, request, extra_context=None):
        extra_context = {**(extra_context or {}), "dashboard_panels": self.dashboard_panels(request)}
        return super().index(request, extra_context)

    def login(self, request, extra_context=None):
        """The console's login page runs django-allauth's login, in the console's look: an account
        with two-factor authentication is asked for its code before it gets a session (Django's
        own admin login form would skip that step)."""
        from allauth.account.views import LoginView

        index = reverse("admin:index", current_app=self.name)
        if request.user.is_authenticated:
            if self.has_permission(request):
                return HttpResponseRedirect(index)
            # Logged in without console rights; the login page would send them straight back here.
            raise PermissionDenied  # as allauth's secure_admin_login
        context = {**self.each_context(request), "title": "Log in", "subtitle": None, **(extra_context or {})}
        request.current_app = self.name
        view = LoginView.as_view(template_name="admin/healthsync_login.html", success_url=index, extra_context=context)
        return view(request)


def hospital_of(obj, lookup: str):
    """Follow a ``hospital``-style lookup path (``"unit__hospital"``; ``"pk"`` for a hospital itself)."""
    if lookup == "pk":
        return obj
    for part in lookup.split("__"):
        obj = getattr(obj, part, None)
        if obj is None:
            return None
    return obj


class PlatformWritesMixin:
    """Only platform administrators add, change or delete these rows."""

    def has_add_permission(self, request):
        return request.user.is_superuser

    def has_change_permission(self, request, obj=None):
        return request.user.is_superuser

    def has_delete_permission(self, request, obj=None):
        return request.user.is_superuser


class StaffReadOnlyAdmin(ReadableColumns, PlatformWritesMixin, admin.ModelAdmin):
    """A ModelAdmin of shared reference rows (the condition catalogue, the model registry): every staff
    role reads them; only platform administrators change them."""

    def has_module_permission(self, request):
        return can_anywhere(request.user, ACT)

    def has_view_permission(self, request, obj=None):
        return can_anywhere(request.user, ACT)


class HospitalScopedAdmin(ReadableColumns, admin.ModelAdmin):
    """A ModelAdmin whose rows belong to hospitals: staff see and change only their own
    hospitals' rows (through the shared permission helper); platform administrators see all."""

    hospital_lookup = "hospital"
    view_perm = ACT
    change_perm = ACT

    def get_queryset(self, request):
        queryset = scope_to_hospitals(
            super().get_queryset(request), request.user, perm=self.view_perm, via=self.hospital_lookup
        )
        return queryset.distinct() if "__" in self.hospital_lookup else queryset

    def has_module_permission(self, request):
        return can_anywhere(request.user, self.view_perm)

    def has_view_permission(self, request, obj=None):
        if obj is None:
            return self.has_module_permission(request)
        return can(request.user, self.view_perm, hospital_of(obj, self.hospital_lookup))

    def has_add_permission(self, request):
        return can_anywhere(request.user, self.change_perm)

    def has_change_permission(self, request, obj=None):
        if obj is None:
            return can_anywhere(request.user, self.change_perm)
        return can(request.user, self.change_perm, hospital_of(obj, self.hospital_lookup))

    def has_delete_permission(self, request, obj=None):
        return self.has_change_permission(request, obj)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "hospital":
            kwargs["queryset"] = hospitals_for(request.user, self.change_perm)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


class ServiceAdminMixin:
    """Saves through a service; a refused action shows its message instead of "saved". Needs ``DomainError``
    from the service for a refusal; ``run_each`` passes each selected row as ``service_arg``.

    On an add or change form, a refusal (from ``call_service`` in ``save_model``, or any ``DomainError``
    the save raises) rolls the whole save back and shows the form again, as typed, with the reason: on
    the field the service named (``service_fields`` maps the service's names to the form's), else above
    the form. Elsewhere (actions, deletions) it is a message and the page goes on."""

    service_fields: dict[str, str] = {}

    def call_service(self, request, service, **kwargs):
        try:
            return service(**kwargs)
        except DomainError as exc:
            if getattr(request, "_service_form_save", False):
                raise  # changeform_view shows the form again
            self.message_user(request, exc.message, messages.ERROR)
            return None

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        if request.method != "POST":
            return super().changeform_view(request, object_id, form_url, extra_context)
        request._service_form_save = True
        try:
            # Django saves the form, its inlines and the log entry in one transaction: a refusal leaves nothing.
            return super().changeform_view(request, object_id, form_url, extra_context)
        except DomainError as exc:
            request._service_refusal = exc  # get_form's form now fails validation with it
            return super().changeform_view(request, object_id, form_url, extra_context)

    def get_form(self, request, obj=None, change=False, **kwargs):
        form_class = super().get_form(request, obj, change, **kwargs)
        refusal = getattr(request, "_service_refusal", None)
        if refusal is None:
            return form_class
        names = self.service_fields

        class RefusedForm(form_class):
            def clean(self):
                cleaned_data = super().clean()
                targets = [names.get(name, name) for name in refusal.fields]
                self.add_error(next((name for name in targets if name in self.fields), None), refusal.message)
                return cleaned_data

        RefusedForm.__name__ = form_class.__name__
        return RefusedForm

    def run_each(self, request, queryset, service, done: str, **kwargs):
        count = 0
        for obj in queryset:
            if self.call_service(request, service, **{self.service_arg: obj, **kwargs}) is not None:
                count += 1
        if count:
            self.message_user(request, f"{count} {done}.", messages.SUCCESS)
