from drf_spectacular.contrib.rest_framework_simplejwt import SimpleJWTScheme
from rest_framework_simplejwt.authentication import JWTAuthentication

from .audit import attribute_to


class AuditedJWTAuthentication(JWTAuthentication):
    """Bearer-token authentication whose user is recorded as the actor in the audit trail."""

    def authenticate(self, request):
        result = super().authenticate(request)
        if result is not None:
            attribute_to(result[0])
        return result


class AuditedJWTScheme(SimpleJWTScheme):
    """Describes the bearer scheme in the OpenAPI schema (drf-spectacular finds it by target class)."""

    target_class = AuditedJWTAuthentication
    name = "jwtAuth"
