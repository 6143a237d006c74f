"""Evaluate page: confusion matrix at a threshold, ROC and PR curves, learning curves and
the metrics table, all from the run's stored test predictions (moving the slider never
retrains)."""

import streamlit as st

from finml import charts, evaluate, jobs
from finml.errors import FinmlError
from finml.store import EVALUABLE, RunStore

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
y, score = test["y_true"].to_numpy(), test["score"].to_numpy()
positive = run.params.get("positive_class", "positive")
labels = (run.params.get("negative_class") or f"not {positive}", positive)

mode = st.radio(
    "Threshold",
    ["Manual", "Youden J (chosen on the validation split)"],
    horizontal=True,
    key="threshold_mode",
    help="Youden's J maximises sensitivity + specificity - 1. It is chosen on the validation "
    "split, never on the test split.",
)
if mode == "Manual":
    threshold = st.slider(
        "Threshold (score >= threshold: predicted positive)", 0.0, 1.0, 0.5, 0.01, key="threshold"
    )
else:
    threshold = evaluate.youden_threshold(val["y_true"].to_numpy(), val["score"].to_numpy())
    st.caption(f"Youden J threshold from the validation split: **{threshold:.3f}**")

metrics = evaluate.binary_metrics(y, score, threshold)
left, right = st.columns([3, 2])
left.plotly_chart(
    charts.confusion_matrix(evaluate.confusion(y, score, threshold), labels, threshold),
    width="stretch",
)
right.table(evaluate.metrics_table(metrics).set_index("metric"))
right.caption(f"Test split: {len(y):,} rows, {int(y.sum()):,} positive ({positive}).")
fpr, tpr = evaluate.roc_points(y, score)
recall, precision, ap = evaluate.pr_points(y, score)
c1, c2 = st.columns(2)
c1.plotly_chart(
    charts.roc_curve(fpr, tpr, metrics["roc_auc"], evaluate.operating_point(y, score, threshold)),
    width="stretch",
)
c2.plotly_chart(charts.pr_curve(recall, precision, ap, float(y.mean())), width="stretch")
if len(history):
    st.plotly_chart(charts.learning_curves(history), width="stretch")
