"""The Evaluate page's tabs of a run as a whole, for every task whose tags offer them:
its explanations (permutation importance and the SHAP summary), its cross-validation (the
per-fold table) and its hyperparameter search. Each task's view places them beside its own
(:func:`run_tabs`, :func:`show_tabs`)."""

from __future__ import annotations

import contextlib

import numpy as np
import streamlit as st

from finml.access import owner_display
from finml.errors import FinmlError
from finml.evaluation.shap_values import ShapValues, summary_table
from finml.reporting import charts
from finml.reporting.exports import to_csv_bytes
from finml.reporting.runs import cv_table
from pages import common


def run_tabs(run, val, view, store) -> dict:
    """The run's own tabs, by label: "Explanations" (tasks with importance or SHAP),
    the task's cross-validation (a cross-validated run whose out-of-fold predictions
    ``val`` are stored) and "Tuning" (a run with a hyperparameter search)."""
    from finml.reporting.scorecard import is_scorecard_run

    tags, params = view.task.tags, run.params
    tabs = {}
    if is_scorecard_run(params):
        tabs["Scorecard"] = lambda: scorecard_view(run, store)
    if tags.importance or tags.shap:
        tabs["Explanations"] = lambda: explanations_view(run, view, store)
    if int(params.get("cv_folds", 0) or 0) and "fold" in val:
        tabs[view.task.cv_label.capitalize()] = lambda: cv_view(run, val, view, store)
    if int(params.get("tune_trials", 0) or 0):
        tabs["Tuning"] = lambda: tuning_view(run, view.task, store)
    tabs["Documentation"] = lambda: documentation_view(run, store)
    return tabs


def documentation_view(run, store) -> None:
    """The run's model documentation (:mod:`finml.reporting.documentation`): its owner
    writes the sections a validator asks for (SR 11-7) and saves them with the run; the
    HTML report opens with them. Others who see the run read them."""
    from finml.reporting import documentation as docs

    doc = docs.load_documentation(store, run.run_id)
    sections = doc.get("sections", {})
    if doc.get("by"):
        st.caption(f"Written by {common.text(doc['by'])} at {common.text(doc.get('at', ''))}.")
    if not common.may_change(run):
        for key, (title, _) in docs.SECTIONS.items():
            st.markdown(f"**{title}**")
            st.text(sections.get(key) or "Not documented.")
        return
    st.caption(
        "What a model validator asks for beside the measured sections (SR 11-7): saved with "
        "the run, first in its HTML report, exported with it."
    )
    with st.form("documentation"):
        values = {
            key: st.text_area(
                title,
                sections.get(key, ""),
                help=hint,
                max_chars=docs.MAX_SECTION,
                key=f"doc.{run.run_id}.{key}",
            )
            for key, (title, hint) in docs.SECTIONS.items()
        }
        save = st.form_submit_button("Save the documentation")
    if save:
        try:
            docs.save_documentation(store, run.run_id, values, common.principal().display)
        except FinmlError as exc:
            common.show_error(exc)
        else:
            st.success("Saved with the run.", icon=":material/check:")


def scorecard_view(run, store) -> None:
    """A points scorecard: its scaling, the characteristics with their IV, the bins of
    one characteristic (table and chart) and the scorecard itself (CSV download)."""
    from finml.models.scorecard import scorecard_of
    from finml.reporting import scorecard

    model = common.fitted_model(common.data_dir(), run.run_id)
    if scorecard_of(model) is None:
        st.info("This run's stored model is not a scorecard.")
        return
    st.caption(scorecard.scaling_words(model))
    edited = scorecard.edit_words(run.params, owner_display(run))
    if edited:
        st.info(common.text(edited), icon=":material/edit:")
    chars = scorecard.characteristics_table(model)
    st.dataframe(
        chars,
        hide_index=True,
        width="stretch",
        column_config={"IV": st.column_config.NumberColumn(format="%.3f")},
    )
    st.caption(
        "IV (information value) on the training split: below 0.02 not useful, 0.02-0.1 "
        "weak, 0.1-0.3 medium, above 0.3 strong (Siddiqi 2006). Bins are fitted on the "
        "training split only (OptBinning, monotone event rate where the trend allows)."
    )
    name = st.selectbox("Bins of", list(chars["characteristic"]), key="scorecard_char")
    table = scorecard.bins_table(model, name)
    event = run.params.get("positive_class", "event")
    st.plotly_chart(charts.bin_event_rates(table, name, event), width="stretch")
    st.dataframe(
        table,
        hide_index=True,
        width="stretch",
        column_config={
            "share": st.column_config.NumberColumn(format="percent"),
            "event rate": st.column_config.NumberColumn(format="percent"),
            "WoE": st.column_config.NumberColumn(format="%.3f"),
            "IV": st.column_config.NumberColumn(format="%.4f"),
        },
    )
    edit_bins(run, model, name)
    points = scorecard.points_table(model)
    st.markdown("**The scorecard** (points per bin; an applicant's score is the sum)")
    st.dataframe(points, hide_index=True, width="stretch")
    common.download(
        st,
        "Scorecard (CSV)",
        to_csv_bytes(points),
        f"finml-scorecard-{run.run_id[:8]}.csv",
        "text/csv",
        "scorecard_csv",
        run.run_id,
    )


def edit_bins(run, model, name: str) -> None:
    """ "Edit these bins": the cut points of a numeric characteristic or a bin number per
    category (categories with one number share a bin), and why; the scorecard is then
    trained again with those bins fixed, as a new run (this one is left as it is), and the
    Train page watches it."""
    from finml.data.staging import load_dataset_spec
    from finml.models.bin_edits import cut_points, edit_params, groups_of
    from finml.reporting.scorecard import editable_bins
    from finml.training import jobs

    kind, start = editable_bins(model, name)
    at = f"{run.run_id}.{name}"  # a fresh form per run and characteristic
    with st.expander(f"Edit the bins of {name}"), st.form("bin_edit"):
        if kind == "numeric":
            cuts = st.text_input(
                "Cut points",
                start,
                help="Comma-separated; a value equal to a cut point goes to the bin above it "
                "([12, 24) holds 12 but not 24). Missing and special values keep their bins.",
                key=f"bin_cuts.{at}",
            )
        else:
            st.caption(
                "Categories with the same bin number share a bin: give two the same number "
                "to merge them, a new number to split one off."
            )
            table = st.data_editor(
                start,
                hide_index=True,
                disabled=["category"],
                column_config={"bin": st.column_config.NumberColumn(min_value=1, step=1)},
                key=f"bin_groups.{at}",
            )
        note = st.text_input(
            "Why (recorded with the new run)",
            placeholder="e.g. policy bands of 12 months",
            key=f"bin_note.{at}",
        )
        go = st.form_submit_button("Train again with these bins", type="primary")
    if not go:
        return
    try:
        bins = cut_points(cuts) if kind == "numeric" else groups_of(table["category"], table["bin"])
        changes = edit_params(run.params.get("hp.bin_edits", ""), name, bins, note)
        new = jobs.resubmit(common.store(), run.run_id, common.principal(), **changes)
    except FinmlError as exc:
        common.show_error(exc)
        return
    common.record("train", new, model=run.params.get("model", ""), edited_from=run.run_id)
    st.session_state["dataset"] = load_dataset_spec(run.params["dataset_id"])
    st.session_state["active_run"] = new
    st.session_state.pop("model", None)  # the Train form shows the new run's choices
    st.switch_page("pages/train.py", query_params={"run": new})


def show_tabs(tabs: dict, key: str) -> None:
    """Lay out ``tabs`` (label -> function drawing its content) as one row of tabs, and
    draw only the open one: a tab's charts, bootstrap bands and tables are computed when
    the analyst opens it (a switch reruns the page), so a first visit shows the page at
    once instead of every tab's work. The open tab is kept in Session State under ``key``
    (a test opens another one by setting it)."""
    if not tabs:
        return
    boxes = st.tabs(list(tabs), key=key, on_change="rerun")
    for box, draw in zip(boxes, tabs.values(), strict=True):
        if box.open:
            with box:
                draw()


@st.fragment(run_every=2.0)
@common.guarded
def _explanation_pending(run_id: str) -> None:
    """Shown while the worker still explains the run; redraws the page once it is done."""
    run = common.store().get_run(run_id)
    if run.followup:
        st.info(f"The worker is computing the {run.followup}; it appears here when done.")
    else:
        st.rerun()


def stored(store, run_id: str, artifact: str):
    """A stored table of the run, or ``None`` if it has none (yet)."""
    try:
        return store.read_frame(run_id, artifact)
    except FinmlError:
        return None


def explanations_view(run, view, store) -> None:
    """Permutation importance and the SHAP summary of the run, or a note while the worker
    computes them."""
    importance = stored(store, run.run_id, "explain/permutation_importance.parquet")
    shap = stored(store, run.run_id, "explain/shap_values.parquet")
    if importance is not None:
        chart = charts.importance_bar(importance, score=view.importance_score)
        st.plotly_chart(chart, width="stretch")
    if shap is not None:
        shap_summary(run, shap, view, store)
    if int(run.params.get("cv_folds", 0) or 0) and (importance is not None or shap is not None):
        st.caption(
            "Cross-validated run: these explanations use the out-of-fold rows, which the "
            "refit model was trained on (no untouched validation rows are left); read them "
            "as what the model relies on, not as held-out performance."
        )
    if run.followup:
        _explanation_pending(run.run_id)
    elif importance is None and shap is None:
        st.caption("This run has no explanations.")


def stored_shap(run, shap, about: dict) -> tuple[np.ndarray, ShapValues]:
    """The data rows and :class:`ShapValues` of a run's stored
    ``explain/shap_values.parquet`` (``row``, for a multi-class run ``class``, a column
    per feature; one block of rows per class) and ``explain/shap.json``. Runs of an
    earlier finml stored a binary run's base value and method only."""
    features = [c for c in shap.columns if c not in ("row", "class")]
    if "class" in shap:
        blocks = [part for _, part in shap.groupby("class", sort=True)]
        values = np.stack([b[features].to_numpy(np.float64) for b in blocks], axis=2)
        rows = blocks[0]["row"].to_numpy()
    else:
        values, rows = shap[features].to_numpy(np.float64), shap["row"].to_numpy()
    positive = run.params.get("positive_class", "the positive class")
    base = np.asarray(about["base_value"], dtype=np.float64)
    return rows, ShapValues(
        values,
        base if base.ndim else float(base),
        features,
        about["method"],
        about.get("output") or f"log-odds of '{positive}'",
        about.get("task", "binary"),
        tuple(about.get("classes", ())),
        about.get("target", ""),
        bool(about.get("log_target", False)),
    )


def shap_summary(run, shap, view, store) -> None:
    """Beeswarm of the validation rows' SHAP values and the mean |SHAP| per feature (of
    one class, chosen, for a multi-class run), with what they add up to."""
    about = store.read_json(run.run_id, "explain/shap.json")
    rows, explained = stored_shap(run, shap, about)
    if explained.is_multiclass:
        names = list(explained.classes) or [str(c) for c in range(explained.values.shape[2])]
        wanted = run.params.get("positive_class")
        name = st.selectbox(
            "SHAP values of class",
            names,
            index=names.index(wanted) if wanted in names else 0,
            key="shap_class",
        )
        explained = explained.for_class(names.index(name))
    values = explained.frame()
    features = common.run_rows(run)  # None (gone, or an import's): the dots are not coloured
    if features is not None:
        features = features.iloc[rows][list(values.columns)].reset_index(drop=True)
    chart = charts.shap_beeswarm(values, features)
    chart.update_layout(
        title=f"SHAP summary (validation rows): contributions to the {explained.output}",
        xaxis_title="SHAP value; > 0 raised it",
    )
    st.plotly_chart(chart, width="stretch")
    table = summary_table(explained).rename(
        columns={"mean_abs": "mean |SHAP|", "mean": "mean SHAP"}
    )
    st.dataframe(table.round(4), hide_index=True, width="stretch")
    st.caption(
        f"SHAP values ({explained.method} explainer) of {len(values)} validation rows, in "
        f"{common.text(view.shap_units(explained))}: base value {explained.base_value:.4g} "
        f"plus a row's contributions is the {common.text(explained.output)} for that row. "
        "One-hot columns are summed back into their original column."
    )


def cv_view(run, oof, view, store) -> None:
    """Per-fold metrics with mean ± sd, and the task's chart of the out-of-fold
    predictions ``oof``."""
    folds = stored(store, run.run_id, "cv/folds.parquet")
    if folds is None:
        st.info("This run's per-fold table is not stored (an export of an older finml).")
        return
    st.dataframe(cv_table(folds).round(4), hide_index=True, width="stretch")
    view.cv_chart(run, oof, folds)
    st.caption(
        f"{len(folds)}-fold {run.params.get('cv_kind', '')} cross-validation on the training "
        "and validation rows: each fold's preprocessing and model were fitted on the other "
        "folds only; sd is the sample sd over folds. The test metrics above come from the "
        f"model refit on every non-test row.{view.cv_note}"
    )


def tuning_view(run, task, store) -> None:
    """The trials of the run's hyperparameter search and the best trial's parameters."""
    from finml.tasks.tuning import trial_metric

    trials = common.trials_of(store, run.run_id)
    if trials.empty:
        st.info("No trial of this run's hyperparameter search is stored.")
        return
    common.search_view(run, trials, task)
    with contextlib.suppress(FinmlError):
        best = store.read_json(run.run_id, "tuning/best_params.json")
        judged = trial_metric(trials)
        value = run.metrics.get(f"tune_best_{judged}", float("nan"))
        st.caption(
            f"The model was refit with the best trial's parameters "
            f"({common.judged_words(judged)} {value:.4f}) and tested once:"
        )
        st.json(best)
