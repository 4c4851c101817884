"""The embedded mode's in-memory broker is polled often enough for an analysis to start within a few
milliseconds of its commit (kombu's default is once a second); other brokers are left as they are."""

import json
import subprocess
import sys

from healthsync.tests.servers import ROOT, process_env

SHOW = (
    "import json, django; django.setup(); from config.celery import app; "
    "connection = app.connection_for_write(); "
    "print(json.dumps([app.conf.broker_url, app.conf.broker_transport_options, "
    "getattr(connection.transport, 'polling_interval', None) if app.conf.broker_url.startswith('memory://') else "
    "None]))"
)


def _broker(tmp_path, **overrides):
    env = process_env(HEALTHSYNC_VAR_DIR=str(tmp_path), **overrides)
    result = subprocess.run(
        [sys.executable, "-c", SHOW], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_the_embedded_broker_is_polled_every_10_ms(tmp_path):
    url, options, transport_interval = _broker(tmp_path)
    assert url.startswith("memory://")
    assert options["polling_interval"] == 0.01 and transport_interval == 0.01  # what the worker thread's transport uses
    assert options["max_retries"] == 3  # the other options are kept


def test_a_real_broker_keeps_its_transport_options(tmp_path):
    url, options, _ = _broker(tmp_path, CELERY_BROKER_URL="amqp://guest:guest@127.0.0.1:5672//")
    assert url.startswith("amqp://") and "polling_interval" not in options
