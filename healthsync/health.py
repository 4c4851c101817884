"""Reachability of the services HealthSync depends on."""

import asyncio
import logging

from asgiref.sync import async_to_sync
from celery import current_app as celery_app
from channels.layers import get_channel_layer
from django.apps import apps
from django.conf import settings
from django.db import connection
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from .errors import error_body

logger = logging.getLogger(__name__)
TIMEOUT_SECONDS = 2.0


def database_ok() -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        return cursor.fetchone()[0] == 1


async def _layer_round_trip() -> bool:
    layer = get_channel_layer()
    channel = await layer.new_channel("healthz.")
    await layer.send(channel, {"type": "healthz.ping"})
    message = await asyncio.wait_for(layer.receive(channel), TIMEOUT_SECONDS)
    return message.get("type") == "healthz.ping"


def channel_layer_ok() -> bool:
    return async_to_sync(_layer_round_trip)()


def broker_ok() -> bool:
    with celery_app.connection_for_write(settings.CELERY_BROKER_URL) as conn:
        conn.ensure_connection(max_retries=1, timeout=TIMEOUT_SECONDS)
        return True


CHECKS = {"database": database_ok, "channel_layer": channel_layer_ok, "broker": broker_ok}


def run_checks() -> dict[str, str]:
    results = {}
    for name, check in CHECKS.items():
        try:
            results[name] = "ok" if check() else "down"
        except Exception as exc:  # any failure means the service is unusable right now
            logger.warning("healthz: %s is down: %s", name, exc)
            results[name] = "down"
    return results


def reported_states() -> dict[str, str]:
    """What the apps report beside the checks (an AppConfig's ``health_reports()``: name -> a callable
    giving a state such as ``up``, ``down`` or ``disabled``): shown, never a reason for a 503."""
    states = {}
    for config in apps.get_app_configs():
        for name, report in getattr(config, "health_reports", dict)().items():
            try:
                states[name] = report()
            except Exception as exc:  # a report that fails says its service is down
                logger.warning("healthz: %s is down: %s", name, exc)
                states[name] = "down"
    return states


@never_cache
@require_GET
def healthz(request):
    """200 when the database, the channel layer and the broker answer; 503 naming what is down. The
    apps' reports (the DICOM listener: up, down or disabled) come with them without changing the status."""
    results = run_checks()
    down = [name for name, state in results.items() if state != "ok"]
    results.update(reported_states())
    if not down:
        return JsonResponse({"status": "ok", "checks": results})
    body = error_body("service_unavailable", f"Unavailable: {', '.join(down)}.", details={"checks": results})
    return JsonResponse(body, status=503)
