"""Layout pieces and caches shared by the pages (not a page of its own).

Caches are per session (``scope="session"``: one user's data never serves another) and
bounded (``max_entries``), so a long session does not grow without limit.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import re
import uuid
from collections import OrderedDict

import streamlit as st

from finml import access, audit, run_data
from finml.config import get_settings
from finml.errors import FinmlError
from finml.store import RunStore
from finml.training import jobs

log = logging.getLogger("finml.pages")


_PUNCTUATION = re.compile(r"([!-/:-@\[-`{-~])")
_AUTOLINK_BREAKS = re.compile(r"(\\[:@])(?=\S)")
_WWW = re.compile(r"(?i)(www)(?=\\\.)")
#: An empty Streamlit text directive: it renders as an empty ``<span>`` (nothing to see or
#: copy) but ends the Markdown text node there. Streamlit autolinks bare addresses
#: (``http://``, ``www.``, ``name@host``) by a pattern over each text node after the
#: Markdown is parsed, where ``\@`` and ``&#64;`` are already a plain ``@`` again; only a
#: node boundary stops it.
AUTOLINK_BREAK = ":small[]"


#: Style sheet of every page: progress bars jump to their value instead of sliding there.
#: Streamlit animates each change of a bar's width; with the Train page redrawing its bar
#: on every poll (twice a second after Start), the animation was half of what the browser
#: spent on a poll (0.53 of 1.0 CPU-s per 10 s, renderer and compositor, measured with
#: chromium beside a bare app), CPU that a worker on the same machine needs
#: (``bench/bench_browser.py`` with ``FINML_BENCH_TRACE=1`` prints each process's share).
QUIET_CSS = "<style>[data-testid='stProgress'] *{transition:none !important}</style>"


def quiet_style() -> None:
    """Add :data:`QUIET_CSS` to the page (style only: nothing is drawn, no space taken)."""
    st.html(QUIET_CSS)


def text(value) -> str:
    """Untrusted text (a column name, a class value, a file or run name, a message quoting
    one) for any element that renders Markdown: errors, warnings, captions, labels, metrics,
    image captions, ``st.table`` cells. Every ASCII punctuation mark is backslash-escaped
    (CommonMark), so links, images, emphasis, HTML, ``$`` maths and Streamlit's
    ``:color[...]`` and ``:icon:`` directives show as the characters they are; an
    :data:`AUTOLINK_BREAK` after ``:`` and ``@`` (when a character follows) and inside
    ``www.`` stops the autolinking of bare addresses, while what the analyst reads and
    copies stays the text itself (``ann@bank.example`` copies as that address)."""
    out = _PUNCTUATION.sub(r"\\\1", str(value))
    out = _AUTOLINK_BREAKS.sub("\\1" + AUTOLINK_BREAK, out)
    return _WWW.sub("\\1" + AUTOLINK_BREAK, out)


def show_error(message) -> None:
    """An error message (a finml error, or one quoting user data), shown as text."""
    st.error(text(message), icon=":material/error:")


def show_warning(message) -> None:
    """A warning quoting user data, shown as text."""
    st.warning(text(message), icon=":material/warning:")


def show_info(message) -> None:
    """A note quoting user data, shown as text."""
    st.info(text(message), icon=":material/info:")


def show_unexpected(exc: BaseException) -> None:
    """The one place where an unexpected error ends: a short message with an error id for
    the user, the traceback in the server log under the same id."""
    error_id = uuid.uuid4().hex[:8]
    log.error("error %s", error_id, exc_info=exc)
    st.error(
        f"Something went wrong on this page (error id {error_id}). Your runs and data are "
        "safe; reload the page to go on. The details are in the server log under that id.",
        icon=":material/error:",
    )


def or_stop(fn, *args, **kwargs):
    """``fn(*args, **kwargs)``; a finml error it raises is shown and stops the script."""
    try:
        return fn(*args, **kwargs)
    except FinmlError as exc:
        show_error(exc)
        st.stop()


def guarded(fn):
    """Run ``fn`` (a fragment body) inside the same error boundary as the pages."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except FinmlError as exc:
            show_error(exc)
        except Exception as exc:  # the boundary: anything else becomes an error id
            show_unexpected(exc)

    return wrapper


@functools.cache
def page_icon():
    """The studio's icon: three rising bars on a dark square, a 32 x 32 Pillow image."""
    import numpy as np
    from PIL import Image

    icon = np.full((32, 32, 3), (30, 41, 59), dtype=np.uint8)
    for i, height in enumerate((10, 17, 24)):
        icon[28 - height : 28, 5 + 8 * i : 11 + 8 * i] = (56, 189, 248)
    return Image.fromarray(icon)


def team_mode() -> bool:
    """True when ``.streamlit/secrets.toml`` has an ``[auth]`` section: sign-in with
    ``st.login`` (OpenID Connect) is on and every page needs it."""
    try:
        return "auth" in st.secrets
    except Exception:  # no secrets file at all: Streamlit raises its own error type
        return False


def gate() -> access.Principal:
    """Who this session acts for, or a page that says why nothing is served (then the
    script stops).

    - Team mode: a signed-out visitor sees only a sign-in page; a signed-in one gets the
      sidebar with their name and Sign out. The sign-in is recorded once per session.
    - No sign-in configured: the local user, but only on a loopback address (or with
      ``FINML_ALLOW_ANONYMOUS=1``); otherwise a page says why and how to configure it.
    """
    settings = get_settings()
    if team_mode():
        if not st.user.is_logged_in:
            st.title("finml studio")
            st.write(
                "Sign in to reach your datasets and runs. Each analyst sees only their own "
                "work and what colleagues shared with the team."
            )
            st.button("Sign in", type="primary", on_click=st.login, key="sign_in")
            st.stop()
        who = access.principal_from_claims(st.user.to_dict(), settings.admins)
        if st.session_state.get("signed_in_as") != who.user_id:
            st.session_state["signed_in_as"] = who.user_id
            audit.record(who, "sign_in", settings=settings, email=who.email, admin=who.admin)
        role = " (admin)" if who.admin else ""
        st.sidebar.caption(f"Signed in as {text(who.name)}{role}")
        st.sidebar.button("Sign out", on_click=st.logout, key="sign_out")
        st.session_state["principal"] = who
        return who
    address = st.get_option("server.address")
    if not access.is_loopback(address) and not settings.allow_anonymous:
        st.title("finml is not served on this address")
        st.error(
            "This server listens on a network address without sign-in, and finml holds "
            "personal data (loan applicants, patient scans), so it serves nothing here. "
            "Either run it for yourself on this machine (`./scripts/run.sh` binds "
            "127.0.0.1), or configure sign-in: an `[auth]` section in "
            '`.streamlit/secrets.toml` with your OpenID provider (README, "Deploy for a '
            'team"). To serve it without sign-in on purpose, set FINML_ALLOW_ANONYMOUS=1.',
            icon=":material/lock:",
        )
        st.stop()
    st.session_state["principal"] = access.LOCAL
    return access.LOCAL


def principal() -> access.Principal:
    """The user this session acts for (set by :func:`gate` on every run)."""
    return st.session_state.get("principal", access.LOCAL)


def store() -> access.ScopedStore:
    """The run store of the current settings as this session's user may use it: only runs
    they may see, changes only to their own (:mod:`finml.access`). Cheap."""
    return access.ScopedStore(RunStore(get_settings()), principal())


def record(action: str, target: str = "", **details) -> None:
    """Add an event by this session's user to the audit trail."""
    audit.record(principal(), action, target, get_settings(), **details)


def download(where, label: str, data, file_name: str, mime: str, key: str, target: str = ""):
    """A download button in ``where`` (``st`` or a column) whose click is recorded in the
    audit trail (``download``: the file's name, of which run), as model-risk teams ask to
    know what left the studio."""
    return where.download_button(
        label,
        data,
        file_name,
        mime,
        key=key,
        on_click=record,
        args=("download", target),
        kwargs={"file": file_name},
    )


def may_change(run) -> bool:
    """True if this session's user may change ``run`` (its owner, or an admin)."""
    return access.may_change(principal(), run)


def stop_run(run_store, run_id: str) -> None:
    """Ask ``run_id`` to stop, if this user may (checked through the scoped store), and
    record it."""
    run_store.check(run_id, change=True)
    jobs.request_stop(run_id, run_store.settings)
    record("stop", run_id)
    st.toast("Stop requested: the run ends after the current batch.")


def runs_with_results(empty: str, page: str, label: str) -> list:
    """The runs that have test results, newest first; if there are none, say so, link to
    ``page`` and stop the script."""
    runs = [r for r in jobs.list_runs(store()) if r.has_results]
    if not runs:
        st.info(empty)
        st.page_link(page, label=label, icon=":material/arrow_forward:")
        st.stop()
    return runs


def dataset_ready(message: str, ds) -> None:
    """Say the dataset is ready and link to Train with it in the URL (so a reload of Train
    finds it)."""
    st.success(message)
    st.page_link(
        "pages/train.py",
        label="Go to Train",
        icon=":material/arrow_forward:",
        query_params={"dataset": ds.dataset_id},
    )


def pick_run(runs: list, label: str, key: str):
    """A run selector that follows ``?run=`` in the URL and writes its choice back, so a
    reload or a shared link opens the same run. A ``?run=`` that is not among ``runs``
    (deleted, or never there) falls back to the newest, with a note."""
    ids = [r.run_id for r in runs]
    if st.session_state.get(key) not in ids:
        st.session_state.pop(key, None)  # e.g. deleted meanwhile
    wanted = st.session_state.pop("open_run", None)
    if wanted is None and key not in st.session_state:  # a fresh session: a reload or a link
        wanted = st.query_params.get("run")
    if wanted and wanted not in ids:
        st.info("The run in the link is not available; showing the newest run instead.")
        wanted = None
    if wanted:
        st.session_state[key] = wanted
    by_id = {r.run_id: r for r in runs}
    run_id = st.selectbox(label, ids, format_func=lambda i: by_id[i].label, key=key)
    st.query_params["run"] = run_id
    return by_id[run_id]


def open_run(page: str, run_id: str) -> None:
    """Go to ``page`` with ``run_id`` open (and in its URL)."""
    st.session_state["open_run"] = run_id
    st.switch_page(page, query_params={"run": run_id})


@st.cache_data(scope="session", max_entries=8, show_spinner=False)
def predictions(data_dir: str, run_id: str):
    """A run's stored test and validation predictions and its learning curves."""
    s = store()
    return (
        s.read_frame(run_id, "predictions/test.parquet"),
        s.read_frame(run_id, "predictions/validation.parquet"),
        s.history(run_id),
    )


@st.cache_resource(scope="session", max_entries=3, show_spinner=False)
def fitted_model(data_dir: str, run_id: str):
    """A run's fitted model, loaded safely once per session (at most three kept)."""
    from finml.models.bundle import load_run_bundle

    return load_run_bundle(store(), run_id)


def run_dataset(run) -> str | None:
    """The staged dataset ``run`` may reach (:func:`finml.run_data.dataset_of`: the run's
    owner's own data, never an import's), checked once per session and run (which is also
    when reading another user's rows through a shared run is audited)."""
    s = store()
    s.check(run.run_id)  # still visible on this rerun (e.g. not unshared meanwhile)
    return memo((run.run_id, "dataset"), lambda: run_data.dataset_of(s, run.run_id))


def run_rows(run):
    """The staged table ``run`` trained on (:func:`run_dataset`), or None if it reaches
    none; read once per session and run (at most two tables kept)."""
    dataset_id = run_dataset(run)
    return None if dataset_id is None else _session_table(data_dir(), dataset_id)


@st.cache_resource(scope="session", max_entries=2, show_spinner=False)
def _session_table(data_dir: str, dataset_id: str):
    from finml.data.staging import load_staged

    try:
        return load_staged(dataset_id)
    except FinmlError:
        return None


def staged_images(run):
    """The staged image set of ``run`` (:func:`run_dataset`), or None if it reaches none.

    Held once per dataset for the whole server, not per session (3,000 images at 224 px
    are about 450 MB): a bounded cache of two sets, keyed by the dataset id, with
    read-only arrays so no session can change another's view. Only ids that passed
    :func:`run_dataset` for this session's user ever reach the cache.
    """
    dataset_id = run_dataset(run)
    return None if dataset_id is None else _shared_images(data_dir(), dataset_id)


@st.cache_resource(max_entries=2, show_spinner=False)
def _shared_images(data_dir: str, dataset_id: str):
    from finml.data.staging import load_staged_images

    try:
        arrays = load_staged_images(dataset_id)
    except FinmlError:
        return None
    for array in arrays.values():
        array.flags.writeable = False
    return arrays


#: Results kept by :func:`memo` per session (least recently used dropped first).
MEMO_ENTRIES = 32


def memo(key: tuple, compute):
    """``compute()`` once per session and ``key`` (the inputs it depends on), in a bounded
    LRU: slow analyses must not rerun on every widget change, and may show progress while
    they run (which ``st.cache_data`` cannot replay)."""
    cache = st.session_state.setdefault("_memo", OrderedDict())
    if key in cache:
        cache.move_to_end(key)
        return cache[key]
    cache[key] = value = compute()
    while len(cache) > MEMO_ENTRIES:
        cache.popitem(last=False)
    return value


def data_dir() -> str:
    """The data folder, part of every cache key (tests and teams switch it)."""
    return str(get_settings().data_dir)


def progress_callback(text: str):
    """A progress bar and the ``(done, total)`` callback that moves it; call ``.empty()`` on
    the returned bar when done."""
    bar = st.progress(0.0, text=text)

    def update(done: int, total: int) -> None:
        bar.progress(min(done / max(total, 1), 1.0), text=f"{text} ({done:,} of {total:,})")

    return bar, update


def trials_of(run_store, run_id: str):
    """The trials of a run's hyperparameter search: the study's child runs as they end (a
    search in progress), else the run's own stored table (it travels with an export);
    empty if neither."""
    trials = run_store.trials(run_id)
    if trials.empty:
        with contextlib.suppress(FinmlError):
            trials = run_store.read_frame(run_id, "tuning/trials.parquet")
    return trials


def judged_words(column: str) -> str:
    """A trials table's judged column in words: ``val_rmse`` is "validation RMSE",
    ``backtest_mase`` "backtest MASE"."""
    from finml.reporting.runs import METRIC_NAMES

    where, _, metric = column.partition("_")
    where = "validation" if where == "val" else where
    return f"{where} {METRIC_NAMES.get(metric, metric)}"


def search_view(run, trials, task) -> None:
    """The trials so far, and Optuna's optimisation history and parameter importances, in
    the direction of ``task``'s metric."""
    from finml.tasks.tuning import study_from_trials, trial_metric

    done = trials[trials["state"] == "complete"]
    st.caption(
        f"Hyperparameter search: {len(trials)} trial(s), {len(done)} complete, "
        f"{int((trials['state'] == 'pruned').sum())} pruned "
        f"({judged_words(trial_metric(trials))})."
    )
    st.dataframe(trials.round(4), hide_index=True)
    if len(done) >= 2:
        import optuna.visualization as ov

        try:
            study = study_from_trials(run.model, trials, task.tags.higher_is_better)
        except (ValueError, KeyError, TypeError):  # values outside the model's search space
            st.caption("The trials' values do not fit this model's search space: no charts.")
            return
        c1, c2 = st.columns(2)
        c1.plotly_chart(ov.plot_optimization_history(study), width="stretch")
        try:
            c2.plotly_chart(ov.plot_param_importances(study), width="stretch")
        except (RuntimeError, ValueError):  # e.g. every trial drew the same values
            c2.caption("Parameter importances need trials that differ.")


def report_buttons(where, run, build) -> None:
    """The "Make the model report" button in ``where`` (a column) and, once made, its
    downloads: HTML (with charts) and PDF (the same report laid out by WeasyPrint, charts
    pointing to the HTML, :mod:`finml.reporting.pdf`); ``build()`` returns the HTML."""
    from finml.reporting.pdf import PdfError, report_pdf

    if where.button("Make the model report (HTML and PDF)", key="make_report"):
        with st.spinner("Building the report..."):
            html = build()
            try:
                pdf = report_pdf(html)
            except PdfError as exc:
                pdf = exc
            st.session_state.report = (run.run_id, html.encode(), pdf)
    if st.session_state.get("report", (None,))[0] != run.run_id:
        return
    _, html, pdf = st.session_state.report
    name = f"finml-report-{run.run_id[:8]}"
    download(
        where,
        "Download the report (HTML)",
        html,
        f"{name}.html",
        "text/html",
        "report_file",
        run.run_id,
    )
    if isinstance(pdf, bytes):
        download(
            where,
            "Download the report (PDF)",
            pdf,
            f"{name}.pdf",
            "application/pdf",
            "report_pdf",
            run.run_id,
        )
    else:
        where.caption(text(pdf))
