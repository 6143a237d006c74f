"""Evaluate page: everything is computed from the run's stored predictions (moving the
threshold never retrains). Tables and two-class image runs get the binary view (confusion
matrix at a threshold, ROC, PR, metrics); image runs add per-class metrics, one-vs-rest ROC,
the misclassified test images and Grad-CAM."""

import contextlib

import streamlit as st

from finml import charts, decision, evaluate
from finml.data.staging import load_staged, load_staged_images
from finml.errors import FinmlError
from finml.report import build_report
from finml.store import RunStore
from pages.common import memo, runs_with_results

THRESHOLD_MODES = [
    "Manual",
    "Youden J (validation split)",
    "Minimum expected cost (validation split)",
]


def binary_view(run, y, score, val_y, val_score, labels):
    """Threshold and costs, confusion matrix, metrics with CIs, ROC band, PR, credit pack."""
    german = "German Credit" in run.dataset or "German Credit" in run.params.get("dataset", "")
    costs = decision.GERMAN_CREDIT_COSTS if german else {"fp": 1.0, "fn": 1.0}
    c1, c2, c3 = st.columns([2, 1, 1])
    mode = c1.radio(
        "Threshold",
        THRESHOLD_MODES,
        key="threshold_mode",
        help="Youden J and the cost minimum are chosen on the validation split, "
        "never on the test split.",
    )
    cost_fp = c2.number_input(
        f"Cost of a false positive (refusing a {labels[0]})", 0.0, 1e6, costs["fp"], key="cost_fp"
    )
    cost_fn = c3.number_input(
        f"Cost of a false negative (accepting a {labels[1]})", 0.0, 1e6, costs["fn"], key="cost_fn"
    )
    if german:
        c2.caption("Statlog German Credit cost matrix: 1 and 5.")
    best, _ = decision.min_cost_threshold(val_y, val_score, cost_fp, cost_fn)
    if mode == THRESHOLD_MODES[0]:
        default = run.threshold if run.threshold is not None else 0.5
        threshold = st.slider(
            "Threshold (score >= threshold: predicted positive)",
            0.0,
            1.0,
            float(default),
            0.01,
            key="threshold",
        )
    elif mode == THRESHOLD_MODES[1]:
        threshold = evaluate.youden_threshold(val_y, val_score)
        st.caption(f"Youden J threshold from the validation split: **{threshold:.3f}**")
    else:
        threshold = best
        st.caption(f"Cost-minimising threshold on the validation split: **{threshold:.3f}**")
    b1, b2 = st.columns(2)
    if b1.button(f"Save threshold {threshold:.3f} with the run", key="save_threshold"):
        store.set_threshold(run.run_id, threshold, mode)
        st.toast(f"Threshold {threshold:.3f} saved with the run.")
    if b2.button("Make the HTML model report", key="make_report"):
        with st.spinner("Building the report..."):
            page = build_report(store, run.run_id, threshold, cost_fp, cost_fn)
            st.session_state.report = (run.run_id, page.encode())
    if st.session_state.get("report", (None,))[0] == run.run_id:
        b2.download_button(
            "Download the report (HTML)",
            st.session_state.report[1],
            f"finml-report-{run.run_id[:8]}.html",
            "text/html",
            key="report_file",
        )
    metrics = evaluate.binary_metrics(y, score, threshold)
    cis = memo(
        (run.run_id, "ci", round(threshold, 4)),
        lambda: decision.metric_cis(y, score, threshold, n_boot=300),
    )
    cm = evaluate.confusion(y, score, threshold)
    left, right = st.columns([3, 2])
    left.plotly_chart(charts.confusion_matrix(cm, labels, threshold), width="stretch")
    right.table(evaluate.metrics_table(metrics, cis).set_index("metric"))
    cost = decision.expected_cost_curve(y, score, cost_fp, cost_fn, n=101)
    at = evaluate.expected_cost(cm, cost_fp, cost_fn)
    right.caption(
        f"Test split: {len(y):,} rows, {int(y.sum()):,} positive ({labels[1]}). Expected cost "
        f"at this threshold: {at:.3f} per case. 95% CIs: stratified bootstrap, 300 resamples."
    )
    drill_down(run, y, score, threshold)
    tab_roc, tab_costs, tab_credit, tab_explain = st.tabs(
        ["ROC and PR", "Costs and operating points", "Credit pack", "Explanations"]
    )
    with tab_explain:
        try:
            importance = store.read_frame(run.run_id, "explain/permutation_importance.parquet")
        except FinmlError:
            st.caption("This run has no permutation importance (image runs: see Grad-CAM).")
        else:
            st.plotly_chart(charts.importance_bar(importance), width="stretch")
    with tab_roc:
        band = memo((run.run_id, "band"), lambda: decision.roc_band(y, score))
        auc = (
            cis.loc["roc_auc", "value"],
            cis.loc["roc_auc", "lower"],
            cis.loc["roc_auc", "upper"],
        )
        point = evaluate.operating_point(y, score, threshold)
        recall, precision, ap = evaluate.pr_points(y, score)
        c1, c2 = st.columns(2)
        c1.plotly_chart(charts.roc_with_band(band, auc, point), width="stretch")
        c2.plotly_chart(charts.pr_curve(recall, precision, ap, float(y.mean())), width="stretch")
    with tab_costs:
        st.plotly_chart(charts.cost_curve(cost, threshold, best), width="stretch")
        points = (
            ("specificity", "Sensitivity", decision.sensitivity_at_specificity),
            ("sensitivity", "Specificity", decision.specificity_at_sensitivity),
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
    with tab_credit:
        c1, c2 = st.columns(2)
        c1.plotly_chart(charts.ks_plot(decision.ks_curve(y, score)), width="stretch")
        lift = decision.lift_table(y, score)
        c2.plotly_chart(charts.gains_chart(lift), width="stretch")
        st.dataframe(lift.round(3), hide_index=True, width="stretch")
        hl = decision.hosmer_lemeshow(y, score)
        c1, c2 = st.columns(2)
        c1.plotly_chart(
            charts.calibration_plot(decision.calibration_table(y, score), metrics["brier"], hl),
            width="stretch",
        )
        c2.plotly_chart(charts.score_distribution(y, score, labels), width="stretch")
        st.caption(
            f"Hosmer-Lemeshow: H = {hl['statistic']:.2f}, {hl['dof']} dof, "
            f"p = {hl['p_value']:.3f} (p < 0.05: probabilities not calibrated)."
        )


def _staged_images(run):
    """The run's staged images (cached per session), or None if no longer in the workspace."""
    data = st.session_state.setdefault("staged_images", {})
    key = run.params.get("dataset_id", "")
    if key not in data:
        try:
            data[key] = load_staged_images(key)
        except FinmlError:
            return None
    return data[key]


def drill_down(run, y, score, threshold):
    """The test rows (or images) of one confusion-matrix cell, sorted by score."""
    cell = st.segmented_control(
        "Show the test cases in cell", list(evaluate.CELLS), key="drill_cell"
    )
    if cell is None:
        return
    test = st.session_state.eval_cache[run.run_id][0]
    mask = evaluate.cell_mask(y, score, threshold, cell)
    picked = test[mask].sort_values("score", ascending=False)
    st.caption(f"{len(picked)} test cases in {cell}, highest score first.")
    if run.params.get("task") == "images":
        staged = _staged_images(run)
        if staged is not None and len(picked):
            top = picked.head(24)
            st.image(
                [staged["images"][r] for r in top["row"]],
                caption=[
                    f"{staged['names'][r]} ({sc:.2f})"
                    for r, sc in zip(top["row"], top["score"], strict=True)
                ],
                width=110,
            )
        return
    rows = picked[["row", "score"]].rename(columns={"row": "data row"})
    with contextlib.suppress(FinmlError):  # staged table gone: row numbers and scores only
        rows = rows.join(load_staged(run.params.get("dataset_id", "")), on="data row")
    st.dataframe(rows, hide_index=True, width="stretch")


def image_view(run, test):
    """Per-class metrics, one-vs-rest ROC, misclassified images and Grad-CAM."""
    classes = run.params["classes"].split(",")
    proba = test[[f"p_{i}" for i in range(len(classes))]].to_numpy()
    y = test["y_true"].to_numpy()
    st.subheader("Per class")
    left, right = st.columns(2)
    cm = evaluate.multiclass_confusion(y, proba.argmax(axis=1), len(classes))
    left.plotly_chart(charts.multiclass_confusion(cm, classes), width="stretch")
    right.plotly_chart(charts.ovr_roc_curves(evaluate.ovr_roc(y, proba), classes), width="stretch")
    st.table(evaluate.per_class_metrics(y, proba, tuple(classes)).round(4))
    staged = _staged_images(run)
    if staged is None:
        st.info("The test images are no longer in the workspace; they cannot be shown.")
        return
    st.subheader("Misclassified test images")
    wrong = test[proba.argmax(axis=1) != y]
    st.caption(f"{len(wrong)} of {len(test)} test images are misclassified (first 24 shown).")
    if len(wrong):
        shown = wrong.head(24)
        st.image(
            [staged["images"][r] for r in shown["row"]],
            caption=[
                f"true {classes[t]} · predicted {classes[int(p.argmax())]} ({p.max():.2f})"
                for t, p in zip(shown["y_true"], proba[shown.index], strict=True)
            ],
            width=120,
        )
    st.subheader("Grad-CAM")
    names = {int(r): str(staged["names"][r]) for r in test["row"]}
    row = st.selectbox("Test image", list(names), format_func=names.get, key="gradcam_row")
    if st.button("Show where the model looks (Grad-CAM)", key="gradcam"):
        from finml.explain import grad_cam, overlay
        from finml.predict import load_run_bundle

        with st.spinner("Loading the model..."):
            models = st.session_state.setdefault("loaded_models", {})
            if run.run_id not in models:
                models[run.run_id] = load_run_bundle(store, run.run_id).model
        image = staged["images"][row]
        heat, k = grad_cam(models[run.run_id], image)
        c1, c2 = st.columns(2)
        c1.image(image, caption=f"{names[row]} (true {staged['labels'][row]})", width=256)
        c2.image(overlay(image, heat), caption=f"Grad-CAM for class {classes[k]}", width=256)


st.title("Evaluate")
store = RunStore()
runs = runs_with_results(
    store, "No run has test results yet. Train a model first.", "pages/train.py", "Go to Train"
)
ids = [r.run_id for r in runs]
labels_by_id = {r.run_id: r.label for r in runs}
wanted = st.session_state.get("eval_run") or st.query_params.get("run")
run_id = st.selectbox(
    "Run",
    ids,
    index=ids.index(wanted) if wanted in ids else 0,
    format_func=lambda i: labels_by_id[i],
)
st.session_state.eval_run = run_id
run = next(r for r in runs if r.run_id == run_id)

cache = st.session_state.setdefault("eval_cache", {})
if run_id not in cache:
    try:
        cache[run_id] = (
            store.read_frame(run_id, "predictions/test.parquet"),
            store.read_frame(run_id, "predictions/validation.parquet"),
            store.history(run_id),
        )
    except FinmlError as exc:
        st.error(str(exc))
        st.stop()
test, val, history = cache[run_id]
is_images = run.params.get("task") == "images"
y, val_y, labels = evaluate.binary_view_of_run(run.params, test, val)
if is_images:
    st.caption(f"Binary view: {labels[1]} against the rest.")
binary_view(run, y, test["score"].to_numpy(), val_y, val["score"].to_numpy(), labels)
if is_images:
    image_view(run, test)
if len(history):
    st.plotly_chart(charts.learning_curves(history), width="stretch")
