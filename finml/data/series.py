"""Time series for forecasting: checks of the date column and the target, the season length,
the chronological split, and the windows (lagged differences in, the next h
changes out) that the forecasting models learn from.

Conventions: a series is a float64 array ``y`` of shape (n,) in date order. A forecast
*origin* is a position ``t``: everything up to and including ``y[t]`` is known, and the
forecast is ``y[t+1] .. y[t+h]``. Windows never read a value after their origin.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from finml.data.schema import parse_dates
from finml.data.target import validate_regression_target
from finml.errors import DataError, SplitError, TargetError

#: Season length of each pandas frequency base (monthly, quarterly, weekly, daily,
#: business-daily, hourly); a multiple divides it (``"2MS"``: 6), or gets none when it
#: does not divide (``"5D"``).
SEASONS = {
    **dict.fromkeys(("MS", "ME", "BMS", "BME"), 12),
    **dict.fromkeys(("QS", "QE", "BQS", "BQE"), 4),
    "W": 52,
    "D": 7,
    "B": 5,
    "h": 24,
}

#: Fewest training origins a forecasting run needs.
MIN_TRAIN_ORIGINS = 20

#: Largest magnitude a value of the target or of an exogenous column may have. Forecasting
#: takes differences of the values, divides them by scales and squares them; beyond this
#: the float64 arithmetic (largest number about 1.8e308) overflows to infinity. Real amounts
#: are far below it; larger values are placeholders (1e308) or export errors.
MAX_MAGNITUDE = 1e150


@dataclass(frozen=True)
class SeriesSpec:
    """What to forecast.

    Attributes:
        date_col: the date column (one row per period, and per entity, regular steps).
        target: the numeric column to forecast.
        horizon: steps ahead (h >= 1).
        lags: past changes each window holds (p >= 1).
        season: season length in steps (1: none); 0 infers it from the dates.
        entity_col: the id column of a panel (several series, e.g. one per branch or
            portfolio), or ``""`` for one series.
        exog: exogenous numeric columns whose past changes the models also read (only values
            up to each origin are used, so they need not be known in advance).
        known: those of ``exog`` whose values are known in advance (holidays, promotions,
            planned prices or rates): the models also read their changes from the origin to
            each of the h steps ahead, so a forecast needs their next h values
            (:func:`load_series_ahead`).
    """

    date_col: str
    target: str
    horizon: int = 4
    lags: int = 8
    season: int = 0
    entity_col: str = ""
    exog: tuple[str, ...] = ()
    known: tuple[str, ...] = ()


@dataclass(frozen=True)
class Series:
    """A checked series or balanced panel, in date order.

    Attributes:
        values: the target, float64 (E, n): one row per entity (E = 1 for one series).
        dates: the n common dates.
        freq: pandas frequency of the dates.
        season: season length in steps.
        entities: the E entity names (``("",)`` for one series).
        exog: the exogenous columns, float64 (E, n, X), X >= 0.
        exog_names: their X names.
        known_names: those known in advance (:attr:`SeriesSpec.known`).
        future: the exogenous columns in the periods after the last one, float64 (E, f, X):
            the known columns' planned values (``NaN`` for the other columns, which are
            not read there); ``None`` (f = 0) for a training series.
        rows: the table row of each value, int64 (E, n) (0-based positions in the table as
            given, for messages that name a data row), or ``None``.
        notes: what the analyst should know about how the series was read (dates of
            different UTC offsets converted to UTC).
    """

    values: np.ndarray
    dates: pd.DatetimeIndex
    freq: str
    season: int
    entities: tuple[str, ...] = ("",)
    exog: np.ndarray | None = None
    exog_names: tuple[str, ...] = ()
    known_names: tuple[str, ...] = ()
    future: np.ndarray | None = None
    rows: np.ndarray | None = None
    notes: tuple[str, ...] = ()

    @property
    def exog_ahead(self) -> np.ndarray | None:
        """The exogenous columns over the history and the :attr:`future` periods,
        float64 (E, n + f, X)."""
        if self.future is None or self.exog is None:
            return self.exog
        return np.concatenate([self.exog, self.future], axis=1)

    @property
    def y(self) -> np.ndarray:
        """The values of a single series, float64 (n,).

        Raises:
            ValueError: a panel of several entities.
        """
        if len(self.values) != 1:
            raise ValueError("A panel has one series per entity; read `values` instead.")
        return self.values[0]

    @property
    def n(self) -> int:
        """Periods per entity."""
        return self.values.shape[1]


#: Most entities (series) one panel may hold.
MAX_ENTITIES = 1000


def load_series(frame: pd.DataFrame, spec: SeriesSpec) -> Series:
    """Check a table as a series (or a balanced panel) and return it in date order.

    Dates are read with :func:`finml.data.schema.parse_dates`: dates of different UTC
    offsets are converted to UTC, and the series' ``notes`` say so. Work is vectorised (a
    panel of 1,000 entities x 1,000 periods takes about a second).

    Args:
        frame: the table, one row per period (per entity with ``spec.entity_col``).
        spec: the date column, target, horizon, entity column and exogenous columns.

    Returns:
        Series.

    Raises:
        TargetError: the target is missing, text, infinite, beyond
            :data:`MAX_MAGNITUDE` or constant (the first bad row named), or the horizon is
            not a whole number from 1 up.
        SplitError: the date or entity column is missing, a date does not parse (first bad
            row named), duplicate dates (within an entity), irregular steps (the missing
            dates listed, with how to fix), or entities on different dates (the entity and
            its missing dates named); when the dates were converted to UTC, the message
            says so.
        DataError: an exogenous column that is missing, the target itself, or not a finite
            number within :data:`MAX_MAGNITUDE` on every row (the row named).
    """
    if spec.horizon < 1:
        raise TargetError(f"The horizon must be 1 step or more; got {spec.horizon}.")
    if spec.date_col not in frame.columns:
        raise SplitError(f"The date column {spec.date_col!r} is not in the data.")
    dates, note = parse_dates(frame[spec.date_col], spec.date_col)
    bad = dates.isna().to_numpy()
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        raise SplitError(
            f"The date column {spec.date_col!r} has {int(bad.sum())} values that are not "
            f"dates (first {str(frame[spec.date_col].iloc[first])[:30]!r} at data row "
            f"{first + 1}). Fix them, or choose another date column."
        )
    ids = _entity_ids(frame, spec.entity_col)
    codes, names = pd.factorize(ids, sort=True)
    stamps = dates.to_numpy()
    with _explained(note):
        _no_duplicates(dates, ids, spec)
    order = np.lexsort((stamps, codes))
    entities = tuple(str(name) for name in names) if spec.entity_col else ("",)
    index = pd.DatetimeIndex(np.unique(stamps))
    n = len(index)
    if spec.entity_col:
        with _explained(note):
            _balanced(stamps, codes, entities, index, spec.entity_col)
    y = validate_regression_target(frame, spec.target)
    _not_huge(y, frame[spec.target], f"The target {spec.target!r}", TargetError)
    _known_among_exog(spec)
    exog = np.zeros((len(frame), len(spec.exog)))
    for j, col in enumerate(spec.exog):
        exog[:, j] = _exog_values(frame, col, spec.target)
    with _explained(note):
        freq = _regular_frequency(index, spec.date_col)
    season = spec.season or default_season(freq)
    e = len(entities)
    return Series(
        values=y[order].reshape(e, n),
        dates=index,
        freq=freq,
        season=season,
        entities=entities,
        exog=exog[order].reshape(e, n, len(spec.exog)),
        exog_names=tuple(spec.exog),
        known_names=tuple(spec.known),
        rows=order.astype(np.int64).reshape(e, n),
        notes=(note,) if note else (),
    )


def load_series_ahead(frame: pd.DataFrame, spec: SeriesSpec) -> Series:
    """Check a history followed by the planned values of its known-in-advance columns,
    as Predict reads an upload for a model with :attr:`SeriesSpec.known` columns: the
    rows whose target is empty are the periods to forecast.

    The history (the rows with a target) is checked by :func:`load_series`; the next
    ``spec.horizon`` periods after its last date (at its frequency) must each have a row
    (per entity of a panel) with every known column a finite number. Later rows with an
    empty target are not read; the other exogenous columns may be empty there.

    Args:
        frame: the upload, one row per period (per entity and period), the periods to
            forecast last with the target empty.
        spec: as :func:`load_series`, with ``known``.

    Returns:
        Series whose :attr:`Series.future` holds the next h periods (float64 (E, h, X),
        ``NaN`` outside the known columns).

    Raises:
        TargetError, SplitError, DataError: as :func:`load_series` for the history.
        TargetError: a row with the target empty dated inside the history (its row named).
        DataError: no rows to forecast, a period to forecast missing or given twice (per
            entity), a date there that does not parse, or a known column empty or not a
            finite number there (the data row named).
    """
    if not spec.known:
        return load_series(frame, spec)
    if spec.target not in frame.columns:
        raise TargetError(f"The target column {spec.target!r} is not in the data.")
    empty = frame[spec.target].isna().to_numpy()
    parsed = None  # every row's date, parsed once for both checks below
    if spec.date_col in frame.columns and empty.any() and not empty.all():
        parsed = parse_dates(frame[spec.date_col], spec.date_col)[0]
        stamps = parsed.to_numpy()
        inside = np.flatnonzero(empty & (stamps <= stamps[~empty].max()))  # NaT: False
        if len(inside):
            raise TargetError(
                f"The target {spec.target!r} is empty on data row {int(inside[0]) + 1} "
                f"({str(frame[spec.date_col].iloc[inside[0]])[:30]}), inside the history: "
                "only the periods to forecast, after the history's last date, may leave it "
                "empty. Fill it in, or drop that row."
            )
    positions = np.flatnonzero(~empty)
    series = load_series(frame.iloc[positions], spec)
    h, known = int(spec.horizon), ", ".join(map(repr, spec.known))
    after = pd.date_range(series.dates[-1], periods=h + 1, freq=series.freq)[1:]
    what = (
        f"This model reads the planned values of {known} (known in advance) in the {h} "
        f"period(s) it forecasts ({_listed(after)})"
    )
    ahead = np.flatnonzero(empty)
    if not len(ahead):
        raise DataError(
            f"{what}: add a row for each of them after the history (per entity), with "
            f"{spec.target!r} left empty and {known} filled in."
        )
    dates = parsed.iloc[ahead]
    unread = np.flatnonzero(dates.isna().to_numpy())
    if len(unread):
        row = int(ahead[unread[0]])
        raise DataError(
            f"The date column {spec.date_col!r} holds "
            f"{str(frame[spec.date_col].iloc[row])[:30]!r} on data row {row + 1}, a period to "
            "forecast: that is not a date. Fix it (the periods to forecast are "
            f"{_listed(after)})."
        )
    ids = _entity_ids(frame, spec.entity_col)[ahead]  # the whole upload: its data rows
    planned = pd.DataFrame({"e": ids, "d": dates.to_numpy(), "i": np.arange(len(ahead))})
    planned = planned[planned["d"].isin(after)]
    hits = planned.groupby(["e", "d"], sort=False)["i"].agg(list).to_dict()
    chosen = np.empty((len(series.entities), h), dtype=np.int64)  # positions in ahead
    for e, entity in enumerate(series.entities):
        for k, date in enumerate(after):
            hit = hits.get((entity, date), [])
            if not len(hit):
                raise DataError(
                    f"{what}: there is no row{_named(entity)} for {date.date()}. Add it, "
                    f"with {spec.target!r} left empty and {known} filled in."
                )
            if len(hit) > 1:
                raise DataError(
                    f"{what}: data rows {int(ahead[hit[0]]) + 1} and {int(ahead[hit[1]]) + 1} "
                    f"are both {date.date()}{_named(entity)}. Keep one row per period."
                )
            chosen[e, k] = hit[0]
    future = np.full((len(series.entities), h, len(spec.exog)), np.nan)
    for j, col in enumerate(spec.exog):
        if col in spec.known:
            future[:, :, j] = _planned(frame, col, ahead[chosen])
    series = replace(series, future=future)
    if series.rows is not None:  # data rows of the whole upload, for later messages
        series = replace(series, rows=positions[series.rows])
    return series


def _named(entity: str) -> str:
    """`` of entity 'x'`` for a panel's entity, ``""`` for one series."""
    return f" of entity {entity!r}" if entity else ""


def _planned(frame: pd.DataFrame, col: str, rows: np.ndarray) -> np.ndarray:
    """A known column's values on the data rows ``rows + 1`` of the periods to forecast,
    float64 of the shape of ``rows``, each finite and within :data:`MAX_MAGNITUDE`; else
    a DataError naming the first row (in the order of ``rows``) that is not."""
    raw = frame[col].iloc[rows.ravel()]
    values = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=np.float64)
    bad = np.flatnonzero(~np.isfinite(values) | (np.abs(values) > MAX_MAGNITUDE))
    if len(bad):
        row, value = int(rows.ravel()[bad[0]]), raw.iloc[bad[0]]
        shown = "empty" if pd.isna(value) else repr(str(value)[:30])
        raise DataError(
            f"The known-in-advance column {col!r} is {shown} on data row {row + 1}, "
            "a period to forecast: the model reads its planned value there. Fill in a "
            "number (the value planned for that period)."
        )
    return values.reshape(rows.shape)


def _known_among_exog(spec: SeriesSpec) -> None:
    """Refuse a known-in-advance column that is not one of the exogenous columns."""
    extra = [c for c in spec.known if c not in spec.exog]
    if extra:
        raise DataError(
            f"The known-in-advance column(s) {', '.join(map(repr, extra))} must also be "
            "exogenous columns: choose them there first."
        )


@contextmanager
def _explained(note: str):
    """Add ``note`` (how the dates were read) to a SplitError about the dates: steps that
    look irregular may come from dates converted to UTC."""
    try:
        yield
    except SplitError as exc:
        if not note:
            raise
        raise SplitError(f"{exc} Note: {note}") from exc


def _not_huge(values: np.ndarray, raw: pd.Series, what: str, error: type[Exception]) -> None:
    """Refuse finite values beyond :data:`MAX_MAGNITUDE`, naming the first row.

    Args:
        values: the column as float64 (n,), finite.
        raw: the column as read (for the value shown).
        what: the column in words (``"The target 'sales'"``).
        error: the exception type to raise.
    """
    huge = np.abs(values) > MAX_MAGNITUDE
    if huge.any():
        first = int(np.flatnonzero(huge)[0])
        raise error(
            f"{what} has {int(huge.sum())} value(s) too large to compute with (beyond "
            f"±{MAX_MAGNITUDE:g}; first {str(raw.iloc[first])[:30]!r} at data row {first + 1})."
            " Forecasting takes differences and scales of the values, which overflow there. "
            "Check the column's units and the export that produced it (1e308 is often a "
            "placeholder for a missing value); fix or drop those rows."
        )


def _entity_ids(frame: pd.DataFrame, col: str) -> np.ndarray:
    """Each row's entity as text (all ``""`` without an entity column)."""
    if not col:
        return np.full(len(frame), "", dtype=object)
    if col not in frame.columns:
        raise SplitError(f"The entity column {col!r} is not in the data.")
    missing = frame[col].isna().to_numpy()
    if missing.any():
        raise SplitError(
            f"The entity column {col!r} is empty on {int(missing.sum())} rows (first at data "
            f"row {int(np.flatnonzero(missing)[0]) + 1}). Fill them in or drop those rows."
        )
    ids = frame[col].astype(str).to_numpy(dtype=object)
    count = len(pd.unique(ids))
    if count > MAX_ENTITIES:
        raise SplitError(
            f"The entity column {col!r} has {count} distinct values; a panel may hold at most "
            f"{MAX_ENTITIES} series. Is it really an id of series (not of rows)?"
        )
    return ids


def _no_duplicates(dates: pd.Series, ids: np.ndarray, spec: SeriesSpec) -> None:
    keys = pd.DataFrame({"id": ids, "date": dates.to_numpy()})
    dup = keys.duplicated(keep=False).to_numpy()
    if not dup.any():
        return
    first = int(np.flatnonzero(dup)[0])
    where = f" within entity {ids[first]!r}" if spec.entity_col else ""
    per = "entity and period" if spec.entity_col else "period"
    raise SplitError(
        f"The date column {spec.date_col!r} has {int(keys.duplicated().sum())} duplicate "
        f"dates{where} (first {dates.iloc[first].date()} at data row {first + 1}). A series "
        f"has one row per {per}: aggregate the duplicates first."
    )


def _balanced(
    stamps: np.ndarray, codes: np.ndarray, entities: tuple[str, ...], index, col: str
) -> None:
    """Every entity on every date of the panel; else a SplitError naming one that is not.

    Without duplicates (checked first), an entity is on every date exactly when it has as
    many rows as there are dates, so one count per entity decides (vectorised).

    Args:
        stamps: each row's date, datetime64 (N,).
        codes: each row's entity as a position in ``entities``, int (N,).
        entities: the E entity names, sorted.
        index: the panel's n distinct dates, sorted.
        col: the entity column, for the message.
    """
    counts = np.bincount(codes, minlength=len(entities))
    short = np.flatnonzero(counts < len(index))
    if not len(short):
        return
    e = int(short[0])
    missing = index.difference(pd.DatetimeIndex(stamps[codes == e]))
    raise SplitError(
        f"Entity {entities[e]!r} (column {col!r}) has no row for {len(missing)} date(s) that "
        f"other entities have ({_listed(missing)}). Every entity needs a row on every "
        "date: fill those periods in, or drop that entity."
    )


def _listed(dates: pd.DatetimeIndex) -> str:
    """The first five dates, and how many more."""
    more = f" and {len(dates) - 5} more" if len(dates) > 5 else ""
    return ", ".join(str(d.date()) for d in dates[:5]) + more


def _exog_values(frame: pd.DataFrame, col: str, target: str) -> np.ndarray:
    """An exogenous column as float64 (n,), finite and within :data:`MAX_MAGNITUDE`; a
    DataError says what is wrong and where."""
    if col not in frame.columns or col == target:
        raise DataError(
            f"The exogenous column {col!r} is "
            + ("the target itself." if col == target else "not in the data.")
        )
    values = pd.to_numeric(frame[col], errors="coerce").to_numpy(dtype=np.float64)
    bad = ~np.isfinite(values)
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        raise DataError(
            f"The exogenous column {col!r} is not a finite number on {int(bad.sum())} rows "
            f"(first {str(frame[col].iloc[first])[:30]!r} at data row {first + 1}). Fill those "
            "cells in or leave the column out."
        )
    _not_huge(values, frame[col], f"The exogenous column {col!r}", DataError)
    return values


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
            raise SplitError(
                f"The dates in {col!r} are not evenly spaced: {len(missing)} period(s) are "
                f"missing ({_listed(missing)}). Add those rows (or resample the data to one row "
                "per period) before forecasting."
            )
    raise SplitError(
        f"The dates in {col!r} are not evenly spaced (the usual step is {common}, but "
        f"{int((step != common).sum())} steps differ). Resample to one row per period first."
    )


#: Words of a pandas frequency's base (its rule code less the multiple and the anchor):
#: (adjective, plural unit, what the dates mark).
_FREQUENCY_WORDS = {
    "YS": ("yearly", "years", "starting"),
    "YE": ("yearly", "years", "ending"),
    "QS": ("quarterly", "quarters", "starting"),
    "QE": ("quarterly", "quarters", "ending"),
    "BQS": ("quarterly", "quarters", "starting"),
    "BQE": ("quarterly", "quarters", "ending"),
    "MS": ("monthly", "months", "month starts"),
    "ME": ("monthly", "months", "month ends"),
    "BMS": ("monthly", "months", "first business day"),
    "BME": ("monthly", "months", "last business day"),
    "W": ("weekly", "weeks", ""),
    "D": ("daily", "days", ""),
    "B": ("business-daily", "business days", ""),
    "h": ("hourly", "hours", ""),
    "min": ("every minute", "minutes", ""),
    "s": ("every second", "seconds", ""),
}
_MONTHS = dict(
    zip(
        ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"),
        (
            "January",
            "February",
            "March",
            "April",
            "May",
            "June",
            "July",
            "August",
            "September",
            "October",
            "November",
            "December",
        ),
        strict=True,
    )
)
_WEEKDAYS = dict(
    zip(
        ("MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN"),
        ("Mondays", "Tuesdays", "Wednesdays", "Thursdays", "Fridays", "Saturdays", "Sundays"),
        strict=True,
    )
)


def _frequency_parts(freq: str) -> tuple[int, str, str]:
    """(multiple, base, anchor) of a pandas frequency: ``"2QS-JAN"`` -> (2, "QS", "JAN");
    (1, "", "") for an empty or unknown one."""
    try:
        offset = pd.tseries.frequencies.to_offset(freq) if freq else None
    except ValueError:
        offset = None
    if offset is None:
        return 1, "", ""
    base, _, anchor = offset.rule_code.partition("-")
    return int(offset.n), base, anchor


def frequency_words(freq: str) -> str:
    """A pandas frequency in words, for the analyst.

    Examples: ``"QS-JAN"`` -> ``"quarterly (starting January)"``, ``"QE-DEC"`` ->
    ``"quarterly (ending December)"``, ``"MS"`` -> ``"monthly (month starts)"``,
    ``"W-SUN"`` -> ``"weekly (Sundays)"``, ``"2QS-JAN"`` -> ``"every 2 quarters (starting
    January)"``, ``"D"`` -> ``"daily"``; one it does not know, as given.
    """
    n, base, anchor = _frequency_parts(freq)
    if base not in _FREQUENCY_WORDS:
        return freq or "unknown"
    adjective, unit, marks = _FREQUENCY_WORDS[base]
    words = adjective if n == 1 else f"every {n} {unit}"
    if anchor in _MONTHS and marks in ("starting", "ending"):
        return f"{words} ({marks} {_MONTHS[anchor]})"
    if anchor in _WEEKDAYS:
        return f"{words} ({_WEEKDAYS[anchor]})"
    return f"{words} ({marks})" if marks else words


def infer_frequency(dates) -> str:
    """The pandas frequency of evenly spaced dates (in any order, repeats allowed, as the
    rows of a panel's forecasts), or ``""`` when there are fewer than 3 or they are not
    evenly spaced."""
    index = pd.DatetimeIndex(pd.unique(pd.DatetimeIndex(dates))).sort_values()
    return (pd.infer_freq(index) or "") if len(index) >= 3 else ""


def period_labels(dates, freq: str = "") -> list[str]:
    """Each date as the period it stands for: quarterly ``"2009 Q4"``, yearly ``"2009"``,
    monthly ``"2009-10"``, weekly and daily ``"2009-10-01"``, hourly and finer
    ``"2009-10-01 14:00"``.

    Args:
        dates: the dates (anything :class:`pandas.DatetimeIndex` takes).
        freq: their pandas frequency; ``""`` infers it (:func:`infer_frequency`).
    """
    index = pd.DatetimeIndex(dates)
    _, base, _ = _frequency_parts(freq or infer_frequency(index))
    if base.endswith(("QS", "QE")):
        return [f"{d.year} Q{d.quarter}" for d in index]
    if base in ("YS", "YE"):
        return [str(d.year) for d in index]
    if base in ("MS", "ME", "BMS", "BME"):
        return list(index.strftime("%Y-%m"))
    timed = base in ("h", "min", "s") or (index != index.normalize()).any()
    return list(index.strftime("%Y-%m-%d %H:%M" if timed else "%Y-%m-%d"))


def require_positive(
    series: Series, target: str, error: type[Exception], fix: str, transform: str = "log"
) -> None:
    """Refuse a series with a value at or below zero (a model on ``log y``, or on its
    Box-Cox transform, cannot read it).

    Args:
        series: the checked series or panel.
        target: the target column, for the message.
        error: the exception to raise (:class:`TargetError` in training,
            :class:`DataError` for a history on Predict).
        fix: the sentence that says how to fix it.
        transform: what the model reads, for the message (``"log"``, ``"Box-Cox
            transform"``).

    Raises:
        error: naming the first such value, its entity and its data row.
    """
    bad = ~(series.values > 0)
    if not bad.any():
        return
    e, i = (int(v) for v in np.argwhere(bad)[0])
    row = int(series.rows[e, i]) if series.rows is not None else i
    where = f" of entity {series.entities[e]!r}" if series.entities != ("",) else ""
    raise error(
        f"The {transform} of {target!r} is needed and {int(bad.sum())} of its values are 0 or "
        f"below (first {series.values[e, i]:g}{where} at data row {row + 1}, "
        f"{series.dates[i].date()}). {fix}"
    )


#: Frequency bases counted in months and in quarters by :func:`season_phase`.
_MONTHLY = ("MS", "ME", "BMS", "BME")
_QUARTERLY = ("QS", "QE", "BQS", "BQE")


def default_season(freq: str) -> int:
    """The season length a pandas frequency implies (:data:`SEASONS`): 12 for monthly data,
    4 for quarterly, 52 weekly, 7 daily, 5 business-daily, 24 hourly; a multiple divides it
    (``"2MS"``: 6), 1 when it does not divide or the frequency has no season."""
    mult, base, _ = _frequency_parts(freq)
    per = SEASONS.get(base, 1)
    return per // mult if per % mult == 0 else 1


def season_phase(dates, freq: str, season: int) -> np.ndarray:
    """Each date's position in the season, from the dates themselves (so a history uploaded
    later gets the phases training saw): int64 (n,) in ``0 .. season - 1``. The steps
    since 1970 are counted in the frequency's unit (months, quarters, years, business
    days, weeks, or the fixed step of daily and finer data), divided by its multiple
    (``"2MS"``: 2) and taken modulo ``season``; monthly data with a season of 12 gets the
    month of the year (January 0), quarterly data with 4 the calendar quarter, daily data
    with 7 the weekday (Thursday 0, as 1 January 1970 was). Weekly data with 52 gets the
    weeks since 1970 modulo 52, which drifts from the week of the year by about a day a
    year (a year is 52.18 weeks).

    Args:
        dates: the periods' dates (anything :class:`pandas.DatetimeIndex` takes), (n,).
        freq: their pandas frequency (:attr:`Series.freq`).
        season: the season length in steps (>= 1; 1 gives zeros).

    Raises:
        ValueError: a frequency this cannot count (none, or an irregular one).
    """
    index = pd.DatetimeIndex(dates)
    if index.tz is not None:  # the wall-clock dates (finml's are naive: parse_dates)
        index = index.tz_localize(None)
    mult, base, _ = _frequency_parts(freq)
    if base in _MONTHLY:
        steps = index.year.to_numpy() * 12 + index.month.to_numpy() - 1
    elif base in _QUARTERLY:
        steps = index.year.to_numpy() * 4 + (index.month.to_numpy() - 1) // 3
    elif base in ("YS", "YE", "BYS", "BYE"):
        steps = index.year.to_numpy()
    elif base == "B":
        steps = np.busday_count("1970-01-01", index.to_numpy().astype("datetime64[D]"))
    elif base == "W":
        steps = (index.normalize() - pd.Timestamp("1970-01-05")).days.to_numpy() // 7
    else:
        try:
            step = pd.tseries.frequencies.to_offset(f"1{base}").nanos if base else 0
        except ValueError:
            step = 0
        if not step:
            raise ValueError(f"Cannot place the dates in a season: frequency {freq!r}.")
        since = index - pd.Timestamp("1970-01-01")
        steps = (since // pd.Timedelta(step, unit="ns")).to_numpy()
    return (np.asarray(steps, dtype=np.int64) // max(mult, 1)) % max(int(season), 1)


def fourier_terms(phase: np.ndarray, season: int, pairs: int) -> np.ndarray:
    """Fourier terms of the season at each period: ``sin(2 pi j phase / m)`` and
    ``cos(2 pi j phase / m)`` for j = 1..K (Hyndman & Athanasopoulos, FPP 3rd ed., 7.4;
    the sine at j = m / 2 is zero everywhere and left out), float64 (n, 2K or 2K - 1). With
    K = m / 2 they span the seasonal dummies; fewer give a smoother season.

    Args:
        phase: :func:`season_phase`, int (n,); season: m; pairs: K, 0 .. m // 2.

    Raises:
        ValueError: K outside 0 .. m // 2.
    """
    m, k = int(season), int(pairs)
    if not 0 <= k <= m // 2:
        raise ValueError(f"{k} Fourier pairs do not fit a season of {m} (0 to {m // 2}).")
    angle = 2 * np.pi * np.asarray(phase, dtype=np.float64)[:, None] / max(m, 1)
    cols = []
    for j in range(1, k + 1):
        if 2 * j != m:
            cols.append(np.sin(j * angle[:, 0]))
        cols.append(np.cos(j * angle[:, 0]))
    return np.column_stack(cols) if cols else np.empty((len(angle), 0))


#: The fewest periods a chart of a long history starts zoomed to.
RECENT_PERIODS = 20


def recent_start(dates, season: int, seasons: int = 5):
    """Where a chart of a long history starts by default, so the last ``seasons`` seasons
    (at least :data:`RECENT_PERIODS` periods) and what follows them fill it: the first date
    of that window, or ``None`` when the history is no longer than the window.

    Args:
        dates: the history's dates, in order.
        season: its season length in steps (1: none).
        seasons: how many seasons to show.
    """
    window = max(seasons * max(int(season), 1), RECENT_PERIODS)
    index = pd.DatetimeIndex(dates)
    return index[-window] if len(index) > window else None


@dataclass(frozen=True)
class SeriesSplit:
    """Chronological segments of a series, as half-open position ranges, and the origins of
    each: an origin's h targets all lie inside its segment.

    The segments are contiguous: an origin's targets lie inside its own segment, so no
    target of one segment is a target of the next without a gap between them. The last
    training origin is ``h`` periods before the first validation origin, as at every
    forecast origin: the windows of a later segment read the earlier one's values as
    their past, as a forecast made then would.
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
    n: int,
    horizon: int,
    lags: int,
    val: float = 0.15,
    test: float = 0.15,
    entities: int = 1,
    seasonal: int = 0,
) -> SeriesSplit:
    """Split ``n`` periods into train, validation and test in time order, contiguous (no
    gap: :class:`SeriesSplit` keeps every target inside its segment; a gap of the horizon
    before validation and before test, as before this version, spent 2h periods that the
    model never learnt from).

    Args:
        n: length of the series.
        horizon: steps ahead.
        lags: past changes per window (the first origin needs ``lags`` changes before it).
        val: share of periods for validation.
        test: share of periods for test.
        entities: series in the panel (their training windows are pooled).
        seasonal: the season's length when the windows read the seasonal difference (the
            first origin needs a season more before it), else 0.

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
    val_start = train_end = test_start - n_val
    split = SeriesSplit((0, train_end), (val_start, test_start), (test_start, n), horizon)
    first = lags + seasonal  # the first origin with `lags` changes (of the seasonal difference)
    usable = int((split.origins("train") >= first).sum()) * entities
    if usable < MIN_TRAIN_ORIGINS:
        differenced = f" of the seasonal difference ({seasonal} periods in)" if seasonal else ""
        raise SplitError(
            f"Only {usable} training windows remain for {n} periods with horizon {horizon} and "
            f"{lags} lags{differenced}; at least {MIN_TRAIN_ORIGINS} are needed. Use a longer "
            "series, fewer lags or a shorter horizon"
            + (", or no seasonal difference." if seasonal else ".")
        )
    return split


def segment_report(seg: SeriesSplit, series: Series) -> pd.DataFrame:
    """The split audit of a series: periods, forecast origins and first and last date of
    each segment."""
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


def windows(
    y: np.ndarray,
    origins: np.ndarray,
    lags: int,
    horizon: int,
    *,
    scales: np.ndarray | None = None,
    exog: np.ndarray | None = None,
    rolling: bool = False,
    fourier: np.ndarray | None = None,
):
    """The inputs and targets at each origin of each entity: the last ``lags`` changes up to
    the origin (``y[t-i] - y[t-i-1]``, oldest first) and the next ``horizon`` changes from
    the origin's value (``y[t+k] - y[t]``, k = 1..h), the target's changes divided by the
    entity's scale. Nothing after ``y[t]`` enters the inputs.

    Args:
        y: the series, float64 (n,), or a panel (E, n).
        origins: positions t with ``t >= lags``; targets need ``t + horizon < n``.
        lags: p.
        horizon: h.
        scales: each entity's scale of changes, float (E,) > 0 (default 1).
        exog: exogenous columns, float64 (E, n, X); their last p changes join the inputs.
        rolling: add the mean and the standard deviation of the last p (scaled) changes.
        fourier: terms of the season at every period, float64 (n, F)
            (:func:`fourier_terms`); the origin's F terms end each row (the seasonal part
            of the next h changes is a linear function of them).

    Returns:
        (x float64 (E * m, p * (1 + X) [+ 2] [+ F]), entity-major (entity e's origins are rows
        ``e*m .. e*m + m - 1``), time-major within a row (lag i's channels together);
        targets float64 (E * m, h), or ``None`` where an origin has fewer than h future
        values).
    """
    y = np.atleast_2d(np.asarray(y, dtype=np.float64))
    e, n = y.shape
    s = np.ones(e) if scales is None else np.asarray(scales, dtype=np.float64)
    d = np.diff(y, axis=1, prepend=np.nan) / s[:, None]  # d[:, i] = y[:, i] - y[:, i-1]
    channels = d[:, :, None]
    if exog is not None and exog.shape[-1]:  # their past only (a longer exog holds plans)
        past = np.diff(np.asarray(exog)[:, :n], axis=1, prepend=np.nan)
        channels = np.concatenate([channels, past], axis=2)
    t = np.asarray(origins, dtype=np.int64)
    pos = t[:, None] + np.arange(-lags + 1, 1)[None, :]  # (m, p)
    x = channels[:, pos, :].reshape(e * len(t), -1)  # (E*m, p*c), time-major
    if rolling:
        own = d[:, pos].reshape(e * len(t), lags)
        x = np.column_stack([x, own.mean(axis=1), own.std(axis=1)])
    if fourier is not None and np.shape(fourier)[-1]:
        x = np.column_stack([x, np.tile(np.asarray(fourier)[t], (e, 1))])
    if (t + horizon >= n).any():
        return x, None
    ahead = y[:, t[:, None] + np.arange(1, horizon + 1)[None, :]] - y[:, t][:, :, None]
    return x, (ahead / s[:, None, None]).reshape(e * len(t), horizon)


def known_ahead(exog: np.ndarray, origins: np.ndarray, horizon: int, columns) -> np.ndarray:
    """The known-in-advance columns' changes from each origin to each step ahead,
    ``x[t+k] - x[t]`` for k = 1..h: what a forecast made at t knows of the periods it
    forecasts (planned promotions, holidays, rates), in the manner of the "future
    exogenous" features of Nixtla's mlforecast and of ARIMA's regressors.

    Args:
        exog: the exogenous columns, float64 (E, N, X), N > max(origins) + h (the history
            and, for a forecast past its end, the planned values: :attr:`Series.exog_ahead`).
        origins: positions t, int (m,).
        horizon: h.
        columns: the positions of the known columns among the X, int (K,).

    Returns:
        float64 (E * m, h * K), entity-major, step-major within a row (step k's K changes
        together).

    Raises:
        ValueError: fewer than h values after an origin.
    """
    t = np.asarray(origins, dtype=np.int64)
    ex = np.asarray(exog, dtype=np.float64)[:, :, list(columns)]
    e, n, k = ex.shape
    if len(t) and int(t.max()) + horizon >= n:
        raise ValueError(f"The known columns need their {horizon} values after each origin.")
    steps = t[:, None] + np.arange(1, horizon + 1)[None, :]  # (m, h)
    changes = ex[:, steps, :] - ex[:, t, :][:, :, None, :]  # (E, m, h, K)
    return changes.reshape(e * len(t), horizon * k)


def naive_scales(values: np.ndarray, end: int, lag: int = 1) -> np.ndarray:
    """Each entity's in-sample MAE of the naive forecast ``y[t - lag]`` over its first
    ``end`` values (MASE's scale, Hyndman & Koehler 2006; ``lag`` = the season's length
    gives the seasonal naive scale of the M4 competition), float64 (E,); a flat stretch
    gets 1.

    Args:
        values: the panel, float64 (E, n).
        end: how many leading values to read (the training periods).
        lag: periods back (1: the one-step naive; a season: the seasonal naive; a lag of
            ``end`` or more falls back to 1).
    """
    head = np.asarray(values)[:, :end]
    lag = lag if 1 <= lag < head.shape[1] else 1
    mae = np.mean(np.abs(head[:, lag:] - head[:, :-lag]), axis=1)
    return np.where(mae > 0, mae, 1.0)
