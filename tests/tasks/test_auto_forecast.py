"""Auto, the forecaster that combines ridge, AutoETS and Theta, trained for real on a
public monthly series (euro-area electrical equipment orders, inside the statsmodels
wheel): its choice is made on the validation origins only, its forecast is the mean of the
chosen members, Predict's path gives the evaluated forecasts, it beats the naive
baselines, and its bundle keeps the members and refuses forged ones."""

from __future__ import annotations

import copy
import json
import shutil
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from finml.data.series import SeriesSpec, chronological_split, load_series, naive_scales
from finml.errors import BundleError
from finml.evaluation.forecast import VALIDATION_MASE, leaderboard
from finml.fitters.base import Sink
from finml.models.bundle import load_bundle, save_bundle
from finml.models.registry import resolve_params
from finml.tasks.forecast import (
    CHOICE_BLOCKS,
    choice_blocks,
    choose_members,
    mean_error,
    pooled,
    run_forecast,
)
from tests.conftest import forecast_spec


@pytest.fixture(scope="module")
def orders() -> pd.DataFrame:
    from statsmodels.datasets import elec_equip

    q = elec_equip.load_pandas().data.iloc[:, 0]
    return pd.DataFrame({"date": pd.DatetimeIndex(q.index), "orders": q.to_numpy()})


def _spec(horizon: int = 1):
    return forecast_spec("auto", horizon, target="orders")


@pytest.fixture(scope="module")
def auto(orders):
    return run_forecast(_spec(), orders, Sink())


def _mase(table: pd.DataFrame, column: str) -> float:
    return float(np.mean(np.abs(table[column] - table["y_true"]) / table["scale_seasonal"]))


def test_auto_covers_two_seasons_and_beats_the_naive_forecasts(auto):
    model, test = auto.model, auto.test_predictions
    assert model.lags == 24  # two seasons of a monthly series
    assert _mase(test, "y_pred") < _mase(test, "seasonal_naive") < _mase(test, "naive")
    assert auto.test_metrics["mase_seasonal"] == pytest.approx(_mase(test, "y_pred"))
    # the 90% conformal interval's coverage and MSIS on the test origins, by hand
    q = np.asarray(model.intervals["0.9"])[test["step"] - 1] * model.entity_scales[0]
    inside = np.abs(test["y_true"] - test["y_pred"]) <= q
    assert auto.test_metrics["coverage_90"] == pytest.approx(inside.mean())
    assert 0.5 < auto.test_metrics["coverage_90"] <= 1.0 and auto.test_metrics["msis"] > 0


def test_the_choice_is_the_one_standard_error_rule_on_validation_only(auto, orders):
    record = auto.records["forecast_choice.json"]
    val = auto.val_predictions
    # the chosen mean's validation forecasts are the members' mean
    columns = {"model": "model_alone", "ets": "ets", "theta": "theta"}
    mean = val[[columns[m] for m in record["chosen"]]].mean(axis=1)
    np.testing.assert_allclose(val["y_pred"], mean)
    chosen = [c for c in record["candidates"] if c["chosen"]]
    assert len(chosen) == 1 and chosen[0]["members"] == record["chosen"]
    # the choice read the validation block and the two blocks of origins before it, each
    # forecast by members fitted on the periods before that block
    series = load_series(orders, SeriesSpec("date", "orders", 1))
    seg = chronological_split(len(orders), 1, 24)
    seasonal = naive_scales(series.values, seg.train[1], series.season)
    log = "yes" if record["log"]["chosen"] else "no"  # as Auto chose it before the members
    params = resolve_params("auto", {"lags": 24, "log": log})
    blocks = choice_blocks(_spec(), params, series, seg, seasonal)
    val_o = np.sort(val["origin"].unique())
    assert [len(b.origins) for b in blocks] == [len(val_o)] * CHOICE_BLOCKS
    assert blocks[-1].origins[-1] < val_o[0] and blocks[0].origins[-1] < blocks[1].origins[0]
    origins, pred = pooled(blocks, record["chosen"], val_o, val["y_pred"].to_numpy()[:, None], 1)
    actual = np.concatenate([b.actual for b in blocks] + [val["y_true"].to_numpy()])
    scale = np.concatenate([b.scale for b in blocks] + [val["scale_seasonal"].to_numpy()])
    assert len(origins) == 3 * len(val_o)
    by_hand = np.mean(np.abs(pred.ravel() - actual) / scale)
    assert chosen[0]["validation_mase"] == pytest.approx(by_hand)
    # a block's forecasts do not move when every value after its first origin is changed
    first = blocks[0].origins[0]
    moved = series.values.copy()
    moved[:, first + 1 :] *= 3
    again = choice_blocks(_spec(), params, replace(series, values=moved), seg, seasonal)[0]
    for m in blocks[0].forecasts:
        np.testing.assert_allclose(again.forecasts[m][0], blocks[0].forecasts[m][0])
    # the test periods changed beyond recognition: the same choice, the same figures
    seg = chronological_split(len(orders), 1, 24)
    wild = orders.copy()
    wild.loc[seg.test[0] :, "orders"] *= 5
    again = run_forecast(_spec(), wild, Sink()).records["forecast_choice.json"]
    assert again == record


def test_predict_path_gives_the_evaluated_test_forecasts(auto, orders):
    model, test = auto.model, auto.test_predictions
    assert {m["name"] for m in model.members} == set(auto.records["forecast_choice.json"]["chosen"])
    series = load_series(orders, SeriesSpec("date", "orders", 1))
    origins = np.sort(test["origin"].unique())
    fresh = model.predict_origins(series.values, origins)  # members fitted again here
    np.testing.assert_allclose(fresh.ravel(), test["y_pred"], rtol=1e-6)
    # one forecast from the full history, as Predict makes it
    assert np.isfinite(model.predict(series.y)).all()


def test_the_rule_keeps_the_combination_unless_a_subset_is_clearly_better():
    rng = np.random.default_rng(0)
    actual = rng.normal(size=200)
    scale = np.ones(200)
    near = {m: (actual + rng.normal(0, 1, 200))[:, None] for m in ("model", "ets", "theta")}
    chosen, record = choose_members(near, actual, scale, ("model", "ets", "theta"))
    assert sorted(chosen) == ["ets", "model", "theta"]  # comparable errors: the mean
    best = dict(near, ets=(actual + rng.normal(0, 0.05, 200))[:, None])
    chosen, record = choose_members(best, actual, scale, ("model", "ets", "theta"))
    assert chosen == ["ets"]
    assert [c["members"] for c in record["candidates"] if c["chosen"]] == [["ets"]]


def test_the_rule_s_standard_error_counts_the_overlap_of_h_step_forecasts():
    rng = np.random.default_rng(1)
    iid = rng.normal(size=400)
    assert mean_error(iid, 1) == pytest.approx(iid.std() / np.sqrt(400))
    # a moving sum of 6 shocks: the errors of 6-step forecasts from consecutive origins
    overlapping = np.convolve(rng.normal(size=405), np.ones(6), "valid")
    naive = overlapping.std() / np.sqrt(len(overlapping))
    assert mean_error(overlapping, 6) > 2 * naive
    assert mean_error(overlapping, 1) == pytest.approx(naive)
    assert mean_error(np.array([1.0]), 3) == np.inf


def test_the_leaderboard_ranks_on_validation(auto):
    board = leaderboard(auto.test_predictions, 1.0, auto.val_predictions)
    assert board.columns[1] == VALIDATION_MASE
    assert board[VALIDATION_MASE].is_monotonic_increasing
    assert _mase(auto.val_predictions, "theta") in board[VALIDATION_MASE].to_numpy()


def test_an_auto_bundle_keeps_its_members_and_refuses_forged_ones(auto, orders, tmp_path):
    bundle = save_bundle(tmp_path / "b", auto.model)
    back = load_bundle(bundle)
    assert back.members == auto.model.members
    series = load_series(orders, SeriesSpec("date", "orders", 1))
    np.testing.assert_allclose(back.predict(series.y), auto.model.predict(series.y))
    meta = json.loads((bundle / "meta.json").read_text())
    forged = [
        [{"name": "model"}, {"name": "model"}],
        [{"name": "prophet"}],
        [{"name": "ets", "forms": {"": ["add", "mul", False, None]}}],
        [{"name": "ets", "forms": {"other": ["add", None, False, None]}}],
        [{"name": "theta", "code": "import os"}],
        [],
    ]
    for i, members in enumerate(forged):
        copy = tmp_path / f"forged{i}"
        shutil.copytree(bundle, copy)
        bad = replace_members(meta, members)
        (copy / "meta.json").write_text(json.dumps(bad))
        with pytest.raises(BundleError, match="members"):
            load_bundle(copy)


def replace_members(meta: dict, members: list) -> dict:
    return {**meta, "forecaster": {**meta["forecaster"], "members": members}}


def test_a_panel_gets_one_ets_form_per_entity(macro_panel):
    spec = forecast_spec("auto", 1, target="value", entity="series")
    result = run_forecast(spec, macro_panel, Sink())
    members = {m["name"]: m for m in result.model.members}
    if "ets" in members:
        assert set(members["ets"]["forms"]) == set(result.model.entities)
    assert (
        len(result.test_predictions)
        == len(result.model.entities) * result.test_predictions["origin"].nunique()
    )


@pytest.fixture(scope="module")
def macro_panel():
    from finml.data.demo import macro_panel_frame

    panel = macro_panel_frame()
    return panel[panel["series"].isin(sorted(panel["series"].unique())[:2])]  # two: quick


def test_old_spec_fields_still_run(orders):
    """A ridge run (no members) has no choice record and forecasts with its estimator."""
    result = run_forecast(forecast_spec("ridge_lags", 1, target="orders"), orders, Sink())
    assert "forecast_choice.json" not in result.records and result.model.members is None


def test_auto_s_backtest_forecasts_with_its_members_not_the_ridge_alone(orders):
    auto = run_forecast(replace(_spec(), cv_folds=2), orders, Sink())
    ridge_spec = forecast_spec("ridge_lags", 1, target="orders", lags=24)
    ridge = run_forecast(replace(ridge_spec, cv_folds=2), orders, Sink())
    folds = auto.cv.folds
    assert len(folds) == 2 and (folds["mase"] < folds["naive_mase"]).all()
    ours, theirs = auto.cv.forecasts["y_pred"], ridge.cv.forecasts["y_pred"]
    assert len(ours) == len(theirs) and not np.allclose(ours, theirs)


def test_an_auto_run_exports_and_imports_with_its_choice_and_a_forged_one_is_refused():
    import io
    import zipfile

    from finml.data.demo import demo_frame
    from finml.data.staging import stage_frame
    from finml.reporting.exchange import export_run, import_run
    from finml.store import RunStore
    from tests.conftest import train_and_log

    demo = "US macroeconomic series (forecasting)"
    spec = forecast_spec("auto", 1)
    staged = replace(spec.dataset, dataset_id=stage_frame(demo_frame(demo)), name=demo)
    run_id = train_and_log(replace(spec, dataset=staged), "auto · realcons")
    store = RunStore()
    exported = export_run(store, run_id)
    copy = import_run(exported, store, "auto.zip", "local")
    choice = store.read_json(run_id, "forecast_choice.json")
    assert store.read_json(copy, "forecast_choice.json") == choice
    assert store.get_run(copy).metrics["validation_mase"] == pytest.approx(
        store.get_run(run_id).metrics["validation_mase"]
    )
    assert set(choice["log"]) == {"chosen", "rule", "validation_mase", "standard_error"}
    for forged in (
        {**choice, "chosen": ["ets", "ets", "prophet"]},
        {**choice, "log": {**choice["log"], "chosen": "yes"}},
        {**choice, "log": {**choice["log"], "validation_mase": {"series": "NaN", "log": 1}}},
        {**choice, "log": {**choice["log"], "script": "x"}},
        {**choice, "log": {**choice["log"], "standard_error": -1}},
        {**choice, "log": {k: v for k, v in choice["log"].items() if k != "standard_error"}},
    ):
        out = io.BytesIO()
        with zipfile.ZipFile(io.BytesIO(exported)) as src, zipfile.ZipFile(out, "w") as dst:
            for item in src.infolist():
                data = src.read(item.filename)
                if item.filename == "forecast_choice.json":
                    data = json.dumps(forged).encode()
                dst.writestr(item.filename, data)
        with pytest.raises(BundleError, match=r"forecast_choice\.json does not have the shape"):
            import_run(out.getvalue(), store, "forged.zip", "local")


@pytest.fixture(scope="module")
def with_arima(orders):
    spec = _spec()
    return run_forecast(replace(spec, params={**spec.params, "arima": True}), orders, Sink())


def test_auto_with_arima_scores_it_as_a_baseline_and_a_member(with_arima, auto, orders, tmp_path):
    """Asked for, AutoARIMA is a fourth member of the choice and a column of the test
    forecasts and metrics (seasonal orders, beating the seasonal naive on this series); the
    three others are the same numbers as without it; the bundle keeps its orders and
    Predict's path gives the evaluated forecasts; forged orders are refused."""
    test, record = with_arima.test_predictions, with_arima.records["forecast_choice.json"]
    assert "arima" not in auto.test_predictions and "arima_mase" not in auto.test_metrics
    assert with_arima.test_metrics["arima_mase_seasonal"] == pytest.approx(_mase(test, "arima"))
    assert _mase(test, "arima") < _mase(test, "seasonal_naive")
    for column in ("ets", "theta", "seasonal_naive"):
        np.testing.assert_allclose(test[column], auto.test_predictions[column])
    assert {m for c in record["candidates"] for m in c["members"]} == {
        "model",
        "ets",
        "theta",
        "arima",
    }
    assert len(record["candidates"]) == 7  # the best 1..4, and each other one alone
    model = with_arima.model
    series = load_series(orders, SeriesSpec("date", "orders", 1))
    origins = np.sort(test["origin"].unique())
    fresh = model.predict_origins(series.values, origins)  # members fitted again here
    np.testing.assert_allclose(fresh.ravel(), test["y_pred"], rtol=1e-6)
    # a bundle holding an ARIMA member with the orders AutoARIMA chose before the test block
    orders_seen = with_arima.model.members
    arima = {"name": "arima", "forms": {"": [1, 1, 2, 0, 1, 1, 12, 0]}}
    others = [m for m in orders_seen if m["name"] != "arima"]
    kept = copy.copy(model).set_params(members=[*others, arima])
    bundle = save_bundle(tmp_path / "b", kept)
    back = load_bundle(bundle)
    assert back.members == kept.members
    assert np.isfinite(back.predict(series.y)).all()
    meta = json.loads((bundle / "meta.json").read_text())
    forged = [
        {"": [9, 1, 2, 0, 1, 1, 12, 0]},  # p beyond any search
        {"": [1, 1, 2, 0, 1, 1, 0, 0]},  # no season length
        {"": [1, True, 2, 0, 1, 1, 12, 0]},  # a bool for a number
        {"": [1, 1, 2, 0, 1, 1, 12]},  # a place missing
        {"other": [1, 1, 2, 0, 1, 1, 12, 0]},  # an entity the model lacks
    ]
    for i, forms in enumerate(forged):
        where = tmp_path / f"forged{i}"
        shutil.copytree(bundle, where)
        bad = replace_members(meta, [{"name": "arima", "forms": forms}])
        (where / "meta.json").write_text(json.dumps(bad))
        with pytest.raises(BundleError, match="members"):
            load_bundle(where)
