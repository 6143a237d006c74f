"""Extending an uploaded history (one series, or a panel of them) with a run's fitted
forecaster."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from finml.data.reader import read_table
from finml.data.series import (
    Series,
    SeriesSpec,
    frequency_words,
    load_series_ahead,
    naive_scales,
    require_positive,
)
from finml.errors import DataError, listing
from finml.models.forecaster import FittedForecaster


@dataclass(frozen=True)
class Extended:
    """An uploaded history and its forecast (:func:`extend_upload`).

    Attributes:
        forecasts: ``entity`` (panels only), ``date``, ``step``, ``y_pred``, ``lower``,
            ``upper``; E * h rows.
        history: the history in date order: ``entity`` (panels only), ``date``, ``y``;
            E * n rows.
        rows: data rows of the upload (header excluded).
        notes: what the analyst should know about how the upload was read (its encoding,
            dates of different UTC offsets converted to UTC, ...).
    """

    forecasts: pd.DataFrame
    history: pd.DataFrame
    rows: int
    notes: tuple[str, ...] = ()


def extend_upload(
    model: FittedForecaster,
    data: bytes,
    filename: str,
    date_col: str,
    target: str,
    level: float = 0.9,
    entity_col: str = "",
    **read_limits,
) -> Extended:
    """Read an uploaded history as the Data page does and forecast the h periods after it:
    the whole per-upload work of the Predict page, in one call a page can cache.

    A panel of 1,000 entities x 1,000 quarters (1M rows, 23 MB of CSV) takes about 5 s on
    2 cores, most of it reading the CSV.

    Args:
        model: the fitted forecaster.
        data: the uploaded bytes.
        filename: the client's filename (only its extension is used).
        date_col, target, level, entity_col: as in :func:`extend_series`.
        **read_limits: ``max_bytes``, ``max_rows``, ``max_columns`` of
            :func:`finml.data.reader.read_table`.

    Returns:
        Extended: the forecasts, the history, the row count and the notes.

    Raises:
        DataError: the upload cannot be read as a table (:func:`read_table`).
        TargetError, SplitError, DataError: as :func:`extend_series`.
    """
    read = read_table(data, filename, **read_limits)
    forecasts, history, series = _extend(model, read.frame, date_col, target, level, entity_col)
    notes = tuple(dict.fromkeys((*read.notes, *series.notes)))  # the reader's may repeat one
    return Extended(forecasts, history, len(read.frame), notes)


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
            page. For a model with known-in-advance columns, followed by a row per period
            to forecast (per entity) with the target empty and those columns' planned
            values (:func:`finml.data.series.load_series_ahead`).
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
            exogenous column missing or not numeric, or values beyond
            :data:`finml.data.series.MAX_MAGNITUDE`, included), or a period to forecast
            lacks a known column's planned value.
        DataError: a history shorter than the model's ``min_history``, another frequency than the
            training data's, no interval at ``level``, recent changes too large for the
            model's arithmetic (the column, entity and data rows named), a value at or
            below 0 for a model on the log of the series, or a forecast that is not a finite
            number.
    """
    forecasts, history, _ = _extend(model, frame, date_col, target, level, entity_col)
    return forecasts, history


def _extend(
    model: FittedForecaster,
    frame: pd.DataFrame,
    date_col: str,
    target: str,
    level: float,
    entity_col: str,
) -> tuple[pd.DataFrame, pd.DataFrame, Series]:
    """:func:`extend_series`, and the checked series (for its notes)."""
    exog, known = tuple(model.exog or ()), tuple(model.known or ())
    spec = SeriesSpec(date_col, target, model.horizon, model.lags, 0, entity_col, exog, known)
    series = load_series_ahead(frame, spec)  # with known columns: their h planned periods
    if model.freq and series.freq != model.freq:
        raise DataError(
            f"The history's dates are {frequency_words(series.freq)}; the model was trained "
            f"on a series that is {frequency_words(model.freq)}. Upload the series at the "
            "training frequency."
        )
    if model.log or model.boxcox:
        what = "log" if model.log else "Box-Cox transform"
        fix = (
            f"This model forecasts the {what} of the series: check the history's values on "
            "that row, or use a model trained on the series itself."
        )
        require_positive(series, target, DataError, fix, what)
    if series.n < model.min_history:
        raise DataError(
            f"The history has {series.n} periods; this model needs at least "
            f"{model.min_history} to forecast from."
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
    _computable(model, series, origin, scales, target)
    pred = model.predict_origins(
        series.values, origin, series.exog_ahead, scales, series.entities, dates=series.dates
    )
    h, e = model.horizon, len(series.entities)
    after = pd.date_range(series.dates[-1], periods=h + 1, freq=series.freq)[1:]
    units = model.interval_units(series.values, origin, scales)[:, 0]  # the origin's unit
    half = np.outer(units, np.asarray(q, dtype=np.float64)).ravel()
    lower, upper = pred.ravel() - half, pred.ravel() + half
    _finite_forecasts(np.column_stack([pred.ravel(), lower, upper]), series, h, target)
    forecasts = pd.DataFrame(
        {
            "entity": np.repeat(np.asarray(series.entities, dtype=object), h),
            "date": np.tile(after, e),
            "step": np.tile(np.arange(1, h + 1), e),
            "y_pred": pred.ravel(),
            "lower": lower,
            "upper": upper,
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
    return forecasts, history, series


def _of(series: Series, e: int) -> str:
    """`` of entity 'x'`` for a panel, ``""`` for one series."""
    return f" of entity {series.entities[e]!r}" if series.entities != ("",) else ""


def _computable(
    model: FittedForecaster, series: Series, origin: np.ndarray, scales: np.ndarray, target: str
) -> None:
    """Refuse a history whose last changes overflow once scaled and standardised as the
    model reads them (float32 holds up to about 3.4e38).

    Args:
        model: the forecaster.
        series: the checked history, E entities x n periods.
        origin: the forecast origin, int64 (1,): the last period.
        scales: each entity's scale of changes, float64 (E,).
        target: the target column, for the message.

    Raises:
        DataError: the column, entity and data rows of the first window that overflows.
    """
    ex = series.exog_ahead
    x = model.inputs(series.values, origin, ex, scales, series.dates, series.entities)[0]
    with np.errstate(all="ignore"):
        z = model.encode(x)  # float32 (E, inputs)
    bad = ~np.isfinite(z)
    if not bad.any():
        return
    e, j = (int(v) for v in np.argwhere(bad)[0])
    names = (target, *series.exog_names)
    p, channels, t, h = int(model.lags), len(names), series.n - 1, int(model.horizon)
    k = len(model.known or ())
    rows = series.rows[e] if series.rows is not None else np.arange(series.n)
    m = int(model.season) if model.seasonal_difference else 0  # the target's: of y[t] - y[t-m]
    if j < p * channels:  # lag j // channels (oldest first) of channel j % channels
        column, pos = names[j % channels], t - p + 1 + j // channels
        where = f"its change from data row {rows[pos - 1] + 1} to data row {rows[pos] + 1}"
        if m and j % channels == 0:
            seasons = f"data rows {rows[pos - m - 1] + 1} and {rows[pos - m] + 1}"
            where += f" less the change a season earlier ({seasons})"
    elif model.known and j >= (ahead := model.n_inputs - int(model.entity_feature) - k * h):
        column, step = model.known[(j - ahead) % k], (j - ahead) // k + 1  # a step's K together
        when = pd.date_range(series.dates[-1], periods=step + 1, freq=series.freq)[-1].date()
        where = f"its planned change from the last period to {when}"
    else:  # the rolling mean or sd of the target's last p changes
        column = target
        read = sorted(rows[t - p - m : t + 1] + 1)
        where = f"its last {p} changes (data rows {listing(read, 3, str)})"
    raise DataError(
        f"This history cannot be forecast: the column {column!r}{_of(series, e)} has values "
        f"too large for this model's arithmetic ({where} overflows once scaled and "
        "standardised as the model reads it). The model was trained on much smaller "
        "changes; check that column's units (thousands against units?) and its values on "
        "those rows."
    )


def _finite_forecasts(values: np.ndarray, series: Series, h: int, target: str) -> None:
    """Refuse forecasts (or interval bounds) that are not finite numbers.

    Args:
        values: ``y_pred``, ``lower``, ``upper`` of each entity and step, float64 (E * h, 3),
            entity-major.
        series: the history.
        h: steps ahead.
        target: the target column, for the message.

    Raises:
        DataError: naming the first entity whose forecast overflowed.
    """
    bad = ~np.isfinite(values).all(axis=1)
    if not bad.any():
        return
    e = int(np.flatnonzero(bad)[0]) // h
    raise DataError(
        f"The forecast of {target!r}{_of(series, e)} is not a finite number: the history's "
        "values are too large for this model's arithmetic. Check the column's units and "
        "its last values."
    )
