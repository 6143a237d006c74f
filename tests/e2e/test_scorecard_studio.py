"""Browser test: German Credit → a points scorecard on Train → its bins and points on
Evaluate → a bin edited (cut points and why), trained again as a new run → its bins, the
fair-lending tab → each applicant's points and reasons on Predict."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from finml.data.demo import demo_frame
from tests.e2e.conftest import IDLE

pytestmark = pytest.mark.e2e


def test_scorecard_train_bins_points_fairness_predict(page, app_url, tmp_path):
    page.goto(app_url)
    expect(page.get_by_text("Protected attributes (fair-lending analysis)")).to_be_visible()
    page.get_by_role("button", name="Use this dataset for training").click()
    expect(page.get_by_text("Ready: German Credit (Statlog)")).to_be_visible()

    page.get_by_role("link", name="Go to Train").click()
    page.get_by_test_id("stSelectbox").filter(has_text="Architecture").click()
    page.get_by_role("option", name="Points scorecard (WoE bins, OptBinning)").click()
    expect(page.get_by_text("Points to double the odds (PDO)")).to_be_visible()
    page.get_by_role("button", name="Start training").click()
    expect(page.get_by_text("Test ROC-AUC")).to_be_visible(timeout=180_000)
    page.get_by_role("link", name="Open in Evaluate").click()

    expect(page.get_by_text("Confusion matrix at threshold 0.500")).to_be_visible()
    page.get_by_role("tab", name="Scorecard").click()
    expect(page.get_by_text("points to double the odds")).to_be_visible()
    expect(page.get_by_text("bad rate and WoE by bin")).to_be_visible()  # the highest IV
    page.get_by_test_id("stSelectbox").filter(has_text="Bins of").click()
    page.keyboard.type("duration_in")  # the list is long: filter it as an analyst would
    page.get_by_role("option", name="duration_in_month").click()
    expect(page.get_by_text("duration_in_month: bad rate and WoE by bin")).to_be_visible()
    expect(page.get_by_text("The scorecard")).to_be_visible()

    # edit a bin: policy bands for the duration, fixed as given in a new run of its own
    page.locator(IDLE).wait_for()  # the rerun of the choice above is over: the form is its last
    page.get_by_text("Edit the bins of duration_in_month").click()
    page.get_by_role("textbox", name="Cut points").fill("12, 24, 36")
    page.get_by_role("textbox", name="Why (recorded with the new run)").fill(
        "policy bands of 12 months"
    )
    page.get_by_role("button", name="Train again with these bins").click()
    expect(page).to_have_url(re.compile(r"/train\?"))
    expect(page.get_by_text("Test ROC-AUC")).to_be_visible(timeout=180_000)
    page.get_by_role("link", name="Open in Evaluate").click()
    page.get_by_role("tab", name="Scorecard").click()
    expect(page.get_by_text("Bins set by hand: duration_in_month; by")).to_be_visible()
    expect(page.get_by_text("policy bands of 12 months")).to_be_visible()
    page.get_by_test_id("stSelectbox").filter(has_text="Bins of").click()
    page.keyboard.type("duration_in")
    page.get_by_role("option", name="duration_in_month").click()
    page.get_by_text("Edit the bins of duration_in_month").click()
    expect(page.get_by_role("textbox", name="Cut points")).to_have_value(
        "12, 24, 36"
    )  # the new run's bins
    page.get_by_role("tab", name="Fair lending").click()
    expect(page.get_by_text("Lowest adverse impact ratio")).to_be_visible()
    expect(page.get_by_text("Adverse impact ratio by personal_status_and_sex")).to_be_visible()

    page.goto(f"{app_url}/predict")
    page.locator(IDLE).wait_for()
    rows = tmp_path / "applicants.csv"
    demo_frame("German Credit (Statlog)").head(30).drop(columns="creditability").to_csv(
        rows, index=False
    )
    page.locator("input[type=file]").set_input_files(str(rows))
    expect(page.get_by_text("not SHAP's")).to_be_visible(timeout=60_000)
    expect(page.get_by_text("Rows scored")).to_be_visible()
    # each applicant's total and per-characteristic points, as columns of the scored table
    # (the grid draws on a canvas: read the table the page hands over)
    with page.expect_download() as download:
        page.get_by_role("button", name="Download as CSV").first.click()
    header = next(csv.reader(Path(download.value.path()).read_text().splitlines()))
    assert "points" in header, header
    assert any(re.fullmatch(r"points: \w+", col) for col in header), header
