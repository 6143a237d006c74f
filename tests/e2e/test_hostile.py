"""Browser tests on a real server: user data shaped as Markdown and HTML never becomes a link,
an image or a request to an outside address on any page, and an unexpected error ends at
the page's error boundary with an id that the server log also holds."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import IDLE
from tests.hostile import builders as b
from tests.hostile.builders import PAYLOAD_CSV

pytestmark = pytest.mark.e2e

#: Any element from user data pointing at the payloads' address.
LEAKS = "a[href*='127.0.0.1:1'], img[src*='127.0.0.1:1'], image[href*='127.0.0.1:1']"


def _visit(page, url: str, text: str) -> None:
    page.goto(url)
    page.locator(IDLE).wait_for()
    expect(page.get_by_text(text).first).to_be_visible()


def _no_leak(page, where: str, shown: bool = True) -> None:
    """No link, image or bold from the payloads; with ``shown``, a payload is on the page
    as the text it is (so the check is not vacuous)."""
    assert page.locator(LEAKS).count() == 0, where
    bold = page.locator("strong").all_inner_texts()
    assert "b" not in bold, (where, bold)  # "**b**" from the data stayed text
    text = page.inner_text("body")
    assert "\u2060" not in text, where  # no invisible character: copied text is the text
    assert not shown or any(p in text for p in b.PAYLOADS), where


def test_payloads_stay_text_on_every_page_and_nothing_is_fetched(
    page, app_url, payload_run, tmp_path
):
    run_id, ds = payload_run
    requests = []
    page.on("request", lambda r: requests.append(r.url))
    _visit(page, f"{app_url}/evaluate?run={run_id}", "Confusion matrix at threshold")
    _no_leak(page, "Evaluate")
    _visit(page, f"{app_url}/train?dataset={ds.dataset_id}&run={run_id}", "Dataset:")
    _no_leak(page, "Train")
    _visit(page, f"{app_url}/predict?run={run_id}", "New rows")
    rows = tmp_path / "new.csv"
    rows.write_bytes(PAYLOAD_CSV.replace(b"*", b"~"))
    page.locator("input[type=file]").set_input_files(str(rows))
    expect(page.get_by_text("unseen in training").first).to_be_visible()
    page.locator(IDLE).wait_for()
    _no_leak(page, "Predict")
    _visit(page, f"{app_url}/runs", "Compare runs")
    _no_leak(page, "Runs", shown=False)  # the leaderboard is drawn on a canvas
    _visit(page, app_url, "Validation report")
    page.get_by_text("Upload a file").click()
    upload = tmp_path / "payload.csv"
    upload.write_bytes(PAYLOAD_CSV)
    page.locator("input[type=file]").set_input_files(str(upload))
    expect(page.get_by_text("Rows", exact=True).first).to_be_visible()
    page.locator(IDLE).wait_for()
    _no_leak(page, "Data", shown=False)  # its tables are drawn on a canvas
    outside = [u for u in requests if "127.0.0.1:1/" in u or not u.startswith(app_url)]
    assert not outside, outside


def test_an_unexpected_error_shows_an_id_and_the_log_has_the_traceback(
    page, app_url, payload_run, data_dir
):
    run_id, _ = payload_run
    for path in data_dir.rglob("predictions/test.parquet"):
        if run_id in str(path):
            path.write_bytes(b"PAR1 this is no longer a Parquet file PAR1")
    page.goto(f"{app_url}/evaluate?run={run_id}")  # a deep link: the server's first page
    page.locator(IDLE).wait_for()
    pages = page.get_by_test_id("stSidebarNav").inner_text()
    assert "common" not in pages and "Evaluate" in pages  # app.py's navigation, not pages/
    message = page.get_by_text(re.compile(r"Something went wrong on this page \(error id"))
    expect(message).to_be_visible()
    error_id = re.search(r"error id (\w{8})", message.inner_text()).group(1)
    assert "Traceback" not in page.content()
    log = (data_dir.parent / "streamlit.log").read_text()
    assert f"error {error_id}" in log and "Traceback" in log
    _visit(page, f"{app_url}/runs", "Compare runs")  # the server and other pages carry on
