"""Regression (a table, a numeric target): the Data form's target summary and quintile
strata; Evaluate's metrics with bootstrap CIs against the mean baseline, the prediction
intervals' coverage, fit and residual charts, error by decile, the largest errors joined
with their input rows; Predict's values with intervals and SHAP reasons. Everything comes
from the run's stored predictions; nothing retrains."""

from __future__ import annotations

import contextlib

import streamlit as st

from finml.data import target
from finml.data.demo import DEMO_UNITS
from finml.data.split import regression_split_report
from finml.errors import FinmlError
from finml.evaluation import regression
from finml.reporting import formats, regression_charts
from finml.tasks import get_task
from pages import common
from pages.views import tabs as run_parts
from pages.views import uploads
from pages.views.base import TableTarget, TableView

#: Rows of the largest-errors drill-down.
LARGEST = 25


def regression_view(run, test, store, tabs) -> None:
    """The regression view of ``run`` (its test predictions ``test``: ``row``, ``y_true``,
    ``y_pred``), then ``tabs`` (label -> function) beside its own."""
    target = run.params.get("target", "target")
    unit = run.params.get("unit", "")
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
    table = formats.regression_metric_table(values, cis, unit)
    c1.dataframe(table, hide_index=True, width="stretch")
    base_rmse, base_mae = (
        run.metrics.get("test_baseline_rmse"),
        run.metrics.get("test_baseline_mae"),
    )
    if base_rmse is not None:
        better = get_task("regression").tags.higher_is_better  # of RMSE, the headline
        c2.metric(
            "RMSE",
            formats.amount(values["rmse"], unit),
            f"{formats.amount(values['rmse'] - base_rmse, unit, signed=True)} vs mean",
            delta_color="normal" if better else "inverse",
        )
        c2.caption(
            "Mean baseline (the training mean as every prediction): RMSE "
            f"{common.text(formats.amount(base_rmse, unit))}, MAE "
            f"{common.text(formats.amount(base_mae, unit))}. A lower RMSE than "
            "the baseline's (green) is better; R² > 0 means the model beats the test mean."
        )
    note = regression.mape_note(y)
    if note:
        c2.info(note)
    if intervals:
        st.subheader("Prediction intervals: coverage on the test split")
        coverage = regression.coverage_table(y, pred, intervals)
        st.dataframe(formats.coverage_display(coverage, unit), hide_index=True, width="stretch")
        st.caption(
            "Split-conformal prediction intervals (MAPIE, absolute residuals) calibrated on "
            "the validation split (a cross-validated run: on the out-of-fold residuals): "
            "prediction ± half-width. 'covered' is the share of test "
            "rows inside, to compare with the nominal level. Where every training value of "
            "the target is >= 0, Predict clips the intervals at 0 (clipping loses no "
            "coverage of such a target)."
        )
    own = {
        "Fit": lambda: fit_tab(run, test, target, intervals.get("0.9"), store),
        "Residuals": lambda: residuals_tab(y, pred),
        "Largest errors": lambda: largest_errors(run, test),
    }
    run_parts.show_tabs({**own, **tabs}, "regression_tabs")


def fit_tab(run, test, target, half, store) -> None:
    """Predicted against actual (error bars: the 90% interval, clipped where Predict clips
    it) and residuals against predicted."""
    from finml.models.bundle import run_target_floor

    floor = run_target_floor(store, run.run_id) if half is not None else None
    chart = regression_charts.predicted_vs_actual(test, target, half, floor)
    c1, c2 = st.columns(2)
    c1.plotly_chart(chart, width="stretch")
    c2.plotly_chart(regression_charts.residuals_vs_predicted(test), width="stretch")
    if half is not None:
        clipped = " (clipped at 0: every training value is >= 0)" if floor is not None else ""
        st.caption(f"Error bars: the 90% prediction interval{clipped}.")


def residuals_tab(y, pred) -> None:
    """The residuals' distribution with its Q-Q points, and the error by decile."""
    residuals = y - pred
    st.plotly_chart(
        regression_charts.residual_distribution(residuals, regression.qq_points(residuals)),
        width="stretch",
    )
    deciles = regression.error_by_decile(y, pred)
    st.plotly_chart(regression_charts.error_by_decile(deciles), width="stretch")
    deciles = _amounts(deciles, ["predicted", "actual", "mae", "bias"])
    st.dataframe(deciles, hide_index=True, width="stretch", column_config=_localized(deciles))


def largest_errors(run, test) -> None:
    """The test rows with the largest absolute errors, with their input columns."""
    frame = common.run_rows(run)  # None: gone, or an import's (it brought no rows)
    if frame is None:
        table = test.assign(error=test["y_true"] - test["y_pred"])
        table = table.reindex(table["error"].abs().sort_values(ascending=False).index)
        st.dataframe(table.head(LARGEST), hide_index=True, width="stretch")
        return
    table = regression.largest_errors(test, frame, LARGEST)
    unit = run.params.get("unit", "")
    st.caption(
        f"The {LARGEST} test rows with the largest absolute error, largest first"
        + (f"; actual, predicted and error in {common.text(unit)}." if unit else ".")
    )
    table = _amounts(table, ["actual", "predicted", "error"])
    st.dataframe(table, hide_index=True, width="stretch", column_config=_localized(table))


def _amounts(table, columns: list[str]):
    """``table`` with its amount ``columns`` (those it has) rounded for display
    (:func:`finml.reporting.formats.round_amounts`, one precision per table)."""
    present = [c for c in columns if c in table]
    if not present:
        return table
    reference = table[present].to_numpy(dtype=float).ravel()
    return table.assign(**{c: formats.round_amounts(table[c], reference) for c in present})


def _localized(table) -> dict:
    """Thousands separators on every numeric column of ``table``."""
    return {
        c: st.column_config.NumberColumn(format="localized")
        for c in table.columns
        if str(table[c].dtype).startswith(("float", "int"))
    }


class RegressionView(TableView):
    """A number of a table."""

    task = get_task("regression")
    choice = "Regression (a number)"
    cv_note = " The prediction intervals are calibrated on the out-of-fold residuals."
    importance_score = "RMSE"
    form_keys = ("target_unit",)

    def target_form(self, frame, table_schema, target_col, demo_name):
        """The target's summary and histogram; quintile strata."""
        y = common.or_stop(target.validate_regression_target, frame, target_col)
        c1, c2 = st.columns([1, 2])
        summary = target.target_summary(y)
        summary["value"] = [
            formats.count(v) if k == "count" else formats.amount(v)
            for k, v in zip(summary["statistic"], summary["value"], strict=True)
        ]
        c1.dataframe(summary, hide_index=True)
        c2.plotly_chart(regression_charts.target_histogram(y, target_col), width="stretch")
        unit = c1.text_input(
            "Unit of the target (optional)",
            key="target_unit",
            max_chars=target.UNIT_LENGTH,
            placeholder="e.g. DM, EUR, days",
            help="Shown after the target's amounts on every page and in the report.",
        )
        strata = target.quantile_strata(y)
        return TableTarget(
            strata=strata,
            report=lambda fr, split, spec: regression_split_report(fr, y, strata, split, spec),
            quantiles=True,
            unit=common.or_stop(target.clean_unit, unit),
        )

    def form_opening(self, demo_name):
        """A demo's own unit (German Credit's amounts are DM), else none."""
        return {"target_unit": DEMO_UNITS.get(demo_name, "")}

    def target_words(self, ds) -> str:
        return f"(regression, in {ds.unit})" if ds.unit else "(regression)"

    def evaluate(self, run, test, val, store) -> None:
        regression_view(run, test, store, run_parts.run_tabs(run, val, self, store))

    def cv_chart(self, run, oof, folds) -> None:
        """Predicted against actual on the out-of-fold rows."""
        chart = regression_charts.predicted_vs_actual(oof, run.params.get("target", "target"))
        chart.update_layout(title="Predicted against actual (out-of-fold rows)")
        st.plotly_chart(chart, width="stretch")

    def shap_units(self, explained) -> str:
        if explained.log_target:
            return (
                f"log1p units of {explained.target} (a contribution c multiplies 1 + the "
                "prediction by exp(c))"
            )
        return f"{explained.target or 'target'} units"

    def predict(self, run, model) -> None:
        """Predict the target of uploaded rows, with prediction intervals and SHAP reasons."""
        from finml.prediction.tables import predict_rows

        level = uploads.interval_level(model)
        frame = uploads.uploaded_rows()
        predicted = uploads.predicted("Predicting", predict_rows, model, frame, float(level))
        c1, c2 = st.columns(2)
        c1.metric("Rows predicted", f"{len(predicted):,}")
        c2.metric("Rows with data issues", f"{int((predicted['issues'] != '').sum()):,}")
        target_name = common.text(run.params.get("target", "the target"))
        unit = run.params.get("unit", "")
        in_unit = f" ({common.text(unit)})" if unit else ""
        st.subheader(
            f"Predictions of {target_name}{in_unit} with their {float(level):.0%} interval"
        )
        clipped = ""
        if model.target_floor is not None:
            below = int((predicted["prediction"] - model.intervals[level] < 0).sum())
            clipped = (
                f" Every training value of {target_name} is >= 0, so the intervals are "
                f"clipped at 0 ({below:,} lower bound(s) clipped here); the prediction "
                "itself is the model's."
            )
        st.caption(
            "'lower' – 'upper': the split-conformal prediction interval (prediction ± the "
            f"half-width calibrated on the validation split).{clipped} Shown rounded; the "
            "CSV has full precision."
        )
        shown = _amounts(predicted, ["prediction", "lower", "upper"])
        uploads.results(
            run,
            model,
            frame,
            predicted,
            "predictions.csv",
            "prediction",
            f"'score' is the prediction of {target_name}. Reasons: the features whose SHAP "
            "values moved the prediction most, up or down (up to four).",
            shown=shown,
            column_config=_localized(shown[["prediction", "lower", "upper"]]),
        )


VIEW = RegressionView()
