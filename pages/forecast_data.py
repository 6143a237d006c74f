"""Data page, forecasting: the date column, horizon and test window, an optional entity
column (a panel of series) and exogenous columns; the series checked (dates parse, no
duplicates within an entity, regular steps, every entity on every date, values small enough
to compute with) and drawn with its chronological segments. Dates of different UTC offsets
are read in UTC, with a note."""

import streamlit as st

from finml.data.series import SeriesSpec, chronological_split, load_series, segment_report
from finml.data.spec import DatasetSpec
from finml.data.split import SplitSpec
from finml.data.staging import save_dataset_spec, stage_frame
from finml.errors import FinmlError
from finml.reporting import regression_charts
from finml.training import jobs
from pages.common import dataset_ready, principal, show_error, show_info, text


def render(frame, table_schema, target_col: str, settings, defaults=None) -> None:
    """The forecasting part of the Data page for target ``target_col``; ``defaults`` is a
    demo's (date column, horizon, entity column or "")."""
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
    try:
        spec = SeriesSpec(date_col, target_col, int(horizon), 1, 0, entity_col, tuple(exog))
        series = load_series(frame, spec)
        seg = chronological_split(
            series.n, int(horizon), 1, val_pct / 100, test_pct / 100, len(series.entities)
        )
    except FinmlError as exc:
        show_error(exc)
        st.stop()
    shown_above = getattr(st.session_state.get("table"), "notes", ())  # the reader's notes
    for note in series.notes:  # e.g. dates of different UTC offsets, converted to UTC
        if note not in shown_above:
            show_info(note)
    panel = f"{len(series.entities)} entities × " if entity_col else ""
    st.caption(
        f"{panel}{series.n} periods, frequency {series.freq}, season length {series.season}. "
        f"Train, validation and test follow in time, with a gap of {int(horizon)} period(s) "
        "before validation and before test, so no target of one is a target of the next."
    )
    shown = 0
    if entity_col:
        names = list(series.entities)
        shown = names.index(st.selectbox("Entity shown", names, key="series_entity_shown"))
    st.plotly_chart(
        regression_charts.series_segments(series.dates, series.values[shown], seg, target_col),
        width="stretch",
    )
    st.table(segment_report(seg, series).set_index("split"))
    if st.button("Use this dataset for training", type="primary", key="use_dataset"):
        jobs.warm_up(settings)
        train = 1 - (val_pct + test_pct) / 100
        split = SplitSpec(train, val_pct / 100, test_pct / 100, time_col=date_col)
        st.session_state.dataset = DatasetSpec(
            dataset_id=stage_frame(frame, settings, principal().user_id),
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
        )
        save_dataset_spec(st.session_state.dataset, settings)
    ds = st.session_state.get("dataset")
    if ds is not None and getattr(ds, "task", "") == "forecast":
        message = f"Ready: {ds.name}, forecast {ds.target!r} {ds.horizon} step(s) ahead"
        if ds.entity_col:
            message += f" for each {ds.entity_col!r}"
        message += f", with {', '.join(ds.exog)}." if ds.exog else "."
        dataset_ready(text(message), ds)
