"""Extending an uploaded history with a run's fitted forecaster."""

from __future__ import annotations

import numpy as np
import pandas as pd

from finml.data.series import SeriesSpec, load_series
from finml.errors import DataError
from finml.models.forecaster import FittedForecaster


def extend_series(
    model: FittedForecaster, frame: pd.DataFrame, date_col: str, target: str, level: float = 0.9
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Forecast the h periods after an uploaded history, with split-conformal intervals.

    Args:
        model: the fitted forecaster.
        frame: the history, one row per period (checked as on the Data page).
        date_col: its date column.
        target: the forecast column.
        level: the interval's nominal coverage, one the model carries.

    Returns:
        (forecasts: ``date``, ``step``, ``y_pred``, ``lower``, ``upper``; the history in
        date order: ``date``, ``y``).

    Raises:
        TargetError, SplitError: the history fails the series checks.
        DataError: a history shorter than the model's lags + 1, another frequency than the
            training data's, or no interval at ``level``.
    """
    series = load_series(frame, SeriesSpec(date_col, target, model.horizon, model.lags))
    if model.freq and series.freq != model.freq:
        raise DataError(
            f"The history's dates step by {series.freq}; the model was trained on steps of "
            f"{model.freq}. Upload the series at the training frequency."
        )
    if len(series.y) <= model.lags:
        raise DataError(
            f"The history has {len(series.y)} periods; this model needs at least "
            f"{model.lags + 1} to forecast from."
        )
    q = (model.intervals or {}).get(str(float(level)))
    if q is None:
        raise DataError(f"This model has no {level:.0%} prediction interval.")
    pred = model.predict(series.y)
    after = pd.date_range(series.dates[-1], periods=model.horizon + 1, freq=series.freq)[1:]
    q = np.asarray(q, dtype=np.float64)
    forecasts = pd.DataFrame(
        {
            "date": after,
            "step": np.arange(1, model.horizon + 1),
            "y_pred": pred,
            "lower": pred - q,
            "upper": pred + q,
        }
    )
    return forecasts, pd.DataFrame({"date": series.dates, "y": series.y})
