"""ASGI entry point: HTTP and WebSockets, served by daphne."""

import gc
import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402  (needs the app registry)
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from notifications.routing import websocket_urlpatterns as alert_sockets  # noqa: E402

from .http_concurrency import BoundedConcurrency  # noqa: E402
from .routing import websocket_urlpatterns  # noqa: E402
from .ws_auth import JWTAuthMiddleware, origin_validated  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": BoundedConcurrency(django_asgi_app),
        "websocket": origin_validated(
            AuthMiddlewareStack(JWTAuthMiddleware(URLRouter(websocket_urlpatterns + alert_sockets)))
        ),
    }
)

# Everything loaded so far lives as long as the process: keep it out of the garbage collector's
# full collections, which otherwise scan it all (tens of milliseconds, in the middle of a request).
gc.freeze()
