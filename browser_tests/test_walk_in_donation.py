"""A walk-in donation at the donor desk of the operations console, end to end in the browser: register the
donor, open the visit, record the screening and the collection, and see the units in quarantine."""

import re
import uuid

import pytest
from playwright.sync_api import expect

from .conftest import log_in_staff, screenshot

pytestmark = pytest.mark.slow


def test_staff_register_a_walk_in_donor_and_record_the_donation(new_page):
    page = new_page()
    log_in_staff(page, "doctor@stmarys.example")  # medical staff at St Mary's (region North)
    email = f"walk-in-{uuid.uuid4().hex[:8]}@donor.example"

    page.goto("/admin/donors/donorprofile/add/")
    page.get_by_label("Full name").fill("Wanda Walker")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Blood group").select_option("A+")
    page.get_by_label("Date of birth").fill("1985-06-15")
    page.get_by_label("Sex").select_option("female")
    page.get_by_label("Weight (kg)").fill("68")
    page.get_by_label("Phone").fill("+44 7700 900555")
    expect(page.get_by_label("Region")).to_have_value("NORTH")  # the desk's hospital's region, from the managed list
    page.get_by_role("button", name="Save", exact=True).click()

    expect(page.locator(".messagelist")).to_contain_text("Wanda Walker is registered as donor D")
    donor_number = re.search(r"donor (D\d{6})", page.locator(".messagelist").inner_text()).group(1)
    expect(page.locator("#id_donor")).to_have_value(str(int(donor_number[1:])))
    page.get_by_label("Donation type").select_option("whole_blood")
    page.get_by_role("button", name="Save", exact=True).click()

    expect(page.locator(".messagelist")).to_contain_text("Visit opened for Wanda Walker")
    for label, value in (
        ("Haemoglobin", "13.4"),
        ("Systolic", "118"),
        ("Diastolic", "76"),
        ("Pulse", "68"),
        ("Temperature", "36.7"),
        ("Weight", "68"),
    ):
        page.get_by_label(label).fill(value)
    page.get_by_label("Questionnaire passed").check()
    screenshot(page, "desk-screening")
    page.get_by_role("button", name="Save", exact=True).click()

    expect(page.locator(".messagelist")).to_contain_text("Screening passed: record the collection.")
    page.get_by_label("Volume (ml)").fill("450")
    page.get_by_role("button", name="Record the collection").click()

    expect(page.locator(".messagelist")).to_contain_text("Collected under DIN")
    expect(page.locator(".field-units")).to_contain_text("Whole blood A+ (Quarantined)")
    expect(page.locator(".field-status")).to_contain_text("Collected")
    screenshot(page, "desk-collected")

    page.goto(f"/admin/donors/donorprofile/?q={donor_number}")
    expect(page.locator("#result_list")).to_contain_text("Wanda Walker")
