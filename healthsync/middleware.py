"""A database outage is a 503 with a clear message, never a traceback or a 500.

When PostgreSQL is briefly unreachable (restart, fail-over, network blip) a view
that touches the ORM raises ``django.db.OperationalError`` (or ``InterfaceError``
for a connection that died under it). ``DatabaseUnavailableMiddleware`` answers
such a request with 503 and ``Retry-After``: the one error shape for the API,
FHIR and ``/healthz``; a short plain page elsewhere. The connection is closed so
the next request opens a fresh one (``CONN_HEALTH_CHECKS`` does the rest) and
service recovers by itself as soon as the database is back.

Two writers that lock the same rows in opposite orders, or a serialisation failure, also raise
``OperationalError`` (SQLSTATE 40P01, 40001), though the database is up: PostgreSQL rolled one
of them back. That request gets 409 ``concurrent_change`` ("try again") instead of a 503.

It sees exceptions raised by views (``process_exception``). For DRF views, the
API exception handler must let these errors through (return ``None``) so that
DRF re-raises them to here (``healthsync.errors.api_exception_handler`` does so for
``DATABASE_ERRORS``).
"""

import logging

from django.db import InterfaceError, OperationalError, connections
from django.http import HttpResponse, JsonResponse

from .errors import error_body, is_api

logger = logging.getLogger(__name__)

DATABASE_ERRORS = (OperationalError, InterfaceError)
RETRY_AFTER_SECONDS = 5
CODE = "service_unavailable"
MESSAGE = "The database is unavailable; try again shortly."
PAGE = """<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Temporarily unavailable - HealthSync</title></head>
<body>
<main>
<h1>HealthSync is temporarily unavailable</h1>
<p>We cannot reach the database right now. Nothing you entered has been lost; please try again in a few seconds.</p>
</main>
</body>
</html>
"""


def _chain(exc: BaseException | None):
    seen = set()
    while exc is not None and id(exc) not in seen:
        yield exc
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__


# SQLSTATEs of a transaction PostgreSQL rolled back to settle a conflict between writers.
CONCURRENCY_SQLSTATES = frozenset({"40P01", "40001"})  # deadlock detected, serialization failure


def is_concurrent_change(exc: BaseException | None) -> bool:
    """Whether ``exc`` comes from a transaction rolled back for a deadlock or a serialisation failure."""
    return any(getattr(link, "pgcode", None) in CONCURRENCY_SQLSTATES for link in _chain(exc))


def is_database_outage(exc: BaseException | None) -> bool:
    """Whether ``exc`` (or an exception it was raised from) is a lost or refused database connection."""
    return not is_concurrent_change(exc) and any(isinstance(link, DATABASE_ERRORS) for link in _chain(exc))


def _drop_broken_connections() -> None:
    """Close connections that can no longer be used, so the next request reconnects."""
    for connection in connections.all(initialized_only=True):
        try:
            if connection.connection is not None and not connection.is_usable():
                connection.close()
        except Exception:  # closing a dead connection may itself fail; it is discarded either way
            connection.connection = None


def database_unavailable_response(request) -> HttpResponse:
    """The 503 for ``request``: JSON in the error shape for API paths, a plain page elsewhere."""
    response: HttpResponse
    if is_api(request):
        response = JsonResponse(
            error_body(
                CODE, MESSAGE, details={"checks": {"database": "down"}, "retry_after_seconds": RETRY_AFTER_SECONDS}
            ),
            status=503,
        )
    else:
        response = HttpResponse(PAGE, status=503, content_type="text/html; charset=utf-8")
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    response["Cache-Control"] = "no-store"
    return response


class DatabaseUnavailableMiddleware:
    """Turns a database outage raised by a view into a 503 (see the module docstring)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if is_concurrent_change(exception):
            logger.info("Concurrent change while serving %s %s: %s", request.method, request.path, exception)
            message = "Another change to the same records happened at the same moment; try again."
            if is_api(request):
                return JsonResponse(error_body("concurrent_change", message), status=409)
            return HttpResponse(message, status=409, content_type="text/plain; charset=utf-8")
        if not is_database_outage(exception):
            return None
        logger.warning("Database unavailable while serving %s %s: %s", request.method, request.path, exception)
        try:
            _drop_broken_connections()
        except Exception:  # never let clean-up turn a 503 into a 500
            logger.debug("closing broken database connections failed", exc_info=True)
        return database_unavailable_response(request)
