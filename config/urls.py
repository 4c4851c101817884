from django.conf import settings
from django.contrib import admin
from django.contrib.auth.views import redirect_to_login
from django.urls import include, path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from healthsync.health import healthz
from healthsync.views import invitation

_swagger_ui = SpectacularSwaggerView.as_view(url_name="schema")


def api_docs(request, *args, **kwargs):
    """Swagger UI. Where the docs need a login (``HEALTHSYNC_PUBLIC_API_DOCS`` off, production), a
    browser without a session is sent to log in first; the schema itself answers 401
    (``healthsync.permissions.ApiDocsAccess``)."""
    if not (settings.HEALTHSYNC_PUBLIC_API_DOCS or request.user.is_authenticated):
        return redirect_to_login(request.get_full_path())
    return _swagger_ui(request, *args, **kwargs)


urlpatterns = [
    path("", RedirectView.as_view(url="/donor/", permanent=False)),
    path("", include("donors.portal_urls")),
    path(settings.HEALTHSYNC_ADMIN_URL, admin.site.urls),
    path("accounts/invitations/<str:token>/", invitation, name="invitation"),
    path("accounts/", include("allauth.urls")),
    path("healthz", healthz, name="healthz"),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", api_docs, name="swagger-ui"),
    path("api/blood-bank/", include("bloodbank.urls")),
    path("api/blood-bank/", include("donors.urls")),
    path("api/", include("notifications.urls")),
    path("api/", include("reports.urls")),
    path("api/", include("imaging.urls")),
    path("fhir/", include("reports.fhir_urls")),
    path("dicomweb/", include("dicom_node.urls")),
    path("api/", include("healthsync.api.urls")),
]

handler400 = "healthsync.errors.bad_request"
handler403 = "healthsync.errors.permission_denied"
handler404 = "healthsync.errors.page_not_found"
handler500 = "healthsync.errors.server_error"
