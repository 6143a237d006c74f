"""Time and peak memory of every hostile input of the test suite (tests/hostile), one by
one, and the worst cases as a table.

For each input the process's peak RSS is reset (``/proc/self/clear_refs``), the input goes
through finml as its page would feed it (the readers, Predict's scoring, a run import),
and the new peak minus the RSS before is printed (MiB), with the time taken and what
finml answered. The worst cases by peak and by time end the output, as a Markdown table
for the README.

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


def _inputs(german):
    """(group, name, build, feed) of every hostile input: ``build()`` makes it (not
    measured), ``feed(data)`` hands it to finml (measured)."""
    from finml.data.schema import default_features, infer_schema
    from finml.data.spec import DatasetSpec
    from finml.fitters.base import ListSink
    from finml.models.registry import resolve_params
    from finml.tasks import train_spec
    from finml.tasks.spec import RunSpec
    from tests.hostile import test_import_bounds as bounds
    from tests.hostile.cases import all_cases
    from tests.hostile.test_imports import IMPORT_CASES, _hostile
    from tests.hostile.test_inputs import run_case

    numeric, categorical = default_features(infer_schema(german), "creditability")
    ds = DatasetSpec("0" * 32, "g", "creditability", "bad", tuple(numeric), tuple(categorical))
    model = train_spec(RunSpec(ds, "logreg", resolve_params("logreg")), german, ListSink()).model
    scorer = (model, german.drop(columns="creditability").head(20))
    for case in all_cases():
        yield case.kind, case.id, case.build, lambda data, c=case: run_case(c, scorer, data)
    full, forecast = bounds.build_full_export(german), bounds.build_forecast_export()
    groups = (
        ("import", IMPORT_CASES, full),
        ("import", bounds.TABLE_CASES, full),
        ("import (forecast)", bounds.FORECAST_CASES, forecast),
    )
    for group, cases, export in groups:
        for name, (change, _) in cases.items():
            build = lambda e=export, c=change: _hostile(e, c)  # noqa: E731
            yield group, name, build, bounds.import_case
    yield from _value_inputs(german, scorer)


def _value_inputs(german, scorer):
    """The inputs of tests/hostile/test_value_crashes.py (dates of mixed offsets, values
    beyond 1e150) fed to the step of their page, with the models those steps need."""
    from finml.data.demo import macro_frame, macro_panel_frame
    from tests.hostile import test_value_crashes as values

    models = {
        "forecast": values._forecaster(macro_frame(), "realcons", exog=("realgdp",)),
        "panel": values._forecaster(macro_panel_frame(), "value", "series"),
        "regression": values._regressor(german),
        "log regression": values._regressor(german, log_target=True),
        "classification": scorer[0],
    }
    for case in values.CASES:
        yield (
            f"values ({case.step})",
            case.id,
            case.build,
            lambda d, c=case: values._run(c, models, d),
        )


def main() -> None:
    os.environ["FINML_DATA_DIR"] = tempfile.mkdtemp()
    os.environ["FINML_WARM_WORKER"] = "0"
    from finml.data.demo import demo_frame
    from tests.hostile.test_inputs import measured

    rows = []
    for group, name, build, feed in _inputs(demo_frame("German Credit (Statlog)")):
        data = build()
        started = time.perf_counter()
        out, peak = measured(lambda feed=feed, data=data: feed(data))
        seconds = time.perf_counter() - started
        size = len(data) if isinstance(data, bytes) else None
        del data
        said = str(out)[:70].replace("\n", " ") if isinstance(out, Exception) else "accepted"
        rows.append((peak, seconds, group, name, size, said))
        print(f"{peak:6d} MiB {seconds:6.2f} s  {group:18s} {name[:44]:44s} {said}")
    print(f"\n{len(rows)} hostile inputs; every one answered, none crashed the process.")
    for title, key in (("peak memory", 0), ("time", 1)):
        print(f"\nWorst by {title}:\n")
        print("| input | kind | size | time (s) | peak RSS (MiB) |")
        print("| --- | --- | --- | --- | --- |")
        for peak, seconds, group, name, size, _ in sorted(rows, key=lambda r: -r[key])[:8]:
            shown = (
                ""
                if size is None
                else f"{size / 2**20:,.1f} MiB"
                if size >= 2**20
                else f"{size / 1024:,.0f} KB"
            )
            print(f"| {name} | {group} | {shown} | {seconds:.2f} | {peak} |")


if __name__ == "__main__":
    main()
