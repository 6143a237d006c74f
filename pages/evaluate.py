"""Evaluate page: everything is computed from the run's stored predictions (moving the
threshold never retrains). Tables and two-class image runs get the binary view (confusion
matrix at a threshold, ROC, PR, metrics); image runs add per-class metrics, one-vs-rest ROC,
the misclassified test images and Grad-CAM."""

import streamlit as st

from finml import charts, evaluate, jobs
from finml.data.staging import load_staged_images
from finml.errors import FinmlError
from finml.store import EVALUABLE, RunStore


def binary_view(y, score, val_y, val_score, labels):
    """Threshold, confusion matrix, metrics, ROC and PR of a binary score."""
    mode = st.radio(
        "Threshold",
        ["Manual", "Youden J (chosen on the validation split)"],
        horizontal=True,
        key="threshold_mode",
        help="Youden's J maximises sensitivity + specificity - 1. It is chosen on the "
        "validation split, never on the test split.",
    )
    if mode == "Manual":
        threshold = st.slider(
            "Threshold (score >= threshold: predicted positive)",
            0.0,
            1.0,
            0.5,
            0.01,
            key="threshold",
        )
    else:
        threshold = evaluate.youden_threshold(val_y, val_score)
        st.caption(f"Youden J threshold from the validation split: **{threshold:.3f}**")
    metrics = evaluate.binary_metrics(y, score, threshold)
    left, right = st.columns([3, 2])
    left.plotly_chart(
        charts.confusion_matrix(evaluate.confusion(y, score, threshold), labels, threshold),
        width="stretch",
    )
    right.table(evaluate.metrics_table(metrics).set_index("metric"))
    right.caption(f"Test split: {len(y):,} rows, {int(y.sum()):,} positive ({labels[1]}).")
    fpr, tpr = evaluate.roc_points(y, score)
    recall, precision, ap = evaluate.pr_points(y, score)
    c1, c2 = st.columns(2)
    point = evaluate.operating_point(y, score, threshold)
    c1.plotly_chart(charts.roc_curve(fpr, tpr, metrics["roc_auc"], point), width="stretch")
    c2.plotly_chart(charts.pr_curve(recall, precision, ap, float(y.mean())), width="stretch")


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
    data_key = run.params.get("dataset_id", "")
    try:
        data = st.session_state.setdefault("staged_images", {})
        if data_key not in data:
            data[data_key] = load_staged_images(data_key)
        staged = data[data_key]
    except FinmlError as exc:
        st.info(f"The test images are not available for display: {exc}")
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
runs = [r for r in jobs.list_runs(store) if r.status in EVALUABLE and "test_roc_auc" in r.metrics]
if not runs:
    st.info("No run has test results yet. Train a model first.")
    st.page_link("pages/train.py", label="Go to Train", icon=":material/model_training:")
    st.stop()
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
positive = run.params.get("positive_class", "positive")
if is_images:
    classes = run.params["classes"].split(",")
    pos = classes.index(positive)
    y, val_y = (test["y_true"] == pos).to_numpy(int), (val["y_true"] == pos).to_numpy(int)
    labels = (classes[1 - pos], positive) if len(classes) == 2 else (f"not {positive}", positive)
    st.caption(f"Binary view: {positive} against the rest.")
else:
    y, val_y = test["y_true"].to_numpy(), val["y_true"].to_numpy()
    labels = (run.params.get("negative_class") or f"not {positive}", positive)
binary_view(y, test["score"].to_numpy(), val_y, val["score"].to_numpy(), labels)
if is_images:
    image_view(run, test)
if len(history):
    st.plotly_chart(charts.learning_curves(history), width="stretch")
