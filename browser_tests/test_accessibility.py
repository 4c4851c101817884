"""axe-core, run in the page, finds no serious or critical violations on the main pages; each page fits a phone's
width without scrolling sideways. Every page checked is also saved as a screenshot."""

import pytest
from django.template.loader import render_to_string

from .conftest import log_in_donor, log_in_staff, screenshot

pytestmark = pytest.mark.slow

PUBLIC = ["/shortages/", "/accounts/login/", "/accounts/signup/", "/error-404/", "/error-403/", "/error-500/"]
DONOR = ["/donor/", "/donor/book/", "/donor/profile/", "/donor/history/", "/donor/inbox/"]
STAFF = ["/admin/"]


def _axe(page, axe_source) -> list[dict]:
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.add_script_tag(content=axe_source)
    result = page.evaluate(
        "async () => (await axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', "
        "'wcag21aa', 'best-practice']}})).violations"
        ".map(v => ({id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.slice(0, 3).map(n => n.target.join(' "
        "'))}))"
    )
    return [violation for violation in result if violation["impact"] in ("serious", "critical")]


def _name(path: str) -> str:
    return path.strip("/").replace("/", "-") or "home"


def _serve_error_pages(page):
    # The live server runs with DEBUG on (plain HTTP), where Django shows its technical 404 page:
    # serve the friendly error pages as the production server renders them.
    for code in (403, 404, 500):
        html = render_to_string(f"{code}.html")
        page.route(
            f"**/error-{code}/",
            lambda route, request, html=html, code=code: route.fulfill(
                status=code, body=html, content_type="text/html"
            ),
        )


def _check(page, path, axe_source, problems, *, phone=False):
    page.goto(path)
    page.wait_for_load_state("networkidle")
    screenshot(page, ("phone-" if phone else "page-") + _name(path))
    for violation in _axe(page, axe_source):
        problems.append(
            f"{path}{' (phone)' if phone else ''}: {violation['impact']} {violation['id']}: {violation['help']} at "
            f"{violation['nodes']}"
        )
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    if phone and overflow > 1:
        problems.append(f"{path} (phone): scrolls sideways by {overflow}px")


def test_main_pages_have_no_serious_accessibility_violations_at_desktop_and_phone_size(new_page, axe_source):
    problems = []
    for phone in (False, True):
        anonymous = new_page(phone=phone)
        _serve_error_pages(anonymous)
        for path in PUBLIC:
            _check(anonymous, path, axe_source, problems, phone=phone)
        donor = new_page(phone=phone)
        log_in_donor(donor, "marcus.reid@donors.example")  # not eligible yet: the page lists the reason and the date
        for path in DONOR:
            _check(donor, path, axe_source, problems, phone=phone)
        staff = new_page(phone=phone)
        log_in_staff(staff, "doctor@stmarys.example")
        for path in STAFF:
            _check(staff, path, axe_source, problems, phone=phone)
    assert not problems, "\n".join(problems)
