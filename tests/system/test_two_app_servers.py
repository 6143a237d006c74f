"""Two app servers (two ``streamlit run`` processes, each with its own FINML_DATA_DIR) on
one MLflow tracking server backed by PostgreSQL, driven by Debian chromium: a run trained
from the first server's browser tab shows on the second server's Runs page, opens in its
Evaluate page, and its bundle scores uploaded rows on its Predict page. Nothing is shared
between the two servers but the tracking server."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect, sync_playwright

from tests.conftest import GERMAN
from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS, serving

pytestmark = [pytest.mark.system, pytest.mark.e2e]


def test_a_run_started_on_one_app_server_is_read_and_scored_on_another(
    tracking_server, tmp_path, monkeypatch, german
):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", tracking_server)
    rows = tmp_path / "applicants.csv"
    german.drop(columns="creditability").head(25).to_csv(rows, index=False)
    monkeypatch.setenv("FINML_DATA_DIR", str(tmp_path / "server-a"))
    with serving(tmp_path / "a.log") as url_a:
        monkeypatch.setenv("FINML_DATA_DIR", str(tmp_path / "server-b"))
        with serving(tmp_path / "b.log") as url_b, sync_playwright() as p:
            expect.set_options(timeout=60_000)
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            a = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
            a.goto(url_a)
            a.get_by_role("button", name="Use this dataset for training").click()
            expect(a.get_by_text(f"Ready: {GERMAN}")).to_be_visible()
            a.get_by_role("link", name="Go to Train").click()
            a.get_by_role("button", name="Start training").click()
            expect(a.get_by_text("Test ROC-AUC")).to_be_visible(timeout=180_000)
            run_id = re.search(r"run=([0-9a-f]{32})", a.url).group(1)

            b = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
            b.goto(f"{url_b}/runs")
            runs = b.get_by_role("combobox", name="Run", exact=True)
            # named model · (settings that differ from server B's other runs) · short id
            expect(runs).to_have_value(
                re.compile(f"^logreg · (.* · )?{run_id[:8]} .*\\(finished\\)$")
            )
            b.goto(f"{url_b}/evaluate?run={run_id}")
            expect(b.get_by_text(re.compile(r"Confusion matrix at threshold"))).to_be_visible()
            b.goto(f"{url_b}/predict?run={run_id}")
            b.locator("input[type=file]").set_input_files(str(rows))
            # the tile, not a cell of the PSI table's "rows" column (also 25 once drawn)
            tile = b.get_by_test_id("stMetric").filter(has_text="Rows scored")
            expect(tile.get_by_test_id("stMetricValue")).to_have_text("25")
            browser.close()
    assert not (tmp_path / "server-b" / "artifacts").exists()  # all of it came through MLflow
    assert not (tmp_path / "server-b" / "jobs").exists()
