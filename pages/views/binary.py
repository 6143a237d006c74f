"""Binary classification (a table, two classes): the Data form's positive class, and
the binary view of Evaluate (threshold and costs in the field's words, confusion matrix,
metrics with CIs, ROC, PR, the credit pack or clinical operating points) which the
multi-class and image views reuse for one class against the rest; Predict's scores,
decisions at the saved threshold and SHAP reasons."""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from finml.data import target
from finml.data.spec import parse_list
from finml.data.split import split_report, split_warnings
from finml.errors import FinmlError
from finml.evaluation import bootstrap, credit, metrics, thresholds
from finml.reporting import charts, formats
from finml.reporting.domains import CLINICAL_TARGETS, domain_of
from finml.reporting.exports import to_csv_bytes
from finml.reporting.report import build_report
from finml.reporting.runs import run_names
from finml.tasks import get_task
from finml.training import jobs
from pages import common
from pages.views import tabs as run_parts
from pages.views import uploads
from pages.views.base import TableTarget, TableView


@st.cache_data(scope="session", max_entries=8, show_spinner="Screening for leakage...")
def leakage(key, _frame, _schema, target_col: str, positive: str):
    """Single-column leakage screening, once per (table, target, positive class)."""
    return target.leakage_warnings(_frame, _schema, target_col, positive)


def class_target(frame, table_schema, target_col: str, label: str, check):
    """The Data form's part of a class target: the class (``label``), the class counts,
    ``check(values, positive)`` (the task's validation, returning the labels) and the
    leakage screening; returns (positive, class values, labels)."""
    values = common.or_stop(target.class_values, frame[target_col])
    guess = common.or_stop(target.guess_positive, frame[target_col])
    positive = st.selectbox(label, values, index=values.index(guess), key="positive")
    # a static table: the data grid's script costs a first visit about 0.7 s in the browser;
    # a table's cells are Markdown, so the data's class names are escaped
    counts = target.class_counts(frame[target_col], positive)
    counts["class"] = counts["class"].map(common.text)
    st.table(counts.set_index("class"))
    y = common.or_stop(check, values, positive)
    leaks = leakage(st.session_state.table_key, frame, table_schema, target_col, positive)
    for column, auc in leaks:
        common.show_warning(
            f"Possible leakage: {column!r} alone predicts the target with ROC-AUC {auc:.3f}. "
            "If it is only known after the outcome, leave it out of the features."
        )
    return positive, values, y


THRESHOLD_MODES = [
    "Manual",
    "Youden J (validation split)",
    "Minimum expected cost (validation split)",
]


def threshold_controls(run, val_y, val_score, labels, domain):
    """Threshold mode, cost inputs in the field's words; returns (threshold, costs, best)."""
    german = "German Credit" in run.dataset or "German Credit" in run.params.get("dataset", "")
    costs = thresholds.GERMAN_CREDIT_COSTS if german else {"fp": 1.0, "fn": 1.0}
    fp_label, fn_label = domain.cost_labels(*(common.text(label) for label in labels))
    c1, c2, c3 = st.columns([2, 1, 1])
    mode = c1.radio(
        "Threshold",
        THRESHOLD_MODES,
        key="threshold_mode",
        help="Youden J and the cost minimum are chosen on the validation split, "
        "never on the test split.",
    )
    cost_fp = c2.number_input(fp_label, 0.0, 1e6, costs["fp"], key="cost_fp")
    cost_fn = c3.number_input(fn_label, 0.0, 1e6, costs["fn"], key="cost_fn")
    if german:
        c2.caption("Statlog German Credit cost matrix: 1 and 5.")
    best, _ = thresholds.min_cost_threshold(val_y, val_score, cost_fp, cost_fn)
    if mode == THRESHOLD_MODES[0]:
        default = run.threshold if run.threshold is not None else 0.5
        threshold = st.slider(
            f"Threshold (score >= threshold: {domain.positive_action})",
            0.0,
            1.0,
            float(default),
            0.01,
            key="threshold",
        )
    elif mode == THRESHOLD_MODES[1]:
        threshold = thresholds.youden_threshold(val_y, val_score)
        st.caption(f"Youden J threshold from the validation split: **{threshold:.3f}**")
    else:
        threshold = best
        st.caption(f"Cost-minimising threshold on the validation split: **{threshold:.3f}**")
    return threshold, mode, cost_fp, cost_fn, best


def cis_of(run, key, y, score, threshold):
    """Bootstrap CIs, once per (run, class, threshold), with a progress bar."""

    def compute():
        bar, update = common.progress_callback("Bootstrap confidence intervals")
        out = bootstrap.metric_cis(y, score, threshold, progress=update)
        bar.empty()
        return out

    return common.memo((run.run_id, key, "ci", round(threshold, 4)), compute)


def band_of(run, key, y, score):
    """The ROC band, once per (run, class), with a progress bar."""

    def compute():
        bar, update = common.progress_callback("Bootstrap band of the ROC curve")
        out = bootstrap.roc_band(y, score, progress=update)
        bar.empty()
        return out

    return common.memo((run.run_id, key, "band"), compute)


def binary_view(run, test, val, store, positive=None, cases=None, tabs=None):
    """The binary view of ``positive`` (default the run's positive class) against the
    rest: threshold and costs, confusion matrix, metrics with CIs, the test cases of a
    cell (shown by ``cases(run, picked)``, default :func:`table_cases`), and tabs: ROC and
    PR, costs and operating points, the field's pack, then ``tabs`` (label -> function,
    :func:`pages.views.tabs.run_tabs`)."""
    domain = domain_of(run.params)
    y, score, val_y, val_score, labels = metrics.binary_view_of_run(run.params, test, val, positive)
    threshold, mode, cost_fp, cost_fn, best = threshold_controls(
        run, val_y, val_score, labels, domain
    )
    b1, b2 = st.columns(2)
    if (
        positive in (None, run.params.get("positive_class"))
        and common.may_change(run)
        and b1.button(f"Save threshold {threshold:.3f} with the run", key="save_threshold")
    ):
        store.set_threshold(run.run_id, threshold, mode)
        common.record("threshold", run.run_id, threshold=round(threshold, 6), how=mode)
        st.toast(f"Threshold {threshold:.3f} saved with the run.")
    common.report_buttons(
        b2, run, lambda: build_report(store, run.run_id, threshold, cost_fp, cost_fn)
    )
    values = metrics.binary_metrics(y, score, threshold)
    cm = metrics.confusion(y, score, threshold)
    left, right = st.columns(2)  # the table's CIs on one line at 1024 px
    # the matrix and the metrics as Markdown tables: drawn at once on a first visit, before
    # any chart's or data table's script has loaded; their CIs follow
    cells = formats.confusion_table(cm, [common.text(label) for label in labels])
    left.markdown(
        f"**Confusion matrix at threshold {threshold:.3f}**\n\n{formats.markdown_table(cells)}"
    )
    field = domain.shown_metrics(values)  # the field's metrics
    with right:
        shown = st.empty()
        shown.markdown(metric_cells(metrics.metrics_table(field)))
        cis = cis_of(run, labels[1], y, score, threshold)
    table = metrics.metrics_table(field, cis)
    shown.markdown(metric_cells(table))  # finml's metric names and numbers only
    at = thresholds.expected_cost(cm, cost_fp, cost_fn)
    right.caption(
        f"Test split: {len(y):,} cases, {int(y.sum()):,} positive ({common.text(labels[1])}). "
        "Expected cost "
        f"at this threshold: {at:.3f} per case. 95% CIs: stratified bootstrap, "
        f"{bootstrap.N_RESAMPLES:,} resamples, BCa where it works (the HTML report shows "
        "the same intervals)."
    )
    common.download(
        right,
        "Metrics with CIs (CSV)",
        to_csv_bytes(table),
        f"finml-metrics-{run.run_id[:8]}.csv",
        "text/csv",
        "metrics_csv",
        run.run_id,
    )
    drill_down(run, test, y, score, threshold, cases or table_cases)
    extra = dict(tabs or {})
    protected = parse_list(run.params.get("protected"))
    if protected and positive in (None, run.params.get("positive_class")):
        extra["Fair lending"] = lambda: fair_lending(run, test, y, score, threshold, protected)
    costs = (cost_fp, cost_fn)
    own = {
        "ROC and PR": lambda: roc_and_pr(run, y, score, threshold, cis, labels),
        "Costs and operating points": lambda: costs_and_points(
            y, score, val_y, val_score, threshold, best, cost_fp, cost_fn
        ),
        domain.pack: (
            (lambda: credit_tab(run, test, y, score, labels, values, threshold, costs, positive))
            if domain.name == "credit"
            else (lambda: clinical_pack(y, score, val_y, val_score, labels))
        ),
    }
    run_parts.show_tabs({**own, **extra}, "eval_tabs")


def metric_cells(table) -> str:
    """The metric table (:func:`finml.evaluation.metrics.metrics_table`) as Markdown, each
    value to 4 decimals."""
    values = table["value"].map(lambda v: formats.metric(v, decimals=4))
    return formats.markdown_table(table.assign(value=values).set_index("metric"))


def roc_and_pr(run, y, score, threshold, cis, labels) -> None:
    """The ROC curve with its bootstrap band, the operating point and the ROC-AUC with its
    CI, beside the precision-recall curve."""
    band = band_of(run, labels[1], y, score)
    auc = tuple(cis.loc["roc_auc", ["value", "lower", "upper"]])
    point = thresholds.operating_point(y, score, threshold)
    recall, precision, ap = metrics.pr_points(y, score)
    c1, c2 = st.columns(2)
    c1.plotly_chart(charts.roc_with_band(band, auc, point), width="stretch")
    c2.plotly_chart(charts.pr_curve(recall, precision, ap, float(y.mean())), width="stretch")


def costs_and_points(y, score, val_y, val_score, threshold, best, cost_fp, cost_fn) -> None:
    """The expected-cost curve, the test cost of the chosen, minimum-cost and Youden J
    thresholds with CIs, and operating points at a required sensitivity or specificity."""
    curve = thresholds.expected_cost_curve(y, score, cost_fp, cost_fn)
    st.plotly_chart(charts.cost_curve(curve, threshold, best), width="stretch")
    youden = thresholds.youden_threshold(val_y, val_score)
    named = {"chosen": threshold, "minimum cost (validation)": best, "Youden J": youden}
    costs = thresholds.cost_points(curve, named, cost_fp, cost_fn)
    st.dataframe(costs.round(3), hide_index=True, width="stretch")
    st.caption(
        "The minimum-cost and Youden J thresholds are chosen on the validation split "
        f"({len(val_y):,} cases) and read here on the test split ({len(y):,} cases). "
        "The threshold that was cheapest on validation need not be cheapest on test: "
        "the test costs differ by chance as well, as their 95% CIs show (normal "
        "interval of the false-positive and false-negative counts given the class "
        "counts)."
    )
    points = (
        ("specificity", "Sensitivity", thresholds.sensitivity_at_specificity),
        ("sensitivity", "Specificity", thresholds.specificity_at_sensitivity),
    )
    for col, (given, found, read_off) in zip(st.columns(2), points, strict=True):
        need = col.slider(f"Required {given}", 0.5, 1.0, 0.9, 0.01, key=f"req_{given}")
        value, at = read_off(y, score, need)
        col.metric(
            f"{found} at {given} >= {need:.2f}",
            f"{value:.3f}",
            f"threshold {at:.3f}",
            delta_color="off",
        )
    st.caption(
        "Operating points read off the test split, for reporting; choose a "
        "threshold on validation data."
    )


def fair_lending(run, test, y, score, threshold, protected) -> None:
    """Approval rates and adverse impact ratios by group of a protected attribute at the
    chosen threshold, on the test split (:func:`finml.evaluation.fairness.fairness_table`)."""
    from finml.evaluation import fairness

    frame = common.run_rows(run)
    if frame is None:
        st.info(
            "The fair-lending analysis reads the protected attributes of the test rows, "
            "and this run's data is not in the workspace."
        )
        return
    name = st.selectbox("Protected attribute", protected, key="fair_attribute")
    try:
        table, summary = fairness.fairness_of_attribute(
            frame, test["row"].to_numpy(), name, y, score, threshold
        )
    except FinmlError as exc:
        common.show_info(str(exc))
        return
    c1, c2, c3 = st.columns(3)
    verdict = "pass" if summary["min_air"] >= fairness.FOUR_FIFTHS else "fail"
    c1.metric(
        "Lowest adverse impact ratio",
        f"{summary['min_air']:.2f}",
        f"four-fifths: {verdict}",
        delta_color="normal" if verdict == "pass" else "inverse",
    )
    c2.metric("Demographic parity difference", f"{summary['demographic_parity_difference']:.3f}")
    c3.metric("Equalized-odds difference", f"{summary['equalized_odds_difference']:.3f}")
    st.plotly_chart(charts.adverse_impact(table, name), width="stretch")
    percent = st.column_config.NumberColumn(format="percent")
    ratio = st.column_config.NumberColumn(format="%.2f")
    st.dataframe(
        table,
        hide_index=True,
        width="stretch",
        column_config={
            "approval rate": percent,
            "approval rate of good": percent,
            "approval rate of bad": percent,
            "bad rate among approved": percent,
            "adverse impact ratio": ratio,
            "AIR lower": ratio,
            "AIR upper": ratio,
        },
    )
    st.caption(
        f"Test split ({len(y):,} applicants), threshold {threshold:.3f}: approved = score "
        "below the threshold. Adverse impact ratio: a group's approval rate over that of "
        f"the most favoured group of at least {fairness.MIN_GROUP} applicants (here "
        f"{common.text(summary['reference'])}); below {fairness.FOUR_FIFTHS} fails the "
        "four-fifths rule. 95% intervals: bootstrap within each group, "
        f"{fairness.N_BOOT:,} resamples. Approval rate of good / bad: the true- and "
        "false-positive rates of approval, whose largest gaps across groups give the "
        "equalized-odds difference (fairlearn)."
    )
    common.download(
        st,
        "Fair-lending table (CSV)",
        to_csv_bytes(table),
        f"finml-fair-lending-{run.run_id[:8]}.csv",
        "text/csv",
        "fair_csv",
        run.run_id,
    )


def credit_pack(y, score, labels, values):
    """KS plot, lift and gains, calibration, score distribution."""
    c1, c2 = st.columns(2)
    c1.plotly_chart(charts.ks_plot(credit.ks_curve(y, score)), width="stretch")
    lift = credit.lift_table(y, score)
    c2.plotly_chart(charts.gains_chart(lift), width="stretch")
    st.dataframe(lift.round(3), hide_index=True, width="stretch")
    hl = credit.hosmer_lemeshow(y, score)
    c1, c2 = st.columns(2)
    c1.plotly_chart(
        charts.calibration_plot(credit.calibration_table(y, score), values["brier"], hl),
        width="stretch",
    )
    c2.plotly_chart(charts.score_distribution(y, score, labels), width="stretch")
    st.caption(
        f"Hosmer-Lemeshow: H = {hl['statistic']:.2f}, {hl['dof']} dof, "
        f"p = {hl['p_value']:.3f} (p < 0.05: probabilities not calibrated)."
    )


def credit_tab(run, test, y, score, labels, values, threshold, costs, positive) -> None:
    """The credit pack, then the cut-off strategy and the swap set (``costs``: the cost of
    a false positive and of a false negative)."""
    credit_pack(y, score, labels, values)
    cutoff_strategy(run, test, y, score, threshold, *costs, positive)


def cutoff_strategy(run, test, y, score, threshold, cost_fp, cost_fn, positive) -> None:
    """The cut-off strategy table (accept rate against bad rate and cost over cut-offs, the
    chosen one marked) and the swap set against another run's saved cut-off on the same
    test applicants."""
    st.subheader("Cut-off strategy (test split)")
    cuts = credit.strategy_cutoffs(score, threshold)
    table = credit.cutoff_table(y, score, cuts, cost_fp, cost_fn)
    table.insert(0, "", np.where(np.isclose(table["cut-off"], threshold), "chosen", ""))
    percent = st.column_config.NumberColumn(format="percent")
    st.dataframe(
        table,
        hide_index=True,
        width="stretch",
        column_config={
            "cut-off": st.column_config.NumberColumn(format="%.3f"),
            "accept rate": percent,
            "bad rate among accepted": percent,
            "expected cost per applicant": st.column_config.NumberColumn(format="%.3f"),
        },
    )
    st.caption(
        "Refused: score >= cut-off. One row per accept rate from 50% to 95% (the score that "
        "accepts that share of the test applicants) and the chosen cut-off; the cost uses "
        "the costs above."
    )
    if positive not in (None, run.params.get("positive_class")):
        return
    others = [
        r
        for r in jobs.list_runs(common.store())
        if r.run_id != run.run_id
        and r.has_results
        and r.params.get("dataset_id") == run.params.get("dataset_id")
        and r.params.get("target") == run.params.get("target")
        and r.params.get("positive_class") == run.params.get("positive_class")
    ]
    if not others:
        st.caption("Swap set: train another model on this dataset to compare cut-offs.")
        return
    names = run_names([run, *others])
    before = st.selectbox(
        "Swap set against",
        others,
        format_func=lambda r: (
            f"{names[r.run_id]} (cut-off {r.threshold if r.threshold is not None else 0.5:.3f})"
        ),
        key="swap_run",
    )
    old_test, old_val, _ = common.predictions(common.data_dir(), before.run_id)
    _, old_score, *_ = metrics.binary_view_of_run(before.params, old_test, old_val)
    old = pd.DataFrame({"row": old_test["row"].to_numpy(), "old": old_score})
    both = pd.DataFrame({"row": test["row"].to_numpy(), "y": y, "now": score}).merge(old, on="row")
    if both.empty:
        st.info("The two runs share no test applicant (a different split): no swap set.")
        return
    old_cut = before.threshold if before.threshold is not None else 0.5
    swaps = credit.swap_set(both["y"], both["now"] < threshold, both["old"] < old_cut)
    st.dataframe(
        swaps,
        hide_index=True,
        width="stretch",
        column_config={"share": percent, "bad rate": percent},
    )
    st.caption(
        f"The {len(both):,} test applicants both runs scored: accepted now at cut-off "
        f"{threshold:.3f} against accepted before by {common.text(names[before.run_id])} at "
        f"its {'saved' if before.threshold is not None else 'default'} cut-off {old_cut:.3f}. "
        "A better model swaps in applicants with a lower bad rate than those it swaps out."
    )


def clinical_pack(y, score, val_y, val_score, labels):
    """Sensitivity at fixed specificities (and the reverse), thresholds from validation."""
    table = thresholds.clinical_operating_points(val_y, val_score, y, score, CLINICAL_TARGETS)
    st.dataframe(table.round(3), hide_index=True, width="stretch")
    st.caption(
        "Each threshold is chosen on the validation split to meet the requirement; both "
        "rates are then read on the test split."
    )
    st.plotly_chart(charts.score_distribution(y, score, labels), width="stretch")


def drill_down(run, test, y, score, threshold, cases):
    """The test cases of one confusion-matrix cell, sorted by score, shown by
    ``cases(run, picked)``."""
    cell = st.segmented_control(
        "Show the test cases in cell", list(metrics.CELLS), key="drill_cell"
    )
    if cell is None:
        return
    mask = metrics.cell_mask(y, score, threshold, cell)
    picked = test[mask].assign(score=score[mask]).sort_values("score", ascending=False)
    st.caption(f"{len(picked)} test cases in {cell}, highest score first.")
    cases(run, picked)


def table_cases(run, picked) -> None:
    """The picked test rows (``row``, ``score``) joined with the run's data rows."""
    rows = picked[["row", "score"]].rename(columns={"row": "data row"})
    frame = common.run_rows(run)  # None (gone, or an import's): row numbers and scores only
    if frame is not None:
        rows = rows.join(frame, on="data row")
    else:
        st.caption("The rows are not shown: this run's data is not in the workspace.")
    st.dataframe(rows, hide_index=True, width="stretch")


class BinaryView(TableView):
    """Two classes of a table."""

    task = get_task("binary")
    choice = "Binary classification"
    fold_note = " (threshold-free metrics)"
    form_keys = ("positive",)
    cv_note = (
        " Metrics at threshold 0.5; thresholds on this page are chosen on the out-of-fold scores."
    )

    def target_form(self, frame, table_schema, target_col, demo_name):
        """The positive class, checked (two classes, enough of each)."""
        positive, values, y = class_target(
            frame,
            table_schema,
            target_col,
            "Positive class (the event to predict: bad, default, ...)",
            lambda values, positive: target.validate_target(frame, target_col, positive),
        )
        negatives = [v for v in values if v != positive]
        return TableTarget(
            strata=y,
            report=lambda fr, split, spec: split_report(fr, y, split, spec),
            warnings=lambda split: split_warnings(y, (" / ".join(negatives), positive), split),
            positive=positive,
            negative=negatives[0] if len(negatives) == 1 else "",
        )

    def target_words(self, ds) -> str:
        return f"= {ds.positive!r}"

    def evaluate(self, run, test, val, store) -> None:
        binary_view(run, test, val, store, tabs=run_parts.run_tabs(run, val, self, store))

    def cv_chart(self, run, oof, folds) -> None:
        """The ROC curve of each fold from its out-of-fold scores."""
        auc = folds.set_index("fold")["roc_auc"]
        curves = {}
        for fold, part in oof.groupby("fold"):
            fpr, tpr = metrics.roc_points(part["y_true"], part["score"])
            curves[f"fold {fold}"] = (fpr, tpr, float(auc.get(fold, float("nan"))))
        title = f"ROC curve of each fold ({len(folds)}-fold cross-validation, out-of-fold rows)"
        st.plotly_chart(charts.overlay_roc(curves, title), width="stretch")

    def predict(self, run, model) -> None:
        """Score uploaded rows: the decision at the run's threshold and SHAP reasons."""
        from finml.prediction.tables import score_rows

        domain = domain_of(run.params)
        threshold = run.threshold if run.threshold is not None else 0.5
        how = "saved with the run" if run.threshold is not None else "default; save one on Evaluate"
        st.caption(
            f"Decision threshold {threshold:.3f} ({how}): score >= threshold is "
            f"{domain.positive_action}."
        )
        frame = uploads.uploaded_rows()
        outcome = "the risk" if domain.name == "credit" else "the score"
        scored = uploads.predicted("Scoring", score_rows, model, frame, threshold, outcome)
        flagged = int((scored["issues"] != "").sum())
        c1, c2, c3 = st.columns(3)
        c1.metric("Rows scored", f"{len(scored):,}")
        c2.metric("Refused", f"{int((scored['decision'] == 'refuse').sum()):,}")
        c3.metric("Rows with data issues", f"{flagged:,}")
        from finml.models.scorecard import scorecard_of

        reasons = (
            "Reasons: the features whose SHAP values raised the log-odds most for that row "
            "(up to four), against a summary of the training data."
        )
        if scorecard_of(model) is not None:
            reasons = (
                "A scorecard's reasons are its own, not SHAP's: the characteristics that lost "
                'the most points against their best bin (up to four, "points below '
                'maximum", the usual adverse-action method for scorecards). `points` is the '
                "applicant's score; the `points: ...` columns add up to it."
            )
        uploads.results(run, model, frame, scored, "scores.csv", "score", reasons)


VIEW = BinaryView()
