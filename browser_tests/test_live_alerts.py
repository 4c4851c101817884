"""An alert raised by another user appears live, without reloading, in a donor's page and on the staff dashboard."""

import pytest
from playwright.sync_api import expect

from healthsync.tests.servers import http_json

from .conftest import PASSWORD, log_in_donor, log_in_staff, screenshot, wait_for_live_alerts

pytestmark = pytest.mark.slow


def test_an_urgent_request_by_another_user_appears_live(new_page, server_url):
    donor_page = new_page()
    log_in_donor(donor_page, "hannah.osei@donors.example")  # O-, North, on emergency call, eligible now
    staff_page = new_page()
    log_in_staff(staff_page, "admin@stmarys.example")
    wait_for_live_alerts(donor_page)
    wait_for_live_alerts(staff_page)

    # Another user, a doctor at St Mary's (North), raises an emergency request through the API.
    status, tokens = http_json(
        "POST", f"{server_url}/api/blood-bank/hospital/login", {"email": "doctor@stmarys.example", "password": PASSWORD}
    )
    assert status == 200, tokens
    status, body = http_json(
        "POST",
        f"{server_url}/api/blood-bank/hospital/request",
        {"blood_type": "O-", "units": 2, "urgency_level": 5},
        tokens["access"],
    )
    assert status == 201, body

    toast = donor_page.locator("#live-toasts .toast").filter(has_text="urgently needs blood donors")
    expect(toast).to_be_visible(timeout=20000)
    expect(donor_page.locator("#live-toasts")).to_have_attribute("aria-live", "polite")
    screenshot(donor_page, "donor-live-alert")

    staff_toast = staff_page.locator("#live-toasts .toast").filter(
        has_text="Emergency request: 2 unit(s) of O- red cells"
    )
    expect(staff_toast).to_be_visible(timeout=20000)
    expect(staff_page.locator("#alert-list")).to_contain_text("Emergency request")
    screenshot(staff_page, "staff-live-alert")

    # The toast can be dismissed from the keyboard.
    toast.get_by_role("button", name="Dismiss alert").focus()
    donor_page.keyboard.press("Enter")
    expect(toast).to_have_count(0)
