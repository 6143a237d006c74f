"""Browser test: pick German Credit, train the Keras MLP, see the confusion matrix."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import IDLE, screenshot_path

pytestmark = pytest.mark.e2e


def test_demo_to_confusion_matrix(page, app_url, tmp_path):
    page.goto(app_url)
    expect(page.get_by_text("Validation report")).to_be_visible()
    expect(page.get_by_text("creditability").first).to_be_visible()
    page.get_by_role("button", name="Use this dataset for training").click()
    expect(page.get_by_text("Ready: German Credit (Statlog)")).to_be_visible()

    page.get_by_role("link", name="Go to Train").click()
    page.get_by_test_id("stSelectbox").filter(has_text="Architecture").click()
    page.get_by_role("option", name="Keras MLP (deep learning)").click()
    expect(page.get_by_text("Early-stopping patience")).to_be_visible()
    page.get_by_role("button", name="Start training").click()

    # live: the progress label counts epochs while the fragment polls the run store
    expect(page.get_by_text(re.compile(r"running · epoch \d+ of 100"))).to_be_visible()
    # the bar jumps to each poll's value: Streamlit's 0.5 s slide cost the browser (on the
    # server's machine, in the benches) half of what it spent on each poll
    assert set(page.evaluate(PROGRESS_TRANSITIONS)) == {"0s"}
    expect(page.get_by_text("Test ROC-AUC")).to_be_visible(timeout=180_000)
    page.get_by_role("link", name="Open in Evaluate").click()

    expect(page.get_by_text("Confusion matrix at threshold 0.500")).to_be_visible()
    expect(page.get_by_text("predicted good")).to_be_visible()
    expect(page.get_by_text("KS statistic")).to_be_visible()
    # the charts follow the tiles in their own fragments (issue 24): wait for the page to
    # finish its run (a loaded run once showed an empty page for a minute), then for them
    page.wait_for_selector(IDLE, timeout=180_000)
    expect(page.locator(".js-plotly-plot").first).to_be_visible(timeout=120_000)
    metrics_table = page.get_by_test_id("stMarkdownContainer").locator("table")
    expect(metrics_table.get_by_text("95% CI")).to_be_visible()
    page.screenshot(path=str(screenshot_path("screenshot.png", tmp_path)), full_page=True)
    page.get_by_role("tab", name="Credit pack").click()
    expect(page.get_by_text("KS plot (test split)")).to_be_visible()


#: The computed transition duration of each element of the progress bar, in the browser.
PROGRESS_TRANSITIONS = (
    "() => [...document.querySelectorAll(\"[data-testid='stProgress'] *\")]"
    ".map(e => getComputedStyle(e).transitionDuration)"
)


def _cv_and_tuning_from_train(page, metric: str) -> None:
    """From the Data page's ready message: train with 3-fold cross-validation and a
    3-trial search, watch it live in the task's ``metric`` (the trials, then the folds of
    the best trial's cross-validation, then the tiles), and open it in Evaluate."""
    page.get_by_role("link", name="Go to Train").click()
    page.get_by_text("k-fold cross-validation").click()
    page.get_by_label("Folds (k)").fill("3")
    page.get_by_text("Tune (Optuna").click()
    page.get_by_label("Trials").fill("3")
    page.get_by_role("button", name="Start training").click()
    search = re.compile(rf"Hyperparameter search: 3 trial.*\(validation {metric}\)")
    expect(page.get_by_text(search)).to_be_visible(timeout=180_000)
    # the caption over the folds' table (the progress label says it too, in lower case)
    folds_done = re.compile(r"^Cross-validation: 3 of 3 folds done")
    # .first: while the page redraws (the run ended, or the fast polls after Start ended),
    # the fragment's copy and the page's overlap for a moment (seen here and on the tile)
    expect(page.get_by_text(folds_done).first).to_be_visible(timeout=180_000)
    tile = page.get_by_text(f"3-fold CV {metric} (mean ± sd)").first
    expect(tile).to_be_visible(timeout=180_000)
    expect(page.get_by_text("Optimization History Plot").first).to_be_visible()
    page.get_by_role("link", name="Open in Evaluate").click()


def _run_tabs(page, folds_chart: str, shap) -> None:
    """Evaluate's tabs of the run: the folds' chart, the best trial, the SHAP summary."""
    page.get_by_role("tab", name="Cross-validation").click()
    expect(page.get_by_text(folds_chart)).to_be_visible()
    page.get_by_role("tab", name="Tuning").click()
    expect(page.get_by_text("refit with the best trial's parameters")).to_be_visible()
    page.get_by_role("tab", name="Explanations").click()
    # the SHAP summary follows the result in the worker; the tab shows it once it is done
    expect(page.get_by_text(shap).first).to_be_visible(timeout=120_000)


def test_cross_validation_tuning_and_shap_from_the_browser(page, app_url):
    page.goto(app_url)
    page.get_by_role("button", name="Use this dataset for training").click()
    expect(page.get_by_text("Ready: German Credit (Statlog)")).to_be_visible()
    _cv_and_tuning_from_train(page, "ROC-AUC")
    _run_tabs(page, "ROC curve of each fold", "SHAP summary (validation rows)")


def test_regression_cross_validation_tuning_and_shap_from_the_browser(page, app_url):
    page.goto(app_url)
    page.get_by_test_id("stSelectbox").filter(has_text="Demo dataset").click()
    page.get_by_role("option", name="German Credit: loan amount (regression)").click()
    expect(page.get_by_role("radio", name="Regression (a number)")).to_be_checked()
    expect(page.locator(IDLE)).to_be_visible()
    page.get_by_role("button", name="Use this dataset for training").click()
    expect(page.get_by_text("target 'credit_amount' (regression, in DM)")).to_be_visible()
    _cv_and_tuning_from_train(page, "RMSE")
    _run_tabs(
        page, "Predicted against actual (out-of-fold rows)", re.compile("credit_amount units")
    )
