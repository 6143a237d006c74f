"""Extending an uploaded history (one series, or a panel of them) with a run's fitted
forecaster."""

from __future__ import annotations

import numpy as np
import pandas as pd

from finml.data.series import SeriesSpec, load_series, naive_scales
from finml.errors import DataError
from finml.models.forecaster import FittedForecaster


def extend_series(
    model: FittedForecaster,
    frame: pd.DataFrame,
    date_col: str,
    target: str,
    level: float = 0.9,
    entity_col: str = "",
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Forecast the h periods after an uploaded history, with split-conformal intervals.

    Args:
        model: the fitted forecaster.
        frame: the history, one row per period (per entity and period with
            ``entity_col``), with the model's exogenous columns; checked as on the Data
            page.
        date_col: its date column.
        target: the forecast column.
        level: the interval's nominal coverage, one the model carries.
        entity_col: the entity column of a panel model's history, or ``""``.

    Returns:
        (forecasts: ``entity``, ``date``, ``step``, ``y_pred``, ``lower``, ``upper``; the
        history in date order: ``entity``, ``date``, ``y``). An entity the model was not
        trained on is scaled by its own history's naive one-step MAE.

    Raises:
        TargetError, SplitError, DataError: the history fails the series checks (an
            exogenous column missing or not numeric included).
        DataError: a history shorter than the model's lags + 1, another frequency than the
            training data's, or no interval at ``level``.
    """
    exog = tuple(model.exog or ())
    spec = SeriesSpec(date_col, target, model.horizon, model.lags, 0, entity_col, exog)
    series = load_series(frame, spec)
    if model.freq and series.freq != model.freq:
        raise DataError(
            f"The history's dates step by {series.freq}; the model was trained on steps of "
            f"{model.freq}. Upload the series at the training frequency."
        )
    if series.n <= model.lags:
        raise DataError(
            f"The history has {series.n} periods; this model needs at least "
            f"{model.lags + 1} to forecast from."
        )
    q = (model.intervals or {}).get(str(float(level)))
    if q is None:
        raise DataError(f"This model has no {level:.0%} prediction interval.")
    if entity_col or len(model.entities or ("",)) > 1:
        known = model.scales_for(series.entities)
        scales = np.where(np.isnan(known), naive_scales(series.values, series.n), known)
    else:  # one series: the scale it was trained with
        scales = np.asarray(model.entity_scales or [1.0], dtype=np.float64)
    origin = np.array([series.n - 1])
    pred = model.predict_origins(series.values, origin, series.exog, scales)  # (E, h)
    h, e = model.horizon, len(series.entities)
    after = pd.date_range(series.dates[-1], periods=h + 1, freq=series.freq)[1:]
    half = np.outer(scales, np.asarray(q, dtype=np.float64)).ravel()
    forecasts = pd.DataFrame(
        {
            "entity": np.repeat(np.asarray(series.entities, dtype=object), h),
            "date": np.tile(after, e),
            "step": np.tile(np.arange(1, h + 1), e),
            "y_pred": pred.ravel(),
            "lower": pred.ravel() - half,
            "upper": pred.ravel() + half,
        }
    )
    history = pd.DataFrame(
        {
            "entity": np.repeat(np.asarray(series.entities, dtype=object), series.n),
            "date": np.tile(series.dates, e),
            "y": series.values.ravel(),
        }
    )
    if not entity_col:
        forecasts, history = forecasts.drop(columns="entity"), history.drop(columns="entity")
    return forecasts, history
