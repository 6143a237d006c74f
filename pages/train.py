"""Train page: architecture and hyperparameters; Start / Stop; live learning curves."""

import streamlit as st

from finml.data.split import cv_kind
from finml.data.staging import check_dataset, load_dataset_spec
from finml.errors import FinmlError
from finml.models.registry import MODELS, PRESETS, get_model, model_names_for, resolve_params
from finml.reporting import charts
from finml.reporting.runs import headline_metrics, progress
from finml.store import ACTIVE, BACKTEST_METRICS, FOLD_METRICS, QUEUED
from finml.training import jobs
from finml.training.spec import RunSpec
from pages.common import (
    guarded,
    may_change,
    open_run,
    principal,
    record,
    search_view,
    show_error,
    show_warning,
    stop_run,
    text,
    trials_of,
)
from pages.common import store as run_store

st.title("Train")
store = run_store()
jobs.warm_up(store.settings)  # TensorFlow warms up in a spare worker meanwhile


def param_widget(p, key):
    """One input widget per hyperparameter of the registry."""
    if p.kind == "choice":
        return st.selectbox(p.label, p.choices, index=p.choices.index(p.default), key=key)
    if p.kind == "bool":
        return st.checkbox(p.label, value=p.default, help=p.help, key=key)
    if p.kind == "text":
        return st.text_input(p.label, p.default, help=p.help, key=key)
    if p.kind == "layers":
        return st.text_input(p.label, p.default, help=p.help, key=key)
    if p.kind == "int":
        return st.number_input(p.label, int(p.low), int(p.high), int(p.default), key=key)
    fmt = "%.0e" if p.log else "%.4f"
    return st.number_input(
        p.label, float(p.low), float(p.high), float(p.default), format=fmt, help=p.help, key=key
    )


def folds_input(label: str, help_text: str, default_k: int) -> int:
    """A toggle and a fold count (2 to 20); returns the folds asked for, 0 when off."""
    c1, c2 = st.columns([2, 1])
    on = c1.toggle(label, help=help_text, key="use_cv")
    k = c2.number_input("Folds (k)", 2, 20, default_k, key="cv_k")
    return int(k) if on else 0


ds = st.session_state.get("dataset")
if ds is None and st.query_params.get("dataset"):  # a reload or a link: restore the choices
    try:
        check_dataset(principal(), st.query_params["dataset"])  # another user's: "gone"
        ds = st.session_state["dataset"] = load_dataset_spec(st.query_params["dataset"])
    except FinmlError as exc:
        show_warning(exc)
if ds is not None:
    st.query_params["dataset"] = ds.dataset_id
if ds is None:
    st.info("Choose a dataset on the Data page first.")
    st.page_link("pages/data.py", label="Go to Data", icon=":material/table_view:")
else:
    split = f"split {ds.split.train:.0%} / {ds.split.val:.0%} / {ds.split.test:.0%}"
    if ds.kind == "images":
        what = f"{len(ds.classes)} classes ({', '.join(ds.classes)}), {ds.size} px {ds.mode}"
        grouping = ", group-aware" if ds.split.group_col else ", random"
        st.caption(f"Dataset: **{text(ds.name)}**, {text(what)}, {split}{grouping}.")
        if st.button("Load the Br35H 64-px preset", key="preset"):
            model_name, values, _ = PRESETS["br35h-64"]
            st.session_state["model"] = model_name
            for name, value in values.items():
                st.session_state[f"{model_name}.{name}"] = value
    else:
        n_features = len(ds.numeric) + len(ds.categorical)
        what = {
            "regression": "(regression)",
            "multiclass": f"({len(ds.classes)} classes)",
            "forecast": f"forecast {ds.horizon} step(s) ahead",
        }.get(ds.task, f"= {ds.positive!r}")
        st.caption(
            f"Dataset: **{text(ds.name)}**, target {text(repr(ds.target))} {text(what)}, "
            f"{n_features} features, {split}."
        )
    task = getattr(ds, "task", "binary")
    regression = task in ("regression", "forecast")  # a numeric target
    choices = model_names_for(task if regression else ds.kind)
    if st.session_state.get("model") not in choices:
        st.session_state.pop("model", None)  # chosen for the other kind of data
    model = st.selectbox(
        "Architecture",
        choices,
        format_func=lambda m: MODELS[m].label,
        key="model",
    )
    info = get_model(model)
    st.caption(info.description)
    with st.form("hyperparameters"):
        cols = st.columns(3)
        values = {}
        for i, p in enumerate(info.params):
            with cols[i % 3]:
                values[p.name] = param_widget(p, f"{model}.{p.name}")
        class_weights = not regression and st.toggle(
            "Class weights (balanced, from the training split)",
            help="Weights each class by n / (2 * n_class) so the minority class counts as much.",
            key="class_weights",
        )
        seed = st.number_input("Seed", 0, 2**31 - 1, 42)
        folds = trials = 0
        tune_on, minutes = False, 0.0
        if task == "forecast":
            folds = folds_input(
                "Rolling-origin backtest (expanding window)",
                "Before the final fit, the training and validation periods are cut into k + "
                "1 blocks; each of the last k is forecast by a model refitted from scratch "
                "on the periods before it. The test window stays out.",
                3,
            )
        elif regression or task == "multiclass":
            st.caption(
                "Cross-validation and tuning are offered for binary classification; this "
                "run trains once, validates on the validation split and is tested once."
            )
        elif ds.kind == "table":
            folds = folds_input(
                f"k-fold cross-validation ({cv_kind(ds.split)}, as the Data page's split)",
                "Each fold fits its own preprocessing and model on the training and "
                "validation rows; the test split is still scored once, by the model refit on "
                "all non-test rows. Takes about k + 1 times as long.",
                5,
            )
        if not regression and task != "multiclass":
            c1, c2, c3 = st.columns([2, 1, 1])
            tune_on = c1.toggle(
                "Tune (Optuna: TPE sampler, median pruner)",
                help="Searches the ranges marked for tuning; each trial is judged on the "
                "validation split (on the folds' mean ROC-AUC with cross-validation). The best "
                "trial is refit and tested once.",
                key="tune",
            )
            trials = c2.number_input("Trials", 2, 500, 20, key="tune_trials")
            minutes = c3.number_input(
                "Time budget (min, 0 = none)", 0.0, 600.0, 0.0, key="tune_min"
            )
        gpu = bool(store.settings.ray_address) and info.family == "keras"
        gpu = gpu and st.toggle(
            "Train on a GPU of the Ray cluster",
            help="The run's Ray job asks for one GPU; it waits queued until a node has one free.",
            key="gpu",
        )
        start = st.form_submit_button("Start training", type="primary", key="start")
    if start:
        try:
            spec = RunSpec(
                ds,
                model,
                resolve_params(model, values),
                class_weights,
                int(seed),
                folds,
                int(trials) if tune_on else 0,
                float(minutes) if tune_on else 0.0,
                gpus=int(gpu),
            )
            check_dataset(principal(), ds.dataset_id)
            run_id = jobs.submit(spec, store)
        except FinmlError as exc:
            show_error(exc)
        else:
            record("train", run_id, model=model, dataset=ds.dataset_id, task=spec.task)
            st.session_state.active_run = run_id
            st.query_params["run"] = run_id

# The run to watch: this session's, the URL's (survives a reload), or the newest active one.
runs = jobs.list_runs(store)
run_id = st.session_state.get("active_run") or st.query_params.get("run")
if run_id is None:
    active = [r for r in runs if r.status in ACTIVE]
    run_id = active[0].run_id if active else None
if run_id is None:
    st.stop()
if run_id not in {r.run_id for r in runs}:
    st.error("That run is not available (it may have been deleted).")
    st.stop()
st.query_params["run"] = run_id
status = store.get_run(run_id).status


@st.fragment(run_every=1.0 if status in ACTIVE else None)
@guarded
def monitor(run_id: str, was_active: bool) -> None:
    """Redraw status, progress and learning curves from the run store."""
    run = store.get_run(run_id)
    if run.status in ACTIVE and jobs.recover_interrupted(store, [run]):
        run = store.get_run(run_id)  # its job ended without reporting (killed, lost)
    history = store.history(run_id)
    k = int(run.params.get("cv_folds", 0) or 0)
    forecast = run.params.get("task") == "forecast"
    folds = (
        store.fold_history(run_id, BACKTEST_METRICS if forecast else FOLD_METRICS) if k else None
    )
    tuned = int(run.params.get("tune_trials", 0) or 0)
    trials = trials_of(store, run_id) if tuned else None
    st.subheader(f"Run {text(run.name)}")
    fraction, label = progress(run, history, folds, trials)
    if run.status == QUEUED:
        place = jobs.queue_positions(store.settings).get(run_id)
        label += f" · place {place} in the queue" if place else ""
    st.progress(fraction, text=label)
    if run.status in ACTIVE:
        if may_change(run) and st.button("Stop", icon=":material/stop:", key="stop"):
            stop_run(store, run_id)
    elif was_active:
        st.rerun()  # the run ended: redraw the page once, without polling
    if run.status in ("failed", "interrupted"):
        show_error(f"Run {run.status}: {run.reason}")
    if trials is not None and len(trials):
        search_view(run, trials)
    if folds is not None and len(folds):
        cv_progress(run, folds, k)
    if len(history):
        refit = k and not forecast
        title = "Learning curves of the refit on all non-test rows" if refit else "Learning curves"
        st.plotly_chart(charts.learning_curves(history, title), width="stretch")
    if run.has_results:
        tiles = headline_metrics(run)
        for col, (label, value) in zip(st.columns(len(tiles)), tiles, strict=True):
            col.metric(label, f"{value:.3f}")
        if st.button("Open in Evaluate", type="primary", key="open_eval"):
            open_run("pages/evaluate.py", run_id)


def cv_progress(run, folds, k: int) -> None:
    """The cross-validation folds done so far, and their mean ± sd once all are in."""
    shown = folds.rename(columns={"step": "fold"}).rename(columns=lambda c: c.replace("fold_", ""))
    if run.params.get("task") == "forecast":
        st.caption(f"Backtest: {len(folds)} of {k} folds done (each refitted on its past).")
        st.dataframe(shown.round(4), hide_index=True)
        if "cv_mase_mean" in run.metrics:
            mean, sd = run.metrics["cv_mase_mean"], run.metrics["cv_mase_sd"]
            st.metric(f"{k}-fold backtest MASE (mean ± sd)", f"{mean:.3f} ± {sd:.3f}")
        return
    st.caption(f"Cross-validation: {len(folds)} of {k} folds done (threshold-free metrics).")
    st.dataframe(shown.round(4), hide_index=True)
    if "cv_roc_auc_mean" in run.metrics:
        mean, sd = run.metrics["cv_roc_auc_mean"], run.metrics["cv_roc_auc_sd"]
        st.metric(f"{k}-fold CV ROC-AUC (mean ± sd)", f"{mean:.3f} ± {sd:.3f}")


monitor(run_id, status in ACTIVE)
