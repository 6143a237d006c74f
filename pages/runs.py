"""Runs page: the leaderboard of the runs this user may see (sortable; click a row to open
it), the chosen run's actions (open in Evaluate, watch or stop in Train, and for its owner:
share with the team, rename, export, delete), comparison of runs (ROC and learning curves
overlaid), import of a run exported by finml, and for admins the audit trail."""

import hashlib

import streamlit as st

from finml import access, audit
from finml.config import get_settings
from finml.errors import FinmlError
from finml.evaluation import metrics
from finml.evaluation.compare import delong_table
from finml.reporting import charts
from finml.reporting.exchange import export_run, import_run
from finml.reporting.runs import numeric_comparison, runs_frame
from finml.store import ACTIVE
from finml.tasks import get_task
from finml.training import jobs
from pages import common


def compare_classes(picked: list) -> None:
    """Runs that predict classes: their ROC curves (of the positive class, or the class of
    interest against the rest) and learning curves overlaid, and DeLong's paired test."""
    rocs, histories, paired = {}, {}, {}
    for run in picked:
        test, val, history = common.predictions(common.data_dir(), run.run_id)
        y, score, _, _, _ = metrics.binary_view_of_run(run.params, test, val)
        fpr, tpr = metrics.roc_points(y, score)
        rocs[run.label] = (fpr, tpr, metrics.threshold_free_metrics(y, score)["roc_auc"])
        histories[run.label] = history
        paired[run.label] = test.assign(y_true=y, score=score)
    c1, c2 = st.columns(2)
    c1.plotly_chart(charts.overlay_roc(rocs), width="stretch")
    c2.plotly_chart(charts.overlay_learning(histories), width="stretch")
    st.markdown("**Paired test of the ROC-AUC difference** (DeLong, on the same test rows)")
    st.dataframe(delong_table(paired).round(4), hide_index=True, width="stretch")
    st.caption(
        "Each run against the first one chosen. p < 0.05: the difference in ROC-AUC is "
        "unlikely to be chance on these test rows. Runs of another dataset, split or seed "
        "did not score the same rows and are not tested."
    )


def compare_values(picked: list) -> None:
    """Runs that predict numbers (regression, forecasts): their test metrics side by side
    and their validation RMSE per epoch."""
    st.dataframe(numeric_comparison(picked).round(4), hide_index=True, width="stretch")
    histories = {r.label: common.predictions(common.data_dir(), r.run_id)[2] for r in picked}
    st.plotly_chart(charts.overlay_learning(histories, "val_rmse"), width="stretch")
    st.caption(
        "Test metrics of each run (lower RMSE, MAE and MASE are better; higher R²) and the "
        "validation RMSE per epoch in the target's units. Runs of another dataset, split or "
        "horizon were tested on other rows."
    )


#: The comparison of runs of one task, by how the task's predictions are evaluated
#: (:attr:`finml.tasks.base.Task.evaluation`).
COMPARE = {"classes": compare_classes, "values": compare_values, "forecasts": compare_values}


st.title("Runs")
store = common.store()
with st.expander("Import a run exported by finml"):
    upload = st.file_uploader("finml bundle (.zip)", type=["zip"], key="import")
    if upload is not None and st.button("Import", key="do_import"):
        try:
            data = upload.getvalue()
            owner = common.principal().user_id
            new_id = import_run(data, store, name=upload.name, owner=owner)
        except FinmlError as exc:
            common.show_error(exc)
        else:
            common.record("import", new_id, sha256=hashlib.sha256(data).hexdigest())
            st.success(f"Imported as run {new_id[:8]}.")
runs = jobs.list_runs(store)
if not runs:
    st.info("No runs yet.")
    st.page_link("pages/data.py", label="Start with the data", icon=":material/table_view:")
    st.stop()
by_id = {r.run_id: r for r in runs}
st.caption(
    "Click a row to open that run below; click a column header to sort. A run's rank is "
    "among the runs of its task and dataset, on the metric it is ranked on."
)
picked = st.dataframe(
    runs_frame(
        runs,
        jobs.queue_positions(store.settings),
        common.team_mode(),
    ),
    hide_index=True,
    width="stretch",
    on_select="rerun",
    selection_mode="single-row",
    key="leaderboard",
)
ids = list(by_id)
rows = picked.selection.rows
clicked = ids[rows[0]] if rows and rows[0] < len(ids) else None
if clicked and clicked != st.session_state.get("clicked_run"):  # a new click opens that run
    st.session_state["run"] = clicked
st.session_state["clicked_run"] = clicked
if st.session_state.get("run") not in by_id:
    st.session_state.pop("run", None)
choice = st.selectbox("Run", ids, format_func=lambda i: by_id[i].label, key="run")
run = by_id[choice]
if run.reason:
    common.show_error(f"{run.status}: {run.reason}")
owns = common.may_change(run)
if not owns:
    owner = access.owner_display(run)
    st.caption(f"Shared with the team by {common.text(owner)}: read-only to you.")
cols = st.columns(4)
if run.has_results and cols[0].button("Open in Evaluate", key="open_eval"):
    common.open_run("pages/evaluate.py", choice)
if run.status in ACTIVE:
    if cols[1].button("Watch in Train", key="watch"):
        st.session_state.active_run = choice
        st.switch_page("pages/train.py", query_params={"run": choice})
    if owns and cols[2].button("Stop", icon=":material/stop:", key="stop"):
        common.stop_run(store, choice)
if owns and run.has_results and cols[2].button("Prepare export file", key="export"):
    try:
        store.check(choice, change=True)
        st.session_state.export_file = (choice, export_run(store, choice))
    except FinmlError as exc:
        common.show_error(exc)
    else:
        common.record("export", choice)
if st.session_state.get("export_file", (None,))[0] == choice:
    common.download(
        cols[2],
        "Download bundle",
        st.session_state.export_file[1],
        f"finml-run-{choice[:8]}.zip",
        "application/zip",
        "download",
        choice,
    )
if owns and run.status not in ACTIVE:
    confirm = cols[3].checkbox("Confirm delete", key="confirm_delete")
    if cols[3].button("Delete run", key="delete", disabled=not confirm):
        jobs.delete_run(choice, store)
        common.record("delete", choice, name=run.name)
        st.session_state.pop("run", None)
        st.rerun()
if owns and common.team_mode():
    shared = access.is_shared(run)
    if st.toggle("Share with my team (read-only)", value=shared, key=f"share_{choice}") != shared:
        store.set_shared(choice, not shared)
        common.record("unshare" if shared else "share", choice)
        st.rerun()
if owns:
    with st.popover("Rename"):
        new_name = st.text_input("New name", run.name, max_chars=200, key=f"name_{choice}")
        if st.button("Rename", key="rename") and new_name != run.name:
            try:
                store.rename_run(choice, new_name)
            except FinmlError as exc:
                common.show_error(exc)
            else:
                common.record("rename", choice, name=new_name)
                st.rerun()

st.subheader("Compare runs")
comparable = [r.run_id for r in runs if r.has_results]
chosen = st.multiselect(
    "Runs to overlay", comparable, format_func=lambda i: by_id[i].label, key="compare"
)
tasks = {get_task(by_id[rid].params.get("task")) for rid in chosen}
if len(tasks) > 1:
    st.info(
        "These runs solve different tasks (classification, regression, forecasting); "
        "choose runs of one task to compare them."
    )
elif len(chosen) >= 2:
    COMPARE[tasks.pop().evaluation]([by_id[rid] for rid in chosen])

if common.principal().admin and common.team_mode():
    st.subheader("Audit trail (admins)")
    try:
        found = audit.trails(get_settings())  # every server's trail, downloaded once
        trail = audit.read(found=found)
        chains = {sid: audit.verify(path=path) for sid, path in found.items()}
    except FinmlError as exc:
        common.show_error(exc)
        st.stop()
    for sid, broken in chains.items():
        if broken:
            common.show_error(
                f"The trail of app server {sid} breaks at line {broken}: it was edited there."
            )
    st.caption(
        f"{len(trail)} events, newest first: who signed in, uploaded (hash and shape), "
        "trained, stopped, exported, imported, scored, shared, renamed and deleted what."
    )
    st.dataframe(trail.iloc[::-1], hide_index=True, width="stretch")
    from finml.reporting.exports import to_csv_bytes

    common.download(
        st,
        "Download the audit trail (CSV)",
        to_csv_bytes(trail),
        "finml-audit.csv",
        "text/csv",
        "audit",
    )
