"""Session rules for staff: an idle timeout, and a recent login before sensitive actions."""

import time

from django.conf import settings
from django.contrib.auth import logout
from django.shortcuts import redirect

from .errors import Forbidden

LAST_SEEN = "healthsync_last_seen"
LOGGED_IN_AT = "healthsync_logged_in_at"


def stamp_login(sender, request, user, **kwargs) -> None:
    """Every web login (admin, allauth) stamps its session for the idle and re-authentication rules."""
    if request is not None and hasattr(request, "session"):
        request.session[LOGGED_IN_AT] = int(time.time())
        request.session[LAST_SEEN] = int(time.time())


class StaffIdleTimeoutMiddleware:
    """Logs staff out of a web session left idle for ``HEALTHSYNC_STAFF_IDLE_MINUTES``."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and user.is_staff and hasattr(request, "session"):
            now = int(time.time())
            last_seen = request.session.get(LAST_SEEN, now)
            if now - last_seen > settings.HEALTHSYNC_STAFF_IDLE_MINUTES * 60:
                logout(request)
                if request.path.startswith("/api/"):
                    return self.get_response(request)
                return redirect(f"{settings.LOGIN_URL}?next={request.path}")
            request.session[LAST_SEEN] = now
        return self.get_response(request)


def require_recent_login(request) -> None:
    """Refuse a sensitive action (emergency release, discarding units, activating a model) unless the
    user logged in within ``HEALTHSYNC_REAUTH_MINUTES``: by password for the session, or for the
    bearer token's original login (its ``auth_time`` claim)."""
    window = settings.HEALTHSYNC_REAUTH_MINUTES * 60
    token = getattr(request, "auth", None)
    logged_in_at = None
    if token is not None and hasattr(token, "get"):
        logged_in_at = token.get("auth_time")
    elif hasattr(request, "session"):
        logged_in_at = request.session.get(LOGGED_IN_AT)
    if logged_in_at is None or time.time() - float(logged_in_at) > window:
        raise Forbidden(
            f"Log in again to do this: sensitive actions need a login within the last {settings.HEALTHSYNC_REAUTH_MINUTES} minutes.",
            code="reauthentication_required",
        )
