"""Per-view rate limits (429 with Retry-After), named by scope in REST_FRAMEWORK's DEFAULT_THROTTLE_RATES."""

from rest_framework.throttling import ScopedRateThrottle

from ..security import client_address


class ClientScopedRateThrottle(ScopedRateThrottle):
    """DRF's scoped throttle, counting anonymous clients by ``client_address`` (the trusted proxies of
    ``HEALTHSYNC_TRUSTED_PROXIES``), never by an X-Forwarded-For the client wrote; logged-in users by
    their account, as DRF does."""

    def get_ident(self, request):
        return client_address(request)


def rate_limited(scope: str):
    """Decorator for an ``@api_view`` function: limit it by the rate of ``scope``."""

    def apply(view):
        view.cls.throttle_classes = [ClientScopedRateThrottle]
        view.cls.throttle_scope = scope
        return view

    return apply
