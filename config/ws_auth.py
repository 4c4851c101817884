"""WebSocket authentication: the session cookie for pages, a JWT for API clients."""

from urllib.parse import parse_qs, urlsplit

from channels.db import database_sync_to_async
from channels.middleware import BaseMiddleware
from channels.security.websocket import WebsocketDenier
from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.http.request import split_domain_port, validate_host
from django.utils.http import is_same_domain


def _bearer_token(scope) -> str | None:
    query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
    if query.get("token"):
        return query["token"][0]
    for name, value in scope.get("headers", []):
        if name == b"authorization":
            kind, _, token = value.decode("latin-1").partition(" ")
            if kind.lower() == "bearer" and token:
                return token.strip()
    return None


@database_sync_to_async
def _user_for_token(raw_token: str):
    from rest_framework_simplejwt.authentication import JWTAuthentication
    from rest_framework_simplejwt.exceptions import AuthenticationFailed, InvalidToken, TokenError

    authenticator = JWTAuthentication()
    try:
        return authenticator.get_user(authenticator.get_validated_token(raw_token.encode()))
    except (InvalidToken, TokenError, AuthenticationFailed):
        return AnonymousUser()


@database_sync_to_async
def _second_factor_missing(user) -> bool:
    from healthsync.security import second_factor_missing

    return second_factor_missing(user)


class JWTAuthMiddleware(BaseMiddleware):
    """A token in the ``token`` query parameter or an ``Authorization: Bearer`` header
    sets the user; an invalid token makes the connection anonymous (and refused). A session's staff
    user without the second factor ``HEALTHSYNC_STAFF_SECOND_FACTOR`` requires is refused too (a
    token's was refused at login)."""

    async def __call__(self, scope, receive, send):
        token = _bearer_token(scope)
        if token is not None:
            scope = dict(scope, user=await _user_for_token(token))
        elif getattr(scope.get("user"), "is_authenticated", False) and await _second_factor_missing(scope["user"]):
            scope = dict(scope, user=AnonymousUser())
        return await super().__call__(scope, receive, send)


_DEFAULT_PORTS = {"http": 80, "https": 443}


def _origin(url: str) -> tuple[str, str, int] | None:
    """``url``'s origin as (scheme, host, port), the port filled in for the scheme; None if it has none."""
    try:
        parsed = urlsplit(url)
        scheme, host, port = parsed.scheme.lower(), (parsed.hostname or "").lower(), parsed.port
    except ValueError:
        return None
    if scheme not in _DEFAULT_PORTS or not host:
        return None
    return scheme, host, port or _DEFAULT_PORTS[scheme]


def _allowed_hosts() -> list[str]:
    # As Django's HttpRequest.get_host(): with DEBUG and no ALLOWED_HOSTS, the local names.
    return settings.ALLOWED_HOSTS or ([".localhost", "127.0.0.1", "[::1]"] if settings.DEBUG else [])


def _is_secure(scope, headers: dict) -> bool:
    """As Django's HttpRequest.is_secure(): the socket's own scheme, or the proxy's header when
    ``SECURE_PROXY_SSL_HEADER`` names one (production: ``X-Forwarded-Proto: https``)."""
    proxy_header = getattr(settings, "SECURE_PROXY_SSL_HEADER", None)
    if proxy_header:
        name, secure_value = proxy_header
        value = headers.get(name.removeprefix("HTTP_").lower().replace("_", "-").encode("latin-1"))
        if value is not None:
            return value.decode("latin-1").split(",", 1)[0].strip() == secure_value
    return scope.get("scheme") in ("wss", "https")


def socket_origin(scope, headers: dict) -> tuple[str, str, int] | None:
    """The origin of the site the socket was opened on: its scheme, and the ``Host`` it was sent to
    (None when that host is not one of ``ALLOWED_HOSTS``)."""
    host = headers.get(b"host", b"").decode("latin-1")
    domain, _ = split_domain_port(host)
    if not domain or not validate_host(domain, _allowed_hosts()):
        return None
    return _origin(f"{'https' if _is_secure(scope, headers) else 'http'}://{host}")


def origin_allowed(origin: str, scope, headers: dict) -> bool:
    """Django's CSRF rule for the ``Origin`` header: this site itself (same scheme, host and port as
    the socket), or an origin of ``CSRF_TRUSTED_ORIGINS`` (``https://*.example.com`` for subdomains)."""
    claimed = _origin(origin)
    if claimed is None:
        return False
    own = socket_origin(scope, headers)
    if own is not None and claimed == own:
        return True
    for trusted in settings.CSRF_TRUSTED_ORIGINS:
        if "*" in trusted:
            scheme, _, netloc = trusted.partition("://")
            if claimed[0] == scheme.lower() and is_same_domain(
                urlsplit(origin).netloc.lower(), netloc.lstrip("*").lower()
            ):
                return True
        elif claimed == _origin(trusted):
            return True
    return False


class SameOriginValidator:
    """Browsers always send ``Origin``: a cookie-carrying socket from another site, or from another
    port or scheme of this one, is refused (403 at the handshake) by ``origin_allowed``. Programs that
    send none (API clients with a token) are let through to authentication."""

    def __init__(self, application):
        self.application = application

    async def __call__(self, scope, receive, send):
        if scope["type"] == "websocket":
            headers = dict(scope.get("headers", []))
            origin = headers.get(b"origin")
            if origin is not None and not origin_allowed(origin.decode("latin-1"), scope, headers):
                return await WebsocketDenier()(scope, receive, send)
        return await self.application(scope, receive, send)


def origin_validated(application):
    return SameOriginValidator(application)
