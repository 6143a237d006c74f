"""Benchmark: finml's job path against a plain script, for the three table models, at
growing table sizes (how the cost grows with the data, not one small case).

Data: German Credit resampled to N rows (rows drawn with replacement, seed 0; credit
amount, duration and age jittered so the rows are not exact copies), written as CSV.

For each size and model:
- plain: wall time of ``bench/plain_tables.py`` in a fresh process (Python start, imports,
  read the CSV, split, preprocess, fit, score the test rows);
- finml: from ``jobs.submit`` until the run shows its test metrics (``has_results``) with
  the warm spare worker (the product default); the worker reads the staged Parquet,
  splits, preprocesses, trains with live progress, scores validation and test, logs them
  and the bundle. Permutation importance follows the result and is not counted (it is
  timed separately, "importance after").
- the Data page's work on the same CSV: reading the upload (``read_table``), staging, and
  the leakage screening.

Prints a table with the ratio finml / plain per size and model. Target: <= 1.3. Also
against issue 24's lean script (``plain_tables.py --lean``: pyarrow's reader, no imputers,
for boosting ordinal codes and native categorical splits). Targets: <= 1.3 at 100k rows,
<= 1.1 at 1M.

The regression models (``ridge``, ``hgb_reg``, ``mlp_reg``) predict ``credit_amount`` from
the other attributes (``creditability`` left out), as the loan-amount demo does; finml's
path then adds the split-conformal calibration (MAPIE) on the validation rows.

Usage: python bench/bench_tables.py [SIZES] [MODELS] [EPOCHS]
    e.g. python bench/bench_tables.py 10000,100000,1000000 logreg,hgb,mlp 5
         python bench/bench_tables.py 100000,1000000 hgb,hgb:one-hot 5  (one-hot categories)
         python bench/bench_tables.py 10000,100000,1000000 ridge,hgb_reg,mlp_reg 5
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
#: The MLP's batch size in the bench (both sides); finml's default is 32, fine for 1,000
#: rows, far too slow per epoch for a million.
BATCH = 512
#: Models with a numeric target (the loan amount).
REGRESSORS = ("ridge", "hgb_reg", "mlp_reg")


def make_csv(n: int, path: Path) -> None:
    from finml.data.demo import demo_frame

    base = demo_frame("German Credit (Statlog)")
    rng = np.random.default_rng(0)
    frame = base.iloc[rng.integers(0, len(base), n)].reset_index(drop=True)
    frame["credit_amount"] = (frame["credit_amount"] * np.exp(rng.normal(0, 0.1, n))).round()
    for col in ("duration_in_month", "age_in_years"):
        frame[col] = np.clip(frame[col] + rng.integers(-2, 3, n), 1, None)
    frame.to_csv(path, index=False)


def plain(model: str, csv: Path, epochs: int, lean: bool = False, drop=()) -> float:
    """Wall time of ``bench/plain_tables.py`` for ``model`` on ``csv`` in a fresh process
    (Python start and imports included); ``lean``: issue 24's lean script (pyarrow's
    reader, no imputers, native categorical splits for boosting); ``drop``: columns left
    out."""
    t0 = time.perf_counter()
    subprocess.run(
        [sys.executable, str(ROOT / "bench" / "plain_tables.py"), model, str(csv)]
        + [str(epochs), str(BATCH)]
        + (["--lean"] if lean else [])
        + (["--drop", ",".join(drop)] if drop else []),
        check=True,
        capture_output=True,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"},
    )
    return time.perf_counter() - t0


def data_page(csv: Path, regression: bool = False) -> tuple[dict[str, float], object]:
    """Time the Data page's own work on the CSV; return the timings and the dataset spec
    (of the loan amount with ``regression``: no leakage screening, which is binary)."""
    from finml.data.reader import read_table
    from finml.data.schema import default_features
    from finml.data.spec import DatasetSpec
    from finml.data.staging import stage_frame
    from finml.data.target import leakage_warnings

    times = {}
    data = csv.read_bytes()
    t0 = time.perf_counter()
    table = read_table(data, "bench.csv", max_bytes=len(data) + 1, max_rows=2_000_000)
    times["read"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    if not regression:
        leakage_warnings(table.frame, table.schema, "creditability", "bad")
    times["leakage"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    dataset_id = stage_frame(table.frame)
    times["stage"] = time.perf_counter() - t0
    if regression:
        numeric, categorical = default_features(table.schema, "credit_amount", ("creditability",))
        spec = DatasetSpec(
            dataset_id,
            "bench",
            "credit_amount",
            "",
            tuple(numeric),
            tuple(categorical),
            task="regression",
        )
        return times, spec
    numeric, categorical = default_features(table.schema, "creditability")
    spec = DatasetSpec(
        dataset_id, "bench", "creditability", "bad", tuple(numeric), tuple(categorical)
    )
    return times, spec


def spare_ready() -> None:
    """Start the warm spare worker if needed and wait until it is ready and idle, so that
    its start (importing TensorFlow) never overlaps a timing."""
    from finml.store import RunStore
    from finml.training import jobs

    store = RunStore()
    store.experiment_id  # noqa: B018  (the database exists before any timing)
    jobs.warm_up(store.settings)
    while not (store.settings.jobs_dir / "spares" / "ready").exists():
        time.sleep(0.05)


def finml_job(model: str, ds, epochs: int) -> tuple[float, float]:
    from finml.models.registry import resolve_params
    from finml.store import RunStore
    from finml.tasks.spec import RunSpec
    from finml.training import jobs

    store = RunStore()
    spare_ready()
    model, _, categories = model.partition(":")  # "hgb:one-hot": one-hot categories
    net = model in ("mlp", "mlp_reg")
    extra = {"epochs": epochs, "patience": 1000, "batch_size": BATCH} if net else {}
    extra |= {"categories": categories} if categories else {}
    spec = RunSpec(ds, model, resolve_params(model, extra))
    t0 = time.perf_counter()
    run_id = jobs.submit(spec, store)
    while not (run := store.get_run(run_id)).has_results:
        assert run.status in ("queued", "running", "finished"), run.reason
        time.sleep(0.05)
    shown = time.perf_counter() - t0
    while store.get_run(run_id).followup or jobs.is_alive(run_id):
        time.sleep(0.05)
    return shown, time.perf_counter() - t0 - shown


def main() -> None:
    sizes = [int(s) for s in (sys.argv[1] if len(sys.argv) > 1 else "10000,100000").split(",")]
    models = (sys.argv[2] if len(sys.argv) > 2 else "logreg,hgb,mlp").split(",")
    epochs = int(sys.argv[3]) if len(sys.argv) > 3 else 5
    os.environ["FINML_WARM_WORKER"] = "1"
    rows = []
    with tempfile.TemporaryDirectory(ignore_cleanup_errors=True) as tmp:
        os.environ["FINML_DATA_DIR"] = tmp
        os.environ["FINML_MAX_ROWS"] = str(max(sizes) + 1)
        for n in sizes:
            csv = Path(tmp) / f"credit_{n}.csv"
            make_csv(n, csv)
            page, ds = data_page(csv, regression=models[0] in REGRESSORS)
            print(
                f"{n:>9,} rows  read {page['read']:.2f} s  leakage screening "
                f"{page['leakage']:.2f} s  staging {page['stage']:.2f} s",
                flush=True,
            )
            for model in models:
                spare_ready()
                p = plain(model.partition(":")[0], csv, epochs)
                lean_s = plain(model.partition(":")[0], csv, epochs, lean=True)
                shown, after = finml_job(model, ds, epochs)
                rows.append((n, model, p, shown, after, lean_s))
                versus_lean = f"  lean {lean_s:.2f} s, ratio {shown / lean_s:.2f}"
                print(
                    f"{n:>9,} {model:<7} plain {p:7.2f} s  finml {shown:7.2f} s  "
                    f"ratio {shown / p:.2f}{versus_lean}  (importance after: {after:.1f} s)",
                    flush=True,
                )
        from finml.config import get_settings
        from finml.training import local

        local.stop_spare(get_settings())
    print(
        "\n| rows | model | plain script (s) | finml, submit to test metrics (s) | ratio "
        "| lean script (s) | ratio |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for n, model, p, shown, _, lean_s in rows:
        print(
            f"| {n:,} | {model} | {p:.2f} | {shown:.2f} | {shown / p:.2f} | {lean_s:.2f} "
            f"| {shown / lean_s:.2f} |"
        )
    print(f"(MLP: {epochs} epochs, batch {BATCH}; target ratio <= 1.3)")


if __name__ == "__main__":
    main()
