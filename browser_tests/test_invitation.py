"""A hospital administrator invites a new colleague from the console; the colleague follows the emailed link,
sets a password and lands in the console as staff of that hospital."""

import re
import time

import pytest
from playwright.sync_api import expect

from .conftest import PASSWORD, log_in_staff, screenshot

pytestmark = pytest.mark.slow


def _emailed_link(log, address: str, timeout: float = 15) -> str:
    """The invitation link of the last email to ``address`` the embedded server printed (console email backend)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = log.read_text(errors="replace")
        sent = text[text.rfind(f"To: {address}") :] if f"To: {address}" in text else ""
        found = re.search(r"https?://\S+/accounts/invitations/[\w-]+/", sent)
        if found:
            return found.group(0)
        time.sleep(0.2)
    raise AssertionError(f"no invitation email to {address} in {log}")


def test_an_invited_colleague_sets_a_password_and_joins(new_page, served):
    admin = new_page()
    log_in_staff(admin, "admin@stmarys.example")
    admin.goto("/admin/healthsync/invitation/add/")
    admin.get_by_label("Email").fill("new.nurse@stmarys.example")
    admin.get_by_label("Hospital").select_option(label="St Mary's General Hospital (H0001)")
    admin.get_by_label("Role").select_option("medical_staff")
    admin.get_by_role("button", name="Save", exact=True).click()
    expect(admin.locator(".messagelist")).to_contain_text("was added successfully")
    expect(admin.locator("#result_list")).to_contain_text("new.nurse@stmarys.example")
    expect(admin.locator("#result_list")).to_contain_text("pending")

    link = _emailed_link(served.log, "new.nurse@stmarys.example")
    colleague = new_page()
    colleague.goto(link)
    expect(colleague.locator("body")).to_contain_text("St Mary's General Hospital")
    colleague.get_by_label("Name").fill("Nurse Ada Obi")
    colleague.get_by_label("Password", exact=True).fill(PASSWORD + "-new")
    colleague.get_by_label("Password (again)").fill(PASSWORD + "-new")
    screenshot(colleague, "invitation-accept")
    colleague.get_by_role("button", name="Create my account and accept").click()
    colleague.wait_for_url("**/admin/")
    expect(colleague.locator("body")).to_contain_text("HealthSync operations")

    admin.goto("/admin/healthsync/membership/?q=new.nurse")
    expect(admin.locator("#result_list")).to_contain_text("Nurse Ada Obi")
    colleague.goto(link)
    expect(colleague.locator("body")).to_contain_text("no longer valid")
