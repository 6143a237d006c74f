"""Runs page: every run with model, status, times and key test metrics; open one."""

import streamlit as st

from finml import jobs
from finml.store import ACTIVE, EVALUABLE, RunStore, runs_frame

st.title("Runs")
store = RunStore()
runs = jobs.list_runs(store)
if not runs:
    st.info("No runs yet.")
    st.page_link("pages/data.py", label="Start with the data", icon=":material/table_view:")
    st.stop()
table = runs_frame(runs)
st.dataframe(table, hide_index=True, width="stretch")
ids = [r.run_id for r in runs]
labels_by_id = {r.run_id: r.label for r in runs}
choice = st.selectbox("Run", ids, format_func=lambda i: labels_by_id[i], key="run")
run = next(r for r in runs if r.run_id == choice)
if run.reason:
    st.error(f"{run.status}: {run.reason}")
cols = st.columns(3)
evaluable = run.status in EVALUABLE and "test_roc_auc" in run.metrics
if evaluable and cols[0].button("Open in Evaluate", key="open_eval"):
    st.session_state.eval_run = choice
    st.switch_page("pages/evaluate.py")
if run.status in ACTIVE and cols[1].button("Watch in Train", key="watch"):
    st.session_state.active_run = choice
    st.switch_page("pages/train.py")
