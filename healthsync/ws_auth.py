"""WebSocket authentication: the session cookie for pages, a JWT for API clients."""

from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.middleware import BaseMiddleware
from channels.security.websocket import OriginValidator
from django.conf import settings
from django.contrib.auth.models import AnonymousUser


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
    from .security import second_factor_missing

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


class BrowserOriginValidator(OriginValidator):
    """Browsers always send Origin, so a cookie-carrying cross-site socket is refused;
    programs that send none (API clients with a token) are let through to authentication."""

    def valid_origin(self, parsed_origin):
        if parsed_origin is None:
            return True
        return super().valid_origin(parsed_origin)


def origin_validated(application):
    allowed = settings.ALLOWED_HOSTS or (["localhost", "127.0.0.1", "[::1]"] if settings.DEBUG else [])
    return BrowserOriginValidator(application, allowed)
