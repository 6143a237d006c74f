"""Regression metrics (hand-computed), their bootstrap intervals, split-conformal coverage
on simulated data, and the chart tables."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as skm

from finml.evaluation import regression as reg
from finml.reporting.formats import regression_metric_table

Y = np.array([1.0, 2.0, 3.0, 4.0])
P = np.array([1.5, 2.0, 2.0, 5.0])


def test_metrics_match_hand_computation_and_sklearn():
    m = reg.regression_metrics(Y, P)
    # errors -0.5, 0, 1, -1
    assert m["mse"] == pytest.approx(0.5625)
    assert m["rmse"] == pytest.approx(0.75)
    assert m["mae"] == pytest.approx(0.625)
    assert m["mape"] == pytest.approx(100 * (0.5 + 0 + 1 / 3 + 0.25) / 4)
    assert m["smape"] == pytest.approx(100 * (2 * 0.5 / 2.5 + 0 + 2 / 5 + 2 / 9) / 4)
    assert m["r2"] == pytest.approx(1 - 2.25 / 5)
    assert m["r2"] == pytest.approx(skm.r2_score(Y, P))
    assert m["mape"] == pytest.approx(100 * skm.mean_absolute_percentage_error(Y, P))
    assert "mase" not in m  # no naive scale given


def test_mase_is_scaled_by_the_naive_forecasts_in_sample_mae():
    train = np.array([1.0, 3.0, 2.0, 5.0])  # naive errors 2, 1, 3
    assert reg.naive_mae(train) == pytest.approx(2.0)
    assert reg.naive_mae(train, lag=2) == pytest.approx((1 + 2) / 2)
    m = reg.regression_metrics(Y, P, reg.naive_mae(train))
    assert m["mase"] == pytest.approx(0.625 / 2.0)
    with pytest.raises(ValueError, match="more than 4"):
        reg.naive_mae(train, lag=4)


def test_mape_is_refused_when_actual_values_are_near_zero():
    y = np.array([0.0, 1.0, 2.0, 3.0, 0.0])
    note = reg.mape_note(y)
    assert "40.0% of the actual values are zero or near zero" in note
    m = reg.regression_metrics(y, y + 0.5)
    assert "mape" not in m and m["mae"] == pytest.approx(0.5)
    assert reg.mape_note(Y) == ""


def test_bootstrap_intervals_hold_the_point_value_and_cover_the_truth():
    rng = np.random.default_rng(0)
    y = rng.normal(100, 10, 800)
    pred = y + rng.normal(0, 2, 800)  # true RMSE 2, true MAE 2 * sqrt(2 / pi)
    cis = reg.regression_cis(y, pred, n_resamples=400)
    for key in ("rmse", "mae", "r2", "smape"):
        row = cis.loc[key]
        assert row["lower"] <= row["value"] <= row["upper"], key
    assert cis.loc["rmse", "lower"] < 2.0 < cis.loc["rmse", "upper"]
    assert cis.loc["mae", "lower"] < 2 * np.sqrt(2 / np.pi) < cis.loc["mae", "upper"]
    assert "mase" not in cis.index
    table = regression_metric_table(reg.regression_metrics(y, pred), cis)
    assert table["metric"].tolist()[:3] == ["RMSE", "MSE", "MAE"]
    low, high = cis.loc["rmse", ["lower", "upper"]]
    assert table.loc[0, "95% CI"] == f"{low:.2f} – {high:.2f}"  # amounts of 1 to 100: 2 decimals


def _fitted_linear(x: np.ndarray, y: np.ndarray):
    """A real FittedRegressor: a ColumnTransformer and a linear regression."""
    from sklearn.linear_model import LinearRegression

    from finml.models.features import build_preprocessor
    from finml.models.pipeline import FittedRegressor

    frame = pd.DataFrame({"x": x})
    pre = build_preprocessor(["x"], [])
    est = LinearRegression().fit(pre.fit_transform(frame), y)
    return FittedRegressor(estimator=est, preprocessor=pre, numeric=("x",))


def test_split_conformal_90_percent_intervals_cover_about_90_percent():
    rng = np.random.default_rng(42)
    coverages = []
    for _ in range(200):
        x = rng.uniform(-2, 2, 900)
        y = 3 * x + rng.standard_t(4, 900)  # heavy tails: no normal assumption to lean on
        model = _fitted_linear(x[:300], y[:300])
        cal = pd.DataFrame({"x": x[300:600]})
        half = reg.conformal_half_widths(model, cal, y[300:600])
        pred = model.predict(pd.DataFrame({"x": x[600:]}))
        table = reg.coverage_table(y[600:], pred, half)
        coverages.append(table.set_index("nominal").loc[0.9, "covered"])
        assert half["0.8"] < half["0.9"] < half["0.95"]
    mean = float(np.mean(coverages))
    assert 0.87 <= mean <= 0.93, mean
    assert mean >= 0.88  # split conformal guarantees at least the nominal level on average


def test_error_by_decile_and_largest_errors():
    rng = np.random.default_rng(1)
    y = rng.normal(size=200)
    pred = y + np.linspace(-1, 1, 200) * 0.1
    table = reg.error_by_decile(y, pred)
    assert table["decile"].tolist() == list(range(1, 11))
    assert table["rows"].sum() == 200
    assert table["predicted"].is_monotonic_increasing
    frame = pd.DataFrame({"name": [f"r{i}" for i in range(200)], "v": np.arange(200)})
    preds = pd.DataFrame({"row": np.arange(200), "y_true": y, "y_pred": pred})
    top = reg.largest_errors(preds, frame, 5)
    assert len(top) == 5 and top["error"].abs().is_monotonic_decreasing
    assert (top["name"] == [f"r{r}" for r in top["row"]]).all()  # joined with its input row


def test_qq_points_of_normal_residuals_lie_near_the_line():
    r = np.random.default_rng(3).normal(5, 2, 2000)
    theory, ordered = reg.qq_points(r)
    assert np.corrcoef(theory, ordered)[0, 1] > 0.99
    assert abs(np.median(ordered)) < 0.1
