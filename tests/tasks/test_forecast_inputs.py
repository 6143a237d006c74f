"""What the forecasters on lags read besides the lagged changes, trained for real:

- Fourier terms of the season, on Mauna Loa CO2 (monthly, from the statsmodels wheel):
  they carry the month a model on one lag cannot see, the phase comes from the calendar in
  training and in Predict alike, and the bundle keeps them, checked on load;
- the log of the series, on AirPassengers (monthly, multiplicative season, from the
  pmdarima wheel): the same as a model of the logged column, exponentiated; Auto chooses
  it on the validation backtest, never on the test; a value at or below 0 is refused with
  its row;
- the seasonal difference, on Mauna Loa CO2 again and on a noiseless seasonal series with a
  trend (exact forecasts past one season, in training and in Predict), and a series too
  short for it refused with the way out."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from finml.errors import BundleError, DataError, SpecError, TargetError
from finml.fitters.base import ListSink
from finml.models.bundle import load_bundle, save_bundle
from finml.models.registry import LOG_CHOSEN
from finml.prediction.forecast import extend_series, extend_upload
from finml.tasks.forecast import run_forecast
from tests.conftest import forecast_spec


@pytest.fixture(scope="module")
def co2() -> pd.DataFrame:
    from statsmodels.datasets import co2

    c = co2.load_pandas().data["co2"].resample("MS").mean().interpolate()
    return pd.DataFrame({"date": c.index, "co2": c.to_numpy()})


def _run(frame, **params):
    spec = forecast_spec("ridge_lags", horizon=3, target="co2", lags=1, **params)
    return run_forecast(spec, frame, ListSink())


@pytest.fixture(scope="module")
def seasonal(co2):
    return _run(co2, fourier=6)


def test_fourier_terms_give_a_one_lag_ridge_the_season(co2, seasonal):
    plain = _run(co2)
    assert plain.model.n_inputs == 3 and seasonal.model.n_inputs == 3 + 11
    m, base = seasonal.test_metrics, plain.test_metrics
    # one change cannot tell March from September; the month's terms can
    assert m["mase"] < 0.5 * base["mase"], (m["mase"], base["mase"])
    assert m["mase"] < m["seasonal_naive_mase"] and base["mase"] > 0.9 * base["seasonal_naive_mase"]


def test_fourier_pairs_are_capped_at_half_the_season(co2):
    quarterly = co2.iloc[::3].reset_index(drop=True)
    result = _run(quarterly, fourier=26)
    assert result.model.fourier == 2 and result.model.n_inputs == 3 + 3


def test_predict_reads_the_season_from_the_uploaded_dates(co2, seasonal, tmp_path):
    loaded = load_bundle(save_bundle(tmp_path / "b", seasonal.model))
    assert loaded.fourier == 6
    test = seasonal.test_predictions
    origin = int(test["origin"].iloc[-1])
    history = co2.iloc[: origin + 1]
    forecasts, _ = extend_series(loaded, history, "date", "co2", 0.9)
    np.testing.assert_allclose(forecasts["y_pred"], test["y_pred"].to_numpy()[-3:])
    # the same values six months later in the year: the forecast follows the dates
    later = history.assign(
        date=pd.date_range(
            history["date"].iloc[0] + pd.DateOffset(months=6), periods=len(history), freq="MS"
        )
    )
    moved, _ = extend_series(loaded, later, "date", "co2", 0.9)
    assert np.abs(moved["y_pred"].to_numpy() - forecasts["y_pred"].to_numpy()).max() > 0.5


@pytest.mark.parametrize("bad", [True, -1, 1.5, "6", 7])
def test_a_forged_number_of_fourier_pairs_is_refused(seasonal, tmp_path, bad):
    path = save_bundle(tmp_path / "b", seasonal.model)
    meta = json.loads((path / "meta.json").read_text())
    meta["forecaster"]["fourier"] = bad
    (path / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(BundleError, match="Fourier pairs"):
        load_bundle(path)


@pytest.fixture(scope="module")
def air() -> pd.DataFrame:
    from pmdarima.datasets import load_airpassengers

    values = np.asarray(load_airpassengers(), dtype=np.float64)
    dates = pd.date_range("1949-01-01", periods=len(values), freq="MS")
    return pd.DataFrame({"date": dates, "passengers": values})


def _air(frame, model="ridge_lags", target="passengers", **params):
    params = {"lags": 24, **params} if model == "ridge_lags" else params
    spec = forecast_spec(model, horizon=12, target=target, **params)
    return run_forecast(spec, frame, ListSink())


@pytest.fixture(scope="module")
def logged(air):
    return _air(air, log=True)


def test_a_log_model_is_the_model_of_the_logged_column_exponentiated(air, logged):
    by_hand = _air(air.assign(passengers=np.log(air["passengers"])))
    np.testing.assert_allclose(
        logged.test_predictions["y_pred"], np.exp(by_hand.test_predictions["y_pred"]), rtol=1e-6
    )
    # MASE and the intervals stay in passengers (whether the log pays is data-dependent: on
    # this split a 24-lag ridge does better without it, 0.82 against 1.20, which is why
    # Auto decides it on validation, test_auto_chooses_the_log_on_validation_never_on_the_test)
    plain = _air(air)
    assert logged.model.entity_scales == plain.model.entity_scales
    assert logged.test_predictions["scale"].equals(plain.test_predictions["scale"])
    units = logged.test_predictions["interval_unit"]
    assert units.equals(plain.test_predictions["interval_unit"]) and (units > 1).all()


def test_auto_chooses_the_log_on_validation_never_on_the_test(air):
    auto = _air(air, "auto")
    log = auto.records["forecast_choice.json"]["log"]
    assert log["chosen"] is True and auto.model.log is True
    mase = log["validation_mase"]  # lower on the log by more than one standard error
    assert mase["series"] - mase["log"] > log["standard_error"] > 0
    test_start = auto.split.test[0]
    flat = air.copy()  # the test periods flattened: a series with no season at all there
    flat.loc[flat.index[test_start:], "passengers"] = air["passengers"].iloc[test_start]
    again = _air(flat, "auto")
    assert again.records["forecast_choice.json"]["log"] == log
    # asked not to, it does not; the form's "no" reaches the model
    series = _air(air, "auto", log="no")
    assert series.model.log is False and LOG_CHOSEN == "when validation says"
    # the choice pays on the test: MASE 0.59 against 1.46 (one-step scale)
    assert auto.test_metrics["mase"] < 0.7 * series.test_metrics["mase"]
    assert auto.test_metrics["coverage_90"] >= 0.85


def test_a_value_at_or_below_zero_is_refused_for_the_log_and_auto_stays_on_the_series(air):
    zero = air.copy()
    zero.loc[30, "passengers"] = 0.0
    with pytest.raises(TargetError, match=r"first 0 at data row 31, 1951-07-01\). Set \"Fo"):
        _air(zero, log=True)
    auto = _air(zero, "auto")
    assert auto.model.log is False
    assert auto.records["forecast_choice.json"]["log"] == {"chosen": False, "rule": "a value <= 0"}


def test_predict_forecasts_a_log_model_and_refuses_a_history_with_zero(air, logged, tmp_path):
    loaded = load_bundle(save_bundle(tmp_path / "b", logged.model))
    assert loaded.log is True
    test = logged.test_predictions
    origin = int(test["origin"].iloc[-1])
    history = air.iloc[: origin + 1]
    forecasts, _ = extend_series(loaded, history, "date", "passengers", 0.9)
    np.testing.assert_allclose(forecasts["y_pred"], test["y_pred"].to_numpy()[-12:])
    # a real bad file: the CSV an analyst would upload, with a negative count in it
    bad = history.assign(passengers=history["passengers"].astype(object))
    bad.loc[bad.index[-3], "passengers"] = "-5"
    data = bad.to_csv(index=False, date_format="%Y-%m-%d").encode()
    with pytest.raises(DataError, match=r"first -5 at data row 130, 1959-10-01\). This model fo"):
        extend_upload(loaded, data, "history.csv", "date", "passengers", 0.9)
    meta = json.loads((tmp_path / "b" / "meta.json").read_text())
    meta["forecaster"]["log"] = "yes"
    (tmp_path / "b" / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(BundleError, match="log, recursive, entity_feature"):
        load_bundle(tmp_path / "b")


def test_a_recursive_forecast_is_its_one_step_model_fed_its_own_forecasts(co2, tmp_path):
    spec = forecast_spec("ridge_lags", horizon=4, target="co2", strategy="recursive", fourier=2)
    result = run_forecast(spec, co2, ListSink())
    model = load_bundle(save_bundle(tmp_path / "b", result.model))
    assert model.recursive is True and len(model.t_mean) == 1 and model.outputs == 1
    test = result.test_predictions
    origin = int(test["origin"].iloc[-1])
    history = co2.iloc[: origin + 1]
    y, dates = history["co2"].to_numpy(), pd.DatetimeIndex(history["date"])
    four = model.predict(y, dates=dates)
    np.testing.assert_allclose(four, test["y_pred"].to_numpy()[-4:])
    # by hand: one step, append it with its month, one step again ...
    for k in range(4):
        step = model.predict(y, dates=dates)[0]
        assert step == pytest.approx(four[k], rel=1e-9)
        y = np.append(y, step)
        dates = dates.append(pd.DatetimeIndex([dates[-1] + pd.DateOffset(months=1)]))
    # a direct model of the same lags forecasts otherwise
    direct = run_forecast(
        forecast_spec("ridge_lags", horizon=4, target="co2", fourier=2), co2, ListSink()
    )
    assert not np.allclose(direct.test_predictions["y_pred"], test["y_pred"])
    # the estimator's standardisation is one step long: a forged h-long one is refused
    meta = json.loads((tmp_path / "b" / "meta.json").read_text())
    meta["forecaster"]["t_mean"] = meta["forecaster"]["t_mean"] * 4
    (tmp_path / "b" / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(BundleError, match="standardisation lists"):
        load_bundle(tmp_path / "b")
    meta["forecaster"]["t_mean"], meta["forecaster"]["recursive"] = [0.0], "yes"
    (tmp_path / "b" / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(BundleError, match="log, recursive, entity_feature"):
        load_bundle(tmp_path / "b")


def test_recursive_is_refused_with_exogenous_columns_and_auto_stays_direct(co2):
    frame = co2.assign(other=np.sin(np.arange(len(co2))))
    spec = forecast_spec("ridge_lags", 4, "co2", exog=("other",), strategy="recursive")
    with pytest.raises(SpecError, match="exogenous columns' future values are not known"):
        run_forecast(spec, frame, ListSink())
    auto = run_forecast(forecast_spec("auto", 4, "co2", exog=("other",)), frame, ListSink())
    assert auto.records["forecast_choice.json"]["recursive"] == {
        "chosen": False,
        "rule": "exogenous columns",
    }
    assert auto.model.recursive is False
    one = run_forecast(forecast_spec("auto", 1, "co2"), co2.iloc[-150:], ListSink())
    assert one.records["forecast_choice.json"]["recursive"]["rule"] == "one step ahead"


def test_auto_decides_the_strategy_by_the_one_standard_error_rule(co2):
    auto = run_forecast(forecast_spec("auto", 6, "co2"), co2, ListSink())
    made = auto.records["forecast_choice.json"]["recursive"]
    mase = made["validation_mase"]
    assert made["chosen"] == (mase["direct"] - mase["recursive"] > made["standard_error"])
    assert auto.model.recursive is made["chosen"]


def test_autoets_own_intervals_are_measured_beside_the_conformal_ones(air):
    from finml.models.forecaster import ets_fits, ets_forecasts, ets_intervals
    from finml.tasks.forecast import band_scores

    auto = _air(air, "auto")
    m, test = auto.test_metrics, auto.test_predictions
    assert 0 < m["ets_coverage_90"] <= 1 and m["ets_msis"] > 0
    # by hand: AutoETS fitted on the periods before the test block, its 90% interval at
    # each test origin brackets its own forecast (the leaderboard's AutoETS column)
    y = air["passengers"].to_numpy()
    origins = np.sort(test["origin"].unique())
    fits = ets_fits(y[None], auto.split.test[0], 12)
    lower, upper = ets_intervals(y, origins, 12, 12, fits)
    mean = ets_forecasts(y, origins, 12, auto.split.test[0], 12, fits)
    np.testing.assert_allclose(mean.ravel(), test["ets"])
    assert (lower < mean).all() and (mean < upper).all()
    assert (upper - lower)[:, -1].mean() > (upper - lower)[:, 0].mean()  # wider further out
    inside = (test["y_true"] >= lower.ravel()) & (test["y_true"] <= upper.ravel())
    assert m["ets_coverage_90"] == pytest.approx(inside.mean())
    assert band_scores(test, lower, upper)["msis"] == pytest.approx(m["ets_msis"])


def test_a_sequence_network_is_tuned_without_the_lag_models_inputs(co2):
    """The lag models' Fourier, log and strategy settings are not a sequence network's:
    a search over one still draws and checks its own parameters only."""
    from dataclasses import replace

    spec = forecast_spec("cnn_seq", horizon=2, target="co2", epochs=1, lags=4)
    result = run_forecast(replace(spec, tune_trials=1), co2.iloc[-120:], ListSink())
    assert result.tuning is not None and result.model is not None
    assert result.model.fourier == 0 and result.model.log is False


def test_a_forged_recursive_bundle_with_exogenous_columns_is_refused(co2, tmp_path):
    frame = co2.assign(other=np.cos(np.arange(len(co2))))
    result = run_forecast(forecast_spec("ridge_lags", 2, "co2", exog=("other",)), frame, ListSink())
    path = save_bundle(tmp_path / "b", result.model)
    meta = json.loads((path / "meta.json").read_text())
    meta["forecaster"]["recursive"] = True
    meta["forecaster"]["t_mean"] = meta["forecaster"]["t_mean"][:1]
    meta["forecaster"]["t_scale"] = meta["forecaster"]["t_scale"][:1]
    (path / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(BundleError, match="recursive only without exogenous columns"):
        load_bundle(path)


def test_a_seasonal_difference_gives_a_one_lag_ridge_the_season(co2):
    for h in (3, 18):  # 18: past one season, the value a season back is itself a forecast
        spec = forecast_spec("ridge_lags", horizon=h, target="co2", lags=1)
        plain = run_forecast(spec, co2, ListSink()).test_metrics
        differenced = run_forecast(
            forecast_spec("ridge_lags", horizon=h, target="co2", lags=1, seasonal_difference=True),
            co2,
            ListSink(),
        )
        m = differenced.test_metrics
        assert differenced.model.first_origin == 1 + 12
        assert m["mase"] < 0.6 * plain["mase"], (h, m["mase"], plain["mase"])
        assert m["mase"] < 0.6 * m["seasonal_naive_mase"], (h, m)


def _seasonal_trend(n: int) -> pd.DataFrame:
    """A monthly series with a fixed season and a straight trend, no noise: its seasonal
    difference is constant, so its changes are all 0."""
    t = np.arange(n)
    season = np.array([3.0, -1, 4, 1, -5, 9, 2, -6, 5, 3, -5, 0])
    dates = pd.date_range("2001-01-01", periods=n, freq="MS")
    return pd.DataFrame({"date": dates, "y": 100 + 0.5 * t + season[t % 12]})


def test_the_seasonal_difference_is_added_back_exactly_in_training_and_predict(tmp_path):
    frame = _seasonal_trend(240)
    spec = forecast_spec("ridge_lags", horizon=18, target="y", lags=2, seasonal_difference=True)
    result = run_forecast(spec, frame, ListSink())
    test = result.test_predictions
    np.testing.assert_allclose(test["y_pred"], test["y_true"], rtol=1e-9)
    loaded = load_bundle(save_bundle(tmp_path / "b", result.model))
    assert loaded.seasonal_difference is True and loaded.min_history == 2 + 12 + 1
    y, origin = frame["y"].to_numpy(), np.array([150])  # nothing after the origin is read
    later = np.where(np.arange(len(y)) > 150, y + 1000.0, y)
    np.testing.assert_array_equal(
        loaded.window_forecasts(y, origin), loaded.window_forecasts(later, origin)
    )
    forecasts, _ = extend_series(loaded, frame.iloc[:200], "date", "y", 0.9)
    np.testing.assert_allclose(forecasts["y_pred"], frame["y"].iloc[200:218], rtol=1e-9)
    meta = json.loads((tmp_path / "b" / "meta.json").read_text())
    meta["forecaster"]["season"] = 1  # a seasonal difference without a season
    (tmp_path / "b" / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(BundleError, match="a seasonal difference only with a season"):
        load_bundle(tmp_path / "b")


def test_a_series_too_short_for_its_seasonal_difference_is_refused_with_the_way_out():
    from finml.data.reader import read_table
    from finml.errors import SplitError

    csv = "date,y\n" + "".join(
        f"{d.date()},{v}\n" for d, v in _seasonal_trend(50).itertuples(index=False)
    )
    frame = read_table(csv.encode(), "short.csv").frame
    plain = forecast_spec("ridge_lags", target="y", lags=8)
    assert run_forecast(plain, frame, ListSink()).status == "finished"
    spec = forecast_spec("ridge_lags", target="y", lags=8, seasonal_difference=True)
    with pytest.raises(SplitError, match=r"8 lags of the seasonal difference \(12 periods in\)"):
        run_forecast(spec, frame, ListSink())
    with pytest.raises(SplitError, match="or no seasonal difference"):
        run_forecast(spec, frame, ListSink())


def test_auto_takes_the_seasonal_difference_when_validation_says_never_on_the_test(co2):
    from finml.models.registry import SEASONAL_CHOSEN

    def auto(frame, lags=1):
        spec = forecast_spec("auto", 3, "co2", lags=lags, seasonal_difference=SEASONAL_CHOSEN)
        return run_forecast(spec, frame, ListSink())

    run = auto(co2)
    made = run.records["forecast_choice.json"]["seasonal_difference"]
    mase = made["validation_mase"]  # the one-lag ridge cannot see the month on its own
    assert mase["changes"] - mase["seasonal difference"] > made["standard_error"] > 0
    assert made["chosen"] is True and run.model.seasonal_difference is True
    flat = co2.copy()  # the test periods flattened: no season there at all
    flat.loc[flat.index[run.split.test[0] :], "co2"] = co2["co2"].iloc[run.split.test[0]]
    assert auto(flat).records["forecast_choice.json"]["seasonal_difference"] == made
    yearly = co2.set_index("date").resample("YS").mean().reset_index()  # no season
    none = auto(yearly, lags=4).records["forecast_choice.json"]["seasonal_difference"]
    assert none == {"chosen": False, "rule": "no season"}
    default = run_forecast(forecast_spec("auto", 3, "co2", lags=1), co2, ListSink())
    assert "seasonal_difference" not in default.records["forecast_choice.json"]
    assert default.model.seasonal_difference is False  # off unless asked
    # an exported run's record is checked on import: the decision's shape, as written
    from finml.reporting.import_checks import check_json_member

    record = run.records["forecast_choice.json"]
    for good in (
        record,
        {**record, "seasonal_difference": none},
        default.records["forecast_choice.json"],
    ):
        check_json_member(json.dumps(good).encode(), "forecast_choice.json", "run.zip")
    forged = [
        {**made, "validation_mase": {"series": 1.0, "log": 0.5}},  # another decision's ways
        {**made, "chosen": "yes"},
        {**made, "standard_error": -1.0},
    ]
    for bad in forged:
        data = json.dumps({**record, "seasonal_difference": bad}).encode()
        with pytest.raises(BundleError, match=r"forecast_choice\.json"):
            check_json_member(data, "forecast_choice.json", "run.zip")


def test_the_seasonal_difference_reads_nothing_after_the_origin_direct_or_recursive(co2):
    y = co2["co2"].to_numpy()
    for strategy in ("direct", "recursive"):
        spec = forecast_spec(
            "ridge_lags", 18, "co2", lags=4, seasonal_difference=True, strategy=strategy
        )
        model = run_forecast(spec, co2, ListSink()).model
        origin = np.array([400])
        later = np.where(np.arange(len(y)) > 400, y * 2.0 + 50.0, y)
        first = model.window_forecasts(y, origin)
        assert np.isfinite(first).all() and model.recursive is (strategy == "recursive")
        np.testing.assert_array_equal(first, model.window_forecasts(later, origin))
        with pytest.raises(ValueError, match="Origins start at 16"):  # y[t - m] would wrap
            model.window_forecasts(y, np.array([15]))
