"""Evaluate page: everything is computed from the run's stored predictions (moving the
threshold never retrains).

Tables and two-class image runs open on the binary view (threshold and costs in the
field's words, confusion matrix, metrics with CIs, ROC, PR, the credit pack or clinical
operating points). Runs of three or more classes open on the k-class confusion matrix and
per-class table, with any one class against the rest one click away. Image runs add the
misclassified images and Grad-CAM. The run is kept in the URL (``?run=``)."""

import contextlib

import streamlit as st

from finml.errors import FinmlError
from finml.evaluation import bootstrap, credit, metrics, thresholds
from finml.evaluation.shap_values import ShapValues, summary_table
from finml.reporting import charts
from finml.reporting.domains import CLINICAL_TARGETS, domain_of
from finml.reporting.exports import png_bytes, to_csv_bytes
from finml.reporting.report import build_report
from finml.reporting.runs import cv_table
from pages import common

THRESHOLD_MODES = [
    "Manual",
    "Youden J (validation split)",
    "Minimum expected cost (validation split)",
]
ALL_CLASSES, ONE_CLASS = "All classes", "One class against the rest"


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


def binary_view(run, test, val, positive=None):
    """The binary view of ``positive`` (default the run's positive class) against the rest."""
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
    cis = cis_of(run, labels[1], y, score, threshold)
    cm = metrics.confusion(y, score, threshold)
    left, right = st.columns([3, 2])
    left.plotly_chart(charts.confusion_matrix(cm, labels, threshold), width="stretch")
    table = metrics.metrics_table(values, cis)
    right.table(table.set_index("metric"))  # finml's metric names and numbers only
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
        "Download the metrics with CIs (CSV)",
        to_csv_bytes(table),
        f"finml-metrics-{run.run_id[:8]}.csv",
        "text/csv",
        "metrics_csv",
        run.run_id,
    )
    drill_down(run, test, y, score, threshold)
    names = ["ROC and PR", "Costs and operating points", domain.pack, "Explanations"]
    cv = int(run.params.get("cv_folds", 0) or 0) and "fold" in val
    tuned = int(run.params.get("tune_trials", 0) or 0)
    names += (["Cross-validation"] if cv else []) + (["Tuning"] if tuned else [])
    tabs = dict(zip(names, st.tabs(names, key="eval_tabs"), strict=True))
    if cv:
        with tabs["Cross-validation"]:
            cv_view(run, val)
    if tuned:
        with tabs["Tuning"]:
            tuning_view(run)
    tabs = list(tabs.values())
    with tabs[0]:
        band = band_of(run, labels[1], y, score)
        auc = tuple(cis.loc["roc_auc", ["value", "lower", "upper"]])
        point = thresholds.operating_point(y, score, threshold)
        recall, precision, ap = metrics.pr_points(y, score)
        c1, c2 = st.columns(2)
        c1.plotly_chart(charts.roc_with_band(band, auc, point), width="stretch")
        c2.plotly_chart(charts.pr_curve(recall, precision, ap, float(y.mean())), width="stretch")
    with tabs[1]:
        curve = thresholds.expected_cost_curve(y, score, cost_fp, cost_fn)
        st.plotly_chart(charts.cost_curve(curve, threshold, best), width="stretch")
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
    with tabs[2]:
        if domain.name == "credit":
            credit_pack(y, score, labels, values)
        else:
            clinical_pack(y, score, val_y, val_score, labels)
    with tabs[3]:
        explanations_view(run, bool(run.followup))


@st.fragment(run_every=2.0)
@common.guarded
def _explanation_pending(run_id: str) -> None:
    """Shown while the worker still explains the run; redraws the page once it is done."""
    run = store.get_run(run_id)
    if run.followup:
        st.info(f"The worker is computing the {run.followup}; it appears here when done.")
    else:
        st.rerun()


def _explanation(run_id: str, artifact: str):
    """A stored explanation table of the run, or ``None`` if it has none (yet)."""
    try:
        return store.read_frame(run_id, artifact)
    except FinmlError:
        return None


def explanations_view(run, pending: bool) -> None:
    """Permutation importance and the SHAP summary of the run, or a note while the worker
    computes them."""
    importance = _explanation(run.run_id, "explain/permutation_importance.parquet")
    shap = _explanation(run.run_id, "explain/shap_values.parquet")
    if importance is not None:
        st.plotly_chart(charts.importance_bar(importance), width="stretch")
    if shap is not None:
        shap_summary(run, shap)
    if int(run.params.get("cv_folds", 0) or 0) and (importance is not None or shap is not None):
        st.caption(
            "Cross-validated run: these explanations use the out-of-fold rows, which the "
            "refit model was trained on (no untouched validation rows are left); read them "
            "as what the model relies on, not as held-out performance."
        )
    if pending:
        _explanation_pending(run.run_id)
    elif importance is None and shap is None:
        st.caption("This run has no explanations (image runs: see Grad-CAM).")


def shap_summary(run, shap) -> None:
    """Beeswarm of the validation rows' SHAP values, and the mean |SHAP| per feature."""
    about = store.read_json(run.run_id, "explain/shap.json")
    values = shap.drop(columns="row")
    features = common.run_rows(run)  # None (gone, or an import's): the dots are not coloured
    if features is not None:
        features = features.iloc[shap["row"]][list(values.columns)].reset_index(drop=True)
    st.plotly_chart(charts.shap_beeswarm(values, features), width="stretch")
    table = summary_table(
        ShapValues(values.to_numpy(), about["base_value"], list(values.columns), about["method"])
    ).rename(columns={"mean_abs": "mean |SHAP|", "mean": "mean SHAP"})
    st.dataframe(table.round(4), hide_index=True, width="stretch")
    st.caption(
        f"SHAP values ({about['method']} explainer) of {len(values)} validation rows, in "
        f"log-odds of {common.text(run.params.get('positive_class', 'the positive class'))}: base "
        f"value {about['base_value']:.3f} plus a row's contributions is the model's log-odds "
        "for that row. One-hot columns are summed back into their original column."
    )


def tuning_view(run) -> None:
    """The trials of the run's hyperparameter search and the best trial's parameters."""
    trials = common.trials_of(store, run.run_id)
    if trials.empty:
        st.info("No trial of this run's hyperparameter search is stored.")
        return
    common.search_view(run, trials)
    with contextlib.suppress(FinmlError):
        best = store.read_json(run.run_id, "tuning/best_params.json")
        st.caption(
            "The model was refit with the best trial's parameters (validation ROC-AUC "
            f"{run.metrics.get('tune_best_val_roc_auc', float('nan')):.4f}) and tested once:"
        )
        st.json(best)


def cv_view(run, oof) -> None:
    """Per-fold metrics with mean ± sd, and the folds' ROC curves from the out-of-fold
    predictions."""
    try:
        folds = store.read_frame(run.run_id, "cv/folds.parquet")
    except FinmlError:
        st.info("This run's per-fold table is not stored (an export of an older finml).")
        return
    k = len(folds)
    st.dataframe(cv_table(folds).round(4), hide_index=True, width="stretch")
    auc = folds.set_index("fold")["roc_auc"]
    curves = {}
    for fold, part in oof.groupby("fold"):
        fpr, tpr = metrics.roc_points(part["y_true"], part["score"])
        curves[f"fold {fold}"] = (fpr, tpr, float(auc.get(fold, float("nan"))))
    title = f"ROC curve of each fold ({k}-fold cross-validation, out-of-fold rows)"
    st.plotly_chart(charts.overlay_roc(curves, title), width="stretch")
    st.caption(
        f"{k}-fold {run.params.get('cv_kind', '')} cross-validation on the training and "
        "validation rows: each fold's preprocessing and model were fitted on the other folds "
        "only. Metrics at threshold 0.5; sd is the sample sd over folds. The test metrics "
        "above come from the model refit on every non-test row; thresholds on this page are "
        "chosen on the out-of-fold scores."
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


def clinical_pack(y, score, val_y, val_score, labels):
    """Sensitivity at fixed specificities (and the reverse), thresholds from validation."""
    table = thresholds.clinical_operating_points(val_y, val_score, y, score, CLINICAL_TARGETS)
    st.dataframe(table.round(3), hide_index=True, width="stretch")
    st.caption(
        "Each threshold is chosen on the validation split to meet the requirement; both "
        "rates are then read on the test split."
    )
    st.plotly_chart(charts.score_distribution(y, score, labels), width="stretch")


def drill_down(run, test, y, score, threshold):
    """The test rows (or images) of one confusion-matrix cell, sorted by score."""
    cell = st.segmented_control(
        "Show the test cases in cell", list(metrics.CELLS), key="drill_cell"
    )
    if cell is None:
        return
    mask = metrics.cell_mask(y, score, threshold, cell)
    picked = test[mask].assign(score=score[mask]).sort_values("score", ascending=False)
    st.caption(f"{len(picked)} test cases in {cell}, highest score first.")
    if run.params.get("task") == "images":
        staged = common.staged_images(run)
        if staged is not None and len(picked):
            top = picked.head(24)
            st.image(
                [staged["images"][r] for r in top["row"]],
                caption=[
                    common.text(f"{staged['names'][r]} ({sc:.2f})")
                    for r, sc in zip(top["row"], top["score"], strict=True)
                ],
                width=110,
            )
        return
    rows = picked[["row", "score"]].rename(columns={"row": "data row"})
    frame = common.run_rows(run)  # None (gone, or an import's): row numbers and scores only
    if frame is not None:
        rows = rows.join(frame, on="data row")
    else:
        st.caption("The rows are not shown: this run's data is not in the workspace.")
    st.dataframe(rows, hide_index=True, width="stretch")


def class_view(run, test, classes):
    """The k-class confusion matrix, one-vs-rest ROC and per-class metrics."""
    proba = test[[f"p_{i}" for i in range(len(classes))]].to_numpy()
    y = test["y_true"].to_numpy()
    left, right = st.columns(2)
    cm = metrics.multiclass_confusion(y, proba.argmax(axis=1), len(classes))
    left.plotly_chart(charts.multiclass_confusion(cm, classes), width="stretch")
    right.plotly_chart(charts.ovr_roc_curves(metrics.ovr_roc(y, proba), classes), width="stretch")
    per_class = metrics.per_class_metrics(y, proba, tuple(classes)).round(4)
    st.dataframe(per_class, width="stretch")  # class names: plain text, not Markdown
    return proba, y


def image_view(run, test, classes, proba, y):
    """The misclassified test images and Grad-CAM."""
    staged = common.staged_images(run)
    if staged is None:
        st.info("The test images are not in the workspace; they cannot be shown.")
        return
    st.subheader("Misclassified test images")
    wrong = test[proba.argmax(axis=1) != y]
    st.caption(f"{len(wrong)} of {len(test)} test images are misclassified (first 24 shown).")
    if len(wrong):
        shown = wrong.head(24)
        st.image(
            [staged["images"][r] for r in shown["row"]],
            caption=[
                common.text(
                    f"true {classes[t]} · predicted {classes[int(p.argmax())]} ({p.max():.2f})"
                )
                for t, p in zip(shown["y_true"], proba[shown.index], strict=True)
            ],
            width=120,
        )
    st.subheader("Grad-CAM")
    names = {int(r): str(staged["names"][r]) for r in test["row"]}
    row = st.selectbox("Test image", list(names), format_func=names.get, key="gradcam_row")
    if st.button("Show where the model looks (Grad-CAM)", key="gradcam"):
        st.session_state["gradcam_shown"] = (run.run_id, row)
    if st.session_state.get("gradcam_shown") == (run.run_id, row):
        from finml.evaluation.explain import grad_cam, overlay

        model = common.fitted_model(common.data_dir(), run.run_id)
        image = staged["images"][row]
        heat, k = common.memo(
            (run.run_id, "gradcam", row), lambda: grad_cam(model.estimator, image)
        )
        blended = overlay(image, heat)
        c1, c2 = st.columns(2)
        caption = f"{names[row]} (true {staged['labels'][row]})"
        c1.image(image, caption=common.text(caption), width=256)
        c2.image(blended, caption=common.text(f"Grad-CAM for class {classes[k]}"), width=256)
        common.download(
            c2,
            "Download the overlay (PNG)",
            png_bytes(blended),
            "grad-cam.png",
            "image/png",
            "gradcam_png",
            run.run_id,
        )


def split_download(run):
    """Which row (or image) went to train, validation and test, as CSV."""
    try:
        assignment = store.read_frame(run.run_id, "split.parquet")
    except FinmlError:
        return
    if run.params.get("task") == "images":
        staged = common.staged_images(run)
        if staged is not None:
            assignment = assignment.assign(image=staged["names"][assignment["row"]])
    common.download(
        st,
        "Download the split assignment (CSV)",
        to_csv_bytes(assignment),
        f"finml-split-{run.run_id[:8]}.csv",
        "text/csv",
        "split_csv",
        run.run_id,
    )


st.title("Evaluate")
store = common.store()
runs = common.runs_with_results(
    "No run has test results yet. Train a model first.", "pages/train.py", "Go to Train"
)
run = common.pick_run(runs, "Run", key="eval_run")
test, val, history = common.predictions(common.data_dir(), run.run_id)
if run.params.get("task") in ("regression", "forecast"):
    from pages import forecast_view, regression_view

    view = forecast_view if run.params["task"] == "forecast" else regression_view
    view.render(run, test, store)
    if len(history):
        st.plotly_chart(charts.learning_curves(history), width="stretch")
    split_download(run)
    st.stop()
classes = run.params.get("classes", "").split(",") if run.params.get("classes") else []
if len(classes) > 2:
    view = st.segmented_control(
        "View", [ALL_CLASSES, ONE_CLASS], default=ALL_CLASSES, key="class_view"
    )
    if view == ONE_CLASS:
        chosen = st.selectbox("Class against the rest", classes, key="ovr_class")
        binary_view(run, test, val, chosen)
    else:
        proba, y = class_view(run, test, classes)
        if run.params.get("task") == "images":
            image_view(run, test, classes, proba, y)
else:
    if classes:
        positive = run.params.get("positive_class")
        st.caption(f"Binary view: {common.text(positive)} against the rest.")
    binary_view(run, test, val)
    if classes:
        st.subheader("Per class")
        proba, y = class_view(run, test, classes)
        image_view(run, test, classes, proba, y)
if len(history):
    st.plotly_chart(charts.learning_curves(history), width="stretch")
split_download(run)
