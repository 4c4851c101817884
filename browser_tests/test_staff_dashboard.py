"""A staff member receives units and raises a request from the operations dashboard, and sees it change."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from .conftest import log_in_staff, screenshot

pytestmark = pytest.mark.slow


def _cell(page, component, group):
    return page.locator(f'#inventory-table td[data-component="{component}"][data-group="{group}"]')


def _units(page, component, group) -> int:
    return int(_cell(page, component, group).inner_text().split()[0])


def test_staff_add_units_create_a_request_and_see_the_dashboard_change(new_page):
    page = new_page()
    log_in_staff(page, "admin@stmarys.example")
    expect(page.locator("#inventory-chart")).to_be_visible()
    page.wait_for_function("document.getElementById('inventory-chart').chart !== undefined")
    before = _units(page, "red_cells", "B-")
    screenshot(page, "staff-dashboard")

    page.get_by_label("Group", exact=True).select_option("B-")
    page.get_by_label("Component", exact=True).select_option("red_cells")
    page.get_by_label("Units", exact=True).fill("7")
    collected_on = page.get_by_label("Collected on", exact=True)
    today = timezone.localdate()  # the server's day (the same settings): the field's max
    expect(collected_on).to_have_attribute("max", today.isoformat())
    collected_on.fill((today - timedelta(days=2)).isoformat())
    page.get_by_role("button", name="Receive into stock").click()
    expect(page.locator("#receive-status")).to_contain_text("Received 7 unit(s) of B-")
    page.wait_for_load_state("load")
    expect(_cell(page, "red_cells", "B-")).to_contain_text(str(before + 7))
    expect(_cell(page, "red_cells", "B-")).to_have_class(re.compile("level-adequate"))

    open_before = page.locator("#open-requests").inner_text()
    page.get_by_role("link", name="New blood request").click()
    page.get_by_label("Hospital").select_option(label="St Mary's General Hospital (H0001)")
    page.get_by_label("Component").select_option("red_cells")
    page.get_by_label("Recipient group").select_option("B-")
    page.get_by_label("Units requested").fill("2")
    page.get_by_label("Urgency").select_option("3")  # 1 routine ... 5 emergency
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.locator(".messagelist")).to_contain_text("was added successfully")

    page.goto("/admin/")
    expect(page.locator("#open-requests")).not_to_have_text(open_before)
    expect(page.locator("#open-requests")).to_contain_text("3 — priority")
    screenshot(page, "staff-dashboard-after")
