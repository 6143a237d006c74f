"""AppTest of the regression path: the Data page's task choice and bad targets, the Train
page's regressors, Evaluate's regression view and report, Predict with intervals, Runs."""

from __future__ import annotations

import base64
import json
import re

import numpy as np
import pytest
from streamlit.proto.Metric_pb2 import Metric

from finml.store import RunStore
from tests.app.conftest import chart_titles, open_app, open_demo, open_tab, shown
from tests.badfiles import BAD_REGRESSION_FILES

DEMO = "German Credit: loan amount (regression)"


def _values(array) -> np.ndarray:
    """An array of a plotly chart's JSON: a list, or plotly's typed array (``dtype``,
    base64 ``bdata``)."""
    if isinstance(array, dict):
        return np.frombuffer(base64.b64decode(array["bdata"]), dtype=array["dtype"])
    return np.asarray(array, dtype=float)


def test_the_regression_demo_opens_as_a_regression_and_can_be_used():
    at = open_demo(DEMO, "regression")
    assert at.selectbox(key="target").value == "credit_amount"
    report = at.table[0].value
    assert {"target mean", "target sd"} <= set(report.columns)
    at.toggle(key="stratify").set_value(False).run()
    assert at.table[0].value["target mean"].tolist() != report["target mean"].tolist()
    assert at.text_input(key="target_unit").value == "DM"  # the demo's own unit
    at.button(key="use_dataset").click().run()
    assert at.session_state["dataset"].split.stratify is False
    ds = at.session_state["dataset"]
    assert (ds.task, ds.target, ds.positive, ds.unit) == ("regression", "credit_amount", "", "DM")
    assert any("(regression, in DM)" in shown(s) for s in at.success)
    assert "creditability" not in (*ds.numeric, *ds.categorical)  # left out: a leak
    # switching back to the classification demo guesses its task again
    at.selectbox[0].set_value("German Credit (Statlog)").run()
    assert at.radio(key="task_kind").value == "binary"
    assert at.selectbox(key="target").value == "creditability"


@pytest.mark.parametrize(
    ("typed", "phrase"),
    [
        ("DM ✓", "contains '✓'"),
        ("<b>DM</b>", "contains '<', '>'"),
        ("[DM](http://x)", "contains '(', ')', ':', '[', ']'"),
    ],
)
def test_a_bad_unit_says_what_to_type_and_an_upload_forgets_the_demo_s(typed, phrase):
    at = open_demo(DEMO, "regression")
    at.text_input(key="target_unit").input(typed).run()
    assert not at.exception, at.exception
    assert len(at.error) == 1 and phrase in shown(at.error[0]), [shown(e) for e in at.error]
    assert not [b for b in at.button if b.key == "use_dataset"]
    at.text_input(key="target_unit").input(" EUR ").run()
    assert not at.error
    at.button(key="use_dataset").click().run()
    assert at.session_state["dataset"].unit == "EUR"
    # a new table forgets the unit of the old one
    at.radio(key="source").set_value("Upload a file").run()
    csv = b"amount,x\n" + b"".join(f"{i * 7 % 50},{i}\n".encode() for i in range(120))
    at.file_uploader[0].set_value(("loans.csv", csv, "text/csv")).run()
    at.selectbox(key="target").set_value("amount").run()
    at.radio(key="task_kind").set_value("regression").run()
    assert at.text_input(key="target_unit").value == ""


@pytest.mark.parametrize("case", sorted(BAD_REGRESSION_FILES))
def test_a_bad_regression_target_shows_its_message(case):
    filename, content, phrase = BAD_REGRESSION_FILES[case]
    at = open_app()
    at.radio(key="source").set_value("Upload a file").run()
    at.file_uploader[0].set_value((filename, content, "text/csv")).run()
    at.selectbox(key="target").set_value("amount").run()
    at.radio(key="task_kind").set_value("regression").run()
    assert not at.exception, at.exception
    assert len(at.error) == 1 and phrase in shown(at.error[0])
    assert not [b for b in at.button if b.key == "use_dataset"]


def test_train_offers_the_regressors_cv_and_tuning_but_no_class_weights(loan_amount_spec):
    at = open_app("train")
    at.session_state["dataset"] = loan_amount_spec.dataset
    at.run()
    assert at.selectbox(key="model").options == [
        "Ridge regression (scikit-learn)",
        "Histogram gradient boosting regressor (scikit-learn)",
        "Keras MLP regressor (deep learning)",
    ]
    toggles = {t.key: t for t in at.toggle}
    assert "class_weights" not in toggles and {"use_cv", "tune"} <= set(toggles)
    assert "k-fold cross-validation (stratified" in toggles["use_cv"].label
    assert "validation split's RMSE" in toggles["tune"].help


def test_evaluate_predict_and_runs_read_a_regression_run(loan_amount_run, german):
    at = open_app("evaluate")
    assert not at.exception, at.exception
    metrics = at.dataframe[0].value.set_index("metric")
    run = RunStore().get_run(loan_amount_run)
    # one format per kind: amounts with thousands separators and the unit (DM, the
    # demo's), metrics to 3 decimals
    amount = r"\d{1,3}(,\d{3})*"
    assert run.params["unit"] == "DM"
    assert metrics.loc["RMSE", "value"] == f"{run.metrics['test_rmse']:,.0f} DM"
    assert re.fullmatch(f"{amount} – {amount} DM", metrics.loc["RMSE", "95% CI"])
    assert re.fullmatch(f"{amount} DM²", metrics.loc["MSE", "value"])  # not 3.017e+06
    assert (
        re.fullmatch(r"0\.\d{3}", metrics.loc["R²", "value"])
        and float(metrics.loc["R²", "value"]) > 0.3
    )
    # RMSE below the mean baseline's: a negative delta, in green (lower is better)
    tile = next(m for m in at.metric if m.label == "RMSE")
    assert tile.value == metrics.loc["RMSE", "value"] and tile.delta.startswith("-")
    assert re.fullmatch(f"-{amount} DM vs mean", tile.delta) and tile.proto.color == Metric.GREEN
    # the interval table has a heading and percentages
    assert any("Prediction intervals" in shown(s) for s in at.subheader)
    coverage = at.dataframe[1].value
    assert coverage["nominal"].tolist() == ["80%", "90%", "95%"]
    covered = coverage["covered (test)"].str.rstrip("%").astype(float)
    assert covered.between(70, 100).all()
    for title in ("Predicted against actual", "Residuals against predicted"):
        assert title in chart_titles(at)  # the first tab, open on arrival
    # the 90% error bars stop at 0, as Predict's intervals do (loan amounts are >= 0)
    fit = next(
        json.loads(c.proto.spec) for c in at.get("plotly_chart") if "against actual" in c.proto.spec
    )
    bars = fit["data"][0]["error_y"]
    pred = _values(fit["data"][0]["y"])
    lower = pred - _values(bars["arrayminus"])
    assert lower[pred >= 0].min() == pytest.approx(0.0, abs=1e-6)  # some reach 0, none below
    assert (lower[pred >= 0] >= -1e-6).all() and (lower[pred < 0] == pred[pred < 0]).all()
    assert _values(bars["array"]).max() > _values(bars["arrayminus"]).min()  # clipped below
    assert any("clipped at 0" in shown(c) for c in at.caption)
    assert "Normal QQ plot" not in chart_titles(at)  # drawn when its tab is opened
    open_tab(at, "regression_tabs", "Residuals")
    for title in ("Normal QQ plot", "Error by decile"):
        assert title in chart_titles(at)
    open_tab(at, "regression_tabs", "Largest errors")
    largest = next(d.value for d in at.dataframe if "error" in d.value)
    assert "duration_in_month" in largest and largest["error"].abs().is_monotonic_decreasing
    at.button(key="make_report").click().run()
    page = at.session_state["report"][1].decode()
    assert "Prediction intervals" in page and "Mean baseline" in page

    # Predict: values with intervals
    at = open_app("predict")
    rows = german.head(20).drop(columns="credit_amount").to_csv(index=False).encode()
    at.file_uploader(key="rows").set_value(("loans.csv", rows, "text/csv")).run()
    assert not at.exception, at.exception
    out = at.dataframe[0].value
    assert len(out) == 20 and (out["lower"] <= out["prediction"]).all()
    assert (out["prediction"] < out["upper"]).all()
    # loan amounts are never negative: the lower bounds stop at 0, and the caption says so
    half = RunStore().read_json(loan_amount_run, "intervals.json")["0.9"]
    assert (out["lower"] >= 0).all() and ((out["prediction"] - half) < 0).any()
    assert (out["lower"] == 0).sum() == ((out["prediction"] - half) < 0).sum()
    assert any("interval" in shown(s) for s in at.subheader)
    assert any("clipped at 0" in shown(c) for c in at.caption)
    assert (out["prediction"] == out["prediction"].round()).all()  # whole units shown
    at.select_slider(key="interval_level").set_value("0.95").run()
    wider = at.dataframe[0].value
    assert ((wider["upper"] - wider["lower"]) > (out["upper"] - out["lower"])).all()
    # 20 rows: too few to judge drift, whatever the PSI
    stability = at.dataframe[1].value
    assert stability["variable"].iloc[0] == "score" and "p-value" in stability
    assert set(stability["band"]) == {"too few rows to judge drift"}
    assert any("too few to judge drift" in shown(i) for i in at.info)

    # Runs: ranked on test RMSE (the regression task's headline)
    at = open_app("runs")
    assert not at.exception, at.exception
    board = at.dataframe[0].value
    row = board.iloc[0]
    assert row["ranked on"] == "test RMSE (lower is better)" and row["rank"] == 1
    assert row["test R²"] > 0.3


def test_a_regression_run_from_the_form_trains_in_a_worker_live(loan_amount_spec, reap):
    from tests.conftest import wait_for

    at = open_app("train")
    at.session_state["dataset"] = loan_amount_spec.dataset
    at.run()
    at.selectbox(key="model").set_value("hgb_reg").run()
    at.number_input(key="hgb_reg.max_iter").set_value(60)
    at.button(key="start").click().run()
    run_id = at.session_state["active_run"]
    store = RunStore()
    assert wait_for(lambda: store.get_run(run_id).status == "finished", timeout=120)
    history = store.history(run_id)
    assert history["step"].max() == 60 and history["val_rmse"].notna().sum() == 20
    assert set(store.read_json(run_id, "intervals.json")) == {"0.8", "0.9", "0.95"}
    at.run()
    assert [m.label for m in at.metric] == ["Test RMSE", "MAE", "R²"]
    rmse, _, r2 = (m.value for m in at.metric)
    # the Train tiles: the target's unit after its amounts, R² to 3 decimals
    assert re.fullmatch(r"\d{1,3}(,\d{3})* DM", rmse) and re.fullmatch(r"-?\d\.\d{3}", r2)
    wait_for(lambda: not store.get_run(run_id).followup)
    assert len(store.read_frame(run_id, "explain/permutation_importance.parquet"))


def test_a_regression_run_exports_and_imports_with_its_intervals(loan_amount_run):
    from finml.reporting.exchange import export_run, import_run

    store = RunStore()
    data = export_run(store, loan_amount_run)
    copy = import_run(data, store, "loan.zip", "local")
    run = store.get_run(copy)
    assert run.params["task"] == "regression" and run.has_results
    assert store.read_json(copy, "intervals.json") == store.read_json(
        loan_amount_run, "intervals.json"
    )
    at = open_app("evaluate", {"run": copy})
    assert not at.exception, at.exception
    assert at.dataframe[1].value["nominal"].tolist() == ["80%", "90%", "95%"]


def test_runs_compares_regression_runs_and_refuses_mixed_tasks(loan_amount_run, finished_run):
    from dataclasses import replace

    from tests.conftest import train_and_log

    store = RunStore()
    spec = _loan_spec(loan_amount_run)
    second = train_and_log(replace(spec, model="hgb_reg", params=_hgb()), "hgb · loan amount")
    at = open_app("runs")
    at.multiselect(key="compare").set_value([loan_amount_run, second]).run()
    assert not at.exception, at.exception
    table = at.dataframe[1].value
    assert set(table["model"]) == {"ridge", "hgb_reg"} and "test R²" in table
    assert table["test RMSE"].tolist() == [
        round(store.get_run(r).metrics["test_rmse"], 4) for r in (loan_amount_run, second)
    ]
    at.multiselect(key="compare").set_value([loan_amount_run, finished_run]).run()
    assert not at.exception, at.exception
    assert "different tasks" in shown(at.info[0])


def _loan_spec(run_id):
    import json

    from finml.tasks.spec import RunSpec

    return RunSpec.from_json(json.dumps(RunStore().read_json(run_id, "spec.json")))


def _hgb():
    from finml.models.registry import resolve_params

    return resolve_params("hgb_reg", {"max_iter": 40})
