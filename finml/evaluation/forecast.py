"""Evaluation of forecasting runs from their stored test forecasts: the model against the
baselines with bootstrap CIs, and errors and interval coverage by step ahead."""

from __future__ import annotations

import pandas as pd

from finml.evaluation import regression

#: Forecasts compared on the leaderboard: column of the test predictions -> label.
FORECASTERS = {
    "y_pred": "this model",
    "naive": "naive (last value)",
    "seasonal_naive": "seasonal naive",
    "ets": "ETS (additive trend)",
}


def leaderboard(test: pd.DataFrame, scale: float | None) -> pd.DataFrame:
    """MASE, RMSE and MAE of the model and each baseline with 95% bootstrap CIs (paired
    bootstrap over the forecasts, :func:`finml.evaluation.regression.regression_cis`, 500
    resamples).

    Args:
        test: the long-form test forecasts (``y_true``, ``y_pred`` and a column per
            baseline, :func:`finml.training.forecast.forecast_table`).
        scale: MASE's scale, or ``None`` (then sorted by RMSE).

    Returns:
        One row per forecaster, best first.
    """
    rows = []
    y = test["y_true"].to_numpy()
    for col, label in FORECASTERS.items():
        if col not in test:
            continue
        cis = regression.regression_cis(y, test[col].to_numpy(), scale, n_resamples=500)
        row = {"forecaster": label}
        for key, name in (("mase", "MASE"), ("rmse", "RMSE"), ("mae", "MAE")):
            if key in cis.index:
                row[name] = cis.loc[key, "value"]
                row[f"{name} 95% CI"] = f"{cis.loc[key, 'lower']:.3f} – {cis.loc[key, 'upper']:.3f}"
        rows.append(row)
    return pd.DataFrame(rows).sort_values("MASE" if scale else "RMSE").reset_index(drop=True)


def by_step(test: pd.DataFrame, intervals: dict) -> pd.DataFrame:
    """MAE and RMSE per step ahead, with the share of test values inside each step's
    90% interval.

    Args:
        test: the long-form test forecasts (``step``, ``y_true``, ``y_pred``).
        intervals: the run's half-widths per level and step (``{"0.9": [q_1, ...]}``).

    Returns:
        One row per step: ``step``, ``forecasts``, ``mae``, ``rmse`` and, with a 90%
        interval, ``90% half-width`` and ``covered (test)``.
    """
    err = test["y_true"] - test["y_pred"]
    table = (
        test.assign(abs=err.abs(), sq=err**2)
        .groupby("step")
        .agg(forecasts=("abs", "size"), mae=("abs", "mean"), mse=("sq", "mean"))
        .reset_index()
    )
    table["rmse"] = table.pop("mse") ** 0.5
    q90 = intervals.get("0.9")
    if q90:
        widths = test["step"].map(lambda k: q90[k - 1])
        inside = (err.abs() <= widths).groupby(test["step"]).mean()
        table["90% half-width"] = [q90[k - 1] for k in table["step"]]
        table["covered (test)"] = inside.to_numpy()
    return table


def step_forecasts(test: pd.DataFrame, intervals: dict, step: int) -> pd.DataFrame:
    """The test forecasts made ``step`` periods ahead, in date order, with the 90% band
    (``lower`` / ``upper``) when the run has one."""
    shown = test[test["step"] == step].sort_values("date")
    q = (intervals.get("0.9") or [None] * step)[step - 1]
    if q is not None:
        shown = shown.assign(lower=shown["y_pred"] - q, upper=shown["y_pred"] + q)
    return shown


def actuals(test: pd.DataFrame) -> pd.DataFrame:
    """The actual values behind the test forecasts, one per date, in date order."""
    return test.drop_duplicates("row").sort_values("date")[["date", "y_true"]]
