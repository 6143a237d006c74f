"""Forecasting (a series, or a panel of series, over time): the Data form's series
settings; Evaluate's comparison with the baselines, by step and entity, and the backtest;
Predict extending an uploaded history, read and forecast once per upload (cached per
session, so the page's other widgets rerun fast). From stored predictions only."""

from __future__ import annotations

import contextlib
import hashlib

import pandas as pd
import streamlit as st

from finml.config import get_settings
from finml.data.series import (
    SeriesSpec,
    chronological_split,
    frequency_words,
    infer_frequency,
    load_series,
    recent_start,
    segment_report,
)
from finml.data.spec import DatasetSpec
from finml.data.split import SplitSpec
from finml.data.staging import save_dataset_spec, stage_frame
from finml.errors import FinmlError
from finml.evaluation.forecast import (
    VALIDATION_MASE,
    actuals,
    by_entity,
    by_step,
    entities,
    for_entity,
    run_leaderboard,
    step_forecasts,
)
from finml.reporting import formats, regression_charts
from finml.tasks import get_task
from finml.tasks.forecast import boxcox_words, entity_code_note
from finml.training import jobs
from pages import common
from pages.views import tabs as run_parts
from pages.views import uploads
from pages.views.base import TableView, split_words


def series_form(frame, table_schema, target_col: str, defaults=None) -> None:
    """The forecasting part of the Data page for target ``target_col``: date column,
    horizon and test window, an optional entity column (a panel of series) and exogenous
    columns; the series checked (dates parse, no duplicates within an entity, regular
    steps, every entity on every date, values small enough to compute with) and drawn with
    its chronological segments. Dates of different UTC offsets are read in UTC, with a
    note. ``defaults`` is a demo's (date column, horizon, entity column or "")."""
    settings = get_settings()
    dates = table_schema.names("date")
    if not dates:
        st.error(
            "No column was recognised as a date, so the rows cannot be put in time order. "
            "Add a date column (one row per period) to forecast."
        )
        st.stop()
    date_default, horizon_default, entity_default = defaults or (dates[0], 1, "")
    c1, c2, c3, c4 = st.columns(4)
    date_col = c1.selectbox(
        "Date column", dates, index=dates.index(date_default), key="series_date"
    )
    horizon = c2.number_input(
        "Horizon (steps ahead)", 0, 1000, horizon_default, key="series_horizon"
    )
    val_pct = c3.number_input("Validation %", 5, 50, 15, step=5, key="series_val")
    test_pct = c4.number_input("Test %", 5, 50, 15, step=5, key="series_test")
    e1, e2 = st.columns(2)
    kinds = ("categorical", "id", "numeric")
    others = [c for c in table_schema.names(*kinds) if c not in (target_col, date_col)]
    entity_col = e1.selectbox(
        "Entity column (optional: one series per entity)",
        ["(none)", *others],
        index=others.index(entity_default) + 1 if entity_default in others else 0,
        key="series_entity",
        help="A panel: one global model learns from every entity's series, each in units "
        "of its own typical change.",
    )
    entity_col = "" if entity_col == "(none)" else entity_col
    numeric = [c for c in table_schema.names("numeric") if c not in (target_col, entity_col)]
    exog = e2.multiselect(
        "Exogenous columns (optional)",
        numeric,
        key="series_exog",
        help="Their past changes join the inputs; only values up to each forecast origin "
        "are read, so they need not be known in advance.",
    )
    if "series_known" in st.session_state:  # an exogenous column dropped above
        st.session_state.series_known = [c for c in st.session_state.series_known if c in exog]
    known = st.multiselect(
        "Known in advance (optional, among the exogenous columns)",
        exog,
        key="series_known",
        disabled=not exog,
        help="Holidays, promotions, planned prices or rates: the models also read their "
        "changes from each forecast origin to every step ahead. Predict then needs their "
        "planned values: the upload ends with one row per period to forecast, the target "
        "left empty.",
    )
    spec = SeriesSpec(
        date_col, target_col, int(horizon), 1, 0, entity_col, tuple(exog), tuple(known)
    )
    series = common.or_stop(load_series, frame, spec)
    seg = common.or_stop(
        chronological_split,
        series.n,
        int(horizon),
        1,
        val_pct / 100,
        test_pct / 100,
        len(series.entities),
    )
    shown_above = getattr(st.session_state.get("table"), "notes", ())  # the reader's notes
    for note in series.notes:  # e.g. dates of different UTC offsets, converted to UTC
        if note not in shown_above:
            common.show_info(note)
    panel = f"{len(series.entities)} entities × " if entity_col else ""
    season = f", a season of {series.season} periods" if series.season > 1 else ""
    st.caption(
        f"{panel}{series.n} periods, {frequency_words(series.freq)}{season}. "
        "Train, validation and test follow in time, without gaps: each forecast's "
        f"{int(horizon)} target period(s) lie inside its own segment, so no target of one "
        "is a target of the next."
    )
    shown = 0
    if entity_col:
        names = list(series.entities)
        shown = names.index(st.selectbox("Entity shown", names, key="series_entity_shown"))
    st.plotly_chart(
        regression_charts.series_segments(series.dates, series.values[shown], seg, target_col),
        width="stretch",
    )
    st.table(formats.forecast_table(segment_report(seg, series), series.freq).set_index("split"))
    if st.button("Use this dataset for training", type="primary", key="use_dataset"):
        jobs.warm_up(settings)
        train = 1 - (val_pct + test_pct) / 100
        split = SplitSpec(train, val_pct / 100, test_pct / 100, time_col=date_col)
        st.session_state.dataset = DatasetSpec(
            dataset_id=stage_frame(frame, settings, common.principal().user_id),
            name=st.session_state.table_name,
            target=target_col,
            positive="",
            numeric=(),
            categorical=(),
            split=split,
            task="forecast",
            horizon=int(horizon),
            entity_col=entity_col,
            exog=tuple(exog),
            known=tuple(known),
        )
        save_dataset_spec(st.session_state.dataset, settings)


def fold_view(forecasts, entity) -> None:
    """Actual against the one-step-ahead forecasts of one backtest fold (of ``entity``)."""
    folds = sorted(int(f) for f in forecasts["fold"].unique())
    fold = st.select_slider("Backtest fold shown", folds, value=folds[-1], key="fc_fold")
    part = for_entity(forecasts[forecasts["fold"] == fold], entity)
    shown = step_forecasts(part, {}, 1)
    title = f"Backtest fold {fold}: actual and 1-step-ahead forecasts"
    st.plotly_chart(
        regression_charts.forecast_chart(shown["date"], shown["y_true"], shown, title),
        width="stretch",
    )


def choice_view(run, store) -> None:
    """What Auto chose on the validation origins and why (runs of a model that combines)."""
    try:
        choice = store.read_json(run.run_id, "forecast_choice.json")
    except FinmlError:
        return
    words = {"model": "ridge on lags", "ets": "AutoETS", "theta": "Theta", "arima": "AutoARIMA"}
    rows = [
        {
            "candidate": " + ".join(words.get(m, m) for m in c["members"]),
            VALIDATION_MASE: c["validation_mase"],
            "chosen": "✓" if c["chosen"] else "",
        }
        for c in choice["candidates"]
    ]
    st.subheader("Auto's choice (validation backtest)")
    st.dataframe(pd.DataFrame(rows).round(4), hide_index=True, width="stretch")
    chosen = " + ".join(words.get(m, m) for m in choice["chosen"])
    st.caption(
        f"Auto forecasts with the equal-weight mean of: {chosen}. Rule: the mean of every "
        "member unless the best one or few alone are better on the validation block and the "
        "two blocks of origins before it (each forecast by members fitted on the periods "
        "before that block) by "
        "more than one standard error of the per-origin difference (forecast combinations "
        "beat their members on average: M4). The test origins took no part in the choice."
    )
    decisions = {  # key: (the two ways' names in the record, what each means in words)
        "log": (("log", "series"), ("the log of the series", "the series itself")),
        "recursive": (("recursive", "direct"), ("recursively", "directly")),
        "seasonal_difference": (
            ("seasonal difference", "changes"),
            ("on the seasonal difference", "on the series' own changes"),
        ),
    }
    for key, (ways, words) in decisions.items():
        made = choice.get(key, {})
        if "validation_mase" not in made:
            continue
        mase = made["validation_mase"]
        st.caption(
            f"The ridge member forecasts {words[0] if made['chosen'] else words[1]}: alone, on "
            f"the same blocks, its MASE was {mase[ways[0]]:.3f} {ways[0]} and "
            f"{mase[ways[1]]:.3f} {ways[1]} (standard error of the difference "
            f"{made['standard_error']:.3f}; {ways[0]} is taken when it is lower by more than "
            "that)."
        )


def forecast_view(run, test, store, val=None) -> None:
    """The forecasting view of ``run`` (its long-form test forecasts ``test``): the model
    against the naive, seasonal naive and ETS baselines on MASE with bootstrap CIs, errors
    and interval coverage by step ahead (and by entity for a panel), and actual against
    forecast over time with the interval band, per entity and per backtest fold."""
    intervals = {}
    with contextlib.suppress(FinmlError):
        intervals = store.read_json(run.run_id, "intervals.json")
    names = entities(test)
    entity = None
    if names:
        entity = st.selectbox(
            f"Entity shown in the charts ({len(names)} series)", names, key="fc_entity"
        )
    choice_view(run, store)
    st.subheader("The model against the baselines")
    board = common.memo((run.run_id, "forecast_board"), lambda: run_leaderboard(run, test, val))
    st.dataframe(board.round(4), hide_index=True, width="stretch")
    freq = infer_frequency(test["date"])
    st.caption(
        "MASE: mean absolute error divided by the naive forecast's one-step MAE on the "
        "training segment (below 1: better than a naive forecast made one step ahead). "
        "MASE (seasonal scale): divided by the seasonal naive's in-sample MAE instead "
        "(y[t] against y[t - season]; the M4 competition's convention, comparable across "
        "horizons and with published figures; the one-step scale for a series without a "
        "season). Ranked on the validation origins' MASE (seasonal scale) where the run "
        "has it, so the ranking selects nothing on the test origins; the other columns are "
        "the test origins'. CIs: "
        "paired bootstrap over the test forecasts (forecasts from nearby origins are "
        "correlated, so read them as a lower bound on the uncertainty)."
        + (
            f" A panel of {len(names)} series: MASE is the mean of the entities' MASEs, "
            "each scaled by its own training naive MAE; RMSE and MAE pool the entities."
            if names
            else ""
        )
    )
    if run.params.get("hp.boxcox") == "True":
        with contextlib.suppress(FinmlError):
            st.caption(boxcox_words(store.read_json(run.run_id, "boxcox.json")))
    note = entity_code_note(run.params.get("hp.entity_feature") == "True", len(names))
    if note:
        st.info(note)
    if names:
        st.subheader("By entity (worst first)")
        st.dataframe(
            formats.forecast_table(by_entity(test), decimals=4), hide_index=True, width="stretch"
        )
    folds = None
    with contextlib.suppress(FinmlError):
        folds = store.read_frame(run.run_id, "cv/folds.parquet")
    if folds is not None and len(folds):
        st.subheader(f"Rolling-origin backtest ({len(folds)} folds)")
        st.dataframe(formats.forecast_table(folds, freq, 4), hide_index=True, width="stretch")
        mean, sd = run.metrics.get("cv_mase_mean"), run.metrics.get("cv_mase_sd")
        if mean is not None:
            st.caption(
                f"Backtest MASE {mean:.3f} ± {sd:.3f} (mean ± sd over folds). Each fold was "
                "refitted from scratch on the periods before it (expanding window) and "
                "forecast its own block; the test window took no part."
            )
        with contextlib.suppress(FinmlError):
            fold_view(store.read_frame(run.run_id, "cv/forecasts.parquet"), entity)
    st.subheader("By step ahead")
    st.dataframe(
        formats.forecast_table(by_step(test, intervals), decimals=4),
        hide_index=True,
        width="stretch",
    )
    m = run.metrics  # the test metrics, logged as test_<name>
    if "test_coverage_90" in m and "test_ets_coverage_90" in m:
        st.caption(
            f"90% intervals on the test origins: finml's conformal ones covered "
            f"{m['test_coverage_90']:.1%} (MSIS {m['test_msis']:.2f}); AutoETS's own, from "
            f"its model's forecast distribution, {m['test_ets_coverage_90']:.1%} (MSIS "
            f"{m['test_ets_msis']:.2f}). MSIS: the M4 interval score, width plus 20 times "
            "each miss over the seasonal scale (lower is better)."
        )
    h, step = int(test["step"].max()), 1
    if h > 1:  # one step ahead: nothing to choose
        step = st.select_slider("Step ahead shown", list(range(1, h + 1)), value=1, key="fc_step")
    own = for_entity(test, entity)
    shown = step_forecasts(own, intervals, step)
    history = actuals(own)
    of = f"{entity}: " if entity is not None else ""
    title = f"{of}actual and {step}-step-ahead forecasts (test segment), 90% interval"
    st.plotly_chart(
        regression_charts.forecast_chart(history["date"], history["y_true"], shown, title),
        width="stretch",
    )
    from finml.reporting.report import build_report

    common.report_buttons(st, run, lambda: build_report(store, run.run_id))


def extended_upload(run, model, level: float, audit=None):
    """The Predict page's history upload for forecasting run ``run``, read and forecast
    once per upload: the uploader (key ``rows``), then
    :func:`finml.prediction.forecast.extend_upload` cached with :func:`common.memo` on the
    run, the upload's SHA-256, its file name, ``level`` and the read limits. Reruns (an
    entity picked, a chart zoomed) reuse the result; a refusal is cached too, so it is not
    recomputed either. Stops the script until there is an upload, or with the message.

    Args:
        run: the forecasting run (its ``time_col``, ``target``, ``entity_col`` params).
        model: its fitted forecaster.
        level: the interval's nominal coverage (0.9).
        audit: called as ``audit(file_id, [bytes], rows=n)`` after a forecast is made (the
            Predict page's audit record), or ``None``.

    Returns:
        (forecasts, history), as :func:`finml.prediction.forecast.extend_series`.
    """
    from finml.prediction import forecast as forecasting

    up = st.file_uploader("History (CSV, Excel or Parquet)", type=uploads.TABLE_TYPES, key="rows")
    if up is None:
        st.stop()
    data = up.getvalue()
    limits = get_settings().read_limits()
    params = run.params
    date_col, target = params.get("time_col", ""), params.get("target", "")
    entity_col = params.get("entity_col", "")
    digest = hashlib.sha256(data).hexdigest()
    key = (run.run_id, "forecast_upload", digest, up.name, float(level), *sorted(limits.items()))

    def compute():
        try:
            with st.spinner("Reading the history and forecasting..."):
                return forecasting.extend_upload(
                    model, data, up.name, date_col, target, float(level), entity_col, **limits
                )
        except FinmlError as exc:  # cached too (its text only: a traceback would hold the
            return str(exc)  # upload's frame), so a refused upload is not re-read on reruns

    result = common.memo(key, compute)
    if isinstance(result, str):
        common.show_error(result)
        st.stop()
    for note in result.notes:
        common.show_info(note)
    if audit is not None:
        audit(up.file_id, [data], rows=result.rows)
    return result.forecasts, result.history


def predict_forecast(run, model):
    """Extend an uploaded history h periods with the run's forecaster."""
    date_col, target = run.params.get("time_col", ""), run.params.get("target", "")
    entity_col = run.params.get("entity_col", "")
    needs = [f"its date column {date_col!r}"]
    if entity_col:
        needs.append(f"the entity column {entity_col!r} (one series per entity)")
    if model.exog:
        needs.append(f"the exogenous columns {', '.join(map(repr, model.exog))}")
    plans = ""
    if model.known:
        plans = (
            f" After the history, add one row per period to forecast (per entity), "
            f"{target!r} left empty and the planned values of "
            f"{', '.join(map(repr, model.known))} filled in: the model reads them."
        )
    st.caption(
        f"Upload the history of {common.text(repr(target))} with "
        f"{common.text('; '.join(needs))}, one row per period; the model forecasts the next "
        f"{model.horizon} period(s).{common.text(plans)}"
    )
    level = uploads.interval_level(model)
    forecasts, history = extended_upload(run, model, float(level), uploads.scored_once)
    shown, past, of = forecasts, history, ""
    if entity_col:
        names = sorted(forecasts["entity"].unique())
        entity = st.selectbox("Entity shown", names, key="predict_entity")
        shown = forecasts[forecasts["entity"] == entity]
        past, of = history[history["entity"] == entity], f" ({entity})"
    title = f"{target}{of}: history and the next {model.horizon} period(s)"
    chart = regression_charts.forecast_chart(past["date"], past["y"], shown, title)
    zoomed = zoom_to_recent(chart, past, shown, model.season)
    st.plotly_chart(chart, width="stretch")
    if zoomed:
        st.caption(
            f"The chart opens on the last {zoomed} periods of the history and the forecast; "
            "drag the handles of the strip below it to see the whole history (double-click "
            "the chart to fit everything)."
        )
    st.dataframe(formats.forecast_table(forecasts, model.freq), hide_index=True, width="stretch")
    uploads.csv_download(run, forecasts, "forecast.csv")


def zoom_to_recent(chart, past, shown, season: int) -> int:
    """Open ``chart`` (history ``past``: ``date``, ``y``; forecasts ``shown``: ``date``,
    ``y_pred``, ``lower``, ``upper``) on the last few seasons of the history and the
    forecast, with a range slider below it to reach the whole history
    (:func:`finml.data.series.recent_start`).

    Returns:
        The periods of history shown at first, or 0 when the whole history fits.
    """
    start = recent_start(past["date"], season)
    if start is None:
        return 0
    recent = past[past["date"] >= start]
    values = [recent["y"], *(shown[c] for c in ("y_pred", "lower", "upper") if c in shown)]
    low = min(float(v.min()) for v in values)
    high = max(float(v.max()) for v in values)
    pad = 0.05 * (high - low or abs(high) or 1.0)
    end = shown["date"].max() if len(shown) else past["date"].max()
    end += (end - start) * 0.02  # the last marker whole
    chart.update_xaxes(range=[start, end], rangeslider={"visible": True})
    chart.update_yaxes(range=[low - pad, high + pad])
    return len(recent)


class ForecastView(TableView):
    """A series (or a panel of series) of a table, forecast h periods ahead."""

    task = get_task("forecast")
    choice = "Forecasting (a series over time)"
    cv_word = "backtest"
    fold_note = " (each refitted on its past)"
    cv_refits = False
    form_keys = (
        "series_date",
        "series_horizon",
        "series_val",
        "series_test",
        "series_entity",
        "series_exog",
        "series_known",
        "series_entity_shown",
    )

    def form_opening(self, demo_name):
        """A forecasting demo's date column, horizon and entity (no exogenous columns)."""
        from finml.data import demo

        series = demo.DEMO_SERIES.get(demo_name)
        if not series:
            return {}
        date_col, horizon, entity_col = series
        opening = {
            "series_date": date_col,
            "series_horizon": horizon,
            "series_exog": [],
            "series_known": [],
        }
        return opening | ({"series_entity": entity_col} if entity_col else {})

    def target_form(self, frame, table_schema, target_col, demo_name):
        """The series' settings, check and chart, and its own "Use" button; stops."""
        from finml.data import demo

        series_form(frame, table_schema, target_col, demo.DEMO_SERIES.get(demo_name))
        self.show_ready()
        st.stop()

    def target_words(self, ds) -> str:
        return f"forecast {ds.horizon} step(s) ahead"

    def train_header(self, ds) -> None:
        """The series in words: what is forecast how far ahead, from what (its own past
        changes, the lags set on the form, and any exogenous columns), per entity."""
        inputs = "its own past changes (how many: the lags below)"
        if ds.exog:
            inputs += f" and those of {', '.join(map(repr, ds.exog))}"
        if ds.known:
            inputs += f", with the planned changes of {', '.join(map(repr, ds.known))} ahead"
        each = f", one series per {ds.entity_col!r}" if ds.entity_col else ""
        st.caption(
            f"Dataset: **{common.text(ds.name)}**, series {common.text(repr(ds.target))}"
            f"{common.text(each)}, forecast {ds.horizon} step(s) ahead from "
            f"{common.text(inputs)}; {split_words(ds)} in time order, train before "
            "validation before test."
        )

    def ready_text(self, ds) -> str:
        text = f"Ready: {ds.name}, forecast {ds.target!r} {ds.horizon} step(s) ahead"
        if ds.entity_col:
            text += f" for each {ds.entity_col!r}"
        known = f" ({', '.join(ds.known)} known in advance)" if ds.known else ""
        return text + (f", with {', '.join(ds.exog)}{known}." if ds.exog else ".")

    def cv_offer(self, ds) -> tuple[str, str, int]:
        return (
            "Rolling-origin backtest (expanding window)",
            "Before the final fit, the training and validation periods are cut into k + 1 "
            "blocks; each of the last k is forecast by a model refitted from scratch on the "
            "periods before it. The test window stays out.",
            3,
        )

    def tuning_help(self) -> str:
        return (
            "Searches the ranges marked for tuning; each trial is judged on the mean MASE "
            "(lower is better) of a rolling-origin backtest over the training and validation "
            "periods (the backtest's folds when one is asked for). The best trial is refit "
            "and tested once."
        )

    def evaluate(self, run, test, val, store) -> None:
        forecast_view(run, test, store, val)
        run_parts.show_tabs(run_parts.run_tabs(run, val, self, store), "run_tabs")

    def predict(self, run, model) -> None:
        predict_forecast(run, model)


VIEW = ForecastView()
