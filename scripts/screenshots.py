"""Screenshots of every page of the studio at 1024 and 1400 px wide.

Starts ``streamlit run serve.py`` on a free loopback port with its own data folder in a
temporary directory (the browser tests' helpers, :mod:`tests.e2e.conftest`), then drives
Debian's chromium with Playwright through the pages and saves full-page PNGs as
``<out>/<page>-<width>.png``:

* ``data``: the Data page with the default demo (German Credit);
* ``data-regression``: the Data page with the regression demo chosen;
* ``train``: the Train page with German Credit chosen ("Use this dataset for training");
* ``train-run``: the Train page with a finished logistic-regression run (trained once, at
  the first width, from the browser);
* ``evaluate``, ``predict`` (200 German Credit applicants scored), ``runs``: that run.

Every wait is on the app (Streamlit idle, a text on the page), never on the clock.

Run from the repository root::

    .venv/bin/python scripts/screenshots.py            # into screenshots/
    .venv/bin/python scripts/screenshots.py --out /tmp/shots --widths 1024
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import signal
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # tests.e2e.conftest, finml, pages: the repository's own

from tests.conftest import GERMAN, _finml_processes  # noqa: E402
from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS, IDLE, serving  # noqa: E402

WIDTHS = (1024, 1400)
HEIGHT = 900
REGRESSION = "German Credit: loan amount (regression)"
LOGREG = "Logistic regression (scikit-learn)"
#: Milliseconds any single wait may take (a loaded machine trains and draws slowly).
TIMEOUT = 300_000

#: Every Plotly chart on the page drawn (its SVG is in), no placeholder left (a grey
#: skeleton stands in for a chart while its code loads, on the first chart of a session)
#: and no element stale (faded while a rerun redraws it).
DRAWN = """() => {
  const charts = [...document.querySelectorAll("[data-testid='stPlotlyChart']")];
  const waiting = document.querySelector(
    "[data-stale='true'], [data-testid='stSkeleton'], [data-testid='stSkeletonElement']"
  );
  return !waiting && charts.every((c) => c.querySelector(".main-svg"));
}"""

#: How much taller than the window the page's content is: Streamlit scrolls its main area
#: inside the window, so a plain full-page screenshot would stop at the window's bottom.
#: Only the main block's scrolling ancestors count (a table scrolls its own rows).
OVERFLOW = """() => {
  let extra = document.documentElement.scrollHeight - window.innerHeight;
  let el = document.querySelector("[data-testid='stMainBlockContainer']");
  for (; el; el = el.parentElement) {
    const y = getComputedStyle(el).overflowY;
    if (y === "auto" || y === "scroll") {
      extra = Math.max(extra, el.scrollHeight - el.clientHeight);
    }
  }
  return Math.max(0, extra);
}"""


def settle(page) -> None:
    """Wait until Streamlit has finished its run and the page is drawn."""
    page.locator(IDLE).wait_for()
    page.wait_for_function(DRAWN)


def shoot(page, out: Path, name: str, width: int) -> Path:
    """Save the whole page (the window grown to the content's height) as
    ``<out>/<name>-<width>.png``, then give the window its height back."""
    page.mouse.move(width - 1, 0)  # over the empty header: nothing drawn hovered
    settle(page)
    extra = page.evaluate(OVERFLOW)
    if extra:
        page.set_viewport_size({"width": width, "height": HEIGHT + extra})
        settle(page)
    path = out / f"{name}-{width}.png"
    page.screenshot(path=str(path), full_page=True)
    page.set_viewport_size({"width": width, "height": HEIGHT})
    print(f"  {path}", flush=True)
    return path


def visit(page, url: str, text: str) -> None:
    """Open ``url`` (a fresh session) and wait for ``text`` and an idle app."""
    from playwright.sync_api import expect

    page.goto(url)
    expect(page.get_by_text(text).first).to_be_visible()
    settle(page)


def use_german_credit(page, url: str) -> None:
    """From a fresh Data page: choose the default demo for training and go to Train."""
    from playwright.sync_api import expect

    visit(page, url, "Validation report")
    page.get_by_role("button", name="Use this dataset for training").click()
    expect(page.get_by_text(f"Ready: {GERMAN}")).to_be_visible()
    page.get_by_role("link", name="Go to Train").click()
    expect(page.get_by_test_id("stSelectbox").filter(has_text="Architecture")).to_be_visible()
    settle(page)


def train_logreg(page) -> str:
    """On Train: start a logistic regression and wait until it is finished; the URL of
    the Train page watching it (dataset and run in its query)."""
    from playwright.sync_api import expect

    page.get_by_test_id("stSelectbox").filter(has_text="Architecture").click()
    page.get_by_role("option", name=LOGREG).click()
    expect(page.get_by_text("Inverse regularisation C")).to_be_visible()
    settle(page)
    page.get_by_role("button", name="Start training").click()
    expect(page.get_by_text("Test ROC-AUC")).to_be_visible()
    # the fragment reruns the page once the run is over: one "Open in Evaluate" after it
    settle(page)
    expect(page.get_by_role("button", name="Open in Evaluate")).to_have_count(1)
    expect(page).to_have_url(re.compile(r"run=[0-9a-f]{32}"))
    return page.url


def pages_at(browser, url: str, out: Path, width: int, rows: Path, train_url: str | None):
    """Every page at ``width``; trains the run when ``train_url`` is None. Returns the
    Train URL of the run and the screenshots saved."""
    from playwright.sync_api import expect

    context = browser.new_context(viewport={"width": width, "height": HEIGHT})
    page = context.new_page()
    page.set_default_timeout(TIMEOUT)
    shots = []
    try:
        visit(page, url, "Validation report")
        expect(page.get_by_text("creditability").first).to_be_visible()
        shots.append(shoot(page, out, "data", width))

        page.get_by_test_id("stSelectbox").filter(has_text="Demo dataset").click()
        page.get_by_role("option", name=REGRESSION).click()
        expect(page.get_by_role("radio", name="Regression (a number)")).to_be_checked()
        shots.append(shoot(page, out, "data-regression", width))

        use_german_credit(page, url)
        shots.append(shoot(page, out, "train", width))

        if train_url is None:
            train_url = train_logreg(page)
        else:  # trained at the first width: the same run, watched from its link
            visit(page, train_url, "Test ROC-AUC")
        shots.append(shoot(page, out, "train-run", width))
        run_id = re.search(r"run=([0-9a-f]{32})", train_url).group(1)

        visit(page, f"{url}/evaluate?run={run_id}", "Confusion matrix at threshold")
        shots.append(shoot(page, out, "evaluate", width))

        visit(page, f"{url}/predict?run={run_id}", "New rows")
        page.locator("input[type=file]").set_input_files(str(rows))
        expect(page.get_by_text("Rows scored")).to_be_visible()
        expect(page.get_by_text("Population stability (PSI)")).to_be_visible()
        shots.append(shoot(page, out, "predict", width))

        visit(page, f"{url}/runs", "Compare runs")
        shots.append(shoot(page, out, "runs", width))
    finally:
        context.close()
    return train_url, shots


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--out", type=Path, default=ROOT / "screenshots", help="folder for the PNGs"
    )
    parser.add_argument(
        "--widths", type=int, nargs="+", default=list(WIDTHS), help="viewport widths in px"
    )
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)

    from playwright.sync_api import expect, sync_playwright

    from finml.data.demo import demo_frame

    expect.set_options(timeout=TIMEOUT)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="finml-screenshots-") as tmp:
        data_dir = Path(tmp) / "finml-data"
        os.environ["FINML_DATA_DIR"] = str(data_dir)  # the server inherits the environment
        os.environ["FINML_WARM_WORKER"] = "0"  # no spare worker left behind
        os.environ.pop("MLFLOW_TRACKING_URI", None)
        # 200 applicants to score (PSI gives bands from 200 rows), drawn at random: the
        # file's first rows are not a sample (they hold two of the four personal statuses)
        applicants = demo_frame(GERMAN).drop(columns="creditability")
        rows = Path(tmp) / "new-rows.csv"
        applicants.sample(200, random_state=0).to_csv(rows, index=False)
        shots = []
        try:
            with serving(Path(tmp) / "streamlit.log") as url, sync_playwright() as p:
                print(f"finml at {url}; screenshots into {args.out}", flush=True)
                browser = p.chromium.launch(
                    executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
                )
                train_url = None
                for width in args.widths:
                    print(f"{width} px:", flush=True)
                    train_url, taken = pages_at(browser, url, args.out, width, rows, train_url)
                    shots += taken
                browser.close()
        except Exception:
            log = Path(tmp) / "streamlit.log"
            if log.exists():
                print(log.read_text(errors="replace")[-4000:], file=sys.stderr)
            raise
        finally:
            for pid in _finml_processes(data_dir):  # a worker still running, if any
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGTERM)
    print(f"{len(shots)} screenshots in {time.monotonic() - started:.0f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
