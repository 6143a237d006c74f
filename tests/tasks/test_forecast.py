"""Forecasting on the statsmodels US macro series, trained for real (small, seeded): the
series checks with real bad files, the chronological split, no look-ahead, the
baselines, per-step conformal intervals, and the deep models against the naive forecast."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from finml.data import reader
from finml.data.demo import macro_frame
from finml.data.series import SeriesSpec, chronological_split, load_series, windows
from finml.errors import SplitError, TargetError
from finml.fitters.base import ListSink
from finml.models.forecaster import (
    naive_forecasts,
    seasonal_naive_forecasts,
)
from finml.tasks.forecast import run_forecast
from tests.conftest import forecast_spec


@pytest.fixture(scope="module")
def macro():
    return reader.read_table(macro_frame().to_csv(index=False).encode(), "macro.csv").frame


def _csv(rows: list[str]) -> pd.DataFrame:
    return reader.read_table(("date,sales\n" + "\n".join(rows) + "\n").encode(), "s.csv").frame


MONTHS = [f"{2000 + i // 12}-{i % 12 + 1:02d}-01" for i in range(60)]


@pytest.mark.parametrize(
    ("rows", "horizon", "error", "phrase"),
    [
        (
            [f"{d},{i}" for i, d in enumerate(MONTHS[:30])] + ["soon,5"],
            1,
            SplitError,
            "1 values that are not dates (first 'soon' at data row 31)",
        ),
        (
            [f"{d},{i}" for i, d in enumerate(MONTHS)] + [f"{MONTHS[3]},9"],
            1,
            SplitError,
            "1 duplicate dates (first 2000-04-01 at data row 4)",
        ),
        (
            [f"{d},{i}" for i, d in enumerate(MONTHS) if i not in (10, 11, 40)],
            1,
            SplitError,
            "3 period(s) are missing (2000-11-01, 2000-12-01, 2003-05-01)",
        ),
        ([f"{d},{i}" for i, d in enumerate(MONTHS)], 0, TargetError, "horizon must be 1"),
        (
            [f"{d},{'x' if i == 7 else i}" for i, d in enumerate(MONTHS)],
            1,
            TargetError,
            "holds text where a number is needed",
        ),
        (
            [f"{d},{'inf' if i == 7 else i}" for i, d in enumerate(MONTHS)],
            1,
            TargetError,
            "infinite values",
        ),
        ([f"{d},5" for d in MONTHS], 1, TargetError, "single value (5)"),
    ],
    ids=["unparseable date", "duplicate date", "gaps", "horizon 0", "text", "inf", "constant"],
)
def test_bad_series_are_refused_with_what_where_and_how(rows, horizon, error, phrase):
    with pytest.raises(error) as err:
        load_series(_csv(rows), SeriesSpec("date", "sales", horizon))
    assert phrase in str(err.value)


def test_a_horizon_longer_than_the_test_window_or_the_data_is_refused():
    with pytest.raises(SplitError, match="longer than the test window \\(9 of 60 periods\\)"):
        chronological_split(60, 10, 4)
    with pytest.raises(SplitError, match=r"Only .* training windows remain"):
        chronological_split(60, 2, 30)


def test_the_macro_series_is_quarterly_with_season_4(macro):
    series = load_series(macro, SeriesSpec("date", "realcons", 4))
    assert series.freq.startswith("QS") and series.season == 4 and len(series.y) == 203


def test_segments_are_contiguous_and_no_target_is_shared():
    seg = chronological_split(203, 4, 8)
    assert seg.train[1] == seg.val[0] and seg.val[1] == seg.test[0] == 203 - 30
    targets = {}
    for part in ("train", "val", "test"):
        start, end = getattr(seg, part)
        o = seg.origins(part)
        assert (o + 1 >= start).all() and (o + 4 <= end - 1).all()
        targets[part] = {int(t) for t in (o[:, None] + np.arange(1, 5)).ravel()}
    assert not targets["train"] & targets["val"] and not targets["val"] & targets["test"]
    # the last training origin is h before the first validation one: nothing spent between
    assert seg.origins("val")[0] - seg.origins("train")[-1] == 4
    assert seg.origins("test")[0] - seg.origins("val")[-1] == 4
    y = np.arange(20.0) ** 2
    x, t = windows(y, np.array([5]), 3, 2)
    np.testing.assert_allclose(x[0], [y[3] - y[2], y[4] - y[3], y[5] - y[4]])
    np.testing.assert_allclose(t[0], [y[6] - y[5], y[7] - y[5]])


def test_no_test_period_value_reaches_training(macro):
    """Replace every test-period value with nonsense: the fitted model and its validation
    forecasts do not change (nothing from the test period entered training)."""
    spec = forecast_spec("ridge_lags", horizon=2)
    first = run_forecast(spec, macro, ListSink())
    test_start = first.split.test[0]
    changed = macro.copy()
    changed.loc[changed.index[test_start:], "realcons"] = 1e9
    second = run_forecast(spec, changed, ListSink())
    np.testing.assert_array_equal(first.model.estimator.coef_, second.model.estimator.coef_)
    assert first.model.x_mean == second.model.x_mean and first.model.t_scale == second.model.t_scale
    pd.testing.assert_frame_equal(first.val_predictions, second.val_predictions)
    assert not first.test_predictions["y_pred"].equals(second.test_predictions["y_pred"])


@pytest.mark.parametrize("model", ["ridge_lags", "hgb_lags"])
def test_ridge_and_boosting_alone_are_refitted_on_validation_before_the_test(macro, model):
    """Change the last three validation quarters: the validation forecasts made before them
    do not move (the fit they come from saw the training periods only), while the tested
    model does (it was refitted on every period before the test block)."""
    spec = forecast_spec(model, horizon=2)
    first = run_forecast(spec, macro, ListSink())
    late = first.split.val[-3:]
    changed = macro.copy()
    changed.loc[changed.index[late], "realcons"] *= 1.03
    second = run_forecast(spec, changed, ListSink())
    before = first.val_predictions["origin"] < late[0]
    assert before.sum() > 10
    pd.testing.assert_series_equal(
        first.val_predictions.loc[before, "y_pred"], second.val_predictions.loc[before, "y_pred"]
    )
    est = [first.model.estimator, second.model.estimator]
    if model == "ridge_lags":
        assert not np.allclose(est[0].coef_, est[1].coef_)
    else:  # one boosted model per step ahead
        x = np.random.default_rng(0).normal(size=(20, est[0][0].n_features_in_))
        assert not np.allclose(est[0][0].predict(x), est[1][0].predict(x))


def test_a_stop_during_the_refit_ends_the_run_stopped_with_the_fit_on_training(macro):
    """The stop request comes once the logged fit has reported its last step ahead, i.e.
    during boosting's refit: the run ends stopped, and the model tested is the fit on the
    training periods (the one the validation forecasts came from)."""
    spec = forecast_spec("hgb_lags", horizon=2)
    sink = ListSink()
    done = lambda: any(step == total for step, total, _ in sink.steps)  # noqa: E731
    stopped = run_forecast(spec, macro, sink, done, progress_every_s=0.0)
    assert stopped.status == "stopped"
    finished = run_forecast(spec, macro, ListSink())
    assert finished.status == "finished"
    first = finished.model.entity_scales  # the refit's scales: every period before the test
    assert stopped.model.entity_scales != first
    y, end = macro["realcons"].to_numpy(), stopped.split.train.max() + 1
    assert stopped.model.entity_scales == [pytest.approx(np.abs(np.diff(y[:end])).mean())]
    assert len(stopped.test_predictions) == len(finished.test_predictions)


def test_baselines_by_hand():
    y = np.array([1.0, 2, 3, 4, 5, 6, 7, 8, 9, 10])
    np.testing.assert_allclose(naive_forecasts(y, np.array([4]), 3), [[5, 5, 5]])
    # season 4, origin 5 (value 6): steps 1..6 repeat the values one season back
    got = seasonal_naive_forecasts(y, np.array([5]), 6, 4)
    np.testing.assert_allclose(got, [[3, 4, 5, 6, 3, 4]])


def test_ridge_beats_naive_and_the_intervals_cover(macro):
    result = run_forecast(forecast_spec("ridge_lags", horizon=2), macro, ListSink())
    m = result.test_metrics
    assert m["mase"] < m["naive_mase"] and m["mase"] < m["seasonal_naive_mase"], m
    test = result.test_predictions
    assert set(test["step"]) == {1, 2} and test["y_true"].notna().all()
    q = np.asarray(result.model.intervals["0.9"])  # in units of each origin's local change
    assert q[0] < q[1]  # two quarters ahead is less certain than one
    # MASE's scale: the training periods' naive MAE; the tested model was refitted on every
    # period before the test block, and its own scale is theirs
    y = macro["realcons"].to_numpy()
    train_end, test_start = result.split.train.max() + 1, result.split.test.min()
    assert test["scale"].nunique() == 1
    assert test["scale"][0] == pytest.approx(np.abs(np.diff(y[:train_end])).mean())
    assert result.model.entity_scales == [pytest.approx(np.abs(np.diff(y[:test_start])).mean())]
    # the unit: the mean absolute change over the 8 quarters (two seasons) up to the origin
    origin = test["origin"].to_numpy()
    by_hand = [np.abs(np.diff(y[o - 8 : o + 1])).mean() for o in origin]
    np.testing.assert_allclose(test["interval_unit"], by_hand)
    half = q[test["step"] - 1] * test["interval_unit"].to_numpy()
    inside = (test["y_true"] - test["y_pred"]).abs().to_numpy() <= half
    assert m["coverage_90"] == pytest.approx(inside.mean()) and inside.mean() >= 0.7
    # the fitted forecaster extends a history exactly as the stored test forecasts
    series = load_series(macro, SeriesSpec("date", "realcons", 2))
    origin = int(test["origin"].iloc[-1])
    np.testing.assert_allclose(
        result.model.predict(series.y[: origin + 1]), test["y_pred"].to_numpy()[-2:]
    )


def test_boosting_beats_the_naive_forecast_on_the_demo(macro):
    """The issue's quality bar (MASE < 1 on the demo for the best deep or boosted model),
    with boosting: 0.4 s here. The LSTM (MASE 0.88, bench/bench_targets.py) is trained by
    the browser test; the networks' live curves are checked just below."""
    sink = ListSink()
    result = run_forecast(forecast_spec("hgb_lags"), macro, sink)
    m = result.test_metrics
    assert m["mase"] < 1 and m["mase"] < m["naive_mase"], m
    assert sink.history()[["loss", "val_loss"]].notna().all(axis=None)


def test_a_stop_request_ends_a_network_early(macro):
    calls = {"n": 0}

    def stop_soon():
        calls["n"] += 1
        return calls["n"] > 40

    spec = forecast_spec("gru_seq", epochs=500, patience=500)
    sink = ListSink()
    result = run_forecast(spec, macro, sink, stop_soon)
    assert result.status == "stopped" and 0 < result.steps < 500
    history = sink.history()  # a network's live curves: loss, val loss, val RMSE
    assert history[["loss", "val_loss", "val_rmse"]].notna().all(axis=None)


def test_a_classifier_is_refused_for_a_forecast(macro):
    from finml.errors import SpecError

    spec = replace(forecast_spec("ridge_lags"), model="ridge", params={})
    with pytest.raises(SpecError, match="does not do forecasting"):
        run_forecast(spec, macro, ListSink())


def test_a_rolling_origin_backtest_refits_each_fold_on_its_past_only(macro):
    spec = replace(forecast_spec("ridge_lags", horizon=2), cv_folds=3)
    result = run_forecast(spec, macro, ListSink())
    folds = result.cv.folds
    assert folds["fold"].tolist() == [1, 2, 3]
    assert (folds["from"] < folds["to"]).all() and folds["to"].is_monotonic_increasing
    assert folds["to"].iloc[-1] < str(result.test_predictions["date"].min().date())
    assert (folds["mase"] > 0).all() and set(result.cv.summary()) >= {"cv_mase_mean", "cv_mase_sd"}
    forecasts = result.cv.forecasts
    assert sorted(forecasts["fold"].unique()) == [1, 2, 3] and set(forecasts["step"]) == {1, 2}
    assert forecasts["y_true"].notna().all()
    # values after fold 1's last target change later folds, never fold 1
    later = macro.copy()
    cut = later.index[pd.to_datetime(later["date"]) > pd.Timestamp(folds["to"].iloc[0])]
    later.loc[cut, "realcons"] = later.loc[cut, "realcons"] * 1.5
    again = run_forecast(spec, later, ListSink()).cv.folds
    assert again.loc[0, "mase"] == pytest.approx(folds.loc[0, "mase"])
    assert again.loc[2, "mase"] != pytest.approx(folds.loc[2, "mase"])


def test_too_many_backtest_folds_are_refused(macro):
    spec = replace(forecast_spec("ridge_lags"), cv_folds=20)
    with pytest.raises(SplitError, match="20 backtest folds need more than"):
        run_forecast(spec, macro, ListSink())


def test_mase_on_the_seasonal_naive_s_scale_is_the_second_column():
    from finml.data.series import naive_scales
    from finml.evaluation.forecast import SEASONAL_MASE, leaderboard
    from finml.tasks.forecast import scored

    rng = np.random.default_rng(0)
    y = np.arange(40, dtype=float) + np.tile([0.0, 5.0, -3.0, 1.0], 10) + rng.normal(0, 0.3, 40)
    one_step, seasonal = naive_scales(y[None], 30), naive_scales(y[None], 30, lag=4)
    by_hand = np.mean(np.abs(np.diff(y[:30])))
    assert one_step[0] == pytest.approx(by_hand)
    assert seasonal[0] == pytest.approx(np.mean(np.abs(y[4:30] - y[:26])))
    assert naive_scales(y[None], 30, lag=30)[0] == pytest.approx(by_hand)  # too long a lag
    table = pd.DataFrame(
        {
            "y_true": y[30:],
            "y_pred": y[30:] + 1.0,
            "naive": y[29:39],
            "scale": one_step[0],
            "scale_seasonal": seasonal[0],
        }
    )
    metrics = scored(table)
    assert metrics["mase_seasonal"] == pytest.approx(1.0 / seasonal[0])
    assert metrics["mase"] == pytest.approx(1.0 / one_step[0])
    naive_error = np.mean(np.abs(y[30:] - y[29:39]))
    assert metrics["naive_mase_seasonal"] == pytest.approx(naive_error / seasonal[0])
    board = leaderboard(table, None).set_index("forecaster")
    assert board.loc["this model", SEASONAL_MASE] == pytest.approx(metrics["mase_seasonal"])


def test_the_interval_unit_is_the_recent_mean_absolute_change_with_a_floor():
    from finml.models.forecaster import local_units

    y = np.array([[0, 1, 3, 6, 6, 6, 6.0]])
    units = local_units(y, np.array([0, 2, 3, 6]), 2, [4.0])
    # no change yet: the entity's scale; then the mean of the last 2 absolute changes; a
    # flat stretch: 1% of the entity's scale
    np.testing.assert_allclose(units, [[4.0, 1.5, 2.5, 0.04]])
    np.testing.assert_allclose(local_units(y, np.array([3, 6]), 0, [4.0]), [[4.0, 4.0]])


def test_intervals_widen_when_the_history_has_recently_moved_more(macro):
    """Predict's band at the last origin is in units of the history's last 8 changes: a
    history whose last 8 changes are three times larger gets a band three times wider."""
    from finml.prediction.forecast import extend_series

    result = run_forecast(forecast_spec("ridge_lags", horizon=2), macro, ListSink())
    history = macro.head(120)
    calm, _ = extend_series(result.model, history, "date", "realcons", 0.9)
    y = history["realcons"].to_numpy()
    steeper = y.copy()
    steeper[-8:] = y[-9] + 3 * (y[-8:] - y[-9])
    wild, _ = extend_series(result.model, history.assign(realcons=steeper), "date", "realcons")
    ratio = (wild["upper"] - wild["lower"]) / (calm["upper"] - calm["lower"])
    np.testing.assert_allclose(ratio, 3.0)
