"""The one error shape of HealthSync.

Every 4xx/5xx answer of the API has the body::

    {"error": {"code": "...", "message": "...", "fields": {...}, "details": {...}}}

``fields`` holds per-field problems, ``details`` extra facts (such as a next
eligible date). Services raise ``DomainError`` (or Django's ``ValidationError``
and ``PermissionDenied``); the API exception handler turns them into this shape.
"""

import logging
from http import HTTPStatus

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import InterfaceError, OperationalError
from django.http import Http404, JsonResponse

logger = logging.getLogger(__name__)

# The domain's exceptions are plain Python (their HTTP status is http.HTTPStatus's): services raise them
# wherever they run (API, console, tasks); only api_exception_handler below, for the API, uses DRF.


class DomainError(Exception):
    """A business rule refused the action. Subclasses set the HTTP status."""

    status_code = HTTPStatus.BAD_REQUEST
    code = "invalid"

    def __init__(self, message, *, code=None, fields=None, details=None):
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        self.fields = fields or {}
        self.details = details or {}


class Conflict(DomainError):
    status_code = HTTPStatus.CONFLICT
    code = "conflict"


class Forbidden(DomainError):
    status_code = HTTPStatus.FORBIDDEN
    code = "permission_denied"


class ServiceUnavailable(DomainError):
    status_code = HTTPStatus.SERVICE_UNAVAILABLE
    code = "service_unavailable"


def error_body(code, message, *, fields=None, details=None):
    return {"error": {"code": code, "message": message, "fields": fields or {}, "details": details or {}}}


def _flatten(detail):
    """DRF error details as plain strings: a list of messages per field."""
    if isinstance(detail, dict):
        return {key: _flatten(value) for key, value in detail.items()}
    if isinstance(detail, list):
        flat = [_flatten(item) for item in detail]
        return flat if not all(isinstance(item, str) for item in flat) else [str(item) for item in flat]
    return str(detail)


def _validation_fields(detail):
    if isinstance(detail, dict):
        return {key: value if isinstance(value, (list, dict)) else [value] for key, value in _flatten(detail).items()}
    return {"non_field_errors": _flatten(detail) if isinstance(detail, list) else [str(detail)]}


def _first_message(fields):
    for name, messages in fields.items():
        first = messages[0] if isinstance(messages, list) and messages else messages
        if isinstance(first, dict):
            return _first_message(first)
        prefix = "" if name == "non_field_errors" else f"{name}: "
        return f"{prefix}{first}"
    return "Invalid input."


def api_exception_handler(exc, context):
    from rest_framework import exceptions
    from rest_framework.response import Response
    from rest_framework.views import exception_handler

    if isinstance(exc, (OperationalError, InterfaceError)):
        return None  # DRF re-raises it; healthsync.middleware.DatabaseUnavailableMiddleware answers 503
    if isinstance(exc, DomainError):
        response = Response(
            error_body(exc.code, exc.message, fields=exc.fields, details=exc.details), status=int(exc.status_code)
        )
        return response
    if isinstance(exc, DjangoValidationError):
        fields = exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        exc = exceptions.ValidationError(fields)
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied(str(exc) or None)
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound(str(exc) or None)

    response = exception_handler(exc, context)
    if response is None:
        logger.exception("Unhandled API error", exc_info=exc)
        return Response(
            error_body("server_error", "An unexpected error occurred; it has been logged."),
            status=HTTPStatus.INTERNAL_SERVER_ERROR,
        )

    if isinstance(exc, exceptions.ValidationError):
        fields = _validation_fields(exc.detail)
        response.data = error_body("invalid", _first_message(fields), fields=fields)
    else:
        codes = exc.get_codes() if isinstance(exc, exceptions.APIException) else "error"
        detail = exc.detail
        if isinstance(detail, dict):  # simplejwt: {"detail", "code", "messages"}
            code = str(detail.get("code", "error"))
            detail = detail.get("detail", "")
        else:
            code = codes if isinstance(codes, str) else "error"
        details = {}
        if isinstance(exc, exceptions.Throttled) and exc.wait is not None:
            details["retry_after_seconds"] = int(exc.wait + 0.999)
        response.data = error_body(code, str(detail), details=details)
    return response


# Paths whose clients are programs: their errors are the JSON error shape, never an HTML page or a redirect.
API_PREFIXES = ("/api/", "/fhir/", "/dicomweb/", "/healthz")


def is_api(request) -> bool:
    return request.path.startswith(API_PREFIXES)


def json_error_view(status_code, code, message):
    def view(request, exception=None):
        if is_api(request):
            return JsonResponse(error_body(code, message), status=status_code)
        from django.views import defaults

        handlers = {
            400: defaults.bad_request,
            403: defaults.permission_denied,
            404: defaults.page_not_found,
            500: defaults.server_error,
        }
        if status_code == 500:
            return handlers[500](request)
        return handlers[status_code](request, exception)

    return view


bad_request = json_error_view(400, "bad_request", "The request could not be understood.")
permission_denied = json_error_view(403, "permission_denied", "You do not have permission to do this.")
page_not_found = json_error_view(404, "not_found", "Not found.")
_server_error = json_error_view(500, "server_error", "An unexpected error occurred; it has been logged.")


def server_error(request, *args, **kwargs):
    """500, unless the error is the database being unreachable (raised outside a view): then 503."""
    import sys

    from .middleware import database_unavailable_response, is_database_outage

    if is_database_outage(sys.exc_info()[1]):
        return database_unavailable_response(request)
    return _server_error(request)
