"""Train page: architecture and hyperparameters; Start / Stop; live learning curves."""

import pandas as pd
import streamlit as st

from finml.data.staging import check_dataset, load_dataset_spec
from finml.errors import FinmlError
from finml.models.registry import (
    COLUMN_CHOICES,
    MODELS,
    choices_text,
    column_choices,
    get_model,
    logged_params,
    model_names_for,
    parse_names,
    resolve_params,
)
from finml.reporting import charts
from finml.reporting.runs import (
    LIVE_CURVES_AFTER_S,
    METRIC_NAMES,
    curve_interval,
    headline_tiles,
    live_curves,
    poll_interval,
    progress,
    queue_words,
)
from finml.store import ACTIVE, QUEUED
from finml.tasks import get_task
from finml.tasks.spec import RunSpec
from finml.training import jobs
from pages.common import (
    guarded,
    may_change,
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
from pages.views import get_view, view_of

st.title("Train")
store = run_store()
jobs.warm_up(store.settings)  # TensorFlow warms up in a spare worker meanwhile


def param_widget(p, key, numeric=()):
    """One input widget per hyperparameter of the registry (a per-column one as a table of
    the dataset's ``numeric`` features)."""
    if p.kind in COLUMN_CHOICES:
        return column_table(p, key, list(numeric))
    if p.kind == "names":
        return selection_table(p, key)
    if p.kind == "choice":
        index = p.choices.index(p.default)
        return st.selectbox(p.label, p.choices, index=index, help=p.help, key=key)
    if p.kind == "bool":
        return st.checkbox(p.label, value=p.default, help=p.help, key=key)
    if p.kind == "bins":
        return st.text_area(p.label, p.default, help=p.help, key=key, height=68)
    if p.kind in ("text", "layers", "numbers", "monotone", "note"):
        return st.text_input(p.label, p.default, help=p.help, key=key)
    if p.kind == "int":
        low, high, default = int(p.low), int(p.high), int(p.default)
        return st.number_input(p.label, low, high, default, help=p.help, key=key)
    fmt = "%.0e" if p.log else "%.4f"
    return st.number_input(
        p.label, float(p.low), float(p.high), float(p.default), format=fmt, help=p.help, key=key
    )


def column_table(p, key: str, numeric: list[str]) -> str:
    """A per-column hyperparameter (monotone constraints, a scorecard's trends) as a table:
    one row per numeric feature with a choice; returns the parameter's text. The text in
    Session State under ``key`` (a restored run's) sets where the table starts."""
    if not numeric:
        st.caption(f"{p.label}: this dataset has no numeric features.")
        return ""
    text = str(st.session_state.get(key, p.default))
    try:
        start = column_choices(p.kind, numeric, text)
    except FinmlError:
        start = column_choices(p.kind, numeric, "")
    table = st.data_editor(
        pd.DataFrame({"column": numeric, "choice": start}),
        hide_index=True,
        disabled=["column"],
        column_config={
            "column": st.column_config.TextColumn("Numeric feature"),
            "choice": st.column_config.SelectboxColumn(
                p.label, options=COLUMN_CHOICES[p.kind], required=True, help=p.help
            ),
        },
        height=min(36 * (len(numeric) + 1) + 3, 250),
        key=f"{key}.table.{text}",
    )
    return choices_text(p.kind, table["column"], table["choice"])


def selection_table(p, key: str) -> str:
    """The characteristics of the dataset with a tick each ("in the model"), and their IV,
    its note and the selection's verdict when the IV table was previewed; returns the
    names left unticked (the parameter's text)."""
    names = [*ds.numeric, *ds.categorical]
    text = str(st.session_state.get(key, p.default))
    try:
        left = set(parse_names(text))
    except FinmlError:
        left = set()
    table = pd.DataFrame({"characteristic": names, "use": [n not in left for n in names]})
    preview = st.session_state.get("iv_preview")
    shown = preview is not None and preview[0] == ds.dataset_id
    if shown:
        iv = preview[1][["characteristic", "IV", "in model", "note"]]
        table = table.merge(iv.rename(columns={"in model": "passes the filters"}), how="left")
        table = table.sort_values("IV", ascending=False, kind="stable")
    edited = st.data_editor(
        table,
        hide_index=True,
        disabled=[c for c in table.columns if c != "use"],
        column_config={
            "use": st.column_config.CheckboxColumn("In the model", help=p.help),
            "IV": st.column_config.NumberColumn(format="%.3f"),
        },
        height=min(36 * (len(names) + 1) + 3, 320),
        key=f"{key}.table.{text}.{shown}",
    )
    if not shown:
        st.caption(
            "Preview the IV table (above the form) to see each characteristic's IV on the "
            "training split before training."
        )
    return ", ".join(edited.loc[~edited["use"].astype(bool), "characteristic"])


def iv_preview(model: str, info) -> None:
    """The "Preview the IV table" button of a model with characteristics to select: bins
    the training split as the scorecard will (the form's settings as last started), in a
    few seconds (:func:`finml.reporting.scorecard.preview_iv`)."""
    from finml.data.staging import load_staged
    from finml.reporting.scorecard import preview_iv

    if not st.button(
        "Preview the IV table (training split)",
        help="Bins every characteristic on the training split (at most 50,000 rows) with "
        "the form's settings as last started and shows each one's IV and whether it passes "
        "the filters, in the table of characteristics below.",
        key="iv_preview_button",
    ):
        return
    settings = {p.name: st.session_state[f"{model}.{p.name}"] for p in info.params
                if f"{model}.{p.name}" in st.session_state}  # fmt: skip
    try:
        spec = RunSpec(
            ds, model, resolve_params(model, settings), seed=int(st.session_state.get("seed", 42))
        )
        check_dataset(principal(), ds.dataset_id)
        with st.spinner("Binning the training split..."):
            st.session_state.iv_preview = (
                ds.dataset_id,
                preview_iv(spec, load_staged(ds.dataset_id)),
            )
    except FinmlError as exc:
        show_error(exc)


def run_form(run_id: str, ds, choices: list[str]) -> dict:
    """The Train form's choices (Session State keys and values) of run ``run_id``: its
    model, hyperparameters, seed, class weights, folds and tuning; empty when the run is
    not one of dataset ``ds``, its model is not offered, or it cannot be read."""
    try:
        params = store.get_run(run_id).params
    except FinmlError:
        return {}
    model = params.get("model")
    if params.get("dataset_id") != ds.dataset_id or model not in choices:
        return {}
    form = {"model": model}
    form.update({f"{model}.{k}": v for k, v in logged_params(model, params).items()})
    try:
        seed, folds, trials, gpus = (
            int(float(params.get(k) or 0)) for k in ("seed", "cv_folds", "tune_trials", "gpus")
        )
        minutes = float(params.get("tune_minutes") or 0)
    except ValueError:
        return form
    form.update(class_weights=params.get("class_weights") == "True", gpu=gpus > 0)
    form.update(use_cv=folds > 0, tune=trials > 0)
    ranges = {"seed": (seed, 0, 2**31 - 1), "cv_k": (folds, 2, 20)}
    ranges.update(tune_trials=(trials, 2, 500), tune_min=(minutes, 0, 600))
    form.update({k: v for k, (v, low, high) in ranges.items() if low <= v <= high})
    return form


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
    task = get_task(ds.task)
    view = get_view(task)
    view.train_header(ds)
    choices = model_names_for(task.name)
    watched = st.session_state.get("active_run") or st.query_params.get("run")
    if "model" not in st.session_state and watched:  # no choices yet (a reload, Back):
        st.session_state.update(run_form(watched, ds, choices))  # the watched run's
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
    if any(p.kind == "names" for p in info.params):
        iv_preview(model, info)
    with st.form("hyperparameters"):
        cols = st.columns(3)
        values = {}
        numeric = getattr(ds, "numeric", ())
        grid = [p for p in info.params if p.kind not in (*COLUMN_CHOICES, "names")]
        for i, p in enumerate(grid):
            with cols[i % 3]:
                values[p.name] = param_widget(p, f"{model}.{p.name}")
        for p in info.params:  # per-column choices: a table across the form
            if p.kind in COLUMN_CHOICES or p.kind == "names":
                values[p.name] = param_widget(p, f"{model}.{p.name}", numeric)
        class_weights = task.tags.classes and st.toggle(
            "Class weights (balanced, from the training split)",
            help="Weights each of the k classes by n / (k * n_class) so a rare class counts "
            "as much as a common one.",
            key="class_weights",
        )
        seed = st.number_input("Seed", 0, 2**31 - 1, 42, key="seed")
        folds = trials = 0
        tune_on, minutes = False, 0.0
        if task.tags.cross_validation:
            folds = folds_input(*view.cv_offer(ds))
        if task.tags.tuning:
            c1, c2, c3 = st.columns([2, 1, 1])
            tuning = "Optuna's TPE sampler with its median pruner. " + view.tuning_help()
            tune_on = c1.toggle("Tune (Optuna)", help=tuning, key="tune")
            trials = c2.number_input("Trials", 2, 500, 20, key="tune_trials")
            minutes = c3.number_input(
                "Minutes",
                0.0,
                600.0,
                0.0,
                help="The search's time budget; 0 = none.",
                key="tune_min",
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
watched = store.get_run(run_id)
status, every = watched.status, poll_interval(watched)


@st.fragment(run_every=every)
@guarded
def monitor(run_id: str, was_active: bool) -> None:
    """Redraw status, progress and the test tiles from the run store (the learning curves
    are :func:`curves`')."""
    run = store.get_run(run_id)
    if every is not None and every < (poll_interval(run) or every):
        st.rerun()  # out of the fast window after Start: poll once a second from now
    if run.status in ACTIVE and jobs.recover_interrupted(store, [run]):
        run = store.get_run(run_id)  # its job ended without reporting (killed, lost)
    history = store.history(run_id)
    view = view_of(run)
    k = int(run.params.get("cv_folds", 0) or 0)
    keys = tuple(f"fold_{m}" for m in view.task.tags.fold_metrics)
    folds = store.fold_history(run_id, keys) if k else None
    tuned = int(run.params.get("tune_trials", 0) or 0)
    trials = trials_of(store, run_id) if tuned else None
    st.subheader(f"Run {text(run.name)}")
    fraction, label = progress(run, history, folds, trials)
    if run.status == QUEUED:
        words = queue_words(jobs.queue_positions(store.settings).get(run_id))
        label += f" · {words}" if words else ""
    st.progress(fraction, text=label)
    stop = run.status in ACTIVE and may_change(run)
    if stop and st.button("Stop", icon=":material/stop:", key="stop"):
        stop_run(store, run_id)
    if run.status in ("failed", "interrupted"):
        show_error(f"Run {run.status}: {run.reason}")
    if trials is not None and len(trials):
        search_view(run, trials, view.task)
    if folds is not None and len(folds):
        cv_progress(run, folds, k, view)
    if run.has_results:
        tiles = headline_tiles(run)  # each value by its kind: amounts, metrics
        for col, (label, value) in zip(st.columns(len(tiles)), tiles, strict=True):
            col.metric(label, value)
        # a link, not a button that calls st.switch_page from this polling fragment: the
        # browser then leaves Train itself, and a poll of this fragment that was already on
        # its way cannot run after Evaluate as a Train run that blanks the page
        st.page_link(
            "pages/evaluate.py",
            label="Open in Evaluate",
            icon=":material/insights:",
            query_params={"run": run_id},
        )
    if was_active and run.status not in ACTIVE:
        # the run ended: redraw the page once, without polling, on the poll after the one
        # that drew its tiles, so that the browser shows them before it redraws the page
        # (a whole page at once, its charts included, showed them 0.4-0.6 s later)
        if st.session_state.get("ended_drawn") == run_id:
            st.rerun()
        st.session_state.ended_drawn = run_id


@st.fragment(run_every=curve_interval(watched))
@guarded
def curves(run_id: str) -> None:
    """The learning curves, in a fragment of their own that an active run redraws less
    often than the monitor polls: the chart is most of a poll's cost to the server and the
    browser, which share the machine with the worker."""
    run = store.get_run(run_id)
    if not live_curves(run):
        st.caption(
            f"Learning curves, for models trained step by step, are drawn from "
            f"{LIVE_CURVES_AFTER_S:.0f} s into a run on; a shorter run shows them when it ends."
        )
        return
    history = store.history(run_id)
    if charts.has_learning_curve(history):
        refit = int(run.params.get("cv_folds", 0) or 0) and view_of(run).cv_refits
        title = "Learning curves of the refit on all non-test rows" if refit else "Learning curves"
        st.plotly_chart(charts.learning_curves(history, title), width="stretch")
    elif len(history) and run.status not in ACTIVE:  # a one-shot fit: its losses in words
        st.caption(charts.one_shot_note(history))


def cv_progress(run, folds, k: int, view) -> None:
    """The folds of the cross-validation (or backtest) done so far, and their mean ± sd
    of the task's headline metric once all are in."""
    task = view.task
    shown = folds.rename(columns={"step": "fold"}).rename(columns=lambda c: c.replace("fold_", ""))
    st.caption(f"{task.cv_label.capitalize()}: {len(folds)} of {k} folds done{view.fold_note}.")
    st.dataframe(shown.round(4), hide_index=True)
    headline = task.tags.headline
    if f"cv_{headline}_mean" in run.metrics:
        mean, sd = run.metrics[f"cv_{headline}_mean"], run.metrics[f"cv_{headline}_sd"]
        name = METRIC_NAMES.get(headline, headline)
        st.metric(f"{k}-fold {view.cv_word} {name} (mean ± sd)", f"{mean:.3f} ± {sd:.3f}")


monitor(run_id, status in ACTIVE)
curves(run_id)
