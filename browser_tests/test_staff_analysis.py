"""A staff member analyses images on the analysis page: by condition, with the right model, compared side by side."""

import io

import numpy as np
import pytest
from PIL import Image
from playwright.sync_api import expect

from imaging.tests.images import typical_pixels

from .conftest import log_in_staff, screenshot

pytestmark = pytest.mark.slow


def _png(path, pixels):
    buffer = io.BytesIO()
    Image.fromarray(np.asarray(pixels, dtype=np.uint8)).save(buffer, format="PNG")
    path.write_bytes(buffer.getvalue())
    return str(path)


def test_staff_upload_a_chest_xray_and_see_predictions_and_the_heatmap(new_page, tmp_path):
    xray = _png(tmp_path / "chest.png", typical_pixels(seed=7))
    page = new_page()
    log_in_staff(page, "doctor@stmarys.example")
    page.goto("/admin/imaging/analyse/")
    expect(page.get_by_role("note")).to_contain_text("support, not replace")
    page.get_by_label("Condition", exact=True).select_option(label="Pneumonia")
    # Only the chosen condition's models are offered.
    expect(page.locator('#model option[data-condition="pneumonia"]:not([hidden])')).to_have_count(2)
    expect(page.locator('#model option[data-condition="breast-cancer"]:not([hidden])')).to_have_count(0)
    page.get_by_label("Model", exact=True).select_option("pneumoniamnist-basic_cnn:1")
    page.get_by_label("Images (PNG, JPEG or DICOM)").set_input_files(xray)
    page.get_by_role("button", name="Analyse").click()
    expect(page.locator("#batch .status")).to_have_text("Done", timeout=60_000)
    # The choice stays for the next study.
    expect(page.get_by_label("Condition", exact=True)).to_have_value("pneumonia")
    expect(page.get_by_label("Model", exact=True)).to_have_value("pneumoniamnist-basic_cnn:1")
    screenshot(page, "staff-analysis-batch")

    page.locator("#batch").get_by_role("link", name="Open").click()
    expect(page.get_by_role("img", name="Grad-CAM heatmap of the regions that drove the prediction")).to_be_visible()
    page.wait_for_function("Array.from(document.images).every(img => img.complete && img.naturalWidth > 0)")
    expect(page.get_by_role("meter")).to_have_count(2)
    expect(page.locator("text=Finding:")).to_be_visible()
    page.get_by_role("radio", name="Agrees", exact=True).check()
    page.get_by_role("button", name="Record reading").click()
    expect(page.locator(".messagelist")).to_contain_text("Your reading is recorded")
    screenshot(page, "staff-analysis-result")


def test_an_image_of_another_kind_is_refused_and_models_are_compared(new_page, tmp_path):
    page = new_page()
    log_in_staff(page, "doctor@stmarys.example")
    page.goto("/admin/imaging/analyse/")
    page.get_by_label("Condition", exact=True).select_option(label="Pneumonia")
    colour = np.dstack([np.full((64, 64), 200), np.tile(np.arange(64) * 3, (64, 1)), np.zeros((64, 64))])
    page.get_by_label("Images (PNG, JPEG or DICOM)").set_input_files(_png(tmp_path / "photo.png", colour))
    page.get_by_role("button", name="Analyse").click()
    expect(page.locator(".messagelist")).to_contain_text("This is a colour image")
    expect(page.get_by_label("Condition", exact=True)).to_have_value("pneumonia")

    page.get_by_label("Model", exact=True).select_option("all")
    page.get_by_label("Images (PNG, JPEG or DICOM)").set_input_files(
        _png(tmp_path / "chest.png", typical_pixels(seed=8))
    )
    page.get_by_role("button", name="Analyse").click()
    rows = page.locator("#batch tbody tr")
    expect(rows).to_have_count(2)
    expect(page.locator("#batch .status")).to_have_text(["Done", "Done"], timeout=60_000)
    expect(page.locator("#batch")).to_contain_text("pneumoniamnist-basic_cnn")
    expect(page.locator("#batch")).to_contain_text("chest_xray_pneumonia_224-basic_cnn")
    expect(page.locator("#batch .heatmap img")).to_have_count(2)
    screenshot(page, "staff-analysis-comparison")
