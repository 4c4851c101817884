"""/healthz reports the database, the channel layer and the broker (and the apps' reports: the DICOM listener)."""

import socket

import pytest

pytestmark = pytest.mark.django_db


def test_healthz_is_200_when_everything_answers(client, settings):
    settings.HEALTHSYNC_DICOM_PORT = (
        0  # the DICOM listener is reported, never checked (dicom_node/tests/test_console.py)
    )
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "checks": {"database": "ok", "channel_layer": "ok", "broker": "ok", "dicom_listener": "disabled"},
    }


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_healthz_is_503_naming_a_broker_that_is_down(client, settings):
    settings.CELERY_BROKER_URL = f"amqp://guest:guest@127.0.0.1:{_closed_port()}//"
    response = client.get("/healthz")
    assert response.status_code == 503
    error = response.json()["error"]
    assert error["code"] == "service_unavailable"
    assert "broker" in error["message"]
    assert error["details"]["checks"]["broker"] == "down"
    assert error["details"]["checks"]["database"] == "ok"
