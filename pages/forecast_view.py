"""Evaluate, forecasting runs: the model against the naive, seasonal naive and ETS
baselines on MASE with bootstrap CIs, errors and interval coverage by step ahead (and by
entity for a panel), and actual against forecast over time with the interval band, per
entity and per backtest fold. From stored predictions only.

Predict, forecasting runs: :func:`extended_upload` reads an uploaded history and forecasts
from it once per upload (cached per session), so the page's other widgets rerun fast."""

import contextlib
import hashlib

import streamlit as st

from finml.config import get_settings
from finml.errors import FinmlError
from finml.evaluation import regression
from finml.evaluation.forecast import (
    actuals,
    by_entity,
    by_step,
    entities,
    for_entity,
    leaderboard,
    step_forecasts,
)
from finml.reporting import regression_charts
from pages import common


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


def render(run, test, store) -> None:
    """The forecasting view of ``run`` (its long-form test forecasts ``test``)."""
    intervals = {}
    with contextlib.suppress(FinmlError):
        intervals = store.read_json(run.run_id, "intervals.json")
    scale = regression.mase_scale(run.metrics)
    names = entities(test)
    entity = None
    if names:
        entity = st.selectbox(
            f"Entity shown in the charts ({len(names)} series)", names, key="fc_entity"
        )
    st.subheader("The model against the baselines (test origins)")
    board = common.memo((run.run_id, "forecast_board"), lambda: leaderboard(test, scale))
    st.dataframe(board.round(4), hide_index=True, width="stretch")
    st.caption(
        "MASE: mean absolute error divided by the naive forecast's one-step MAE on the "
        "training segment (below 1: better than a naive forecast made one step ahead). CIs: "
        "paired bootstrap over the test forecasts (forecasts from nearby origins are "
        "correlated, so read them as a lower bound on the uncertainty)."
        + (
            f" A panel of {len(names)} series: MASE is the mean of the entities' MASEs, "
            "each scaled by its own training naive MAE; RMSE and MAE pool the entities."
            if names
            else ""
        )
    )
    if names:
        st.subheader("By entity (worst first)")
        st.dataframe(by_entity(test).round(4), hide_index=True, width="stretch")
    folds = None
    with contextlib.suppress(FinmlError):
        folds = store.read_frame(run.run_id, "cv/folds.parquet")
    if folds is not None and len(folds):
        st.subheader(f"Rolling-origin backtest ({len(folds)} folds)")
        st.dataframe(folds.round(4), hide_index=True, width="stretch")
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
    st.dataframe(by_step(test, intervals).round(4), hide_index=True, width="stretch")
    h = int(test["step"].max())
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


#: File types the Predict page accepts for a history.
HISTORY_TYPES = ["csv", "txt", "tsv", "xlsx", "parquet"]


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

    up = st.file_uploader("History (CSV, Excel or Parquet)", type=HISTORY_TYPES, key="rows")
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
