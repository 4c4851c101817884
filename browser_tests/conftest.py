"""Browser tests: headless Chromium (Debian's package) driven by Playwright against a real `manage.py serve`
(embedded mode, a fresh database with the demo data), one server and one browser for the whole session.

The setup installs what it needs: Chromium with apt-get when /usr/bin/chromium is missing, and axe-core
with npm when node_modules/axe-core is missing. Playwright never downloads browsers here. Screenshots
go to artifacts/screenshots/ (not committed).
"""

import shutil
import subprocess
from pathlib import Path
from types import SimpleNamespace

import pytest
from django.conf import settings

from healthsync.tests.servers import free_port, manage, process_env, start_server

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = Path("/usr/bin/chromium")
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
SCREENSHOTS = ROOT / "artifacts" / "screenshots"
PASSWORD = "healthsync-demo"


def _run(*args, timeout=900) -> bool:
    try:
        return subprocess.run(args, capture_output=True, text=True, timeout=timeout).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


@pytest.fixture(scope="session")
def chromium_path() -> str:
    if not CHROMIUM.exists() and shutil.which("apt-get"):
        env_ok = _run("apt-get", "update", "-qq") and _run("apt-get", "install", "-y", "-qq", "chromium")
        if not env_ok:
            pytest.skip(
                "Chromium is not installed and `apt-get install -y chromium` failed (needs root and a package mirror)"
            )
    if not CHROMIUM.exists():
        pytest.skip("Chromium is not installed at /usr/bin/chromium (install Debian's `chromium` package)")
    return str(CHROMIUM)


@pytest.fixture(scope="session")
def axe_source() -> str:
    if not AXE.exists():
        if not shutil.which("npm") or not _run(
            "npm", "install", "--no-audit", "--no-fund", "--prefix", str(ROOT), timeout=300
        ):
            pytest.skip("axe-core is missing and `npm install` failed (needs npm and the npm registry)")
    return AXE.read_text()


@pytest.fixture(scope="session")
def served(tmp_path_factory):
    """`manage.py serve` on a free port with the test's own settings module, database and demo data: its
    address and its log (the embedded mode prints the emails it sends there)."""
    var_dir = tmp_path_factory.mktemp("browser-var")
    env = process_env(
        HEALTHSYNC_VAR_DIR=str(var_dir), DJANGO_SETTINGS_MODULE=settings.SETTINGS_MODULE, HEALTHSYNC_LOG_LEVEL="WARNING"
    )
    manage("migrate", "--noinput", env=env)
    manage("seed_demo", env=env)
    port = free_port()
    server = start_server(env=env, port=port, log_path=var_dir / "server.log")
    yield SimpleNamespace(url=f"http://127.0.0.1:{port}", log=var_dir / "server.log")
    server.stop()


@pytest.fixture(scope="session")
def server_url(served):
    return served.url


@pytest.fixture(scope="session")
def browser(chromium_path):
    playwright_api = pytest.importorskip(
        "playwright.sync_api", reason="Playwright for Python is not installed (requirements.txt)"
    )
    playwright = playwright_api.sync_playwright().start()
    # --no-sandbox: CI and these machines run as root, where Chromium's sandbox cannot start.
    chromium = playwright.chromium.launch(
        executable_path=chromium_path, headless=True, args=["--no-sandbox", "--disable-dev-shm-usage"]
    )
    yield chromium
    chromium.close()
    playwright.stop()


@pytest.fixture
def new_page(browser, server_url):
    """A factory of pages, each in its own browser context (its own cookies), at desktop or phone size."""
    contexts = []

    def make(*, phone: bool = False):
        viewport = {"width": 390, "height": 844} if phone else {"width": 1280, "height": 900}
        context = browser.new_context(base_url=server_url, viewport=viewport)
        context.set_default_timeout(15000)
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()


def screenshot(page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def log_in_donor(page, email: str, password: str = PASSWORD) -> None:
    page.goto("/accounts/login/?next=/donor/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign In").click()
    page.wait_for_url("**/donor/")


def log_in_staff(page, email: str, password: str = PASSWORD) -> None:
    page.goto("/admin/login/?next=/admin/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/admin/")


def wait_for_live_alerts(page) -> None:
    """The page's /ws/alerts/ socket is open (so an alert raised now is pushed to it)."""
    page.wait_for_selector("html[data-live-alerts-connected]", state="attached")
