"""A staff member uploads a chest X-ray on the analysis page and sees predictions and the heatmap."""

import io

import numpy as np
import pytest
from PIL import Image
from playwright.sync_api import expect

from .conftest import log_in_staff, screenshot
from imaging.tests.images import typical_pixels

pytestmark = pytest.mark.slow


def test_staff_upload_a_chest_xray_and_see_predictions_and_the_heatmap(new_page, tmp_path):
    xray = tmp_path / "chest.png"
    pixels = typical_pixels(seed=7)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    xray.write_bytes(buffer.getvalue())

    page = new_page()
    log_in_staff(page, "doctor@stmarys.example")
    page.goto("/admin/imaging/analyse/")
    expect(page.get_by_role("note")).to_contain_text("support, not replace")
    page.get_by_label("Condition (data set)").select_option("pneumoniamnist")
    page.get_by_label("Images (PNG, JPEG or DICOM)").set_input_files(str(xray))
    page.get_by_role("button", name="Analyse").click()
    expect(page.locator("#batch .status")).to_have_text("done", timeout=60_000)
    screenshot(page, "staff-analysis-batch")

    page.locator("#batch").get_by_role("link", name="Open").click()
    expect(page.get_by_role("img", name="Grad-CAM heatmap of the regions that drove the prediction")).to_be_visible()
    page.wait_for_function("Array.from(document.images).every(img => img.complete && img.naturalWidth > 0)")
    expect(page.get_by_role("meter")).to_have_count(2)
    expect(page.locator("text=Decision:")).to_be_visible()
    page.get_by_role("radio", name="Agrees", exact=True).check()
    page.get_by_role("button", name="Record reading").click()
    expect(page.locator(".messagelist")).to_contain_text("Your reading is recorded")
    screenshot(page, "staff-analysis-result")
