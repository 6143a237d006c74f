"""Imports that used to hang, exhaust memory or crash a page later: each is a real finml
export (a logistic regression, a forecaster) changed in one way by the test itself. Every
one is refused before anything is created, with a message that names the member and the
field, quickly and under the memory bound; nothing is left half-imported, and what finml
itself exports (every field) imports again."""

from __future__ import annotations

import io
import json
import time

import numpy as np
import pandas as pd
import pytest

from finml.access import LOCAL, ScopedStore
from finml.errors import BundleError
from finml.reporting.exchange import export_run, import_run
from finml.store import IMPORTING_TAG, RunStore, sweep_imports
from tests.hostile.test_imports import _hostile, _json_member, _member, _meta, _run_json
from tests.hostile.test_inputs import MEMORY_BOUND_MIB, measured
from tests.hostile_images import members_of

pytestmark = pytest.mark.shared_data  # refusals add nothing; the rest look at their own runs

#: Most seconds a hostile import may take before it is refused.
SECONDS_BOUND = 15.0


def _nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


def _pq(frame: pd.DataFrame) -> bytes:
    buf = io.BytesIO()
    frame.to_parquet(buf, index=False)
    return buf.getvalue()


def _params(**changes):
    """An edit of ``run.json``'s parameters (the others as exported)."""

    def edit(members):
        record = json.loads(members["run.json"])
        record["params"] = {**record["params"], **changes}
        members["run.json"] = json.dumps(record).encode()

    return edit


def _predictions(change, member="predictions/test.parquet"):
    """An edit of a stored predictions table: ``change(frame) -> frame``."""

    def edit(members):
        frame = pd.read_parquet(io.BytesIO(members[member]))
        members[member] = _pq(change(frame))

    return edit


def _curve(n: int, name: str = "loss"):
    return _run_json(history={"step": list(range(n)), name: [0.5] * n})


def _set(column, value, rows=slice(0, 3)):
    def change(frame):
        frame = frame.copy()
        if isinstance(value, str):  # a text column (Parquet holds one type per column)
            frame[column] = frame[column].astype(str)
        frame.loc[frame.index[rows], column] = value
        return frame

    return change


def _wide(n: int):
    def change(frame):
        extra = pd.DataFrame(0.0, index=frame.index, columns=[f"c{i}" for i in range(n)])
        return pd.concat([frame, extra], axis=1)

    return change


def _tall(n: int):
    def change(frame):
        return pd.DataFrame({c: np.resize(frame[c].to_numpy(), n) for c in frame.columns})

    return change


def _rename(old, new):
    return lambda frame: frame.rename(columns={old: new})


def _drop(column):
    return lambda frame: frame.drop(columns=column)


#: name -> (the change of a logistic-regression export, the words of the refusal).
TABLE_CASES = {
    "a learning curve of 100,000 steps": (_curve(100_000), "100,000 learning curves steps"),
    "a learning curve of 10,001 steps": (_curve(10_001), "finml trains at most 10,000"),
    "run.json nested 200,000 deep": (_member("run.json", _nested(200_000)), "nests 200,000"),
    "run.json nested 33 deep": (_member("run.json", _nested(33)), "nests 33 levels"),
    "meta.json nested 200,000 deep": (
        _member("bundle/meta.json", _nested(200_000)),
        "nests 200,000",
    ),
    "a 17 MiB run.json": (
        _member("run.json", b'{"name": "' + b"a" * (17 << 20) + b'"}'),
        "finml reads at most",
    ),
    "cv_folds 'three'": (_params(cv_folds="three"), "parameter 'cv_folds' is 'three'"),
    "cv_folds 1": (_params(cv_folds="1"), "finml runs 2 to 20 folds"),
    "cv_folds 21": (_params(cv_folds="21"), "a whole number from 0 to 20"),
    "a negative seed": (_params(seed="-1"), "parameter 'seed'"),
    "a 300-character parameter name": (_params(**{"p" * 300: "1"}), "are not ones finml writes"),
    "a parameter with a line break": (_params(target="a\nb"), "not one line"),
    "a 7,000-character parameter": (_params(target="t" * 7000), "over 6,000 characters"),
    "a parameter that is an object": (_params(seed={"a": 1}), "is not a single value"),
    "an unknown hyperparameter": (_params(**{"hp.evil": "1"}), "'hp.evil' are not ones"),
    "a hyperparameter out of range": (_params(**{"hp.C": "-5"}), "parameter 'hp.C'"),
    "class_weights 'maybe'": (_params(class_weights="maybe"), "True or False"),
    "a split of two parts": (_params(split="0.5/0.5"), "three fractions a/b/c"),
    "a billion trials": (_params(tune_trials=str(10**9)), "parameter 'tune_trials'"),
    # a unit is shown inside Markdown (tiles, captions): no link or emphasis may come in one
    "a unit with a link": (_params(unit="[DM](http://x.example)"), "parameter 'unit'"),
    "a unit of 21 characters": (_params(unit="D" * 21), "a unit of at most 20"),
    "a curve named with a line break": (_curve(3, "loss\nx"), "which finml never logs"),
    "a curve named /../": (_curve(3, "/../../x"), "which finml never logs"),
    "a metric named ../../etc": (
        _run_json(metrics={"../../etc": 1.0}),
        "are not ones finml logs",
    ),
    "600 metrics": (
        _run_json(metrics={f"test_m{i}": 1.0 for i in range(600)}),
        "600 metrics; finml logs far fewer",
    ),
    "a model finml does not offer": (_run_json(model="evil"), "'evil' is not one finml offers"),
    "a 10,000-character name": (_run_json(name="n" * 10_000), "over 200 characters"),
    "a name with a line break": (_run_json(name="a\nb"), "holds line breaks"),
    "fold metrics named oddly": (
        _run_json(folds={"step": [1], "fold_evil": [1.0]}),
        "'fold_evil', which finml never logs",
    ),
    "a score of 2": (_predictions(_set("score", 2.0)), "probabilities outside [0, 1]"),
    "a class index of 5": (_predictions(_set("y_true", 5)), "has values from 0 to 5"),
    "an infinite score": (_predictions(_set("score", np.inf)), "infinite or missing numbers"),
    "a missing score": (_predictions(_set("score", np.nan)), "infinite or missing numbers"),
    "a text score": (_predictions(_set("score", "high")), "'score' must hold numbers"),
    "a row of -1": (_predictions(_set("row", -1)), "has values from -1"),
    "a column named with a line break": (
        _predictions(_rename("score", "sc\nore")),
        "lacks the column(s) score",
    ),
    "an extra column named /../": (
        _predictions(lambda f: f.assign(**{"/../x": 1.0})),
        "the column '/../x' is not one finml writes",
    ),
    "2,000 columns of predictions": (_predictions(_wide(2_000)), "2,003 columns"),
    "2,000,001 rows of predictions": (_predictions(_tall(2_000_001)), "2,000,001 rows"),
    "predictions without y_true": (_predictions(_drop("y_true")), "lacks the column(s) y_true"),
    "validation predictions with a fold 9": (
        _predictions(lambda f: f.assign(fold=9), "predictions/validation.parquet"),
        "this run allows 1 to 3",
    ),
    "a 2,000-character text cell": (
        _predictions(lambda f: f.assign(note="x" * 2_000)),
        "text over 1,000 characters",
    ),
    "a folds table without ROC-AUC": (
        _member("cv/folds.parquet", _pq(pd.DataFrame({"fold": [1, 2]}))),
        "lacks the column(s) roc_auc",
    ),
    "a folds table of 50 folds": (
        _member("cv/folds.parquet", _pq(pd.DataFrame({"fold": range(1, 51), "roc_auc": 0.7}))),
        "at most 20 rows",
    ),
    "a trial in state 'evil'": (
        _member("tuning/trials.parquet", _pq(pd.DataFrame({"trial": [0], "state": ["evil"]}))),
        "'evil', which this run's model does not know",
    ),
    "best parameters nested": (
        _member("tuning/best_params.json", b'{"C": {"a": [1]}}'),
        "best_params.json does not have the shape finml writes",
    ),
    "SHAP notes with a text base value": (
        _member("explain/shap.json", b'{"base_value": "x", "method": "linear"}'),
        "shap.json does not have the shape finml writes",
    ),
    "a split named holdout": (
        _member("split.parquet", _pq(pd.DataFrame({"row": [0], "split": ["holdout"]}))),
        "'holdout', which this run's model does not know",
    ),
    "a split report of 200 rows": (
        _member("split_report.json", json.dumps([{"a": 1}] * 200).encode()),
        "split_report.json does not have the shape finml writes",
    ),
    "a SHAP table of 100,001 rows": (
        _member("explain/shap_values.parquet", _pq(pd.DataFrame({"row": range(100_001)}))),
        "100,001 rows",
    ),
    "a threshold of NaN": (_run_json(threshold="nan"), "not a finite number"),
}

#: name -> (the change of a forecaster's export, the words of the refusal).
FORECAST_CASES = {
    "a forecast step of 10,000,000": (
        _predictions(_set("step", 10_000_000)),
        "column 'step' has values from 1 to 10,000,000",
    ),
    "20,000 forecast steps": (
        _predictions(lambda f: f.assign(step=np.arange(len(f)) % 20_000 + 1)),
        "this run allows 1 to 2",
    ),
    "an entity the model never saw": (
        _predictions(_set("entity", "mallory")),
        "'mallory', which this run's model does not know",
    ),
    "a negative origin": (_predictions(_set("origin", -7)), "column 'origin' has values from -7"),
    "an interval at 80% only": (
        _json_member("bundle/meta.json", intervals={"0.8": [1.0, 1.0]}),
        "each of the levels 0.8, 0.9, 0.95",
    ),
    "backtest forecasts with step 99": (
        _member(
            "cv/forecasts.parquet", _pq(pd.DataFrame({"fold": [1], "step": [99], "y_pred": [1.0]}))
        ),
        "this run allows 1 to 2",
    ),
    "a lag count of a million": (_meta(forecaster={"lags": 10**6}), "'forecaster' must hold"),
}


def build_forecast_export() -> bytes:
    """A real export of a ridge forecaster (two quarters ahead), trained in this process
    in the current data folder."""
    from tests.conftest import forecast_demo_run

    run_id = forecast_demo_run("US macroeconomic series (forecasting)", "realcons", 2)
    return export_run(RunStore(), run_id)


def build_full_export(german: pd.DataFrame) -> bytes:
    """A real export of a 3-fold cross-validated logistic regression with per-fold metrics,
    a trials table, best parameters and SHAP notes: every member an export may hold but
    the Keras model. Trained in this process in the current data folder."""
    from dataclasses import replace

    from finml.data.staging import stage_frame
    from tests.conftest import table_spec, train_and_log

    spec = table_spec(german, "logreg", cv_folds=3)
    spec = replace(spec, dataset=replace(spec.dataset, dataset_id=stage_frame(german)))
    run_id = train_and_log(spec, "lr cv")
    store = RunStore()
    for fold in (1, 2, 3):  # what the worker's sink logs as each fold ends
        store.log_step(run_id, fold, {"fold_roc_auc": 0.7 + fold / 100, "fold_ks": 0.4})
    trials = pd.DataFrame({"trial": [0], "state": ["complete"]})
    store.log_frame(run_id, trials, "tuning/trials.parquet")
    store.log_json(run_id, {"C": 1.0}, "tuning/best_params.json")
    store.log_json(run_id, {"base_value": 0.1, "method": "linear"}, "explain/shap.json")
    shap = pd.DataFrame({"row": [0], "a": [0.1]})
    store.log_frame(run_id, shap, "explain/shap_values.parquet")
    return export_run(store, run_id)


@pytest.fixture(scope="module")
def forecast_export(module_data_dir):
    """:func:`build_forecast_export`."""
    return build_forecast_export()


@pytest.fixture(scope="module")
def full_export(module_data_dir, german):
    """:func:`build_full_export`."""
    return build_full_export(german)


def import_case(data: bytes):
    """Import ``data`` as the Runs page does (the local user's scoped store); what
    :func:`finml.reporting.exchange.import_run` returned or raised."""
    return import_run(data, ScopedStore(RunStore(), LOCAL), name="run.zip")


def _refused(data: bytes, phrase: str) -> None:
    store = RunStore()
    before = {r.run_id for r in store.list_runs(include_importing=True)}
    started = time.monotonic()
    out, peak = measured(lambda: import_case(data))
    seconds = time.monotonic() - started
    assert isinstance(out, BundleError), f"expected a refusal, got {out!r}"
    assert phrase in str(out), str(out)
    assert "run.zip" in str(out)  # the file is named
    assert len(str(out)) < 1000
    assert {r.run_id for r in store.list_runs(include_importing=True)} == before
    assert peak < MEMORY_BOUND_MIB, f"took {peak} MiB"
    assert seconds < SECONDS_BOUND, f"took {seconds:.1f} s"


@pytest.mark.parametrize("name", list(TABLE_CASES))
def test_a_hostile_table_import_is_refused_quickly_and_small(name, full_export):
    change, phrase = TABLE_CASES[name]
    _refused(_hostile(full_export, change), phrase)


@pytest.mark.parametrize("name", list(FORECAST_CASES))
def test_a_hostile_forecast_import_is_refused_quickly_and_small(name, forecast_export):
    change, phrase = FORECAST_CASES[name]
    _refused(_hostile(forecast_export, change), phrase)


def test_finmls_own_export_carries_every_result_and_imports_again(full_export):
    members = set(members_of(full_export))
    for member in (
        "cv/folds.parquet",
        "split.parquet",
        "split_report.json",
        "tuning/trials.parquet",
        "explain/shap.json",
    ):
        assert member in members, member
    record = json.loads(members_of(full_export)["run.json"])
    assert "dataset_id" not in record["params"] and record["folds"]["step"] == [1, 2, 3]
    store = RunStore()
    run_id = import_run(full_export, ScopedStore(store, LOCAL), name="mine.zip")
    run = store.get_run(run_id)
    assert run.params["cv_folds"] == "3" and "cv_roc_auc_mean" in run.metrics
    assert len(store.read_frame(run_id, "cv/folds.parquet")) == 3
    assert store.fold_history(run_id)["step"].tolist() == [1, 2, 3]
    assert IMPORTING_TAG not in run.tags


def test_classes_and_positive_class_come_from_the_bundle_not_the_record(full_export):
    """A record naming classes without its positive class (which crashed Evaluate) or a
    positive class the model does not predict imports with the bundle's own."""
    forged = _hostile(
        full_export, _params(classes="x,y,z", positive_class="mallory", negative_class="n")
    )
    store = RunStore()
    run = store.get_run(import_run(forged, ScopedStore(store, LOCAL), name="odd.zip"))
    assert "classes" not in run.params  # a two-class table run names no class list
    assert (run.params["positive_class"], run.params["negative_class"]) == ("bad", "not bad")


def test_a_failure_while_writing_leaves_no_half_imported_run(full_export, monkeypatch):
    """The import's run is hidden while written and deleted when writing fails."""
    store = RunStore()
    seen = {}
    real = RunStore.log_steps

    def failing(self, run_id, steps):
        seen["listed"] = [r.run_id for r in self.list_runs()]
        seen["hidden"] = [r.run_id for r in self.list_runs(include_importing=True)]
        real(self, run_id, steps)
        raise OSError(28, "No space left on device")

    before = {r.run_id for r in store.list_runs(include_importing=True)}
    monkeypatch.setattr(RunStore, "log_steps", failing)
    with pytest.raises(OSError):
        import_run(full_export, ScopedStore(store, LOCAL), name="run.zip")
    (writing,) = set(seen["hidden"]) - before
    assert writing not in seen["listed"]  # hidden while written
    assert {r.run_id for r in store.list_runs(include_importing=True)} == before  # then gone


def test_an_import_a_dead_server_left_behind_is_swept():
    store = RunStore()
    stale = store.create_run("half", {}, {IMPORTING_TAG: "1"})
    done = store.create_run("whole", {}, {})
    listed = {r.run_id for r in store.list_runs()}
    assert done in listed and stale not in listed
    assert sweep_imports(store, older_than_s=3600) == []  # too young: maybe still writing
    assert sweep_imports(store, older_than_s=-1) == [stale]
    assert {r.run_id for r in store.list_runs(include_importing=True)} == listed


def test_the_hostile_suite_has_grown_by_sixty_generated_inputs():
    assert len(TABLE_CASES) + len(FORECAST_CASES) >= 55
