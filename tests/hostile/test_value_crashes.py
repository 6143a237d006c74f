"""Hostile *values* in well-formed files: dates of mixed UTC offsets, values that overflow
the arithmetic (±1e308, 1e999, numbers far beyond the training data), and a panel of
1,000 series x 1,000 quarters. Every file is built here, read with the Data page's reader,
then handed to the step its page calls (schema inference, the forecasting series checks,
the Predict page's forecast, regression or scoring); each gets its specific message (or
a read with the right note), never a traceback, within a memory bound.

The last test drives the Predict page: a forecast is made once per upload, not on every
rerun."""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd
import pytest

from finml.data import reader
from finml.data.demo import demo_frame, macro_frame, macro_panel_frame
from finml.data.series import SeriesSpec, load_series
from finml.errors import FinmlError
from finml.prediction import forecast, tables
from tests.hostile.test_inputs import MEMORY_BOUND_MIB, measured, scorer  # noqa: F401

READ, REFUSED = "read", "refused"


def _csv(frame: pd.DataFrame) -> bytes:
    return frame.to_csv(index=False).encode()


def _walk(n: int, seed: int = 0, start: float = 100.0) -> np.ndarray:
    return np.round(start + np.cumsum(np.random.default_rng(seed).normal(size=n)), 3)


def _offsets(dates: pd.DatetimeIndex, offsets: list[str]) -> list[str]:
    """Each date at midnight with its offset (``""``: none)."""
    return [f"{d:%Y-%m-%d}T00:00:00{o}" for d, o in zip(dates, offsets, strict=True)]


def monthly_mixed() -> bytes:
    """Months whose offsets alternate between +01:00 and -05:00."""
    dates = pd.date_range("2015-01-01", periods=60, freq="MS")
    offsets = ["+01:00" if i % 2 == 0 else "-05:00" for i in range(60)]
    return _csv(pd.DataFrame({"date": _offsets(dates, offsets), "value": _walk(60)}))


def daily_one_odd(at: int, n: int = 60) -> bytes:
    """Days at +01:00, except row ``at`` at -05:00 (a position the reader's sample of the
    first 500 values may not see)."""
    dates = pd.date_range("2020-01-01", periods=n, freq="D")
    offsets = ["-05:00" if i == at else "+01:00" for i in range(n)]
    return _csv(pd.DataFrame({"date": _offsets(dates, offsets), "value": _walk(n)}))


def offsets_and_naive() -> bytes:
    """Quarters, the first half written without an offset, the rest at +01:00."""
    dates = pd.date_range("2000-01-01", periods=40, freq="QS")
    offsets = ["" if i < 20 else "+01:00" for i in range(40)]
    return _csv(pd.DataFrame({"date": _offsets(dates, offsets), "value": _walk(40)}))


def hourly_across_dst() -> bytes:
    """Paris hours across the spring change: +01:00, then +02:00; in UTC, regular hours."""
    stamps = pd.date_range("2021-03-26 00:00", periods=96, freq="h", tz="Europe/Paris")
    return _csv(pd.DataFrame({"date": stamps.map(pd.Timestamp.isoformat), "load": _walk(96)}))


def loans_with_mixed_dates() -> bytes:
    """A credit table whose application dates mix offsets (a table model's date column)."""
    rows = demo_frame("German Credit (Statlog)").head(40).copy()
    days = pd.date_range("2021-01-01", periods=40, freq="D")
    rows["applied"] = _offsets(days, ["+01:00" if i % 3 else "-05:00" for i in range(40)])
    return _csv(rows)


def series_with(column: str, rows: list[int], value: str, n: int = 40, entities=()) -> bytes:
    """A quarterly series (``value``, exogenous ``x``; a panel with ``entities``) with
    ``value`` written in ``column`` on data rows ``rows`` (1-based)."""
    dates = pd.date_range("2000-01-01", periods=n, freq="QS").strftime("%Y-%m-%d")
    parts = []
    for k, name in enumerate(entities or [""]):
        part = pd.DataFrame({"date": dates, "value": _walk(n, k), "x": _walk(n, k + 10)})
        if entities:
            part.insert(1, "entity", name)
        parts.append(part)
    frame = pd.concat(parts, ignore_index=True)
    frame[column] = frame[column].astype(object)
    frame.loc[[r - 1 for r in rows], column] = value
    return _csv(frame)


def alternating(column: str, n: int = 40) -> bytes:
    """A quarterly series whose ``column`` alternates between 1e308 and -1e308."""
    dates = pd.date_range("2000-01-01", periods=n, freq="QS").strftime("%Y-%m-%d")
    huge = ["1e308" if i % 2 else "-1e308" for i in range(n)]
    return _csv(pd.DataFrame({"date": dates, "value": huge, "x": _walk(n)}))


def macro_history(column: str = "", values: dict[int, str] | None = None, n=120) -> bytes:
    """The first ``n`` quarters of the macro demo, with ``values`` (data row, 1-based ->
    text) written in ``column``."""
    frame = macro_frame().head(n).copy()
    if column:
        frame[column] = frame[column].astype(object)
        for row, value in (values or {}).items():
            frame.loc[row - 1, column] = value
    return _csv(frame)


def macro_mixed_offsets() -> bytes:
    frame = macro_frame().head(120).copy()
    dates = pd.DatetimeIndex(frame["date"])
    frame["date"] = _offsets(dates, ["+01:00" if i % 2 else "-05:00" for i in range(120)])
    return _csv(frame)


def panel_history(entity: str, value: str) -> bytes:
    """The macro panel before 1990, ``value`` as the last quarter of ``entity``."""
    frame = macro_panel_frame()
    frame = frame[frame["date"] < "1990-01-01"].copy()
    frame["value"] = frame["value"].astype(object)
    last = frame.index[frame["series"] == entity][-1]
    frame.loc[last, "value"] = value
    return _csv(frame.reset_index(drop=True))


def new_rows(column: str, value: str, rows: int = 3, drop=("credit_amount",)) -> bytes:
    """20 German Credit applicants without the target ``creditability`` (nor ``drop``, the
    regression's target), ``value`` in ``column`` on the first ``rows`` rows."""
    frame = demo_frame("German Credit (Statlog)").head(20)
    frame = frame.drop(columns=["creditability", *drop]).copy()
    frame[column] = frame[column].astype(object)
    frame.loc[frame.index[:rows], column] = value
    return _csv(frame)


def new_rows_with_dates() -> bytes:
    """New applicants with an extra date column: +02:00 on even rows, no offset on odd."""
    frame = demo_frame("German Credit (Statlog)").head(20)
    frame = frame.drop(columns=["creditability", "credit_amount"]).copy()
    days = pd.date_range("2023-01-01", periods=len(frame), freq="D")
    frame["applied"] = _offsets(days, ["" if i % 2 else "+02:00" for i in range(len(frame))])
    return _csv(frame)


@dataclass(frozen=True)
class Hostile:
    """One generated input: ``step`` is the page step it is fed to (see :func:`_run`);
    every phrase must be in the message (or, read, in the notes and messages)."""

    id: str
    step: str
    build: object
    outcome: str
    phrases: tuple[str, ...]
    spec: SeriesSpec | None = field(default=None)


DATE = SeriesSpec("date", "value", 1)
WITH_X = SeriesSpec("date", "value", 1, exog=("x",))
PANEL = SeriesSpec("date", "value", 1, entity_col="entity")
UTC = "converted them all to UTC"

CASES = [
    # The Data page: dates of mixed UTC offsets (read, then the forecasting checks).
    Hostile(
        "offsets alternate by month",
        "data",
        monthly_mixed,
        REFUSED,
        ("not evenly spaced", "different UTC offsets (+01:00, -05:00)", UTC),
        DATE,
    ),
    Hostile(
        "one odd offset on the first row",
        "data",
        lambda: daily_one_odd(0),
        REFUSED,
        ("'date'", "not evenly spaced", "(+01:00, -05:00)", UTC),
        DATE,
    ),
    Hostile(
        "one odd offset in the middle",
        "data",
        lambda: daily_one_odd(30),
        REFUSED,
        ("not evenly spaced", UTC),
        DATE,
    ),
    Hostile(
        "one odd offset on row 700 (beyond the reader's sample)",
        "data",
        lambda: daily_one_odd(699, 700),
        REFUSED,
        ("not evenly spaced", UTC),
        DATE,
    ),
    Hostile(
        "offsets on some dates, none on others",
        "data",
        offsets_and_naive,
        REFUSED,
        ("a UTC offset (+01:00) on some rows and none on 20 other row(s)", UTC),
        DATE,
    ),
    Hostile(
        "hours across a daylight-saving change",
        "data",
        hourly_across_dst,
        READ,
        ("The dates in 'date' carry different UTC offsets (+01:00, +02:00)", UTC),
        SeriesSpec("date", "load", 2),
    ),
    Hostile(
        "a table's date column mixes offsets",
        "schema",
        loans_with_mixed_dates,
        READ,
        ("The dates in 'applied' carry different UTC offsets (+01:00, -05:00)",),
    ),
    # The Data page: values that overflow the forecasting arithmetic.
    Hostile(
        "one 1e308 in the target",
        "data",
        lambda: series_with("value", [31], "1e308"),
        REFUSED,
        ("target 'value' has 1 value(s) too large to compute with", "data row 31"),
        DATE,
    ),
    Hostile(
        "a target of ±1e308",
        "data",
        lambda: alternating("value"),
        REFUSED,
        ("40 value(s) too large to compute with", "'-1e+308' at data row 1"),
        DATE,
    ),
    Hostile(
        "1e999 in the target",
        "data",
        lambda: series_with("value", [10], "1e999"),
        REFUSED,
        ("1 infinite values (first at data row 10)",),
        DATE,
    ),
    Hostile(
        "-1e999 in the target",
        "data",
        lambda: series_with("value", [12, 13], "-1e999"),
        REFUSED,
        ("2 infinite values (first at data row 12)",),
        DATE,
    ),
    Hostile(
        "1e200 in an exogenous column",
        "data",
        lambda: series_with("x", [7], "1e200"),
        REFUSED,
        ("exogenous column 'x' has 1 value(s) too large to compute with", "data row 7"),
        WITH_X,
    ),
    Hostile(
        "1e999 in an exogenous column",
        "data",
        lambda: series_with("x", [9], "1e999"),
        REFUSED,
        ("exogenous column 'x' is not a finite number on 1 rows", "data row 9"),
        WITH_X,
    ),
    Hostile(
        "1e300 in one entity of a panel",
        "data",
        lambda: series_with("value", [95], "1e300", entities=["a", "b", "c"]),
        REFUSED,
        ("too large to compute with", "'1e+300' at data row 95"),
        PANEL,
    ),
    # Predict, a forecaster (target realcons, exogenous realgdp, 8 lags).
    Hostile(
        "a history with 1e308",
        "forecast",
        lambda: macro_history("realcons", {60: "1e308"}),
        REFUSED,
        ("target 'realcons' has 1 value(s) too large to compute with", "data row 60"),
    ),
    Hostile(
        "a history of ±1e308",
        "forecast",
        lambda: macro_history("realcons", {r: ("-1e308", "1e308")[r % 2] for r in range(1, 121)}),
        REFUSED,
        ("120 value(s) too large to compute with",),
    ),
    Hostile(
        "a history with -1e999",
        "forecast",
        lambda: macro_history("realcons", {119: "-1e999"}),
        REFUSED,
        ("1 infinite values (first at data row 119)",),
    ),
    Hostile(
        "a last value of 1e140 (under the cap, beyond the model)",
        "forecast",
        lambda: macro_history("realcons", {120: "1e140"}),
        REFUSED,
        ("'realcons' has values too large for this model's arithmetic", "data row 120"),
    ),
    Hostile(
        "an exogenous 1e140 in the last quarter",
        "forecast",
        lambda: macro_history("realgdp", {120: "1e140"}),
        REFUSED,
        ("'realgdp' has values too large", "from data row 119 to data row 120"),
    ),
    Hostile(
        "a history with mixed offsets",
        "forecast",
        macro_mixed_offsets,
        REFUSED,
        ("not evenly spaced", UTC),
    ),
    Hostile(
        "one entity of a panel history at 1e140",
        "panel",
        lambda: panel_history("realinv", "1e140"),
        REFUSED,
        ("of entity 'realinv'", "too large for this model's arithmetic"),
    ),
    # Predict, a regression (ridge on German Credit's loan amount).
    Hostile(
        "1e308 in new rows",
        "regression",
        lambda: new_rows("duration_in_month", "1e308"),
        READ,
        ("too large to compute with (set missing), first '1e+308' at data row 1",),
    ),
    Hostile(
        "-1e308 in new rows",
        "regression",
        lambda: new_rows("age_in_years", "-1e308"),
        READ,
        ("'age_in_years': 3 value(s) are too large to compute with (set missing)",),
    ),
    Hostile(
        "1e999 in new rows",
        "regression",
        lambda: new_rows("duration_in_month", "1e999"),
        READ,
        ("are infinite (set missing), first at data row 1",),
    ),
    Hostile(
        "-1e999 in new rows",
        "regression",
        lambda: new_rows("age_in_years", "-1e999", rows=1),
        READ,
        ("'age_in_years': 1 value(s) are infinite (set missing)",),
    ),
    Hostile(
        "a single 1e40 (under the cap, far beyond the training range)",
        "regression",
        lambda: new_rows("duration_in_month", "1e40", rows=1),
        READ,
        ("too large to compute with (set missing), first '1e+40' at data row 1",),
    ),
    Hostile(
        "new rows with a date column mixing offsets",
        "regression",
        new_rows_with_dates,
        READ,
        ("'applied' carry a UTC offset (+02:00) on some rows", "Extra column(s)"),
    ),
    Hostile(
        "1e15 in new rows of a log-target model",
        "log regression",
        lambda: new_rows("duration_in_month", "1e15", rows=2),
        READ,
        ("2 row(s) get no prediction (first at data row 1)", "arithmetic overflows"),
    ),
    # Predict, a classifier (logistic regression on German Credit).
    Hostile(
        "1e308 in rows to score",
        "classification",
        lambda: new_rows("credit_amount", "1e308", drop=()),
        READ,
        ("'credit_amount': 3 value(s) are too large to compute with (set missing)",),
    ),
]


def _regressor(german, **params):
    """A ridge regression of the loan amount trained in this process."""
    from finml.data.schema import default_features, infer_schema
    from finml.data.spec import DatasetSpec
    from finml.fitters.base import ListSink
    from finml.models.registry import resolve_params
    from finml.tasks import train_spec
    from finml.tasks.spec import RunSpec

    frame = german.drop(columns="creditability")
    numeric, categorical = default_features(infer_schema(frame), "credit_amount")
    ds = DatasetSpec("0" * 32, "g", "credit_amount", "", tuple(numeric), tuple(categorical))
    spec = RunSpec(replace(ds, task="regression"), "ridge", resolve_params("ridge", params))
    return train_spec(spec, frame, ListSink()).model


def _forecaster(frame, target: str, entity_col: str = "", exog=()):
    """A ridge forecaster (8 lags, horizon 2) trained in this process."""
    from finml.fitters.base import ListSink
    from finml.tasks.forecast import run_forecast
    from tests.conftest import forecast_spec

    spec = forecast_spec("ridge_lags", 2, target, entity_col, exog)
    return run_forecast(spec, frame, ListSink()).model


@pytest.fixture(scope="module")
def models(german, scorer):  # noqa: F811
    """Every model a step needs, trained once for the module."""
    return {
        "forecast": _forecaster(macro_frame(), "realcons", exog=("realgdp",)),
        "panel": _forecaster(macro_panel_frame(), "value", "series"),
        "regression": _regressor(german),
        "log regression": _regressor(german, log_target=True),
        "classification": scorer[0],
    }


def _run(case: Hostile, models: dict, data: bytes):
    """Feed ``data`` to the step of its page; return (what finml returned, what it said)."""
    if case.step in ("forecast", "panel"):
        entity = "series" if case.step == "panel" else ""
        target = "value" if case.step == "panel" else "realcons"
        out = forecast.extend_upload(models[case.step], data, "h.csv", "date", target, 0.9, entity)
        return out, " ".join(out.notes)
    read = reader.read_table(data, "upload.csv")
    notes = " ".join(read.notes)
    if case.step == "schema":
        assert read.schema.kind_of("applied") == "date"
        return read, notes
    if case.step == "data":
        assert read.schema.kind_of(case.spec.date_col) == "date"
        series = load_series(read.frame, case.spec)
        return series, " ".join([notes, *series.notes])
    if case.step == "classification":
        out, messages = tables.score_rows(models[case.step], read.frame, 0.5)
    else:
        out, messages = tables.predict_rows(models[case.step], read.frame, 0.9)
    return out, " ".join([notes, *messages])


def test_at_least_fifteen_generated_inputs():
    assert len(CASES) >= 15 and len({c.id for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_a_hostile_value_gets_its_message_and_stays_small(case, models):
    data = case.build()  # outside the measurement: the input is not finml's cost
    started = time.perf_counter()
    out, peak = measured(lambda: _run(case, models, data))
    seconds = time.perf_counter() - started
    print(f"{case.id}: {peak} MiB, {seconds:.2f} s")
    if case.outcome == REFUSED:
        assert isinstance(out, FinmlError), f"expected a refusal, got {out!r}"
        said = str(out)
        assert len(said) < 2000
    else:
        assert not isinstance(out, Exception), f"{type(out).__name__}: {out}"
        result, said = out
        if isinstance(result, pd.DataFrame) and "prediction" in result:
            shown = result[["prediction", "lower", "upper"]].to_numpy(dtype=np.float64)
            assert not np.isinf(shown).any()  # never an overflowed number
            if case.step == "log regression":
                assert np.isnan(shown[:2]).all() and np.isfinite(shown[2:]).all()
                assert "no prediction" in result["issues"].iloc[0]
            else:
                assert np.isfinite(shown).all()
        if isinstance(result, pd.DataFrame) and "score" in result:
            assert np.isfinite(result["score"]).all()
    for phrase in case.phrases:
        assert phrase in said, said
    assert peak < MEMORY_BOUND_MIB, f"{case.id} took {peak} MiB"


def test_hours_across_a_clock_change_are_one_regular_series_in_utc():
    series = load_series(
        reader.read_table(hourly_across_dst(), "h.csv").frame, SeriesSpec("date", "load", 2)
    )
    assert series.freq == "h" and series.n == 96
    assert str(series.dates[0]) == "2021-03-25 23:00:00"  # 00:00 at +01:00


def panel_csv(entities: int = 1000, quarters: int = 1000) -> bytes:
    """A long-form panel: ``date``, ``series``, ``value``, one row per entity and quarter."""
    dates = pd.date_range("1770-01-01", periods=quarters, freq="QS").strftime("%Y-%m-%d")
    walks = np.cumsum(np.random.default_rng(0).normal(size=(entities, quarters)), axis=1)
    return _csv(
        pd.DataFrame(
            {
                "date": np.tile(dates, entities),
                "series": np.repeat([f"s{i:04d}" for i in range(entities)], quarters),
                "value": (walks + 100).ravel().round(3),
            }
        )
    )


def test_a_panel_of_1000_series_by_1000_quarters_forecasts_in_seconds(models):
    data = panel_csv()
    started = time.perf_counter()
    out = forecast.extend_upload(models["panel"], data, "panel.csv", "date", "value", 0.9, "series")
    seconds = time.perf_counter() - started
    print(f"1000 x 1000 panel: {seconds:.1f} s")
    assert out.rows == 1_000_000 and len(out.forecasts) == 2000 and len(out.history) == 1_000_000
    assert np.isfinite(out.forecasts[["y_pred", "lower", "upper"]].to_numpy()).all()
    assert seconds < 30  # 45 s on Predict before (about 3 s now on 2 cores)


def test_predict_forecasts_once_per_upload_not_on_every_rerun(macro_panel_run, monkeypatch):
    from tests.app.conftest import open_app

    calls = []
    real = forecast.extend_upload

    def counted(*args, **kwargs):
        calls.append(args[2])
        return real(*args, **kwargs)

    monkeypatch.setattr(forecast, "extend_upload", counted)
    at = open_app("predict")
    history = macro_panel_frame()
    data = _csv(history[history["date"] < "1990-01-01"])
    at.file_uploader(key="rows").set_value(("h.csv", data, "text/csv")).run()
    assert not at.exception and not at.error, (at.exception, at.error)
    assert len(calls) == 1 and len(at.dataframe[0].value) == 5
    at.selectbox(key="predict_entity").set_value("realinv").run()
    at.run()
    assert not at.exception, at.exception
    titles = " ".join(c.proto.spec for c in at.get("plotly_chart"))
    assert "value (realinv): history and the next 1 period(s)" in titles
    assert len(calls) == 1  # the entity changed, the forecast was not made again
    at.file_uploader(key="rows").set_value(("again.csv", data, "text/csv")).run()
    at.select_slider(key="interval_level").set_value("0.8").run()
    assert len(calls) == 3  # a new file name, then a new level: the settings it depends on
