"""Evaluate, regression runs: metrics with bootstrap CIs against the mean baseline, the
prediction intervals' coverage, fit and residual charts, error by decile, the largest
errors joined with their input rows, and permutation importance. Everything comes from the
run's stored predictions; nothing retrains."""

import contextlib

import streamlit as st

from finml.errors import FinmlError
from finml.evaluation import regression
from finml.reporting import charts, regression_charts
from pages import common

#: Rows of the largest-errors drill-down.
LARGEST = 25


def render(run, test, store) -> None:
    """The regression view of ``run`` (its test predictions ``test``: ``row``, ``y_true``,
    ``y_pred``)."""
    target = run.params.get("target", "target")
    y, pred = test["y_true"].to_numpy(), test["y_pred"].to_numpy()
    intervals = {}
    with contextlib.suppress(FinmlError):
        intervals = store.read_json(run.run_id, "intervals.json")
    scale = regression.mase_scale(run.metrics)

    def compute():
        with st.spinner("Bootstrap confidence intervals"):
            return regression.regression_cis(y, pred, scale)

    cis = common.memo((run.run_id, "regression_ci"), compute)
    values = regression.regression_metrics(y, pred, scale)
    from finml.reporting.report import build_report

    st.subheader(f"Test metrics ({len(test)} rows)")
    common.report_buttons(st, run, lambda: build_report(store, run.run_id))
    c1, c2 = st.columns([3, 2])
    c1.dataframe(regression.regression_table(values, cis), hide_index=True, width="stretch")
    base_rmse, base_mae = (
        run.metrics.get("test_baseline_rmse"),
        run.metrics.get("test_baseline_mae"),
    )
    if base_rmse is not None:
        c2.metric("RMSE", f"{values['rmse']:.4g}", f"{values['rmse'] - base_rmse:+.4g} vs mean")
        c2.caption(
            f"Mean baseline (the training mean as every prediction): RMSE {base_rmse:.4g}, "
            f"MAE {base_mae:.4g}. R² > 0 means the model beats the test mean."
        )
    note = regression.mape_note(y)
    if note:
        c2.info(note)
    if intervals:
        coverage = regression.coverage_table(y, pred, intervals)
        st.dataframe(
            coverage.rename(columns={"covered": "covered (test)"}).round(4),
            hide_index=True,
            width="stretch",
        )
        st.caption(
            "Split-conformal prediction intervals (MAPIE, absolute residuals) calibrated on "
            "the validation split: prediction ± half-width. 'covered' is the share of test "
            "rows inside, to compare with the nominal level."
        )
    fit, resid, errors, explain = st.tabs(
        ["Fit", "Residuals", "Largest errors", "Explanations"], key="regression_tabs"
    )
    with fit:
        c1, c2 = st.columns(2)
        half = intervals.get("0.9")
        c1.plotly_chart(regression_charts.predicted_vs_actual(test, target, half), width="stretch")
        c2.plotly_chart(regression_charts.residuals_vs_predicted(test), width="stretch")
        if half is not None:
            st.caption("Error bars: the 90% prediction interval.")
    with resid:
        residuals = y - pred
        st.plotly_chart(
            regression_charts.residual_distribution(residuals, regression.qq_points(residuals)),
            width="stretch",
        )
        deciles = regression.error_by_decile(y, pred)
        st.plotly_chart(regression_charts.error_by_decile(deciles), width="stretch")
        st.dataframe(deciles.round(4), hide_index=True, width="stretch")
    with errors:
        largest_errors(run, test)
    with explain:
        importance = None
        with contextlib.suppress(FinmlError):
            importance = store.read_frame(run.run_id, "explain/permutation_importance.parquet")
        if importance is not None:
            st.plotly_chart(charts.importance_bar(importance, score="RMSE"), width="stretch")
        elif run.followup:
            st.info(f"The worker is computing the {run.followup}; reload to see it.")
        else:
            st.caption("This run has no explanations.")


def largest_errors(run, test) -> None:
    """The test rows with the largest absolute errors, with their input columns."""
    frame = common.run_rows(run)  # None: gone, or an import's (it brought no rows)
    if frame is None:
        table = test.assign(error=test["y_true"] - test["y_pred"])
        table = table.reindex(table["error"].abs().sort_values(ascending=False).index)
        st.dataframe(table.head(LARGEST), hide_index=True, width="stretch")
        return
    table = regression.largest_errors(test, frame, LARGEST)
    st.caption(f"The {LARGEST} test rows with the largest absolute error, largest first.")
    st.dataframe(table, hide_index=True, width="stretch")
