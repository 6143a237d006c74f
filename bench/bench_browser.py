"""Benchmark (issue 24): finml's table models from Start to the test tiles **in the
browser**, against the lean script a data scientist writes (``bench/plain_tables.py
--lean``: pyarrow's reader; scaling and one-hot for logistic regression and the MLP,
ordinal codes and native categorical splits for boosting), at growing table sizes.

Data: German Credit resampled to N rows with jitter (``bench_tables.make_csv``; 1M rows is
a 140 MB CSV), generated at run time.

For each size, one app server (``streamlit run serve.py``, a fresh data folder, the product
defaults: warm spare worker on) and Debian's chromium through Playwright, as an analyst:
- Data page: "Upload a file", the CSV, "Use this dataset for training" (timed: upload to
  "Ready", the Data page's read, checks, leakage screening and staging);
- for each model, a fresh Train page of that dataset (``?dataset=<id>``; nothing else on
  it): the architecture and its "Categorical columns", then, once the spare worker is
  ready and idle, **Start -> the "Test ROC-AUC" tile visible**: the job's pickup, the
  worker's read of the staged data, split, preprocessing, fit, scoring, MLflow writes and
  the page's poll;
- the lean script in a fresh process (Python start and imports included), on the same CSV
  and the same features: the Data page suggests the protected attributes (age, sex and
  marital status, foreign worker) and leaves them out, so the lean script drops them too.

Prints the times and the ratio browser / lean per size and model. Targets: <= 1.3 at 100k
rows, <= 1.1 at 1M. Models: ``logreg``, ``hgb`` (native categorical splits, finml's
default and the lean script's way), ``hgb:one-hot`` (one-hot categories) and ``mlp`` (5 epochs
of batch 512 on both sides).

With ``FINML_BENCH_TRACE=1`` it also prints, per timing, when the run was submitted,
started and ended, and the CPU seconds each kind of process used from Start to the tile
(chromium by process type, the app server, finml's workers, the rest), second by second
and in total (Linux, from /proc).

Usage: python bench/bench_browser.py [SIZES] [MODELS]
    e.g. python bench/bench_browser.py 10000,100000,1000000 logreg,hgb,hgb:one-hot,mlp
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import parse_qs, urlparse

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_startup import ARGS, CHROMIUM, IDLE, _serve  # noqa: E402
from bench_tables import BATCH, make_csv, plain  # noqa: E402

#: The tile that shows a binary run's test metrics.
TILE = "Test ROC-AUC"
#: Longest wait for one step, ms.
WAIT_MS = 1_800_000
#: The MLP's epochs on both sides (its batch is bench_tables.BATCH).
EPOCHS = 5
#: Each model's name in the Train page's "Architecture" box.
LABELS = {
    "logreg": "Logistic regression (scikit-learn)",
    "hgb": "Histogram gradient boosting (scikit-learn)",
    "mlp": "Keras MLP (deep learning)",
}


def _spare_idle(data_dir: Path) -> None:
    """Wait until no run is active or explaining and the spare worker is ready, so that
    neither a follow-up nor the spare's start (importing TensorFlow) overlaps a timing."""
    from finml.store import RunStore
    from finml.training import jobs

    store = RunStore()
    while any(r.status in ("queued", "running") or r.followup for r in store.list_runs()):
        time.sleep(0.1)
    while not (data_dir / "jobs" / "spares" / "ready").exists():
        time.sleep(0.1)
    while any(jobs.is_alive(r.run_id) for r in store.list_runs()):
        time.sleep(0.1)


def _reap(data_dir: Path) -> None:
    """End the spare workers of ``data_dir`` (they would leave within seconds of their
    server; the next size's timings must not share the CPU with them)."""
    import signal

    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and str(data_dir).encode() in (proc / "cmdline").read_bytes():
                os.kill(int(proc.name), signal.SIGKILL)
        except (OSError, ProcessLookupError):
            continue


def upload(page, url: str, csv: Path) -> tuple[str, float, list[str]]:
    """The Data page as an analyst uses it: upload, then "Use this dataset for training".
    Returns (the dataset id, seconds from choosing the file to "Ready", the protected
    attributes the page left out)."""
    from finml.data.demo import demo_frame
    from finml.evaluation.fairness import suggest_protected

    page.goto(url)
    page.locator(IDLE).wait_for(timeout=WAIT_MS)
    page.get_by_text("Upload a file").click()
    page.locator(IDLE).wait_for(timeout=WAIT_MS)
    t0 = time.perf_counter()
    page.locator("input[type=file]").set_input_files(str(csv))
    button = page.get_by_role("button", name="Use this dataset for training")
    button.wait_for(timeout=WAIT_MS)
    page.locator(IDLE).wait_for(timeout=WAIT_MS)
    button.click()
    page.get_by_text("Ready:").first.wait_for(timeout=WAIT_MS)
    ready = time.perf_counter() - t0
    page.get_by_role("link", name="Go to Train").click()
    page.get_by_text("Start training").wait_for(timeout=WAIT_MS)
    header = page.get_by_text("target 'creditability' = 'bad'")
    header.wait_for(timeout=WAIT_MS)  # the page guessed the target and event as intended
    dataset_id = parse_qs(urlparse(page.url).query)["dataset"][0]
    protected = suggest_protected(demo_frame("German Credit (Statlog)").columns)
    return dataset_id, ready, protected


def start_to_tiles(browser, url: str, dataset_id: str, model: str, data_dir: Path) -> float:
    """Seconds from the Start click to the test tile on a fresh Train page."""
    name, _, categories = model.partition(":")
    page = browser.new_page(viewport={"width": 1280, "height": 1000})
    page.goto(f"{url}/train?dataset={dataset_id}")
    page.get_by_text("Start training").wait_for(timeout=WAIT_MS)
    page.get_by_test_id("stSelectbox").filter(has_text="Architecture").click()
    page.get_by_role("option", name=LABELS[name]).click()
    page.get_by_text("Max. solver iterations" if name == "logreg" else "Learning rate").wait_for(
        timeout=WAIT_MS
    )
    if name == "mlp":  # the lean script's epochs and batch (no Enter: it submits the form)
        for label, value in (("Epochs", EPOCHS), ("Batch size", BATCH)):
            page.get_by_label(label, exact=True).fill(str(value))
            page.get_by_label(label, exact=True).press("Tab")
    if categories:
        page.get_by_test_id("stSelectbox").filter(has_text="Categorical columns").click()
        page.get_by_role("option", name=categories, exact=True).click()
    page.locator(IDLE).wait_for(timeout=WAIT_MS)
    _spare_idle(data_dir)
    before = cpu_by_role()
    timeline = CpuTimeline() if os.environ.get("FINML_BENCH_TRACE") else None
    t0 = time.perf_counter()
    page.get_by_role("button", name="Start training").click()
    page.get_by_text(TILE).first.wait_for(timeout=WAIT_MS)
    elapsed = time.perf_counter() - t0
    if timeline is not None:
        timeline.stop()
    _check_run(name, categories)
    if os.environ.get("FINML_BENCH_TRACE"):
        _trace(t0, time.time() - (time.perf_counter() - t0))
        used = cpu_by_role()
        spent = {k: v - before.get(k, 0.0) for k, v in used.items()}
        print(
            "    CPU s from Start to the tile: "
            + ", ".join(f"{k} {v:.2f}" for k, v in sorted(spent.items()) if v >= 0.01)
        )
    page.close()
    return elapsed


class CpuTimeline:
    """Prints each role's CPU seconds (:func:`cpu_by_role`) per second of a timing, from a
    thread, until :meth:`stop` (FINML_BENCH_TRACE=1)."""

    def __init__(self) -> None:
        import threading

        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        last, second = cpu_by_role(), 0
        while not self._done.wait(1.0):
            now = cpu_by_role()
            second += 1
            spent = {k: v - last.get(k, 0.0) for k, v in now.items()}
            print(
                f"    {second:3d} s: "
                + ", ".join(f"{k} {v:.2f}" for k, v in sorted(spent.items()) if v >= 0.02),
                flush=True,
            )
            last = now

    def stop(self) -> None:
        self._done.set()
        self._thread.join()


def cpu_by_role() -> dict[str, float]:
    """CPU seconds (user + system, from /proc) used so far by the processes alive now,
    summed per role: the browser (chromium), the app server (streamlit), finml's workers
    and the rest (Linux only; FINML_BENCH_TRACE=1 prints the difference over a timing).
    A process that exits between two readings is missing from the second, with all its
    CPU (its parent's ``cutime`` is not read): read a role's figures only where its
    processes outlive the timing (the server, chromium and the warm worker do)."""
    tick = os.sysconf("SC_CLK_TCK")
    out: dict[str, float] = {}
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmd = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            fields = (proc / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        role = next((r for key, r in ROLES if key in cmd), "other")
        if role == "browser":  # chromium's process: renderer, gpu-process, utility, main
            kind = cmd.split("--type=", 1)[1].split()[0] if "--type=" in cmd else "main"
            role = f"browser:{kind}"
        out[role] = out.get(role, 0.0) + (int(fields[11]) + int(fields[12])) / tick
    return out


#: Substrings of a process's command line and the role ``cpu_by_role`` gives it.
ROLES = (
    ("chromium", "browser"),
    ("chrome", "browser"),
    ("streamlit", "server"),
    ("finml.training", "worker"),
    ("bench_browser", "bench"),
)


def _check_run(name: str, categories: str) -> None:
    """The newest run is the one the bench asked for: that model, with the form's values
    (an Enter in a form's field would have started another)."""
    from finml.store import RunStore

    run = RunStore().list_runs()[0]
    assert run.model == name, (run.model, name)
    params = run.params
    if name == "mlp":
        assert (int(params["hp.epochs"]), int(params["hp.batch_size"])) == (EPOCHS, BATCH), params
    if name == "hgb":
        assert params["hp.categories"] == (categories or "native"), params


def _trace(t0: float, wall0: float) -> None:
    """Where the time went (FINML_BENCH_TRACE=1): the run's creation, its worker's start
    and its results as the store recorded them, seconds after the Start click."""
    from finml.store import RunStore

    run = RunStore().list_runs()[0]
    ended = run.ended or float("nan")
    print(
        f"    submitted +{run.submitted - wall0:.2f} s, running +{run.started - wall0:.2f} s, "
        f"ended +{ended - wall0:.2f} s (tile at +{time.perf_counter() - t0:.2f} s)"
    )


def main() -> None:
    from playwright.sync_api import sync_playwright

    sizes = [int(s) for s in (sys.argv[1] if len(sys.argv) > 1 else "10000,100000").split(",")]
    models = (sys.argv[2] if len(sys.argv) > 2 else "logreg,hgb,hgb:one-hot,mlp").split(",")
    rows = []
    for n in sizes:
        with tempfile.TemporaryDirectory(ignore_cleanup_errors=True) as tmp:
            data_dir = Path(tmp) / "data"
            os.environ.update(
                FINML_DATA_DIR=str(data_dir),
                FINML_MAX_UPLOAD_MB="1024",
                FINML_MAX_ROWS=str(n + 1),
                FINML_WARM_WORKER="1",
            )
            csv = Path(tmp) / f"credit_{n}.csv"
            make_csv(n, csv)
            proc, url = _serve(ROOT / "serve.py", str(data_dir), warm=True, upload_mb=1024)
            try:
                with sync_playwright() as pw:
                    browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
                    page = browser.new_page(viewport={"width": 1280, "height": 1000})
                    dataset_id, ready, protected = upload(page, url, csv)
                    print(
                        f"{n:>9,} rows  CSV {csv.stat().st_size / 2**20:.0f} MiB  upload to "
                        f"Ready {ready:.1f} s  (left out: {', '.join(protected)})",
                        flush=True,
                    )
                    for model in models:
                        _spare_idle(data_dir)  # nothing else running for either timing
                        lean_s = plain(model.partition(":")[0], csv, EPOCHS, True, protected)
                        shown = start_to_tiles(browser, url, dataset_id, model, data_dir)
                        rows.append((n, model, shown, lean_s))
                        print(
                            f"{n:>9,} {model:<11} Start -> tiles {shown:6.2f} s  lean "
                            f"{lean_s:6.2f} s  ratio {shown / lean_s:.2f}",
                            flush=True,
                        )
                    browser.close()
            finally:
                proc.terminate()
                proc.wait(timeout=30)
                _reap(data_dir)
    print("\n| rows | model | Start -> tiles in the browser (s) | lean script (s) | ratio |")
    print("| --- | --- | --- | --- | --- |")
    for n, model, shown, lean_s in rows:
        print(f"| {n:,} | {model} | {shown:.2f} | {lean_s:.2f} | {shown / lean_s:.2f} |")
    print("(targets: <= 1.3 at 100k rows, <= 1.1 at 1M)")


if __name__ == "__main__":
    main()
