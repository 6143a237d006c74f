"""Browser tests: pick the US macro forecasting demo, train the LSTM live (and Auto), and read the
forecast chart with its interval band and the baselines leaderboard."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import screenshot_path

pytestmark = pytest.mark.e2e


def test_macro_demo_lstm_forecast_with_its_band(page, app_url, tmp_path):
    page.goto(app_url)
    expect(page.get_by_text("Validation report")).to_be_visible()
    page.get_by_test_id("stSelectbox").filter(has_text="Demo dataset").click()
    page.get_by_role("option", name="US macroeconomic series (forecasting)").click()
    expect(page.get_by_text("realcons over time")).to_be_visible()
    page.get_by_role("button", name="Use this dataset for training").click()
    expect(page.get_by_text("forecast 'realcons' 1 step(s) ahead")).to_be_visible()

    page.get_by_role("link", name="Go to Train").click()
    page.get_by_test_id("stSelectbox").filter(has_text="Architecture").click()
    page.get_by_role("option", name="Keras LSTM (sequence)").click()
    expect(page.get_by_text("One LSTM layer over the window")).to_be_visible()
    page.get_by_role("button", name="Start training").click()

    # live: epochs count up while the fragment polls the run store
    running = page.get_by_text(re.compile(r"running · epoch \d+ of 200"))
    expect(running).to_be_visible(timeout=150_000)  # a loaded CI machine starts it late
    expect(page.get_by_text("Seasonal naive MASE")).to_be_visible(timeout=180_000)
    page.get_by_role("link", name="Open in Evaluate").click()

    expect(page.get_by_text("The model against the baselines")).to_be_visible()
    expect(page.get_by_text("Actual and 1-step-ahead forecasts")).to_be_visible()
    expect(page.get_by_text("prediction interval").first).to_be_visible()
    page.screenshot(path=str(screenshot_path("forecast.png", tmp_path)), full_page=True)


def test_auto_is_the_default_forecaster_and_evaluate_shows_its_choice(page, app_url):
    page.goto(app_url)
    expect(page.get_by_text("Validation report")).to_be_visible()
    page.get_by_test_id("stSelectbox").filter(has_text="Demo dataset").click()
    page.get_by_role("option", name="US macroeconomic series (forecasting)").click()
    page.get_by_role("button", name="Use this dataset for training").click()
    expect(page.get_by_text("forecast 'realcons' 1 step(s) ahead")).to_be_visible()

    page.get_by_role("link", name="Go to Train").click()
    expect(page.get_by_text("Auto keeps the equal-weight mean")).to_be_visible()
    page.get_by_role("button", name="Start training").click()
    expect(page.get_by_text("Seasonal naive MASE")).to_be_visible(timeout=180_000)
    page.get_by_role("link", name="Open in Evaluate").click()

    expect(page.get_by_text("Auto's choice (validation backtest)")).to_be_visible()
    expect(page.get_by_text("took no part in the choice")).to_be_visible()
    expect(page.get_by_text("Ranked on the validation origins' MASE", exact=False)).to_be_visible()
