"""Plotly figures of a regression run: pure functions, stored predictions in, figure out
(the data behind them: :mod:`finml.evaluation.regression`)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from finml.reporting.charts import _LAYOUT, add_band, plain


def predicted_vs_actual(
    predictions: pd.DataFrame,
    target: str,
    half_width: float | None = None,
    floor: float | None = None,
):
    """Predicted against actual values with the y = x line and, given the conformal
    half-width, the interval as error bars.

    Args:
        predictions: ``y_true`` and ``y_pred`` (float, target units).
        target: the target's name (axis titles).
        half_width: the prediction interval's half-width, or ``None``.
        floor: where the intervals are clipped (0.0 for a target never below 0 in training,
            :func:`finml.models.pipeline.target_floor`), or ``None``: the lower bars stop
            there, as Predict's intervals do.
    """
    y, p = predictions["y_true"], predictions["y_pred"]
    lo, hi = float(min(y.min(), p.min())), float(max(y.max(), p.max()))
    fig = go.Figure()
    bars = None if half_width is None else {"type": "constant", "value": half_width, "width": 0}
    if bars is not None and floor is not None:
        below = np.clip(p.to_numpy(dtype=float) - floor, 0.0, half_width)
        bars = {"type": "data", "array": [half_width] * len(p), "arrayminus": below, "width": 0}
    fig.add_scatter(
        x=y, y=p, mode="markers", name="rows", error_y=bars, marker={"size": 5, "opacity": 0.6}
    )
    fig.add_scatter(x=[lo, hi], y=[lo, hi], mode="lines", name="y = x", line={"dash": "dash"})
    fig.update_layout(
        title="Predicted against actual (test split)",
        xaxis_title=f"actual {plain(target)}",
        yaxis_title=f"predicted {plain(target)}",
        **_LAYOUT,
    )
    return fig


def residuals_vs_predicted(predictions: pd.DataFrame) -> go.Figure:
    """Residuals (actual - predicted) against the prediction, with the zero line."""
    resid = predictions["y_true"] - predictions["y_pred"]
    fig = go.Figure()
    fig.add_scatter(
        x=predictions["y_pred"], y=resid, mode="markers", name="rows", marker={"size": 5}
    )
    fig.add_hline(y=0, line_dash="dash")
    fig.update_layout(
        title="Residuals against predicted (test split)",
        xaxis_title="predicted",
        yaxis_title="residual (actual - predicted)",
        **_LAYOUT,
    )
    return fig


def residual_distribution(residuals: np.ndarray, qq: tuple[np.ndarray, np.ndarray]) -> go.Figure:
    """Histogram of the residuals beside their normal QQ plot (standardised residuals
    against normal quantiles, with the y = x line).

    Args:
        residuals: actual - predicted, float (n,).
        qq: (theoretical quantiles, ordered standardised residuals) of
            :func:`finml.evaluation.regression.qq_points`.
    """
    fig = make_subplots(rows=1, cols=2, subplot_titles=("Residual histogram", "Normal QQ plot"))
    fig.add_histogram(x=residuals, nbinsx=40, name="residuals", row=1, col=1)
    theory, ordered = qq
    fig.add_scatter(x=theory, y=ordered, mode="markers", name="residuals", row=1, col=2)
    edge = float(np.abs(theory).max()) if len(theory) else 1.0
    fig.add_scatter(
        x=[-edge, edge],
        y=[-edge, edge],
        mode="lines",
        name="normal",
        line={"dash": "dash"},
        row=1,
        col=2,
    )
    fig.update_xaxes(title_text="residual", row=1, col=1)
    fig.update_xaxes(title_text="normal quantile", row=1, col=2)
    fig.update_yaxes(title_text="standardised residual", row=1, col=2)
    fig.update_layout(showlegend=False, title="Residuals (test split)", **_LAYOUT)
    return fig


def error_by_decile(table: pd.DataFrame) -> go.Figure:
    """MAE and bias per decile of the prediction (:func:`finml.evaluation.regression
    .error_by_decile`)."""
    fig = go.Figure()
    fig.add_bar(x=table["decile"], y=table["mae"], name="MAE")
    fig.add_bar(x=table["decile"], y=table["bias"], name="bias (actual - predicted)")
    fig.update_layout(
        title="Error by decile of the prediction (test split)",
        xaxis_title="decile of the prediction (1 = lowest)",
        yaxis_title="target units",
        barmode="group",
        **_LAYOUT,
    )
    return fig


def target_histogram(y: np.ndarray, target: str) -> go.Figure:
    """Histogram of a numeric target (the Data page)."""
    fig = go.Figure(go.Histogram(x=y, nbinsx=40, name=plain(target)))
    fig.update_layout(
        title=f"Distribution of {plain(target)}",
        xaxis_title=plain(target),
        yaxis_title="rows",
        **_LAYOUT,
    )
    return fig


def series_segments(dates, y: np.ndarray, seg, target: str) -> go.Figure:
    """A series over time, coloured by its chronological segment (train, validation,
    test; a period in none of them, as in runs whose split had gaps, grey)."""
    fig = go.Figure()
    fig.add_scatter(x=dates, y=y, mode="lines", name="series", line={"color": "#bbbbbb"})
    for name, part in (("train", seg.train), ("validation", seg.val), ("test", seg.test)):
        start, end = part
        fig.add_scatter(x=dates[start:end], y=y[start:end], mode="lines", name=name)
    fig.update_layout(
        title=f"{plain(target)} over time",
        xaxis_title="date",
        yaxis_title=plain(target),
        **_LAYOUT,
    )
    return fig


def forecast_chart(
    history_dates, history: np.ndarray, forecasts: pd.DataFrame, title: str
) -> go.Figure:
    """Actual values over time with forecasts and their interval band.

    Args:
        history_dates: dates of the actual values.
        history: the actual values, float (n,).
        forecasts: ``date``, ``y_pred`` and optionally ``lower`` / ``upper`` (one row per
            forecast date) and columns of baseline forecasts named in ``baselines``.
        title: figure title.
    """
    fig = go.Figure()
    fig.add_scatter(x=history_dates, y=history, mode="lines", name="actual")
    if "lower" in forecasts:
        add_band(
            fig, forecasts["date"], forecasts["lower"], forecasts["upper"], "prediction interval"
        )
    fig.add_scatter(
        x=forecasts["date"], y=forecasts["y_pred"], mode="lines+markers", name="forecast"
    )
    for col in ("naive", "ets"):
        if col in forecasts:
            fig.add_scatter(
                x=forecasts["date"],
                y=forecasts[col],
                mode="lines",
                name=col,
                line={"dash": "dot"},
            )
    fig.update_layout(title=plain(title), xaxis_title="date", **_LAYOUT)
    return fig
