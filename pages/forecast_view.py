"""Evaluate, forecasting runs: the model against the naive, seasonal naive and ETS
baselines on MASE with bootstrap CIs, errors and interval coverage by step ahead, and
actual against forecast over time with the interval band. From stored predictions only."""

import contextlib

import pandas as pd
import streamlit as st

from finml.errors import FinmlError
from finml.evaluation import regression
from finml.reporting import regression_charts
from pages import common

#: Forecasts compared on the leaderboard: column of the test predictions -> label.
FORECASTERS = {
    "y_pred": "this model",
    "naive": "naive (last value)",
    "seasonal_naive": "seasonal naive",
    "ets": "ETS (additive trend)",
}


def leaderboard(test: pd.DataFrame, scale: float | None) -> pd.DataFrame:
    """MASE, RMSE and MAE of the model and each baseline with 95% bootstrap CIs."""
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
    interval (90%)."""
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


def render(run, test, store) -> None:
    """The forecasting view of ``run`` (its long-form test forecasts ``test``)."""
    intervals = {}
    with contextlib.suppress(FinmlError):
        intervals = store.read_json(run.run_id, "intervals.json")
    scale = regression.mase_scale(run.metrics)
    st.subheader("The model against the baselines (test origins)")
    board = common.memo((run.run_id, "forecast_board"), lambda: leaderboard(test, scale))
    st.dataframe(board.round(4), hide_index=True, width="stretch")
    st.caption(
        "MASE: mean absolute error divided by the naive forecast's one-step MAE on the "
        "training segment (below 1: better than a naive forecast made one step ahead). CIs: "
        "paired bootstrap over the test forecasts (forecasts from nearby origins are "
        "correlated, so read them as a lower bound on the uncertainty)."
    )
    st.subheader("By step ahead")
    st.dataframe(by_step(test, intervals).round(4), hide_index=True, width="stretch")
    h = int(test["step"].max())
    step = st.select_slider("Step ahead shown", list(range(1, h + 1)), value=1, key="fc_step")
    shown = test[test["step"] == step].sort_values("date")
    if intervals.get("0.9"):
        q = intervals["0.9"][step - 1]
        shown = shown.assign(lower=shown["y_pred"] - q, upper=shown["y_pred"] + q)
    history = test.drop_duplicates("row").sort_values("date")
    title = f"Actual and {step}-step-ahead forecasts (test segment), 90% interval"
    st.plotly_chart(
        regression_charts.forecast_chart(history["date"], history["y_true"], shown, title),
        width="stretch",
    )
