"""The DICOM node's tests talk to real peers: dcmtk (echoscu, storescu, storescp), Orthanc and
dicom3tools (dciodvfy), installed with apt-get by the setup when missing (the test is skipped, saying
why, only when apt-get itself fails). HealthSync's listener runs in threads of the test process on a
free port (as in ``manage.py serve``), on the test database, with Celery tasks run inline."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import SimpleNamespace

import pytest

from healthsync.tests.servers import free_port

TOOLS = {"echoscu": "dcmtk", "storescu": "dcmtk", "storescp": "dcmtk", "Orthanc": "orthanc", "dciodvfy": "dicom3tools"}
SEARCH_PATH = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/usr/local/sbin"])
PEER_AE = "STORESCU"


def tool(name: str) -> str | None:
    return shutil.which(name, path=SEARCH_PATH)


def _succeeds(*args, timeout=900) -> bool:
    try:
        return subprocess.run(args, capture_output=True, text=True, timeout=timeout).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


@pytest.fixture(scope="session")
def dicom_tools() -> dict[str, str]:
    """The peers' programs, installed with apt-get (dcmtk, orthanc, dicom3tools) when missing."""
    missing = [name for name in TOOLS if tool(name) is None]
    if missing:
        packages = sorted({TOOLS[name] for name in missing})
        installed = (
            shutil.which("apt-get") is not None
            and _succeeds("apt-get", "update", "-qq")
            and _succeeds("apt-get", "install", "-y", "-qq", *packages)
        )
        if not installed:
            command = f"apt-get install -y {' '.join(packages)}"
            pytest.skip(f"{', '.join(missing)} missing and `{command}` failed (needs root and a package mirror)")
    return {name: tool(name) for name in TOOLS}


def run_tool(*args, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([str(arg) for arg in args], capture_output=True, text=True, timeout=timeout)


@pytest.fixture
def node(settings, tmp_path, transactional_db):
    """HealthSync's listener on a free port, storing under the test's own media directory."""
    from dicom_node import listener

    settings.MEDIA_ROOT = str(tmp_path / "media")
    settings.HEALTHSYNC_DICOM_HOST = "127.0.0.1"
    settings.HEALTHSYNC_DICOM_PORT = free_port()
    listener.serve(host="127.0.0.1", port=settings.HEALTHSYNC_DICOM_PORT, block=False)
    yield SimpleNamespace(
        port=settings.HEALTHSYNC_DICOM_PORT, ae_title=settings.HEALTHSYNC_DICOM_AE_TITLE, media=tmp_path / "media"
    )
    listener.stop()


def register(hospital, ae_title: str = PEER_AE, *, port: int = 104, destination: bool = False, host: str = "127.0.0.1"):
    from dicom_node import services
    from dicom_node.models import DicomPeer

    return services.peer_save(
        peer=DicomPeer(hospital=hospital, ae_title=ae_title, host=host, port=port, is_destination=destination)
    )


def route_chest_xrays(hospital, **criteria):
    """A rule: CR chest studies go to the pneumonia condition and the committed default model."""
    from dicom_node import services
    from dicom_node.models import RoutingRule
    from imaging.models import Condition, MLModel

    model = MLModel.objects.get(name="pneumoniamnist-basic_cnn", is_active=True)
    criteria = {"modality": "CR", "body_part": "CHEST", **criteria}
    return services.rule_save(
        rule=RoutingRule(hospital=hospital, condition=Condition.objects.get(code="pneumonia"), model=model, **criteria)
    )


def wait_for(predicate, *, timeout: float = 90, what: str = "the condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def stored_files(root: Path) -> list[Path]:
    return [path for path in root.rglob("*") if path.is_file()] if root.exists() else []


class Orthanc:
    """An Orthanc server of the test's own (free HTTP and DICOM ports, storage in ``directory``)
    that knows HealthSync as the modality ``healthsync``."""

    AE_TITLE = "ORTHANC"

    def __init__(self, binary: str, directory: Path, *, healthsync_ae: str, healthsync_port: int):
        self.binary, self.directory = binary, directory
        self.http_port, self.dicom_port = free_port(), free_port()
        directory.mkdir(parents=True, exist_ok=True)
        config = {
            "Name": "healthsync-test",
            "StorageDirectory": str(directory / "storage"),
            "IndexDirectory": str(directory / "storage"),
            "HttpPort": self.http_port,
            "DicomPort": self.dicom_port,
            "DicomAet": self.AE_TITLE,
            "RemoteAccessAllowed": False,
            "AuthenticationEnabled": False,
            "HttpServerEnabled": True,
            "DicomServerEnabled": True,
            "Plugins": [],
            "DicomModalities": {"healthsync": [healthsync_ae, "127.0.0.1", healthsync_port]},
            "DicomAlwaysAllowStore": True,
            "DicomCheckCalledAet": False,
            "StableAge": 1,
            "ConcurrentJobs": 2,
        }
        self.config = directory / "orthanc.json"
        self.config.write_text(json.dumps(config))
        self.log_path = directory / "orthanc.log"
        self.popen = None

    def start(self, timeout: float = 60) -> None:
        log = open(self.log_path, "w")
        self.popen = subprocess.Popen(
            [self.binary, str(self.config)], stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.popen.poll() is not None:
                raise AssertionError(f"Orthanc exited early:\n{self.log_path.read_text()}")
            try:
                self.get("/system")
                return
            except (urllib.error.URLError, ConnectionError, OSError):
                time.sleep(0.2)
        raise AssertionError(f"Orthanc did not answer on port {self.http_port}:\n{self.log_path.read_text()}")

    def stop(self) -> None:
        if self.popen is not None and self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(timeout=10)

    def _call(self, method: str, path: str, body: bytes | None = None, content_type: str = "application/json") -> bytes:
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.http_port}{path}", data=body, method=method, headers={"Content-Type": content_type}
        )
        with urllib.request.urlopen(request, timeout=120) as response:
            return response.read()

    def get(self, path: str):
        return json.loads(self._call("GET", path))

    def get_bytes(self, path: str) -> bytes:
        return self._call("GET", path)

    def post(self, path: str, payload, *, raw: bool = False):
        body = payload if raw else json.dumps(payload).encode()
        return json.loads(self._call("POST", path, body, "application/dicom" if raw else "application/json") or b"null")


@pytest.fixture
def orthanc(dicom_tools, node, tmp_path):
    server = Orthanc(
        dicom_tools["Orthanc"], tmp_path / "orthanc", healthsync_ae=node.ae_title, healthsync_port=node.port
    )
    server.start()
    yield server
    server.stop()
