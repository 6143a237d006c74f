"""Time series for forecasting: checks of the date column and the target, the season length,
the chronological split with gaps, and the windows (lagged differences in, the next h
changes out) that the forecasting models learn from.

Conventions: a series is a float64 array ``y`` of shape (n,) in date order. A forecast
*origin* is a position ``t``: everything up to and including ``y[t]`` is known, and the
forecast is ``y[t+1] .. y[t+h]``. Windows never read a value after their origin.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from finml.data.target import validate_regression_target
from finml.errors import SplitError, TargetError

#: Season length of each pandas frequency prefix (quarterly, monthly, weekly, daily,
#: business-daily, hourly).
SEASONS = {"Q": 4, "M": 12, "W": 52, "D": 7, "B": 5, "h": 24, "H": 24}

#: Fewest training origins a forecasting run needs.
MIN_TRAIN_ORIGINS = 20


@dataclass(frozen=True)
class SeriesSpec:
    """What to forecast.

    Attributes:
        date_col: the date column (one row per period, regular steps).
        target: the numeric column to forecast.
        horizon: steps ahead (h >= 1).
        lags: past changes each window holds (p >= 1).
        season: season length in steps (1: none); 0 infers it from the dates.
    """

    date_col: str
    target: str
    horizon: int = 4
    lags: int = 8
    season: int = 0


@dataclass(frozen=True)
class Series:
    """A checked series: its values and dates in order, its frequency and season length."""

    y: np.ndarray
    dates: pd.DatetimeIndex
    freq: str
    season: int


def load_series(frame: pd.DataFrame, spec: SeriesSpec) -> Series:
    """Check a table as a series and return it in date order.

    Args:
        frame: the table, one row per period.
        spec: the date column, target and horizon.

    Returns:
        Series.

    Raises:
        TargetError: the target is missing, text, infinite or constant, or the horizon is
            not a whole number from 1 up.
        SplitError: the date column is missing, does not parse (first bad row named), has
            duplicate dates, or irregular steps (the missing dates listed, with how to fix).
    """
    if spec.horizon < 1:
        raise TargetError(f"The horizon must be 1 step or more; got {spec.horizon}.")
    if spec.date_col not in frame.columns:
        raise SplitError(f"The date column {spec.date_col!r} is not in the data.")
    dates = pd.to_datetime(frame[spec.date_col], errors="coerce", format="mixed")
    bad = dates.isna().to_numpy()
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        raise SplitError(
            f"The date column {spec.date_col!r} has {int(bad.sum())} values that are not "
            f"dates (first {str(frame[spec.date_col].iloc[first])[:30]!r} at data row "
            f"{first + 1}). Fix them, or choose another date column."
        )
    dup = dates.duplicated(keep=False).to_numpy()
    if dup.any():
        first = int(np.flatnonzero(dup)[0])
        raise SplitError(
            f"The date column {spec.date_col!r} has {int(dates.duplicated().sum())} duplicate "
            f"dates (first {dates.iloc[first].date()} at data row {first + 1}). A series has "
            "one row per period: aggregate the duplicates first."
        )
    order = np.argsort(dates.to_numpy(), kind="stable")
    y = validate_regression_target(frame.iloc[order], spec.target)
    index = pd.DatetimeIndex(dates.to_numpy()[order])
    freq = _regular_frequency(index, spec.date_col)
    season = spec.season or SEASONS.get(freq.lstrip("0123456789")[:1], 1)
    return Series(y=y, dates=index, freq=freq, season=season)


def _regular_frequency(index: pd.DatetimeIndex, col: str) -> str:
    """The pandas frequency of evenly spaced dates; else a SplitError naming the gaps."""
    freq = pd.infer_freq(index) if len(index) >= 3 else None
    if freq:
        return freq
    step = pd.Series(index).diff().dropna()
    common = step.mode().iloc[0]
    for guess in ("QS", "QE", "MS", "ME", "W", "D", "B"):
        full = pd.date_range(index[0], index[-1], freq=guess)
        if len(full) and len(full) >= len(index) and index.isin(full).all():
            missing = full.difference(index)
            listed = ", ".join(str(d.date()) for d in missing[:5])
            more = f" and {len(missing) - 5} more" if len(missing) > 5 else ""
            raise SplitError(
                f"The dates in {col!r} are not evenly spaced: {len(missing)} period(s) are "
                f"missing ({listed}{more}). Add those rows (or resample the data to one row "
                "per period) before forecasting."
            )
    raise SplitError(
        f"The dates in {col!r} are not evenly spaced (the usual step is {common}, but "
        f"{int((step != common).sum())} steps differ). Resample to one row per period first."
    )


@dataclass(frozen=True)
class SeriesSplit:
    """Chronological segments of a series, as half-open position ranges, and the origins of
    each: an origin's h targets all lie inside its segment.

    Between train and validation, and between validation and test, ``horizon`` positions
    are left out (the gap), so no target of one segment is a target of the next.
    """

    train: tuple[int, int]
    val: tuple[int, int]
    test: tuple[int, int]
    horizon: int

    def origins(self, part: str) -> np.ndarray:
        """Origins whose targets ``t+1 .. t+h`` lie inside segment ``part`` (``"train"``,
        ``"val"`` or ``"test"``), int64 ascending."""
        start, end = getattr(self, part)
        return np.arange(max(start - 1, 0), end - self.horizon, dtype=np.int64)


def chronological_split(
    n: int, horizon: int, lags: int, val: float = 0.15, test: float = 0.15
) -> SeriesSplit:
    """Split ``n`` periods into train, validation and test in time order, with a gap of
    ``horizon`` periods before validation and before test.

    Args:
        n: length of the series.
        horizon: steps ahead.
        lags: past changes per window (the first origin needs ``lags`` changes before it).
        val: share of periods for validation.
        test: share of periods for test.

    Raises:
        SplitError: the horizon is longer than the test window, or too few training
            origins remain (with how many there are and how to fix it).
    """
    n_test, n_val = round(test * n), max(round(val * n), horizon)
    if horizon > n_test:
        raise SplitError(
            f"The horizon ({horizon} steps) is longer than the test window ({n_test} of {n} "
            "periods). Shorten the horizon or give the test window a larger share."
        )
    test_start = n - n_test
    val_start = test_start - horizon - n_val
    train_end = val_start - horizon
    split = SeriesSplit((0, train_end), (val_start, test_start - horizon), (test_start, n), horizon)
    first = lags  # the first origin with `lags` changes before it
    usable = int((split.origins("train") >= first).sum())
    if usable < MIN_TRAIN_ORIGINS:
        raise SplitError(
            f"Only {usable} training windows remain for {n} periods with horizon {horizon} and "
            f"{lags} lags; at least {MIN_TRAIN_ORIGINS} are needed. Use a longer series, fewer "
            "lags or a shorter horizon."
        )
    return split


def segment_report(seg: SeriesSplit, series: Series) -> pd.DataFrame:
    """The split audit of a series: periods, forecast origins and first and last date of
    each segment (the gaps between segments belong to none)."""
    rows = []
    for name, part in (("train", "train"), ("validation", "val"), ("test", "test")):
        start, end = getattr(seg, part)
        rows.append(
            {
                "split": name,
                "rows": end - start,
                "origins": len(seg.origins(part)),
                "from": str(series.dates[start].date()),
                "to": str(series.dates[end - 1].date()),
            }
        )
    return pd.DataFrame(rows)


def windows(y: np.ndarray, origins: np.ndarray, lags: int, horizon: int):
    """The inputs and targets at each origin: the last ``lags`` changes up to the origin
    (``y[t-i] - y[t-i-1]``, oldest first) and the next ``horizon`` changes from the origin's
    value (``y[t+k] - y[t]``, k = 1..h). Nothing after ``y[t]`` enters the inputs.

    Args:
        y: the series, float64 (n,).
        origins: positions t with ``t >= lags``; targets need ``t + horizon < n``.
        lags: p.
        horizon: h.

    Returns:
        (x float64 (m, p), targets float64 (m, h) or ``None`` where an origin has fewer
        than h future values).
    """
    y = np.asarray(y, dtype=np.float64)
    d = np.diff(y, prepend=np.nan)  # d[i] = y[i] - y[i-1]
    t = np.asarray(origins, dtype=np.int64)
    x = d[t[:, None] + np.arange(-lags + 1, 1)[None, :]]
    if (t + horizon >= len(y)).any():
        return x, None
    targets = y[t[:, None] + np.arange(1, horizon + 1)[None, :]] - y[t][:, None]
    return x, targets
