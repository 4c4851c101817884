"""The blood network in the console: St Mary's asks Riverside for units for one of its requests, Riverside
approves and dispatches, St Mary's receives them; and a doctor releases group O red cells in an emergency."""

import re

import pytest
from playwright.sync_api import expect

from .conftest import log_in_staff, screenshot

pytestmark = pytest.mark.slow


def _new_request(page, *, group: str, units: int, urgency: int) -> int:
    """A St Mary's blood request through the console's add form; its number."""
    page.goto("/admin/bloodbank/bloodrequest/add/")
    page.get_by_label("Hospital").select_option(label="St Mary's General Hospital (H0001)")
    page.get_by_label("Component").select_option("red_cells")
    page.get_by_label("Recipient group").select_option(group)
    page.get_by_label("Units requested").fill(str(units))
    page.get_by_label("Urgency").select_option(str(urgency))
    page.get_by_role("button", name="Save", exact=True).click()
    message = page.locator(".messagelist")
    expect(message).to_contain_text("was added successfully")
    return int(re.search(r"Request (\d+)", message.inner_text()).group(1))


def _step(page, transfer_id: int, label: str, done: str) -> None:
    page.get_by_role("button", name=f"{label} transfer {transfer_id}").click()
    expect(page.locator(".messagelist")).to_contain_text(done)


def test_a_transfer_from_a_request_to_receipt_between_two_hospitals(new_page):
    requester = new_page()
    log_in_staff(requester, "admin@stmarys.example")
    expect(requester.get_by_role("link", name="Network stock and asking for units")).to_be_visible()
    request_id = _new_request(requester, group="AB-", units=1, urgency=3)

    requester.goto("/admin/bloodbank/network/")
    requester.locator(f"#request-{request_id}").get_by_role("link", name="Ask the network").click()
    holder_choice = requester.locator("#id_from_hospital option", has_text="Riverside Medical Centre")
    requester.get_by_label("Ask").select_option(holder_choice.get_attribute("value"))
    requester.get_by_label("Units").fill("1")
    requester.get_by_role("button", name="Ask for units").click()
    message = requester.locator(".messagelist")
    expect(message).to_contain_text("asked of Riverside Medical Centre")
    transfer_id = int(re.search(r"Transfer (\d+):", message.inner_text()).group(1))
    expect(requester.locator(f"#incoming-transfer-{transfer_id}")).to_contain_text("Requested")
    # The requester may only call it off: approving is the holder's.
    expect(requester.get_by_role("button", name=f"Approve transfer {transfer_id}")).to_have_count(0)
    screenshot(requester, "network-transfer-requested")

    holder = new_page()
    log_in_staff(holder, "admin@riverside.example")
    holder.goto("/admin/bloodbank/network/transfers/")
    expect(holder.locator(f"#outgoing-transfer-{transfer_id}")).to_contain_text("St Mary's General Hospital")
    _step(holder, transfer_id, "Approve", "approved: its units are reserved")
    _step(holder, transfer_id, "Dispatch", "dispatched")
    expect(holder.locator(f"#outgoing-transfer-{transfer_id}")).to_contain_text("Dispatched")

    requester.goto("/admin/bloodbank/network/transfers/")
    _step(requester, transfer_id, "Receive", "received into your stock")
    expect(requester.locator(f"#incoming-transfer-{transfer_id}")).to_contain_text("Received")
    screenshot(requester, "network-transfer-received")


def test_an_emergency_release_from_the_console(new_page):
    page = new_page()
    log_in_staff(page, "doctor@stmarys.example")
    request_id = _new_request(page, group="A+", units=2, urgency=5)

    page.goto("/admin/bloodbank/network/")
    page.locator(f"#request-{request_id}").get_by_role("link", name="Emergency release").click()
    page.get_by_role("button", name="Release").click()  # nothing filled in: the form says what is missing
    expect(page.locator(".errorlist").first).to_be_visible()
    page.get_by_label("Authorising physician").fill("Dr Amir Haddad")
    page.get_by_label("Clinical reason").fill("Major haemorrhage in the emergency department")
    page.get_by_role("button", name="Release").click()
    expect(page.locator(".messagelist")).to_contain_text("2 unit(s) of group O red cells issued uncrossmatched")
    expect(page).to_have_url(re.compile(rf"/admin/bloodbank/bloodrequest/{request_id}/change/$"))
    expect(page.locator("body")).to_contain_text("Dr Amir Haddad")
    screenshot(page, "network-emergency-release")
