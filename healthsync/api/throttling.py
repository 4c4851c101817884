"""Per-view rate limits (429 with Retry-After), named by scope in REST_FRAMEWORK's DEFAULT_THROTTLE_RATES."""

from rest_framework.throttling import ScopedRateThrottle


def rate_limited(scope: str):
    """Decorator for an ``@api_view`` function: limit it by the rate of ``scope``."""

    def apply(view):
        view.cls.throttle_classes = [ScopedRateThrottle]
        view.cls.throttle_scope = scope
        return view

    return apply
