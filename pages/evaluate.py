"""Evaluate page: everything is computed from the run's stored predictions (moving the
threshold never retrains). The run's task chooses the view (:mod:`pages.views`): the
binary view of a class (threshold and costs in the field's words, confusion matrix,
metrics with CIs, ROC, PR, the credit pack or clinical operating points), the k-class
views, the regression and forecasting views, the images and Grad-CAM; with each task's
explanations, cross-validation and tuning where its tags offer them. Then the learning
curves and the split's download. The run is kept in the URL (``?run=``)."""

import streamlit as st

from finml.errors import FinmlError
from finml.reporting import charts
from finml.reporting.exports import to_csv_bytes
from pages import common
from pages.views import view_of


def split_download(run, view) -> None:
    """Which row (or image) went to train, validation and test, as CSV."""
    try:
        assignment = store.read_frame(run.run_id, "split.parquet")
    except FinmlError:
        return
    common.download(
        st,
        "Download the split assignment (CSV)",
        to_csv_bytes(view.split_assignment(run, assignment)),
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
view = view_of(run)
view.evaluate(run, test, val, store)
if charts.has_learning_curve(history):
    st.plotly_chart(charts.learning_curves(history), width="stretch")
elif len(history):
    st.caption(charts.one_shot_note(history))
split_download(run, view)
