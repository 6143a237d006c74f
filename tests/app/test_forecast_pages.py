"""AppTest of the forecasting path: the macro demo on the Data page, bad series, the
forecasters on Train, Evaluate's baselines leaderboard and chart, Predict extending a
history, a worker run from the form, and export/import."""

from __future__ import annotations

import json
import re

import pytest

from finml.data.demo import macro_frame
from finml.models.registry import LOG_CHOSEN, SEASONAL_CHOSEN
from finml.store import RunStore
from tests.app.conftest import open_app, open_demo, shown

DEMO = "US macroeconomic series (forecasting)"


def test_the_macro_demo_opens_as_a_forecast_and_can_be_used():
    at = open_demo(DEMO, "forecast")
    assert at.selectbox(key="target").value == "realcons"
    assert at.selectbox(key="series_date").value == "date"
    report = at.table[0].value
    assert list(report.index) == ["train", "validation", "test"]
    assert report.loc["test", "to"] == "2009 Q3"  # the period, not "2009-07-01 00:00:00"
    at.button(key="use_dataset").click().run()
    ds = at.session_state["dataset"]
    assert (ds.task, ds.target, ds.horizon, ds.split.time_col) == (
        "forecast",
        "realcons",
        1,
        "date",
    )
    assert any("1 step(s) ahead" in shown(s) for s in at.success)


@pytest.mark.parametrize("demo", [DEMO, "US macroeconomic panel (forecasting per series)"])
def test_a_forecast_demo_speaks_of_periods_not_pandas_codes_or_out_of_time_splits(demo):
    at = open_demo(demo, "forecast")
    warnings = " ".join(shown(w) for w in at.warning)
    assert "pick one for an out-of-time split" not in warnings
    assert "Forecasting reads one as the time axis" in warnings
    captions = " ".join(shown(c) for c in at.caption)
    assert "203 periods, quarterly (starting January), a season of 4 periods." in captions
    assert "QS-JAN" not in captions and "frequency" not in captions
    report = at.table[0].value
    assert report.loc["train", "from"] == "1959 Q1"


def test_train_describes_a_forecast_by_horizon_and_lags_not_features(macro_forecast_run):
    at = open_app("train")
    at.session_state["dataset"] = _spec(macro_forecast_run).dataset
    at.run()
    assert not at.exception, at.exception
    header = shown(at.caption[0])
    assert "0 features" not in header
    assert "series 'realcons', forecast 2 step(s) ahead from its own past changes" in header
    assert "the lags below" in header and "in time order" in header


@pytest.mark.parametrize(
    ("horizon", "phrase"),
    [(0, "horizon must be 1 step or more"), (40, "longer than the test window (30 of 203")],
)
def test_a_bad_horizon_is_refused(horizon, phrase):
    at = open_app()
    at.selectbox[0].set_value(DEMO).run()
    at.number_input(key="series_horizon").set_value(horizon).run()
    assert not at.exception, at.exception
    assert phrase in shown(at.error[0])
    assert not [b for b in at.button if b.key == "use_dataset"]


def upload_as_forecast(frame, target: str):
    """The Data page with ``frame`` uploaded as a CSV, ``target`` chosen, task forecast."""
    at = open_app()
    at.radio(key="source").set_value("Upload a file").run()
    data = frame.to_csv(index=False).encode()
    at.file_uploader[0].set_value(("data.csv", data, "text/csv")).run()
    at.selectbox(key="target").set_value(target).run()
    at.radio(key="task_kind").set_value("forecast").run()
    return at


def test_an_irregular_series_names_its_missing_periods():
    at = upload_as_forecast(macro_frame().drop(index=[50, 51]), "realcons")
    assert not at.exception, at.exception
    assert "2 period(s) are missing (1971-07-01, 1971-10-01)" in shown(at.error[0])


def _spec(run_id):
    from finml.tasks.spec import RunSpec

    return RunSpec.from_json(json.dumps(RunStore().read_json(run_id, "spec.json")))


def test_evaluate_compares_the_model_with_the_baselines(macro_forecast_run):
    at = open_app("evaluate")
    assert not at.exception, at.exception
    board = at.dataframe[0].value
    assert set(board["forecaster"]) == {
        "this model",
        "naive (last value)",
        "seasonal naive",
        "AutoETS (form by AICc)",
        "Theta",
    }
    # ranked on the validation origins, never the test ones
    assert board.columns[1] == "Validation MASE (seasonal scale)"
    assert board["Validation MASE (seasonal scale)"].is_monotonic_increasing
    assert "MASE 95% CI" in board and "MASE (seasonal scale)" in board
    # sMAPE (M4's other measure) by hand for the model: 200 |y - f| / (|y| + |f|)
    test = RunStore().read_frame(macro_forecast_run, "predictions/test.parquet")
    err, size = (test["y_true"] - test["y_pred"]).abs(), test["y_true"].abs() + test["y_pred"].abs()
    by_hand = float((200 * err / size).mean())
    row = board.set_index("forecaster").loc["this model"]
    assert row["sMAPE (%)"] == pytest.approx(by_hand, abs=5e-5)  # shown to 4 decimals
    steps = at.dataframe[1].value
    assert steps["step"].tolist() == [1, 2] and "covered (test)" in steps
    assert {"MAE", "RMSE"} <= set(steps.columns) and "mae" not in steps
    titles = " ".join(c.proto.spec for c in at.get("plotly_chart"))
    assert "1-step-ahead forecasts" in titles and "prediction interval" in titles
    at.select_slider(key="fc_step").set_value(2).run()
    titles = " ".join(c.proto.spec for c in at.get("plotly_chart"))
    assert "2-step-ahead forecasts" in titles
    at.button(key="make_report").click().run()
    page = at.session_state["report"][1].decode()
    assert "The model against the baselines" in page and "AutoETS (form by AICc)" in page
    assert page.count("step-ahead forecasts") >= 2
    # the report's tables speak as the page does: field words and periods, not pandas'
    assert ">MAE<" in page and ">mae<" not in page and ">covered (test)<" in page
    tables = " ".join(re.findall(r"<table.*?</table>", page, re.S))
    assert re.search(r"\b\d{4} Q[1-4]\b", tables) and not re.search(r"\d{4}-\d\d-\d\d", tables)


def test_predict_extends_an_uploaded_history(macro_forecast_run):
    at = open_app("predict")
    history = macro_frame().head(120).to_csv(index=False).encode()
    at.file_uploader(key="rows").set_value(("history.csv", history, "text/csv")).run()
    assert not at.exception, at.exception
    out = at.dataframe[0].value
    assert len(out) == 2 and out["step"].tolist() == [1, 2]
    assert out["period"].tolist() == ["1989 Q1", "1989 Q2"]  # the quarters after the history
    assert "y_pred" not in out
    assert (out["lower"] < out["forecast"]).all() and (out["forecast"] < out["upper"]).all()
    # 30 years of history: the chart opens on the last 5 (20 quarters) and the forecast,
    # with a range slider to reach the rest, its y axis fitted to that window
    layout = json.loads(at.get("plotly_chart")[0].proto.spec)["layout"]
    start, end = layout["xaxis"]["range"]
    assert start[:10] == "1984-01-01" and end[:10] >= "1989-04-01"
    assert layout["xaxis"]["rangeslider"]["visible"] is True
    recent = macro_frame().head(120).tail(20)["realcons"]
    low, high = layout["yaxis"]["range"]
    assert low < recent.min() and high > max(recent.max(), out["upper"].max())
    assert high - low < (recent.max() - macro_frame()["realcons"].head(120).min()) / 2
    assert any("opens on the last 20 periods" in shown(c) for c in at.caption)


def test_train_offers_the_forecasters_and_a_worker_run_finishes(macro_forecast_run, reap):
    """Ridge from the form with the Box-Cox transform and a 2-fold backtest, in a worker."""
    from tests.conftest import wait_for

    at = open_app("train")
    at.session_state["dataset"] = _spec(macro_forecast_run).dataset
    at.run()
    assert len(at.selectbox(key="model").options) == 7
    assert at.selectbox(key="model").value == "auto"  # the default forecaster
    at.selectbox(key="model").set_value("ridge_lags").run()
    assert at.checkbox(key="ridge_lags.boxcox").value is False  # asked for, not default
    at.checkbox(key="ridge_lags.boxcox").check()
    at.toggle(key="use_cv").set_value(True)
    at.number_input(key="cv_k").set_value(2)
    at.button(key="start").click().run()
    run_id = at.session_state["active_run"]
    store = RunStore()
    assert wait_for(lambda: store.get_run(run_id).status == "finished", timeout=120)
    at.run()
    labels = [m.label for m in at.metric]
    assert labels == [
        "2-fold backtest MASE (mean ± sd)",
        "MASE (seasonal scale)",  # the M4 convention's scale leads
        "Seasonal naive MASE",
        "AutoETS MASE",
        "MASE (one-step scale)",
    ]
    assert len(store.read_json(run_id, "intervals.json")["0.9"]) == 2
    board = open_app("runs").dataframe[0].value
    assert board["ranked on"].iloc[0] == "2-fold backtest MASE (lower is better)"
    evaluate = open_app("evaluate", {"run": run_id})
    folds = evaluate.dataframe[1].value
    assert folds["fold"].tolist() == [1, 2] and {"MASE", "naive MASE"} <= set(folds.columns)
    assert all(len(p) == 7 and p[4:6] == " Q" for p in folds["from"])  # "1990 Q2"
    titles = " ".join(c.proto.spec for c in evaluate.get("plotly_chart"))
    assert "Backtest fold 2: actual and 1-step-ahead forecasts" in titles
    # the form's Box-Cox reached the model: Evaluate says the lambda it fitted
    (lam,) = store.read_json(run_id, "boxcox.json")["lambda"].values()
    assert 0 <= lam <= 1 and store.get_run(run_id).params["hp.boxcox"] == "True"
    said = f"Box-Cox transform of the series, lambda = {lam:.3f}"
    assert any(said in shown(c) for c in evaluate.caption)
    # an export and import keeps it (rebuilt from the checked bundle)
    from finml.reporting.exchange import export_run, import_run

    copy = import_run(export_run(store, run_id), store, "fc.zip", "local")
    assert store.read_json(copy, "boxcox.json") == store.read_json(run_id, "boxcox.json")


def test_auto_from_the_form_shows_its_choice_and_predicts(macro_forecast_run, reap):
    from tests.conftest import wait_for

    at = open_app("train")
    at.session_state["dataset"] = _spec(macro_forecast_run).dataset
    at.run()
    assert at.selectbox(key="model").value == "auto"
    assert at.checkbox(key="auto.arima").value is False  # AutoARIMA: asked for, not default
    assert at.selectbox(key="auto.log").value == LOG_CHOSEN
    at.checkbox(key="auto.arima").check()
    assert at.selectbox(key="auto.seasonal_difference").value == "no"  # asked for, not default
    at.selectbox(key="auto.seasonal_difference").set_value(SEASONAL_CHOSEN)
    at.button(key="start").click().run()
    run_id = at.session_state["active_run"]
    store = RunStore()
    assert wait_for(lambda: store.get_run(run_id).status == "finished", timeout=120)
    assert store.get_run(run_id).params["hp.arima"] in ("True", True)
    choice = store.read_json(run_id, "forecast_choice.json")
    evaluate = open_app("evaluate", {"run": run_id})
    assert not evaluate.exception, evaluate.exception
    assert any("Auto's choice" in h.value for h in evaluate.subheader)
    table = evaluate.dataframe[0].value
    assert table["chosen"].tolist().count("✓") == 1
    ticked = table.loc[table["chosen"] == "✓", "candidate"].iloc[0]
    words = {"model": "ridge on lags", "ets": "AutoETS", "theta": "Theta", "arima": "AutoARIMA"}
    assert ticked == " + ".join(words[m] for m in choice["chosen"])
    assert any("AutoARIMA" in c for c in table["candidate"])
    # AutoARIMA on the leaderboard beside the other baselines
    shown_tables = " ".join(d.value.to_string() for d in evaluate.dataframe)
    assert "AutoARIMA (orders by AICc)" in shown_tables and "Theta" in shown_tables
    assert any("took no part in the choice" in shown(c) for c in evaluate.caption)
    log = choice["log"]  # the ridge on the series or on its log, as validation said
    way = "the log of the series" if log["chosen"] else "the series itself"
    said = f"{log['validation_mase']['log']:.3f} log and"
    assert any(way in shown(c) and said in shown(c) for c in evaluate.caption)
    metrics = store.get_run(run_id).metrics  # AutoETS's own intervals beside the conformal
    own = metrics["test_ets_coverage_90"]
    said = f"AutoETS's own, from its model's forecast distribution, {own:.1%}"
    assert any(said in shown(c) for c in evaluate.caption)
    rec = choice["recursive"]  # two steps ahead: direct or recursive, as validation said
    said = f"{rec['validation_mase']['direct']:.3f} direct (standard error"
    assert any(said in shown(c) for c in evaluate.caption)
    made = choice["seasonal_difference"]  # asked for: decided on validation too
    said = f"{made['validation_mase']['changes']:.3f} changes (standard error"
    assert any(said in shown(c) for c in evaluate.caption)
    # Runs ranks forecasts on the validation origins' MASE, never the test one
    board = open_app("runs").dataframe[0].value
    assert set(board["ranked on"]) == {"validation MASE (lower is better)"}
    ranked = [store.get_run(r).metrics["validation_mase"] for r in (run_id, macro_forecast_run)]
    assert sorted(board["MASE"].round(6)) == sorted(round(v, 6) for v in ranked)
    assert (
        store.get_run(run_id).metrics["validation_mase"]
        != store.get_run(run_id).metrics["test_mase"]
    )
    predict = open_app("predict", {"run": run_id})
    history = macro_frame().head(120).to_csv(index=False).encode()
    predict.file_uploader(key="rows").set_value(("history.csv", history, "text/csv")).run()
    assert not predict.exception, predict.exception
    out = predict.dataframe[0].value
    assert len(out) == 2 and (out["lower"] < out["forecast"]).all()


def test_a_forecast_run_exports_and_imports(macro_forecast_run):
    from finml.reporting.exchange import export_run, import_run

    store = RunStore()
    copy = import_run(export_run(store, macro_forecast_run), store, "fc.zip", "local")
    assert store.get_run(copy).params["task"] == "forecast"
    assert store.read_json(copy, "intervals.json") == store.read_json(
        macro_forecast_run, "intervals.json"
    )


PANEL = "US macroeconomic panel (forecasting per series)"


def test_the_panel_demo_opens_with_its_entity_column():
    at = open_demo(PANEL, "forecast")
    assert at.selectbox(key="series_entity").value == "series"
    assert any("5 entities × 203 periods" in shown(c) for c in at.caption)
    at.selectbox(key="series_entity_shown").set_value("realinv").run()
    titles = " ".join(c.proto.spec for c in at.get("plotly_chart"))
    assert "value over time" in titles
    at.button(key="use_dataset").click().run()
    ds = at.session_state["dataset"]
    assert (ds.entity_col, ds.exog, ds.target) == ("series", (), "value")
    assert any("for each 'series'" in shown(s) for s in at.success)


def test_an_unbalanced_panel_names_the_entity_and_its_missing_dates():
    from finml.data.demo import macro_panel_frame

    frame = macro_panel_frame()
    frame = frame.drop(index=frame.index[(frame["series"] == "realinv")][[10, 11]])
    at = upload_as_forecast(frame, "value")
    at.selectbox(key="series_entity").set_value("series").run()
    assert not at.exception, at.exception
    message = shown(at.error[0])
    assert "Entity 'realinv'" in message and "(1961-07-01, 1961-10-01)" in message


def test_evaluate_and_predict_show_a_panel_entity_by_entity(macro_panel_run):
    from finml.data.demo import macro_panel_frame

    at = open_app("evaluate")
    assert not at.exception, at.exception
    entities = at.dataframe[1].value
    assert sorted(entities["entity"]) == sorted(
        ["realgdp", "realcons", "realinv", "realgovt", "realdpi"]
    )
    assert (entities["MASE"] < entities["naive MASE"]).all()
    assert not [s for s in at.select_slider if s.key == "fc_step"]  # 1 step ahead: no choice
    at.selectbox(key="fc_entity").set_value("realgovt").run()
    titles = " ".join(c.proto.spec for c in at.get("plotly_chart"))
    assert "realgovt: actual and 1-step-ahead forecasts" in titles
    at.button(key="make_report").click().run()
    page = at.session_state["report"][1].decode()
    assert "By entity" in page and "A panel of 5 series" in page

    predict = open_app("predict")
    history = macro_panel_frame()
    history = history[history["date"] < "1990-01-01"].to_csv(index=False).encode()
    predict.file_uploader(key="rows").set_value(("h.csv", history, "text/csv")).run()
    assert not predict.exception, predict.exception
    out = predict.dataframe[0].value
    assert len(out) == 5 and set(out["entity"]) >= {"realgdp", "realinv"}
    predict.selectbox(key="predict_entity").set_value("realinv").run()
    titles = " ".join(c.proto.spec for c in predict.get("plotly_chart"))
    assert "value (realinv): history and the next 1 period(s)" in titles


def test_a_panel_run_exports_and_imports_with_its_entities(macro_panel_run):
    from finml.models.bundle import load_run_bundle
    from finml.reporting.exchange import export_run, import_run

    store = RunStore()
    copy = import_run(export_run(store, macro_panel_run), store, "panel.zip", "local")
    test = store.read_frame(copy, "predictions/test.parquet")
    assert test["entity"].nunique() == 5 and (test["scale"] > 0).all()
    model = load_run_bundle(store, copy)
    assert model.entities == load_run_bundle(store, macro_panel_run).entities
