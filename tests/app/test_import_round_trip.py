"""finml's own exports round-trip: for every kind of run (binary, cross-validated, tuned,
multi-class, regression, forecast with a backtest, panel forecast, image), a small run is
trained for real and logged as a worker does, exported with
:func:`finml.reporting.exchange.export_run`, imported with
:func:`finml.reporting.exchange.import_run`, and the import is opened on every page:
Evaluate (each tab, class views, drill-down, the cross-validation, tuning and backtest
views, the HTML report), Predict (the same predictions as the original for the same
input), Runs (selected, and compared with its original) and Train (``?run=``).

Every kind is trained once per module (one shared data folder); the pages then read it."""

from __future__ import annotations

import io
import json
import logging
import zipfile
from dataclasses import dataclass, replace

import pandas as pd
import pytest

from finml.access import LOCAL, ScopedStore
from finml.evaluation import metrics as M
from finml.store import BACKTEST_METRICS, FOLD_METRICS, RunStore
from tests.app.conftest import confusion_cells, metric_table, open_app, open_tab, shown

GERMAN = "German Credit (Statlog)"
MACRO = "US macroeconomic series (forecasting)"
PANEL = "US macroeconomic panel (forecasting per series)"
PANEL_SERIES = ["realcons", "realdpi", "realgdp", "realgovt", "realinv"]
HOUSING = ("for free", "own", "rent")
#: ``panel`` forecasts 2 steps ahead; ``panel-1step`` 1 step (the Data page's default
#: horizon, as ``tests.conftest.macro_panel_run``).
pytestmark = pytest.mark.shared_data

KINDS = [
    "binary",
    "cv",
    "tuned",
    "multiclass",
    "regression",
    "forecast",
    "panel",
    "panel-1step",
    "image",
]
FORECASTS = ("forecast", "panel", "panel-1step")
PANELS = ("panel", "panel-1step")
#: The kinds whose Evaluate opens on the binary view (threshold, confusion matrix, tabs).
BINARY_VIEW = ("binary", "cv", "tuned", "image")
CV_FOLDS, BACKTEST_FOLDS, TRIALS = 3, 2, 2
NOT_SHOWN = "The rows are not shown: this run's data is not in the workspace."


# --------------------------------------------------------------------------- data folder


class _Tracebacks(logging.Handler):
    """Keeps what the pages' error boundary logs (``pages.common.show_unexpected``), so a
    "Something went wrong" failure shows its traceback."""

    def __init__(self):
        super().__init__(logging.ERROR)
        self.setFormatter(logging.Formatter("%(message)s"))
        self.texts: list[str] = []

    def emit(self, record):
        self.texts.append(self.format(record))


@pytest.fixture(autouse=True)
def tracebacks():
    handler = _Tracebacks()
    logger = logging.getLogger("finml.pages")
    logger.addHandler(handler)
    yield handler
    logger.removeHandler(handler)


def assert_clean(at, where: str, tracebacks) -> None:
    """No exception, and no error element at all (a crash caught by the app's boundary
    shows as "Something went wrong ..."; its traceback is in the log)."""
    errors = [shown(e) for e in at.error]
    assert not at.exception and not errors, (
        f"{where}: exception={at.exception} errors={errors}\n" + "\n".join(tracebacks.texts)
    )


# --------------------------------------------------------------------------- the runs


def _german_spec(german, model="logreg", **kw):
    """A RunSpec of creditability on the staged German Credit demo (as ``german_spec``)."""
    from finml.data.staging import stage_frame
    from tests.conftest import table_spec

    spec = table_spec(german, model, **kw)
    ds = replace(spec.dataset, dataset_id=stage_frame(german), name=GERMAN, negative="good")
    return replace(spec, dataset=ds)


def _log_folds(run_id: str, forecast: bool) -> None:
    """Per-fold metrics as history steps, as the worker's ``StoreSink.on_fold`` logs them
    (``train_and_log`` uses a ListSink, which keeps them in memory only)."""
    store = RunStore()
    folds = store.read_frame(run_id, "cv/folds.parquet")
    keys = [k.removeprefix("fold_") for k in (BACKTEST_METRICS if forecast else FOLD_METRICS)]
    store.log_steps(
        run_id,
        [
            (int(row["fold"]), {f"fold_{k}": float(row[k]) for k in keys if k in folds})
            for _, row in folds.iterrows()
        ],
    )


def _log_curves(run_id: str, metric: str) -> None:
    """A few learning-curve steps, as the worker's StoreSink streams them."""
    steps = [(s, {"loss": 1.0 / s, "val_loss": 1.2 / s, metric: 0.5 + 0.1 * s}) for s in (1, 2, 3)]
    RunStore().log_steps(run_id, steps)


def _train(kind: str, german) -> str:
    """Train and log the small run of ``kind``; its id."""
    from finml.data.spec import DatasetSpec, ImageDatasetSpec
    from finml.data.split import SplitSpec
    from finml.data.staging import load_staged, stage_frame
    from finml.models.registry import resolve_params
    from finml.tasks.spec import RunSpec
    from finml.training.worker import log_shap
    from tests import hostile_images as h
    from tests.conftest import (
        forecast_demo_run,
        stage_image_folders,
        table_spec,
        train_and_log,
    )

    if kind in ("binary", "cv", "tuned"):
        spec = _german_spec(german)
        spec = replace(
            spec,
            cv_folds=CV_FOLDS if kind == "cv" else 0,
            tune_trials=TRIALS if kind == "tuned" else 0,
        )
        run_id = train_and_log(spec, f"logreg · {kind}")
        if kind == "binary":  # the worker's follow-up: SHAP values
            from finml.fitters.base import ListSink
            from finml.tasks import train_spec

            frame = load_staged(spec.dataset.dataset_id)
            result = train_spec(spec, frame, ListSink(), explain=False)
            log_shap(RunStore(), run_id, spec, frame, result)
        if kind == "cv":
            _log_folds(run_id, forecast=False)
        if kind == "tuned":  # the worker's StoreSink.on_trial: one child run per trial
            store = RunStore()
            for row in store.read_frame(run_id, "tuning/trials.parquet").to_dict("records"):
                store.log_trial(run_id, row)
        return run_id
    if kind == "multiclass":
        spec = table_spec(german, "logreg", "housing", "own", drop=("creditability",))
        ds = replace(
            spec.dataset, dataset_id=stage_frame(german), task="multiclass", classes=HOUSING
        )
        return train_and_log(replace(spec, dataset=ds), "logreg · housing")
    if kind == "regression":
        spec = table_spec(german, "ridge", "credit_amount", "", drop=("creditability",))
        ds = replace(
            spec.dataset,
            dataset_id=stage_frame(german),
            task="regression",
            name="German Credit: loan amount (regression)",
            unit="DM",  # travels with the export as a run parameter
        )
        run_id = train_and_log(replace(spec, dataset=ds), "ridge · loan amount")
        _log_curves(run_id, "val_rmse")
        return run_id
    if kind == "forecast":  # forecast_demo_run, with a 2-fold rolling-origin backtest
        from finml.data.demo import demo_frame

        ds = DatasetSpec(
            stage_frame(demo_frame(MACRO)),
            MACRO,
            "realcons",
            "",
            (),
            (),
            split=SplitSpec(0.7, 0.15, 0.15, time_col="date"),
            task="forecast",
            horizon=2,
        )
        spec = RunSpec(ds, "ridge_lags", resolve_params("ridge_lags"), cv_folds=BACKTEST_FOLDS)
        run_id = train_and_log(spec, "ridge · realcons")
        _log_folds(run_id, forecast=True)
        return run_id
    if kind in PANELS:
        return forecast_demo_run(PANEL, "value", _horizon(kind), "series")
    assert kind == "image"
    dataset_id = stage_image_folders(h.class_folders(20, 32))
    ds = ImageDatasetSpec(
        dataset_id, "discs", ("no", "yes"), "yes", 32, "L", SplitSpec(group_col="group")
    )
    params = resolve_params("small_cnn", {"epochs": 1, "width": 8})
    run_id = train_and_log(RunSpec(ds, "small_cnn", params), "cnn · discs")
    _log_curves(run_id, "val_auc")
    return run_id


def _horizon(kind: str) -> int:
    return {"forecast": 2, "panel": 2, "panel-1step": 1}[kind]


@dataclass(frozen=True)
class Pair:
    kind: str
    original: str
    imported: str
    export: bytes


@pytest.fixture(scope="module", params=KINDS)
def pair(request, module_data_dir, german) -> Pair:
    """The original run of a kind and its import (through a scoped store, as the Runs page
    imports)."""
    from finml.reporting.exchange import export_run, import_run

    original = _train(request.param, german)
    data = export_run(RunStore(), original)
    imported = import_run(data, ScopedStore(RunStore(), LOCAL), name=f"{request.param}.zip")
    return Pair(request.param, original, imported, data)


# --------------------------------------------------------------------------- expected


def _members(kind: str) -> set[str]:
    """What an export of a run of ``kind`` must carry (beyond ``run.json``, the bundle and
    the predictions)."""
    out = {"split.parquet", "split_report.json", "explain/permutation_importance.parquet"}
    if kind == "binary":
        out |= {"explain/shap_values.parquet", "explain/shap.json"}
    if kind == "cv":
        out |= {"cv/folds.parquet"}
    if kind == "tuned":
        out |= {"tuning/trials.parquet", "tuning/best_params.json"}
    if kind == "forecast":
        out |= {"cv/folds.parquet", "cv/forecasts.parquet"}
    if kind in (*FORECASTS, "image"):
        out -= {"explain/permutation_importance.parquet"}
    return out


def test_the_export_carries_every_result_and_the_import_keeps_it(pair):
    from finml.reporting.exchange import export_run, import_run

    store = RunStore()
    names = set(zipfile.ZipFile(io.BytesIO(pair.export)).namelist())
    for member in _members(pair.kind):
        assert member in names, (pair.kind, member, sorted(names))
    record = json.loads(zipfile.ZipFile(io.BytesIO(pair.export)).read("run.json"))
    assert "dataset_id" not in record["params"]

    orig, copy = store.get_run(pair.original), store.get_run(pair.imported)
    assert copy.status == "finished" and copy.has_results
    assert copy.tags.get("finml.imported") == "1" and "dataset_id" not in copy.params
    assert copy.params["task"] == orig.params["task"]
    assert copy.metrics == pytest.approx(orig.metrics)
    for member in sorted(names):
        if member.endswith(".parquet"):
            pd.testing.assert_frame_equal(
                store.read_frame(pair.imported, member), store.read_frame(pair.original, member)
            )
        elif member.endswith(".json") and member != "run.json" and "bundle/" not in member:
            assert store.read_json(pair.imported, member) == store.read_json(pair.original, member)
    pd.testing.assert_frame_equal(store.history(pair.imported), store.history(pair.original))
    keys = BACKTEST_METRICS if pair.kind == "forecast" else FOLD_METRICS
    folds = store.fold_history(pair.imported, keys)
    pd.testing.assert_frame_equal(folds, store.fold_history(pair.original, keys))
    if pair.kind in ("cv", "forecast"):
        assert folds["step"].tolist() == list(range(1, int(orig.params["cv_folds"]) + 1))

    # an import exports and imports again, to the same results
    again = import_run(
        export_run(store, pair.imported), ScopedStore(store, LOCAL), name="again.zip"
    )
    assert set(zipfile.ZipFile(io.BytesIO(export_run(store, again))).namelist()) == names
    pd.testing.assert_frame_equal(
        store.read_frame(again, "predictions/test.parquet"),
        store.read_frame(pair.original, "predictions/test.parquet"),
    )
    store.delete_run(again)


# --------------------------------------------------------------------------- Evaluate


def _tab(at, label, key="eval_tabs"):
    """The tab ``label`` of the lazy tabs under ``key``, opened (only the open one is
    drawn)."""
    open_tab(at, key, label)
    tabs = {t.label: t for t in at.tabs}
    assert label in tabs, (label, list(tabs))
    return tabs[label]


def _titles(node) -> str:
    return " ".join(c.proto.spec for c in node.get("plotly_chart"))


def _click_report(at, run_id, tracebacks, where):
    at.button(key="make_report").click().run()
    assert_clean(at, f"{where}: report", tracebacks)
    assert at.session_state["report"][0] == run_id
    assert at.session_state["report"][1].startswith(b"<!doctype html>")
    assert "Download the report (HTML)" in [b.label for b in at.get("download_button")]


def _drill_down(at, test, y, score, kind, tracebacks):
    """Every cell of the drill-down: the count, and for an import no rows (tables) or no
    gallery (images)."""
    for cell in M.CELLS:
        at.segmented_control(key="drill_cell").set_value(cell).run()
        assert_clean(at, f"drill-down {cell}", tracebacks)
        n = int(M.cell_mask(y, score, 0.5, cell).sum())
        captions = [shown(c) for c in at.caption]
        assert f"{n} test cases in {cell}, highest score first." in captions, captions
        if kind == "image":
            galleries = [
                i for i in at.get("image") if any("scans/" in str(x.caption) for x in i.proto.imgs)
            ]
            assert not galleries  # an import brought no images
        else:
            assert NOT_SHOWN in captions, captions
            rows = next(d.value for d in at.dataframe if "data row" in d.value.columns)
            assert list(rows.columns) == ["data row", "score"] and len(rows) == n
    at.segmented_control(key="drill_cell").set_value(None).run()


def _binary_evaluate(at, pair, tracebacks):
    store = RunStore()
    test = store.read_frame(pair.original, "predictions/test.parquet")
    val = store.read_frame(pair.original, "predictions/validation.parquet")
    params = store.get_run(pair.original).params
    y, score, *_ = M.binary_view_of_run(params, test, val)
    table = metric_table(at)
    expected = M.binary_metrics(y, score, 0.5)
    assert float(table.loc["ROC-AUC", "value"]) == round(expected["roc_auc"], 4)
    if pair.kind != "image":
        orig = store.get_run(pair.original).metrics["test_roc_auc"]
        assert float(table.loc["ROC-AUC", "value"]) == round(orig, 4)
    assert "–" in table.loc["ROC-AUC", "95% CI"]

    pack = "Clinical operating points" if pair.kind == "image" else "Credit pack"
    expected_tabs = ["ROC and PR", "Costs and operating points", pack]
    expected_tabs += [] if pair.kind == "image" else ["Explanations"]  # Grad-CAM: below
    expected_tabs += {"cv": ["Cross-validation"], "tuned": ["Tuning"]}.get(pair.kind, [])
    optional = ("Cross-validation", "Tuning")
    tabs = [t.label for t in at.tabs if t.label in (*expected_tabs, *optional)]
    assert tabs == expected_tabs
    roc = _tab(at, "ROC and PR")
    assert "ROC curve" in _titles(roc) and "Precision-recall" in _titles(roc)
    assert "Expected cost" in _titles(_tab(at, "Costs and operating points"))
    if pair.kind == "image":
        clinical = next(d.value for d in _tab(at, pack).dataframe)
        assert clinical["requirement"].tolist()[0] == "specificity >= 0.80"
    else:
        assert "KS plot" in _titles(_tab(at, pack))
    if pair.kind != "image":
        explain = _tab(at, "Explanations")
        assert "Permutation importance" in _titles(explain)
    if pair.kind == "binary":
        assert "SHAP summary" in _titles(explain)
        summary = next(d.value for d in explain.dataframe if "mean |SHAP|" in d.value)
        shap = store.read_frame(pair.original, "explain/shap_values.parquet")
        assert set(summary["feature"]) == set(shap.columns) - {"row"}
    if pair.kind == "cv":
        cv = _tab(at, "Cross-validation")
        folds = store.read_frame(pair.original, "cv/folds.parquet")
        assert len(folds) == CV_FOLDS
        table = cv.dataframe[0].value
        assert [c for c in table.columns if c.startswith("fold ")] == [
            f"fold {i}" for i in range(1, CV_FOLDS + 1)
        ]
        auc = table.set_index("metric").loc["ROC-AUC"]
        assert [auc[f"fold {i}"] for i in range(1, CV_FOLDS + 1)] == pytest.approx(
            folds["roc_auc"].round(4).tolist()
        )
        assert f"ROC curve of each fold ({CV_FOLDS}-fold" in _titles(cv)
        assert not cv.info  # not "the per-fold table is not stored"
    if pair.kind == "tuned":
        tuning = _tab(at, "Tuning")
        trials = store.read_frame(pair.original, "tuning/trials.parquet")
        assert len(trials) == TRIALS
        assert any(
            shown(c).startswith(f"Hyperparameter search: {TRIALS} trial(s)") for c in tuning.caption
        ), [shown(c) for c in tuning.caption]
        listed = tuning.dataframe[0].value
        assert listed["trial"].tolist() == trials["trial"].tolist()
        best = store.read_json(pair.original, "tuning/best_params.json")
        assert json.loads(tuning.json[0].value) == best
        assert not tuning.info  # not "no trial ... is stored"

    if pair.kind == "image":
        assert any("not in the workspace" in shown(i) for i in at.info)
        per_class = at.dataframe[-1].value
        assert list(per_class.index)[:2] == ["no", "yes"]
    _drill_down(at, test, y, score, pair.kind, tracebacks)
    _click_report(at, pair.imported, tracebacks, pair.kind)


def _multiclass_evaluate(at, pair, tracebacks):
    store = RunStore()
    test = store.read_frame(pair.original, "predictions/test.parquet")
    assert at.segmented_control(key="class_view").value == "All classes"
    per_class = at.dataframe[0].value
    proba = test[[f"p_{i}" for i in range(len(HOUSING))]].to_numpy()
    expected = M.per_class_metrics(test["y_true"].to_numpy(), proba, HOUSING).round(4)
    pd.testing.assert_frame_equal(per_class, expected, check_dtype=False)
    assert "One-vs-rest ROC curves" in _titles(at)
    at.segmented_control(key="class_view").set_value("One class against the rest").run()
    assert_clean(at, "multiclass: one class", tracebacks)
    for cls in HOUSING:
        at.selectbox(key="ovr_class").set_value(cls).run()
        assert_clean(at, f"multiclass: {cls} against the rest", tracebacks)
        cells, _ = confusion_cells(at)
        assert list(cells.columns) == [f"predicted not {cls}", f"predicted {cls}"]
    val = store.read_frame(pair.original, "predictions/validation.parquet")
    params = {**store.get_run(pair.original).params, "positive_class": HOUSING[-1]}
    y, score, *_ = M.binary_view_of_run(params, test, val, HOUSING[-1])
    assert float(metric_table(at).loc["ROC-AUC", "value"]) == round(
        M.binary_metrics(y, score)["roc_auc"], 4
    )
    _drill_down(at, test, y, score, pair.kind, tracebacks)
    _click_report(at, pair.imported, tracebacks, pair.kind)


def _regression_evaluate(at, pair, tracebacks):
    from finml.reporting import formats

    store = RunStore()
    orig = store.get_run(pair.original)
    table = at.dataframe[0].value.set_index("metric")
    assert table.loc["RMSE", "value"] == formats.amount(orig.metrics["test_rmse"], "DM")
    coverage = at.dataframe[1].value
    assert coverage["nominal"].tolist() == ["80%", "90%", "95%"]
    assert [t.label for t in at.tabs] == [
        "Fit",
        "Residuals",
        "Largest errors",
        "Explanations",
        "Documentation",
    ]
    assert "Predicted against actual" in _titles(_tab(at, "Fit", "regression_tabs"))
    assert "Normal QQ plot" in _titles(_tab(at, "Residuals", "regression_tabs"))
    largest = _tab(at, "Largest errors", "regression_tabs").dataframe[0].value
    test = store.read_frame(pair.original, "predictions/test.parquet")
    errors = (test["y_true"] - test["y_pred"]).abs().sort_values(ascending=False)
    assert largest["error"].abs().tolist() == pytest.approx(errors.head(len(largest)).tolist())
    assert "Permutation importance" in _titles(_tab(at, "Explanations", "regression_tabs"))
    assert "Learning curves" in _titles(at)
    _click_report(at, pair.imported, tracebacks, pair.kind)


def _forecast_evaluate(at, pair, tracebacks):
    store = RunStore()
    orig = store.get_run(pair.original)
    board = at.dataframe[0].value.set_index("forecaster")
    assert board.loc["this model", "MASE"] == pytest.approx(orig.metrics["test_mase"], abs=1e-4)
    if pair.kind in PANELS:
        entities = at.dataframe[1].value
        assert sorted(entities["entity"]) == PANEL_SERIES
        at.selectbox(key="fc_entity").set_value("realgovt").run()
        assert_clean(at, "panel: entity", tracebacks)
        assert "realgovt: actual and 1-step-ahead forecasts" in _titles(at)
    else:
        folds = next(d.value for d in at.dataframe if "fold" in d.value.columns)
        assert folds["fold"].tolist() == list(range(1, BACKTEST_FOLDS + 1))
        assert any(
            f"Rolling-origin backtest ({BACKTEST_FOLDS} folds)" in shown(s) for s in at.subheader
        )
        assert f"Backtest fold {BACKTEST_FOLDS}: actual and 1-step-ahead" in _titles(at)
        at.select_slider(key="fc_fold").set_value(1).run()
        assert_clean(at, "forecast: fold", tracebacks)
        assert "Backtest fold 1: actual and 1-step-ahead forecasts" in _titles(at)
        at.select_slider(key="fc_step").set_value(2).run()
        assert_clean(at, "forecast: step", tracebacks)
        assert "actual and 2-step-ahead forecasts" in _titles(at)
    _click_report(at, pair.imported, tracebacks, pair.kind)


def test_evaluate_opens_the_import_with_the_original_results(pair, tracebacks):
    at = open_app("evaluate", {"run": pair.imported})
    assert_clean(at, f"{pair.kind}: Evaluate", tracebacks)
    assert at.selectbox(key="eval_run").value == pair.imported
    view = {
        "multiclass": _multiclass_evaluate,
        "regression": _regression_evaluate,
        "forecast": _forecast_evaluate,
        "panel": _forecast_evaluate,
        "panel-1step": _forecast_evaluate,
    }.get(pair.kind, _binary_evaluate)
    view(at, pair, tracebacks)
    labels = [b.label for b in at.get("download_button")]
    assert "Download the split assignment (CSV)" in labels


# --------------------------------------------------------------------------- Predict


def _upload(at, kind, german):
    """Upload the same input as the analyst would for ``kind``."""
    from finml.data.demo import macro_frame, macro_panel_frame
    from tests import hostile_images as h

    if kind == "image":
        files = [
            ("yes.png", h.png(h.pattern(7, 32, bright=True)), "image/png"),
            ("no.png", h.png(h.pattern(1007, 32)), "image/png"),
        ]
        at.file_uploader(key="files").set_value(files).run()
        return
    if kind == "forecast":
        data = macro_frame().head(120).to_csv(index=False).encode()
    elif kind in PANELS:
        frame = macro_panel_frame()
        data = frame[frame["date"] < "1990-01-01"].to_csv(index=False).encode()
    elif kind == "multiclass":
        data = german.head(20).drop(columns=["housing", "creditability"]).to_csv(index=False)
        data = data.encode()
    elif kind == "regression":
        data = german.head(20).drop(columns=["credit_amount"]).to_csv(index=False).encode()
    else:
        data = german.head(20).drop(columns="creditability").to_csv(index=False).encode()
    at.file_uploader(key="rows").set_value(("rows.csv", data, "text/csv")).run()


#: The columns of the Predict table that must match between the original and the import.
PREDICTED = {
    "multiclass": ["predicted class", "probability", "p(for free)", "p(own)", "p(rent)"],
    "regression": ["prediction", "lower", "upper"],
    "forecast": ["step", "forecast", "lower", "upper"],
    "panel": ["entity", "step", "forecast", "lower", "upper"],
    "panel-1step": ["entity", "step", "forecast", "lower", "upper"],
    "image": ["file", "predicted class", "probability", "p(no)", "p(yes)"],
}


def test_predict_gives_the_same_predictions_from_the_import(pair, german, tracebacks):
    at = open_app("predict", {"run": pair.original})
    assert at.selectbox(key="predict_run").value == pair.original
    _upload(at, pair.kind, german)
    assert_clean(at, f"{pair.kind}: Predict (original)", tracebacks)
    before = at.dataframe[0].value
    at.selectbox(key="predict_run").set_value(pair.imported).run()
    assert_clean(at, f"{pair.kind}: Predict (import)", tracebacks)
    after = at.dataframe[0].value
    columns = PREDICTED.get(pair.kind, ["score", "decision", "reason_1"])
    assert len(after) == len(before) > 0
    pd.testing.assert_frame_equal(
        after[columns].reset_index(drop=True), before[columns].reset_index(drop=True)
    )
    if pair.kind in FORECASTS:
        h = _horizon(pair.kind)
        assert len(after) == h * (len(PANEL_SERIES) if pair.kind in PANELS else 1)
        assert sorted(set(after["step"])) == list(range(1, h + 1))
    if pair.kind in PANELS:
        assert sorted(set(after["entity"])) == PANEL_SERIES
        at.selectbox(key="predict_entity").set_value("realinv").run()
        assert_clean(at, "panel: Predict entity", tracebacks)
        assert f"value (realinv): history and the next {h} period(s)" in _titles(at)
    if pair.kind not in (*FORECASTS, "image"):
        assert at.dataframe[1].value["variable"].iloc[0] == "score"  # PSI from the bundle


# --------------------------------------------------------------------------- Runs


def test_runs_selects_the_import_and_compares_it_with_its_original(pair, tracebacks):
    at = open_app("runs")
    assert_clean(at, f"{pair.kind}: Runs", tracebacks)
    board = at.dataframe[0].value.set_index("run id")
    assert board.loc[pair.imported, "status"] == "finished"
    shared = [c for c in board.columns if c.startswith(("test ", "CV ")) and c != "test accuracy"]
    pd.testing.assert_series_equal(
        board.loc[pair.imported, shared], board.loc[pair.original, shared], check_names=False
    )
    assert board.loc[pair.imported, "ranked on"] == board.loc[pair.original, "ranked on"]
    at.selectbox(key="run").set_value(pair.imported).run()
    assert_clean(at, f"{pair.kind}: Runs, the import selected", tracebacks)
    keys = {b.key for b in at.button}
    assert {"open_eval", "export"} <= keys
    at.button(key="export").click().run()
    assert_clean(at, f"{pair.kind}: Runs, export of the import", tracebacks)
    assert at.session_state["export_file"][0] == pair.imported

    at.multiselect(key="compare").set_value([pair.original, pair.imported]).run()
    assert_clean(at, f"{pair.kind}: Runs, compare", tracebacks)
    if pair.kind in ("regression", *FORECASTS):
        table = at.dataframe[1].value
        numbers = [c for c in table.columns if c not in ("run", "model")]
        assert table[numbers].iloc[0].tolist() == table[numbers].iloc[1].tolist()
        assert "(imported)" in table["run"].iloc[1]
    else:
        titles = _titles(at)
        assert "ROC curves (test split)" in titles
        delong = next(d.value for d in at.dataframe if "p-value" in d.value)
        assert len(delong) == 1 and "(imported)" in delong["run"].iloc[0]
    at.button(key="open_eval").click().run()
    assert_clean(at, f"{pair.kind}: Runs -> Evaluate", tracebacks)
    assert at.session_state["eval_run"] == pair.imported


def test_the_runs_page_imports_the_export_file(pair, tracebacks):
    store = RunStore()
    before = {r.run_id for r in store.list_runs()}
    at = open_app("runs")
    at.file_uploader(key="import").set_value((f"{pair.kind}.zip", pair.export, "application/zip"))
    at.run()
    at.button(key="do_import").click().run()
    assert_clean(at, f"{pair.kind}: Runs, import", tracebacks)
    new = {r.run_id for r in store.list_runs()} - before
    assert len(new) == 1, new
    (copy,) = new
    assert any(shown(s) == f"Imported as run {copy[:8]}." for s in at.success)
    pd.testing.assert_frame_equal(
        store.read_frame(copy, "predictions/test.parquet"),
        store.read_frame(pair.original, "predictions/test.parquet"),
    )
    store.delete_run(copy)


# --------------------------------------------------------------------------- Train


def test_train_shows_the_import_from_its_link(pair, tracebacks):
    from finml.reporting.runs import headline_tiles

    at = open_app("train", {"run": pair.imported})
    assert_clean(at, f"{pair.kind}: Train", tracebacks)
    store = RunStore()
    copy = store.get_run(pair.imported)
    assert any(shown(s).startswith("Run ") and "(imported)" in shown(s) for s in at.subheader)
    tiles = [(m.label, m.value) for m in at.metric]
    expected = headline_tiles(copy)
    assert tiles[-len(expected) :] == expected
    assert expected == headline_tiles(store.get_run(pair.original))
    if pair.kind in ("cv", "forecast"):
        k = CV_FOLDS if pair.kind == "cv" else BACKTEST_FOLDS
        folds = next(d.value for d in at.dataframe if "fold" in d.value.columns)
        assert folds["fold"].tolist() == list(range(1, k + 1))
    if pair.kind in ("regression", "image"):
        assert "Learning curves" in _titles(at)
    (link,) = [p.proto for p in at.get("page_link") if p.proto.label == "Open in Evaluate"]
    assert link.page == "evaluate" and link.query_string == f"run={pair.imported}"
    at.query_params["run"] = pair.imported  # the link, followed in the same session
    at.switch_page("pages/evaluate.py").run()
    assert_clean(at, f"{pair.kind}: Train -> Evaluate", tracebacks)
    assert at.session_state["eval_run"] == pair.imported


@pytest.mark.parametrize("pair", ["tuned"], indirect=True)
def test_train_shows_the_search_of_a_tuned_import_as_its_original(pair, tracebacks):
    """The Train page of the tuned original lists its trials (the worker logs each as a
    child run); the import carries the same trials in tuning/trials.parquet and must show
    them too."""

    def search(run_id):
        at = open_app("train", {"run": run_id})
        assert_clean(at, f"Train {run_id}", tracebacks)
        captions = [shown(c) for c in at.caption if "Hyperparameter search" in shown(c)]
        trials = [d.value for d in at.dataframe if "state" in d.value.columns]
        return captions, [t["trial"].tolist() for t in trials]

    original = search(pair.original)
    assert original == (
        [
            f"Hyperparameter search: {TRIALS} trial(s), {TRIALS} complete, 0 "
            "pruned (validation ROC-AUC)."
        ],
        [list(range(TRIALS))],
    )
    assert search(pair.imported) == original
