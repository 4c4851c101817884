"""The listener as it is deployed: a thread of `manage.py serve` in the embedded mode (analyses run by
its in-process Celery worker), and `manage.py dicom_listener` as a process of its own."""

import json
import signal
import sqlite3
import sys
import urllib.request

import pytest
from django.conf import settings

from healthsync.tests.servers import Process, free_port, manage, process_env, start_server

from . import dicoms
from .conftest import PEER_AE, register, run_tool, wait_for

pytestmark = pytest.mark.slow

SETUP = """
from healthsync import services
from dicom_node.models import DicomPeer, RoutingRule
from imaging.models import Condition, MLModel
hospital = services.hospital_create(name="Embedded General", is_verified=True)
DicomPeer.objects.create(hospital=hospital, ae_title="{ae}", host="127.0.0.1", port=104)
RoutingRule.objects.create(hospital=hospital, modality="CR", condition=Condition.objects.get(code="pneumonia"),
                           model=MLModel.objects.get(name="pneumoniamnist-basic_cnn", is_active=True))
"""


def test_serve_runs_the_listener_in_the_embedded_mode(dicom_tools, tmp_path):
    var_dir = tmp_path / "var"
    dicom_port, http_port = free_port(), free_port()
    env = process_env(
        HEALTHSYNC_VAR_DIR=str(var_dir), HEALTHSYNC_DICOM_PORT=str(dicom_port), HEALTHSYNC_LOG_LEVEL="WARNING"
    )
    manage("migrate", "--noinput", env=env)
    manage("shell", "-c", SETUP.format(ae=PEER_AE), env=env)
    server = start_server(env=env, port=http_port, log_path=tmp_path / "server.log")
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{http_port}/healthz", timeout=10) as response:
            assert json.loads(response.read())["checks"]["dicom_listener"] == "up"
        assert run_tool("echoscu", "-aet", "INTRUDER", "-aec", "HEALTHSYNC", "127.0.0.1", dicom_port).returncode != 0
        sent = run_tool(
            "storescu",
            "-aet",
            PEER_AE,
            "-aec",
            "HEALTHSYNC",
            "127.0.0.1",
            dicom_port,
            dicoms.write(dicoms.chest_xray(seed=11), tmp_path / "xray.dcm"),
        )
        assert sent.returncode == 0, sent.stdout + sent.stderr

        def analysis_status():
            with sqlite3.connect(var_dir / "healthsync.sqlite3", timeout=30) as database:
                rows = database.execute("SELECT status FROM imaging_imageanalysis").fetchall()
            return rows[0][0] if rows and rows[0][0] in ("done", "failed") else None

        assert wait_for(analysis_status, timeout=120, what="the embedded worker's analysis") == "done", server.log()
    finally:
        server.stop()


@pytest.mark.django_db(transaction=True)
def test_the_listener_command_serves_the_database_until_stopped(dicom_tools, hospital_a, tmp_path):
    register(hospital_a)
    port = free_port()
    database = settings.DATABASES["default"]
    if database["ENGINE"] != "django.db.backends.postgresql":
        pytest.skip("the command's process shares the test database through PostgreSQL")
    url = (
        f"postgres://{database['USER']}@{database['HOST'] or '127.0.0.1'}:{database['PORT'] or 5432}/{database['NAME']}"
    )
    env = process_env(DATABASE_URL=url, CELERY_BROKER_URL="memory://", HEALTHSYNC_VAR_DIR=str(tmp_path / "var"))
    listener = Process(
        [sys.executable, "manage.py", "dicom_listener", "--port", str(port)],
        env=env,
        log_path=tmp_path / "listener.log",
    )
    try:
        wait_for(
            lambda: run_tool("echoscu", "-aet", PEER_AE, "-aec", "HEALTHSYNC", "127.0.0.1", port).returncode == 0,
            timeout=60,
            what=f"the listener to answer:\n{listener.log()}",
        )
        assert run_tool("echoscu", "-aet", "INTRUDER", "-aec", "HEALTHSYNC", "127.0.0.1", port).returncode != 0
        from dicom_node.models import DicomAssociation

        assert DicomAssociation.objects.filter(calling_ae="INTRUDER", status="rejected").exists()
        listener.popen.send_signal(signal.SIGTERM)
        assert listener.popen.wait(timeout=30) == 0
    finally:
        listener.stop()
    assert "DICOM node HEALTHSYNC on 127.0.0.1" in listener.log()
