"""Evaluation of forecasting runs from their stored test forecasts: the model against the
baselines with bootstrap CIs, and errors and interval coverage by step ahead and by entity.

Test forecasts are long-form tables (:func:`finml.tasks.forecast.forecast_table`); runs
from before panels lack the ``entity`` and ``scale`` columns: one series, intervals in the
target's units, MASE's scale from the run's metrics."""

from __future__ import annotations

import numpy as np
import pandas as pd

from finml.data.spec import parse_list
from finml.evaluation import regression

#: The leaderboard's column of MASE on the seasonal naive's scale (M4).
SEASONAL_MASE = "MASE (seasonal scale)"

#: The leaderboard's column of sMAPE in percent (the M4 competition's definition:
#: ``200 |y - f| / (|y| + |f|)``, :mod:`finml.evaluation.regression`).
SMAPE = "sMAPE (%)"

#: The leaderboard's column the forecasters are ranked on: MASE on the seasonal scale over
#: the validation origins (never the test ones).
VALIDATION_MASE = "Validation MASE (seasonal scale)"

#: Forecasts compared on the leaderboard: column of the test predictions -> label.
FORECASTERS = {
    "y_pred": "this model",
    "naive": "naive (last value)",
    "seasonal_naive": "seasonal naive",
    "ets": "AutoETS (form by AICc)",
    "theta": "Theta",
    "arima": "AutoARIMA (orders by AICc)",
}


def row_scales(test: pd.DataFrame, scale: float | None = 1.0):
    """Each forecast's entity scale (the ``scale`` column), else ``scale`` for all."""
    return test["scale"].to_numpy() if "scale" in test else scale


def half_widths(test: pd.DataFrame, intervals: dict, level: str = "0.9"):
    """Each forecast's interval half-width in the target's units, float (n,), or ``None``
    when the run has no interval at ``level``: the step's quantile times the row's
    ``interval_unit`` (its origin's local unit), or its entity's scale in runs before
    local units."""
    q = intervals.get(level)
    if not q:
        return None
    units = test["interval_unit"].to_numpy() if "interval_unit" in test else row_scales(test)
    return test["step"].map(lambda k: q[k - 1]).to_numpy() * units


def entities(test: pd.DataFrame) -> list[str]:
    """The entities of a panel's forecasts (``[]`` for one series)."""
    if "entity" not in test:
        return []
    names = sorted(str(e) for e in test["entity"].unique())
    return [] if names == [""] else names


def run_leaderboard(run, test: pd.DataFrame, val: pd.DataFrame | None = None) -> pd.DataFrame:
    """:func:`leaderboard` of a logged run (its ``params`` and ``metrics``, as the store's
    ``RunInfo`` holds them): the MASE scale of its metrics and the columns known in
    advance of its parameters, as Evaluate and the report show it."""
    known = parse_list(run.params.get("known"))
    return leaderboard(test, regression.mase_scale(run.metrics), val, known)


def leaderboard(
    test: pd.DataFrame, scale: float | None, val: pd.DataFrame | None = None, known=()
) -> pd.DataFrame:
    """MASE, RMSE and MAE of the model and each baseline on the test origins with 95%
    bootstrap CIs (paired bootstrap over the forecasts,
    :func:`finml.evaluation.regression.regression_cis`, 500 resamples), and their MASE on
    the validation origins.

    Args:
        test: the long-form test forecasts (``y_true``, ``y_pred`` and a column per
            baseline, :func:`finml.tasks.forecast.forecast_table`).
        scale: MASE's scale when the forecasts carry no ``scale`` column (older runs), or
            ``None`` (then sorted by RMSE).
        val: the validation forecasts in the same form; when they hold the baselines and
            ``scale_seasonal`` (runs since Auto), the board is ranked on
            :data:`VALIDATION_MASE`, so reading it selects nothing on the test origins.
        known: the run's columns known in advance, on which AutoARIMA regressed (its row
            says so).

    Returns:
        One row per forecaster, best first. For a panel, MASE is the mean of the entities'
        (each forecast's error divided by its entity's scale); RMSE and MAE pool the
        entities in the target's units.
    """
    rows = []
    y = test["y_true"].to_numpy()
    scale = row_scales(test, scale)
    for col, label in FORECASTERS.items():
        if col not in test:
            continue
        cis = regression.regression_cis(y, test[col].to_numpy(), scale, n_resamples=500)
        if col == "arima" and known:
            label += f", regressed on {', '.join(map(repr, known))}"
        row = {"forecaster": label}
        for key, name in (("mase", "MASE"), ("rmse", "RMSE"), ("mae", "MAE")):
            if key in cis.index:
                row[name] = cis.loc[key, "value"]
                row[f"{name} 95% CI"] = f"{cis.loc[key, 'lower']:.3f} – {cis.loc[key, 'upper']:.3f}"
            if key == "mase" and "scale_seasonal" in test:  # the M4 convention's scale
                row[SEASONAL_MASE] = seasonal_mase(test, col)
        if "smape" in cis.index:  # M4's other headline measure
            row[SMAPE] = cis.loc["smape", "value"]
        if val is not None and col in val and "scale_seasonal" in val:
            row[VALIDATION_MASE] = seasonal_mase(val, col)
        rows.append(row)
    board = pd.DataFrame(rows)
    by = "MASE" if scale is not None else "RMSE"
    if VALIDATION_MASE in board and board[VALIDATION_MASE].notna().all():
        by = VALIDATION_MASE
        board = board[["forecaster", VALIDATION_MASE, *board.columns.drop(["forecaster", by])]]
    return board.sort_values(by).reset_index(drop=True)


def seasonal_mase(forecasts: pd.DataFrame, column: str) -> float:
    """MASE of ``column`` on the seasonal naive's in-sample scale (``scale_seasonal``):
    the mean over the forecasts of each absolute error over its entity's scale."""
    errors = np.abs(forecasts["y_true"].to_numpy() - forecasts[column].to_numpy())
    return float(np.nanmean(errors / forecasts["scale_seasonal"].to_numpy()))


def by_step(test: pd.DataFrame, intervals: dict) -> pd.DataFrame:
    """MAE and RMSE per step ahead, with the share of test values inside each step's
    90% interval.

    Args:
        test: the long-form test forecasts (``step``, ``y_true``, ``y_pred``).
        intervals: the run's half-widths per level and step (``{"0.9": [q_1, ...]}``, in
            units of each forecast's ``interval_unit``, or its ``scale`` before local
            units: :func:`half_widths`).

    Returns:
        One row per step: ``step``, ``forecasts``, ``mae``, ``rmse`` and, with a 90%
        interval, ``90% half-width`` (the mean over entities) and ``covered (test)``.
    """
    err = test["y_true"] - test["y_pred"]
    table = (
        test.assign(abs=err.abs(), sq=err**2)
        .groupby("step")
        .agg(forecasts=("abs", "size"), mae=("abs", "mean"), mse=("sq", "mean"))
        .reset_index()
    )
    table["rmse"] = table.pop("mse") ** 0.5
    widths = half_widths(test, intervals)
    if widths is not None:
        inside = (err.abs().to_numpy() <= widths).astype(float)
        by = pd.DataFrame({"step": test["step"], "w": widths, "in": inside}).groupby("step")
        table["90% half-width"] = by["w"].mean().to_numpy()
        table["covered (test)"] = by["in"].mean().to_numpy()
    return table


def by_entity(test: pd.DataFrame) -> pd.DataFrame:
    """A panel's MASE per entity, for the model and the naive forecast, worst first: one
    row per entity with ``forecasts``, ``mase``, ``naive_mase`` and ``mae`` (target units)."""
    err = (test["y_true"] - test["y_pred"]).abs()
    naive = (test["y_true"] - test["naive"]).abs() if "naive" in test else err * float("nan")
    scale = row_scales(test)
    table = (
        pd.DataFrame(
            {
                "entity": test["entity"],
                "ae": err,
                "se": err / scale,
                "ne": naive / scale,
            }
        )
        .groupby("entity")
        .agg(
            forecasts=("ae", "size"),
            mase=("se", "mean"),
            naive_mase=("ne", "mean"),
            mae=("ae", "mean"),
        )
        .reset_index()
    )
    return table.sort_values("mase", ascending=False).reset_index(drop=True)


def for_entity(test: pd.DataFrame, entity: str | None) -> pd.DataFrame:
    """The forecasts of one entity of a panel (all of them for one series or ``None``)."""
    if entity is None or "entity" not in test:
        return test
    return test[test["entity"].astype(str) == str(entity)]


def step_forecasts(test: pd.DataFrame, intervals: dict, step: int) -> pd.DataFrame:
    """The test forecasts of one series (:func:`for_entity`) made ``step`` periods ahead,
    in date order, with the 90% band (``lower`` / ``upper``) when the run has one."""
    shown = test[test["step"] == step].sort_values("date")
    widths = half_widths(shown, intervals)
    if widths is not None:
        shown = shown.assign(lower=shown["y_pred"] - widths, upper=shown["y_pred"] + widths)
    return shown


def actuals(test: pd.DataFrame) -> pd.DataFrame:
    """The actual values behind one series' test forecasts, one per date, in date order."""
    return test.drop_duplicates("row").sort_values("date")[["date", "y_true"]]
