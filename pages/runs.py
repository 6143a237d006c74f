"""Runs page: leaderboard of every run (sortable by any column), compare runs (ROC and
learning curves overlaid), open one in Evaluate, delete, export a run as one bundle file,
import a bundle exported by finml."""

import streamlit as st

from finml import charts, evaluate, jobs
from finml.bundle import export_run, import_run
from finml.errors import FinmlError
from finml.store import ACTIVE, RunStore, runs_frame

st.title("Runs")
store = RunStore()
with st.expander("Import a run exported by finml"):
    upload = st.file_uploader("finml bundle (.zip)", type=["zip"], key="import")
    if upload is not None and st.button("Import", key="do_import"):
        try:
            new_id = import_run(upload.getvalue(), store, name=upload.name)
        except FinmlError as exc:
            st.error(str(exc), icon=":material/error:")
        else:
            st.success(f"Imported as run {new_id[:8]}.")
runs = jobs.list_runs(store)
if not runs:
    st.info("No runs yet.")
    st.page_link("pages/data.py", label="Start with the data", icon=":material/table_view:")
    st.stop()
st.caption("Click a column header to sort the leaderboard.")
st.dataframe(runs_frame(runs), hide_index=True, width="stretch")
labels_by_id = {r.run_id: r.label for r in runs}
by_id = {r.run_id: r for r in runs}
choice = st.selectbox("Run", list(labels_by_id), format_func=labels_by_id.get, key="run")
run = by_id[choice]
if run.reason:
    st.error(f"{run.status}: {run.reason}")
cols = st.columns(4)
evaluable = run.has_results
if evaluable and cols[0].button("Open in Evaluate", key="open_eval"):
    st.session_state.eval_run = choice
    st.switch_page("pages/evaluate.py")
if run.status in ACTIVE and cols[1].button("Watch in Train", key="watch"):
    st.session_state.active_run = choice
    st.switch_page("pages/train.py")
if evaluable and cols[2].button("Prepare export file", key="export"):
    try:
        st.session_state.export_file = (choice, export_run(store, choice))
    except FinmlError as exc:
        st.error(str(exc))
if st.session_state.get("export_file", (None,))[0] == choice:
    cols[2].download_button(
        "Download bundle",
        st.session_state.export_file[1],
        f"finml-run-{choice[:8]}.zip",
        "application/zip",
        key="download",
    )
if run.status not in ACTIVE:
    confirm = cols[3].checkbox("Confirm delete", key="confirm_delete")
    if cols[3].button("Delete run", key="delete", disabled=not confirm):
        store.delete_run(choice)
        st.rerun()

st.subheader("Compare runs")
comparable = [r.run_id for r in runs if r.has_results]
chosen = st.multiselect("Runs to overlay", comparable, format_func=labels_by_id.get, key="compare")
if len(chosen) >= 2:
    rocs, histories = {}, {}
    for rid in chosen:
        test = store.read_frame(rid, "predictions/test.parquet")
        label = labels_by_id[rid]
        positive = by_id[rid].params.get("positive_class", "")
        classes = by_id[rid].params.get("classes", "")
        y = test["y_true"].to_numpy()
        if classes:  # an image run: its positive class against the rest
            y = (y == classes.split(",").index(positive)).astype(int)
        fpr, tpr = evaluate.roc_points(y, test["score"].to_numpy())
        rocs[label] = (fpr, tpr, evaluate.threshold_free_metrics(y, test["score"])["roc_auc"])
        histories[label] = store.history(rid)
    c1, c2 = st.columns(2)
    c1.plotly_chart(charts.overlay_roc(rocs), width="stretch")
    c2.plotly_chart(charts.overlay_learning(histories), width="stretch")
