"""Benchmark: finml's job path against a plain Keras script, same MLP, same run.

Measures, for the Keras MLP on German Credit with ``EPOCHS`` epochs (early stopping off):
- wall time of the plain script (``bench/plain_tables.py mlp``, a fresh process: Python start,
  imports, preprocessing, training, test prediction);
- wall time of finml's job path from ``jobs.submit`` until the run is ``finished`` (the
  worker process, MLflow logging of every epoch, test evaluation, bundle), cold (a fresh
  worker) and warm (a spare worker with TensorFlow already imported, the product default);
- seconds from submit to the first logged epoch, cold and warm.
Prints medians over ``REPEATS`` and the ratios finml / plain. Targets: ratio <= 1.15 and
first epoch <= 6 s after submit on a 2-core machine.

Usage: python bench/bench_mlp.py [EPOCHS] [REPEATS]
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CSV = ROOT / "finml" / "data" / "builtin" / "german_credit.csv"


def plain(epochs: int) -> float:
    t0 = time.perf_counter()
    subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench" / "plain_tables.py"),
            "mlp",
            str(CSV),
            str(epochs),
            "32",
        ],
        check=True,
        capture_output=True,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"},
    )
    return time.perf_counter() - t0


def finml_job(epochs: int, warm: bool) -> tuple[float, float]:
    from finml.config import get_settings
    from finml.data.demo import demo_frame
    from finml.data.schema import default_features, infer_schema
    from finml.data.spec import DatasetSpec
    from finml.data.staging import stage_frame
    from finml.models.registry import resolve_params
    from finml.store import RunStore
    from finml.tasks.spec import RunSpec
    from finml.training import jobs, local

    os.environ["FINML_WARM_WORKER"] = "1" if warm else "0"
    settings = get_settings()
    store = RunStore(settings)
    store.experiment_id  # noqa: B018  (create the database before timing)
    frame = demo_frame("German Credit (Statlog)")
    numeric, categorical = default_features(infer_schema(frame), "creditability")
    ds = DatasetSpec(
        stage_frame(frame, settings),
        "German Credit",
        "creditability",
        "bad",
        tuple(numeric),
        tuple(categorical),
    )
    spec = RunSpec(ds, "mlp", resolve_params("mlp", {"epochs": epochs, "patience": 1000}))
    if warm:
        jobs.warm_up(settings)
        spares = settings.jobs_dir / "spares"
        while not (spares / "ready").exists():
            time.sleep(0.05)
    t0 = time.perf_counter()
    run_id = jobs.submit(spec, store)
    first = None
    while True:
        if first is None and store.client.get_metric_history(run_id, "loss"):
            first = time.perf_counter() - t0
        status = store.get_run(run_id).status
        if status not in ("queued", "running"):
            break
        time.sleep(0.05)
    total = time.perf_counter() - t0
    assert status == "finished", store.get_run(run_id).reason
    if warm:
        while not (settings.jobs_dir / "spares" / "ready").exists():  # the replacement
            time.sleep(0.05)
        local.stop_spare(settings)
    return total, first


def main() -> None:
    epochs = int(sys.argv[1]) if len(sys.argv) > 1 else 60
    repeats = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    results = {"plain": [], "cold": [], "warm": [], "first_cold": [], "first_warm": []}
    for _ in range(repeats):
        with tempfile.TemporaryDirectory() as tmp:
            os.environ["FINML_DATA_DIR"] = tmp
            results["plain"].append(plain(epochs))
            total, first = finml_job(epochs, warm=False)
            results["cold"].append(total)
            results["first_cold"].append(first)
            total, first = finml_job(epochs, warm=True)
            results["warm"].append(total)
            results["first_warm"].append(first)
    med = {k: statistics.median(v) for k, v in results.items()}
    print(f"Keras MLP, German Credit, {epochs} epochs, median of {repeats} (seconds):")
    print(f"  plain Keras script (fresh process)     {med['plain']:6.2f}")
    print(
        f"  finml job, cold worker                 {med['cold']:6.2f}   "
        f"ratio {med['cold'] / med['plain']:.2f}"
    )
    print(
        f"  finml job, warm spare worker (default) {med['warm']:6.2f}   "
        f"ratio {med['warm'] / med['plain']:.2f}"
    )
    print(f"  submit -> first logged epoch, cold     {med['first_cold']:6.2f}")
    print(f"  submit -> first logged epoch, warm     {med['first_warm']:6.2f}")
    print("  targets: ratio <= 1.15, first epoch <= 6 s")


if __name__ == "__main__":
    main()
