"""A new donor signs up, gives their details, sees their eligibility, books a free slot and cancels it."""

import re
import uuid

import pytest
from playwright.sync_api import expect

from .conftest import screenshot

pytestmark = pytest.mark.slow


def test_a_donor_signs_up_sees_eligibility_and_books_a_slot(new_page):
    page = new_page()
    page.goto("/shortages/")
    page.get_by_role("link", name="Sign up").click()
    email = f"new-donor-{uuid.uuid4().hex[:6]}@example.com"
    page.get_by_label("Email").fill(email)
    page.get_by_label(re.compile(r"^Password:?$")).fill("a-long-donor-passphrase")
    page.get_by_label("Password (again)").fill("a-long-donor-passphrase")
    screenshot(page, "signup")
    page.get_by_role("button", name="Sign Up").click()

    page.wait_for_url("**/donor/welcome/")
    page.get_by_label("Full name").fill("Nora Quinn")
    page.get_by_label("Blood group", exact=True).select_option("A+")
    page.get_by_label("Date of birth").fill("1994-03-08")
    page.get_by_label("Sex").select_option("female")
    page.get_by_label("Weight (kg)").fill("62")
    page.get_by_label(re.compile("^Region")).select_option(label="North")  # the managed list of regions
    screenshot(page, "donor-welcome")
    page.get_by_role("button", name="Save and continue").click()

    page.wait_for_url("**/donor/")
    expect(page.locator("#eligibility-verdict")).to_contain_text("you can give whole blood today")
    expect(page.get_by_role("row", name=re.compile("Platelets"))).to_contain_text("Eligible")
    screenshot(page, "donor-home")

    page.get_by_role("link", name="Book a donation").click()
    page.wait_for_url("**/donor/book/")
    first_slot = page.locator(".slot-list li").first
    when = first_slot.locator("strong").inner_text().split("–")[0]
    screenshot(page, "donor-book")
    first_slot.get_by_role("button", name=re.compile("^Book ")).click()

    page.wait_for_url("**/donor/")
    expect(page.get_by_role("status").filter(has_text="Booked:")).to_be_visible()
    expect(page.locator("#next-appointment")).to_be_visible()
    page.get_by_role("link", name="History").click()
    expect(page.get_by_role("table").last).to_contain_text("Booked")
    screenshot(page, "donor-history")

    page.get_by_role("link", name="My eligibility").click()
    page.get_by_role("button", name="Cancel this appointment").click()
    expect(page.get_by_role("status").filter(has_text="cancelled")).to_be_visible()
    expect(page.get_by_text("You have no appointment booked.")).to_be_visible()
    assert when  # the slot list showed a time
