"""Session rules for staff: an idle timeout, a recent login before sensitive actions, and the
second factor (django-allauth's MFA: an authenticator app, with recovery codes), optional per account or
compulsory for staff (``HEALTHSYNC_STAFF_SECOND_FACTOR``)."""

import functools
import ipaddress
import time
from http import HTTPStatus

from allauth.account.adapter import DefaultAccountAdapter, get_adapter
from allauth.account.authentication import get_authentication_records
from allauth.mfa.adapter import DefaultMFAAdapter
from allauth.mfa.base.forms import AuthenticateForm
from allauth.mfa.models import Authenticator
from allauth.mfa.utils import is_mfa_enabled
from auditlog.middleware import AuditlogMiddleware as _AuditlogMiddleware
from django.conf import settings
from django.contrib.auth import logout
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import JsonResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.http import urlencode

from .errors import DomainError, Forbidden, error_body, is_api

LAST_SEEN = "healthsync_last_seen"
LOGGED_IN_AT = "healthsync_logged_in_at"


# --- Client address and login limits ---------------------------------------------------------------


def client_address(request) -> str:
    """The address of the client that sent ``request``: what every rate limit (DRF's, allauth's) and
    audit record goes by. It is the connection's peer, unless ``HEALTHSYNC_TRUSTED_PROXIES`` proxies
    stand in front, each appending the address of its own peer to X-Forwarded-For: then it is the
    entry that many places from the right, the one the outermost trusted proxy wrote. Entries to the
    left of it are whatever the client sent, so never used; a request that did not pass every proxy
    (too few entries), or an entry that is not an address, counts as the peer's."""
    peer = request.META.get("REMOTE_ADDR") or ""
    proxies = settings.HEALTHSYNC_TRUSTED_PROXIES
    if proxies <= 0:
        return peer
    forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
    if len(forwarded) < proxies:
        return peer
    try:
        return str(ipaddress.ip_address(forwarded[-proxies]))
    except ValueError:
        return peer


class AccountAdapter(DefaultAccountAdapter):
    """django-allauth's adapter, with the client address of ``client_address`` (its rate limits: failed
    logins, signups, password resets)."""

    def get_client_ip(self, request) -> str:
        address = client_address(request)
        if not address:
            raise PermissionDenied("Unable to determine client IP address")  # as allauth's own
        return address


class AuditlogMiddleware(_AuditlogMiddleware):
    """django-auditlog's middleware, recording the address of ``client_address`` (auditlog's own
    takes the first X-Forwarded-For entry, which the client writes)."""

    @staticmethod
    def _get_remote_addr(request):
        if settings.AUDITLOG_DISABLE_REMOTE_ADDR:
            return None
        return client_address(request) or None


class LoginLocked(DomainError):
    """Too many failed logins for the account (or from the address): 429 until the window passes."""

    status_code = HTTPStatus.TOO_MANY_REQUESTS
    code = "too_many_login_attempts"


def account_authenticate(*, request, email: str, password: str):
    """Check a password for a login outside allauth's pages (the JWT logins), under the same failed-login
    limits as allauth's web login (``ACCOUNT_RATE_LIMITS["login_failed"]``: per client address and per
    email, on the same counters), so failures on any login count on all and an account locked on one
    is refused on all, its correct password included. Returns the active user, or ``None`` for a wrong
    email or password (the caller answers both alike); raises ``LoginLocked`` while locked, for unknown
    emails as for known ones."""
    adapter = get_adapter(request)
    try:
        user = adapter.authenticate(request, email=email, password=password)
    except ValidationError as exc:  # allauth's pre_authenticate: "too_many_login_attempts"
        raise LoginLocked(exc.messages[0]) from exc
    return user if user is not None and user.is_active else None


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
                if is_api(request):
                    return self.get_response(request)
                return redirect(f"{settings.LOGIN_URL}?next={request.path}")
            request.session[LAST_SEEN] = now
        return self.get_response(request)


def revoke_api_tokens(user) -> None:
    """End ``user``'s API sessions: blacklist every refresh token of theirs still valid. Called when
    their credentials change (password, a new second factor), so a token obtained before the change
    cannot outlive it: refreshing with it gives 401. Access tokens already issued run out within
    ``ACCESS_TOKEN_LIFETIME``; a changed password ends those at once as well (``CHECK_REVOKE_TOKEN``)."""
    from django.utils import timezone
    from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken

    live = OutstandingToken.objects.filter(user=user, expires_at__gt=timezone.now(), blacklistedtoken__isnull=True)
    BlacklistedToken.objects.bulk_create([BlacklistedToken(token=token) for token in live], ignore_conflicts=True)


def _credentials_changed(sender, request=None, user=None, **kwargs) -> None:
    """Receiver of allauth's password signals (changed, set, reset)."""
    if user is not None:
        revoke_api_tokens(user)


def _authenticator_added(sender, request=None, user=None, authenticator=None, **kwargs) -> None:
    """Receiver of allauth's ``authenticator_added``: once a second factor is on, a token obtained
    with the password alone no longer counts. Recovery codes alone change nothing (``SECOND_FACTORS``)."""
    if user is not None and authenticator is not None and authenticator.type in SECOND_FACTORS:
        revoke_api_tokens(user)


def connect() -> None:
    from allauth.account import signals as account_signals
    from allauth.mfa import signals as mfa_signals

    for name in ("password_changed", "password_set", "password_reset"):
        getattr(account_signals, name).connect(
            _credentials_changed, dispatch_uid=f"healthsync.revoke_api_tokens.{name}"
        )
    mfa_signals.authenticator_added.connect(_authenticator_added, dispatch_uid="healthsync.revoke_api_tokens.mfa")


def _session_authenticated_at(request) -> float | None:
    """When the session's user last proved who they are: the login, or a later allauth
    re-authentication (password, or authenticator code when the account has one)."""
    moments = [request.session.get(LOGGED_IN_AT)]
    moments += [record.get("at") for record in get_authentication_records(request, getattr(request, "user", None))]
    moments = [float(moment) for moment in moments if moment is not None]
    return max(moments, default=None)


def require_recent_login(request) -> None:
    """Refuse a sensitive action (emergency release, discarding units, activating a model) unless the
    user logged in within ``HEALTHSYNC_REAUTH_MINUTES``: for a web session, the login or a later
    re-authentication at ``/accounts/reauthenticate/``; for a bearer token, its original login
    (its ``auth_time`` claim)."""
    window = settings.HEALTHSYNC_REAUTH_MINUTES * 60
    token = getattr(request, "auth", None)
    logged_in_at = None
    reauthenticate_url = None
    if token is not None and hasattr(token, "get"):
        logged_in_at = token.get("auth_time")
    elif hasattr(request, "session"):
        logged_in_at = _session_authenticated_at(request)
        reauthenticate_url = f"{reverse('account_reauthenticate')}?{urlencode({'next': request.get_full_path()})}"
    if logged_in_at is None or time.time() - float(logged_in_at) > window:
        how = f" (confirm it is you at {reauthenticate_url})" if reauthenticate_url else ""
        raise Forbidden(
            f"Log in again to do this{how}: sensitive actions need a login within the last "
            f"{settings.HEALTHSYNC_REAUTH_MINUTES} minutes.",
            code="reauthentication_required",
            details={"reauthenticate_url": reauthenticate_url} if reauthenticate_url else {},
        )


# --- Second factor ---------------------------------------------------------------------------------


# What counts as a second factor. Recovery codes alone do not, as in allauth's login step: they are the
# fallback of an authenticator.
SECOND_FACTORS = (Authenticator.Type.TOTP, Authenticator.Type.WEBAUTHN)


def has_second_factor(user) -> bool:
    """The account has turned on two-factor authentication (optional, per account)."""
    return is_mfa_enabled(user, types=list(SECOND_FACTORS))


def second_factor_missing(user) -> bool:
    """Whether ``user`` may not work yet because ``HEALTHSYNC_STAFF_SECOND_FACTOR`` requires staff
    (console accounts) to have an authenticator app and theirs has none. Looked up on each staff
    request (one indexed query), so an authenticator an administrator removes counts at once."""
    return bool(
        settings.HEALTHSYNC_STAFF_SECOND_FACTOR
        and user.is_authenticated
        and user.is_staff
        and not has_second_factor(user)
    )


SECOND_FACTOR_REQUIRED = (
    "HealthSync requires staff to use two-factor authentication: turn on an authenticator app at "
    "/accounts/2fa/ (log in there with your password), then log in again with its code."
)


class StaffSecondFactorMiddleware:
    """Under ``HEALTHSYNC_STAFF_SECOND_FACTOR``, a staff web session of an account without an
    authenticator app reaches only the account pages (``/accounts/``: turning one on, logging out):
    console pages redirect to the authenticator app's activation, API calls get 403
    ``second_factor_required``. (Bearer tokens are refused at login and refresh instead.)"""

    def __init__(self, get_response):
        self.get_response = get_response
        self.open_paths = ("/accounts/", f"/{settings.HEALTHSYNC_ADMIN_URL}logout/", settings.STATIC_URL, "/healthz")

    def __call__(self, request):
        user = getattr(request, "user", None)
        if user is None or request.path.startswith(self.open_paths) or not second_factor_missing(user):
            return self.get_response(request)
        if is_api(request):
            return JsonResponse(error_body("second_factor_required", SECOND_FACTOR_REQUIRED), status=403)
        return redirect("mfa_activate_totp")


def verify_second_factor(*, user, code: str) -> None:
    """Accept an authenticator-app code or an unused recovery code of ``user``, as allauth's login
    step does: a code is accepted once, a recovery code is used up, and wrong codes count against
    the account's ``login_failed`` rate limit. Raises ``ValidationError`` with allauth's reason."""
    form = AuthenticateForm(user=user, data={"code": code})
    if not form.is_valid():
        raise ValidationError(form.errors["code"])
    form.authenticator.record_usage()


@functools.cache
def _secret_cipher():
    from .fields import PersonalTextField

    # The personal-data keys (HEALTHSYNC_FIELD_ENCRYPTION_KEYS with DJANGO_SECRET_KEY): first encrypts, all decrypt.
    return PersonalTextField().f


class MFAAdapter(DefaultMFAAdapter):
    """allauth's MFA adapter, storing TOTP secrets and recovery-code seeds encrypted, so a copy of the
    database alone cannot produce second-factor codes."""

    def encrypt(self, text: str) -> str:
        return _secret_cipher().encrypt(text.encode()).decode()

    def decrypt(self, encrypted_text: str) -> str:
        return _secret_cipher().decrypt(encrypted_text.encode()).decode()
