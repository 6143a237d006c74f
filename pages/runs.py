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
from finml.reporting.runs import (
    group_label,
    group_of,
    numeric_comparison,
    ranked_interval,
    run_groups,
    run_names,
    runs_frame,
)
from finml.store import ACTIVE
from finml.tasks import get_task
from finml.training import jobs
from pages import common


def learning_overlay(column, histories: dict, key: str) -> None:
    """The learning curves of ``key`` overlaid in ``column``, or a caption where no run
    chosen has one (one-shot fits); the runs left out are named."""
    flat = charts.one_shot_runs(histories, key)
    if len(flat) < len(histories):
        column.plotly_chart(charts.overlay_learning(histories, key), width="stretch")
    if flat:
        column.caption(
            "No learning curve (fitted in one step, not over epochs or iterations): "
            + ", ".join(common.text(label) for label in flat)
            + "."
        )


#: The DeLong table's columns in reading order, with their formats: the difference, its
#: CI and the p-value first, so they stay in view at 1024 px.
DELONG_COLUMNS = {
    "run": st.column_config.TextColumn("run", width="medium", pinned=True),
    "difference": st.column_config.NumberColumn("difference", format="%.4f", width="small"),
    "95% CI low": st.column_config.NumberColumn("95% CI low", format="%.4f", width="small"),
    "95% CI high": st.column_config.NumberColumn("95% CI high", format="%.4f", width="small"),
    "p-value": st.column_config.NumberColumn("p-value", format="%.4f", width="small"),
    "ROC-AUC": st.column_config.NumberColumn("ROC-AUC", format="%.4f", width="small"),
    "reference ROC-AUC": st.column_config.NumberColumn(
        "reference ROC-AUC", format="%.4f", width="small"
    ),
    "against": st.column_config.TextColumn("against", width="medium"),
    "note": st.column_config.TextColumn("note", width="large"),
}


def compare_classes(picked: list) -> None:
    """Runs that predict classes: their ROC curves (of the positive class, or the class of
    interest against the rest) and learning curves overlaid, and DeLong's paired test."""
    rocs, histories, paired = {}, {}, {}
    names = run_names(picked)
    for run in picked:
        test, val, history = common.predictions(common.data_dir(), run.run_id)
        y, score, _, _, _ = metrics.binary_view_of_run(run.params, test, val)
        fpr, tpr = metrics.roc_points(y, score)
        label = names[run.run_id]
        rocs[label] = (fpr, tpr, metrics.threshold_free_metrics(y, score)["roc_auc"])
        histories[label] = history
        paired[label] = test.assign(y_true=y, score=score)
    c1, c2 = st.columns(2)
    c1.plotly_chart(charts.overlay_roc(rocs), width="stretch")
    learning_overlay(c2, histories, "val_loss")
    st.markdown("**Paired test of the ROC-AUC difference** (DeLong, on the same test rows)")
    table = delong_table(paired)
    order = [c for c in DELONG_COLUMNS if c in table]
    st.dataframe(table[order], hide_index=True, width="stretch", column_config=DELONG_COLUMNS)
    st.caption(
        "Each run against the first one chosen: the difference in ROC-AUC (run minus "
        "reference) with its 95% CI. p < 0.05: the difference is unlikely to be chance on "
        "these test rows. Runs of another dataset, split or seed did not score the same "
        "rows and are not tested."
    )


def compare_values(picked: list) -> None:
    """Runs that predict numbers (regression, forecasts): their test metrics side by side
    and their validation RMSE per epoch."""
    st.dataframe(numeric_comparison(picked).round(4), hide_index=True, width="stretch")
    names = run_names(picked)
    histories = {
        names[r.run_id]: common.predictions(common.data_dir(), r.run_id)[2] for r in picked
    }
    learning_overlay(st, histories, "val_rmse")
    st.caption(
        "Test metrics of each run (lower RMSE, MAE and MASE are better; higher R²) and the "
        "validation RMSE per epoch in the target's units. Runs of another dataset, split or "
        "horizon were tested on other rows."
    )


@st.cache_data(scope="session", max_entries=512, show_spinner=False)
def interval_of(data_dir: str, run_id: str, _run):
    """The 95% CI of a finished run's ranked metric (:func:`ranked_interval`), from its
    stored test predictions, once per session and run (none when they are missing or
    damaged: one run's artifacts never keep the board from showing)."""
    try:
        test = store.read_frame(run_id, "predictions/test.parquet")
    except (FinmlError, OSError, ValueError):  # pyarrow's ArrowInvalid is a ValueError
        test = None
    return ranked_interval(_run, test)


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
groups = run_groups(runs)
keys = list(groups)
if st.session_state.get("board_group") not in keys:
    chosen_run = by_id.get(st.session_state.get("run"))
    st.session_state["board_group"] = group_of(chosen_run) if chosen_run else keys[0]
if len(keys) > 1:
    group = st.selectbox(
        "Task and dataset",
        keys,
        format_func=lambda k: group_label(k, len(groups[k])),
        key="board_group",
        help="Runs are ranked only against runs of the same task and dataset: the others "
        "were not scored on the same rows, nor on the same metric.",
    )
else:
    group = keys[0]
    st.markdown(f"**{common.text(group_label(group, len(groups[group])))}**")
members = groups[group]
st.caption(
    "Click a row to open that run below; click a column header to sort. Rank: among the "
    "runs of this task and dataset, on the metric in the second column. 95% CI: over the "
    "folds for a cross-validated run; else on the test split (DeLong for ROC-AUC)."
)
board = runs_frame(
    members,
    jobs.queue_positions(store.settings),
    common.team_mode(),
    {r.run_id: interval_of(common.data_dir(), r.run_id, r) for r in members if r.has_results},
)
picked = st.dataframe(
    board,
    hide_index=True,
    width="stretch",
    on_select="rerun",
    selection_mode="single-row",
    key="leaderboard",
    column_config={
        # pixel widths: name, metric, CI and rank fit the 565 px of a 1024-px window
        "run": st.column_config.TextColumn("run", width=190, pinned=True),
        board.columns[1]: st.column_config.NumberColumn(format="%.3f", width=80),
        "95% CI": st.column_config.TextColumn("95% CI", width=115),  # "0.709 – 0.850"
        "rank": st.column_config.NumberColumn("rank", format="%d", width=50),
    },
)
ids = [r.run_id for r in members]
names = {rid: name for members_ in groups.values() for rid, name in run_names(members_).items()}
rows = picked.selection.rows
clicked = ids[rows[0]] if rows and rows[0] < len(ids) else None
last = st.session_state.get("clicked_run")  # (group, run id) clicked at the last rerun
if clicked and last and last[0] == group and clicked != last[1]:  # a new click opens it
    st.session_state["run"] = clicked
st.session_state["clicked_run"] = (group, clicked)
if st.session_state.get("run") not in by_id:
    st.session_state.pop("run", None)


def run_words(run_id: str) -> str:
    """A run in the run boxes: its name (and dataset, when there are several), status."""
    where = f" · {by_id[run_id].dataset}" if len(keys) > 1 else ""
    return f"{names[run_id]}{where} ({by_id[run_id].status})"


choice = st.selectbox("Run", list(by_id), format_func=run_words, key="run")
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
EXPORT_HELP = "Prepare the run as one bundle file to download (and import elsewhere)"
if owns and run.has_results and cols[2].button("Export", help=EXPORT_HELP, key="export"):
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
chosen = st.multiselect("Runs to overlay", comparable, format_func=run_words, key="compare")
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
