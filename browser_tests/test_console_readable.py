"""The operations console reads at a glance on a 1366 x 900 screen (#23 item 7): a hospital administrator
opens the dashboard and the main change lists with the demo data; no table runs out of view sideways,
urgency is a coloured label with its word, expiry reads "use by …", the greeting names the person.

Screenshots go to ``HEALTHSYNC_SCREENSHOTS_DIR`` (default: the test's tmp_path).
"""

import os
import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from .conftest import log_in_staff

pytestmark = pytest.mark.slow

PAGES = {
    "dashboard": "/admin/",
    "blood-requests": "/admin/bloodbank/bloodrequest/",
    "units": "/admin/bloodbank/bloodunit/",
    "transfers": "/admin/bloodbank/transfer/",
    "donors": "/admin/donors/donorprofile/",
    "analyses": "/admin/imaging/imageanalysis/",
}

# Every table of the content ends inside the viewport and inside any box that would scroll it sideways.
OVERFLOWS = """() => {
  const problems = [];
  const page = document.documentElement;
  if (page.scrollWidth > page.clientWidth + 1)
    problems.push(`the page scrolls sideways: ${page.scrollWidth} > ${page.clientWidth}`);
  document.querySelectorAll('#content table').forEach((table, i) => {
    const name = table.id || table.getAttribute('aria-label') || `table ${i + 1}`;
    let limit = page.clientWidth;
    for (let box = table.parentElement; box && box !== page; box = box.parentElement) {
      if (getComputedStyle(box).overflowX === 'visible') continue;
      limit = Math.min(limit, box.getBoundingClientRect().right);
      if (box.scrollWidth > box.clientWidth + 1)
        problems.push(`${name} scrolls sideways in its box: ${box.scrollWidth} > ${box.clientWidth}`);
    }
    const right = table.getBoundingClientRect().right;
    if (right > limit + 1) problems.push(`${name} ends at ${right}px, past ${limit}px`);
  });
  return problems;
}"""


@pytest.fixture
def screenshots(tmp_path) -> Path:
    folder = Path(os.environ.get("HEALTHSYNC_SCREENSHOTS_DIR") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def test_console_fits_1366_and_reads_at_a_glance(browser, server_url, screenshots):
    context = browser.new_context(base_url=server_url, viewport={"width": 1366, "height": 900})
    context.set_default_timeout(15000)
    try:
        page = context.new_page()
        log_in_staff(page, "admin@stmarys.example")
        greeting = page.locator("#user-tools .greeting")
        expect(greeting).to_have_text("Welcome, Grace Okafor.")
        assert greeting.evaluate("el => getComputedStyle(el).textTransform") == "none"
        assert page.locator('link[rel="icon"]').get_attribute("href").endswith("favicon.svg")

        problems = {}
        for name, url in PAGES.items():
            page.goto(url)
            page.wait_for_load_state("load")
            page.screenshot(path=str(screenshots / f"console-{name}.png"), full_page=True)
            problems[name] = page.evaluate(OVERFLOWS)
            if name == "blood-requests":
                label = page.locator("#result_list .urgency-label").first
                expect(label).to_have_text(re.compile(r"^[1-5] — (routine|urgent|emergency)$"))
                assert label.evaluate("el => getComputedStyle(el).backgroundColor") not in (
                    "rgba(0, 0, 0, 0)",
                    "transparent",
                )
            if name == "dashboard":
                expect(page.locator("#open-requests .urgency-label").first).to_be_visible()
            if name == "units":
                expect(page.locator("#result_list td.field-expires_at").first).to_contain_text("use by ")
        assert not any(problems.values()), problems
    finally:
        context.close()
