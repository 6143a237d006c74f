"""Peak memory of every hostile input of the test suite (tests/hostile), one by one.

For each input the process's peak RSS is reset (``/proc/self/clear_refs``), the input goes
through finml as its page would feed it, and the new peak minus the RSS before is printed
(MiB), with the time taken and what finml answered. Prints the worst cases last.

Usage: python bench/bench_hostile.py
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> None:
    os.environ["FINML_DATA_DIR"] = tempfile.mkdtemp()
    os.environ["FINML_WARM_WORKER"] = "0"
    from finml.data.demo import demo_frame
    from tests.hostile.cases import all_cases
    from tests.hostile.test_inputs import measured, run_case

    german = demo_frame("German Credit (Statlog)")
    from finml.data.schema import default_features, infer_schema
    from finml.data.spec import DatasetSpec
    from finml.models.registry import resolve_params
    from finml.training.base import ListSink
    from finml.training.spec import RunSpec
    from finml.training.tables import run_training

    numeric, categorical = default_features(infer_schema(german), "creditability")
    ds = DatasetSpec("0" * 32, "g", "creditability", "bad", tuple(numeric), tuple(categorical))
    model = run_training(RunSpec(ds, "logreg", resolve_params("logreg")), german, ListSink()).model
    scorer = (model, german.drop(columns="creditability").head(20))
    rows = []
    for case in all_cases():
        data = case.build()
        started = time.perf_counter()
        out, peak = measured(lambda case=case, data=data: run_case(case, scorer, data))
        seconds = time.perf_counter() - started
        del data
        said = str(out)[:70] if isinstance(out, Exception) else type(out).__name__
        rows.append((peak, seconds, case.id, said))
        print(f"{peak:6d} MiB {seconds:6.2f} s  {case.id[:48]:48s} {said}")
    rows.sort(reverse=True)
    print("\nWorst peaks (MiB above the RSS before the input):")
    for peak, seconds, name, _ in rows[:5]:
        print(f"{peak:6d} MiB {seconds:6.2f} s  {name}")


if __name__ == "__main__":
    main()
