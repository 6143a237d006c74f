"""Benchmark: how fast the studio opens, and how much memory the server holds.

Starts ``streamlit run app.py`` (the product defaults, a fresh data folder) on 127.0.0.1,
then drives Debian's chromium with Playwright:
- first page: seconds from navigation until the Data page is idle (its script run done:
  the app root's ``data-test-script-state`` is ``notRunning``, and its validation report
  drawn), on a fresh server, and again on a warm one (a second browser tab);
- every other page: seconds until idle, visited once each, with one finished run in the
  store (Evaluate draws its charts and bootstrap intervals, Predict loads the model), and
  for Evaluate also until its confusion matrix and metrics table are drawn ("first read");
- the server's resident memory (RSS, MiB, ``/proc``) after every page was shown once, and
  whether TensorFlow was imported by the server (it must not be).
For scale, the same first-page measurement of a one-line Streamlit app (``st.title``) in the
same run.

Usage: python bench/bench_startup.py [REPEATS]
"""

from __future__ import annotations

import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]
#: Each other page and a text it shows once drawn (with the seeded run).
PAGES = {
    "train": "Choose a dataset",
    "evaluate": "Credit pack",
    "predict": "New rows",
    "runs": "Compare runs",
}
SCRIPT = os.environ.get("FINML_BENCH_SCRIPT", "serve.py")


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serve(script: Path, data_dir: str, warm: bool = False, upload_mb: int = 0):
    """Start ``streamlit run script`` on a free port; ``warm``: with the spare worker,
    ``upload_mb``: a larger upload limit (browser widget and finml). Returns (process,
    URL) once healthy."""
    port = _port()
    env = {**os.environ, "FINML_DATA_DIR": data_dir, "FINML_WARM_WORKER": "1" if warm else "0"}
    extra = ["--server.maxUploadSize", str(upload_mb)] if upload_mb else []
    if upload_mb:
        env["FINML_MAX_UPLOAD_MB"] = str(upload_mb)
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(script), "--server.port", str(port), *extra],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    while True:
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=1) as r:
                if r.read().strip() == b"ok":
                    return proc, url
        except OSError:
            time.sleep(0.1)


#: Streamlit marks its app root with the script's state; "notRunning" once a run is done.
IDLE = "[data-testid='stApp'][data-test-script-state='notRunning']"


def _idle(page, text: str) -> None:
    page.locator(IDLE).wait_for(timeout=120_000)
    page.get_by_text(text).first.wait_for(timeout=120_000)


#: What an analyst reads first on a page, timed apart from the page's whole run
#: (Playwright selectors): Evaluate's confusion matrix and metrics table, both Markdown
#: tables (issue 24: within 1.5 s; the bootstrap CIs and the tabs follow).
EARLY = {
    "evaluate": (
        "text=Confusion matrix at threshold",
        "[data-testid='stMarkdownContainer'] table:has-text('ROC-AUC')",
    )
}


def _timed_open(browser, url: str, text: str, early=()) -> tuple[float, float]:
    """Seconds from navigation until the ``early`` selectors are drawn, and until the page
    is idle showing ``text``."""
    page = browser.new_page()
    t0 = time.perf_counter()
    page.goto(url)
    for selector in early:
        page.locator(selector).first.wait_for(timeout=120_000)
    first = time.perf_counter() - t0
    _idle(page, text)
    elapsed = time.perf_counter() - t0
    page.close()  # its session ends: the next page is measured alone
    return first, elapsed


def _rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _tensorflow_loaded(pid: int) -> bool:
    maps = Path(f"/proc/{pid}/maps").read_text()
    return "_pywrap_tensorflow" in maps or "libtensorflow" in maps


SEED_RUN = """
from finml.data.demo import demo_frame
from finml.data.schema import default_features, infer_schema
from finml.data.spec import DatasetSpec
from finml.data.staging import stage_frame
from finml.models.registry import resolve_params
from finml.store import FINISHED, RunStore
from finml.fitters.base import ListSink
from finml.tasks.spec import RunSpec
from finml.tasks import train_spec
from finml.training.worker import log_result

frame = demo_frame("German Credit (Statlog)")
num, cat = default_features(infer_schema(frame), "creditability")
ds = DatasetSpec(stage_frame(frame), "German Credit (Statlog)", "creditability", "bad",
                 tuple(num), tuple(cat), negative="good")
spec = RunSpec(ds, "logreg", resolve_params("logreg"))
store = RunStore()
run_id = store.create_run("logreg", spec.run_params(), spec.run_tags())
log_result(store, run_id, spec, train_spec(spec, frame, ListSink()))
store.set_status(run_id, FINISHED)
"""


def _seed_run(data_dir: str) -> None:
    """One finished logistic-regression run, so Evaluate and Predict show everything."""
    env = {**os.environ, "FINML_DATA_DIR": data_dir}
    subprocess.run([sys.executable, "-c", SEED_RUN], cwd=ROOT, env=env, check=True)


def run_once(browser) -> dict:
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        hello = Path(tmp) / "hello.py"
        hello.write_text("import streamlit as st\nst.title('hello')\n")
        proc, url = _serve(hello, tmp)
        out["hello cold"] = _timed_open(browser, url, "hello")[1]
        proc.terminate()
        proc.wait()
    with tempfile.TemporaryDirectory() as tmp:
        _seed_run(tmp)
        proc, url = _serve(ROOT / SCRIPT, tmp)
        out["data cold"] = _timed_open(browser, url, "Validation report")[1]
        out["data warm"] = _timed_open(browser, url, "Validation report")[1]
        for name, text in PAGES.items():
            first, out[name] = _timed_open(browser, f"{url}/{name}", text, EARLY.get(name, ()))
            if name in EARLY:
                out[f"{name}, first read"] = first
        time.sleep(2)
        out["rss MiB"] = _rss_mib(proc.pid)
        out["tensorflow in server"] = _tensorflow_loaded(proc.pid)
        proc.terminate()
        proc.wait()
    return out


def main() -> None:
    from playwright.sync_api import sync_playwright

    repeats = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        runs = [run_once(browser) for _ in range(repeats)]
        browser.close()
    print(f"Startup, median of {repeats} (seconds until the page is idle):")
    for key in runs[0]:
        values = [r[key] for r in runs]
        if isinstance(values[0], bool):
            print(f"  {key:22s} {values}")
        else:
            each = ", ".join(f"{v:.2f}" for v in values)
            print(f"  {key:22s} {statistics.median(values):8.2f}   ({each})")


if __name__ == "__main__":
    main()
