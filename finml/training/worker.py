"""The training worker process: ``python -m finml.training.worker RUN_ID``.

Started by the local executor (:mod:`finml.training.local`) or as a Ray job
(:mod:`finml.training.ray_jobs`). Reads the run spec and the staged data through the run's
task (:func:`finml.tasks.get_task`), trains with progress going to the run store,
evaluates once on the test split and logs predictions, metrics and the model bundle; then
computes what the task explains its runs with (permutation importance, SHAP values) after
the result is shown. It has no task branches: the task says what it supports. A finml
error becomes status ``failed`` with its message; any other exception too, with its type
(the traceback goes to ``job.log``).
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import signal
import sys
import tempfile
import traceback
from pathlib import Path

import pandas as pd

from finml.config import get_settings
from finml.errors import FinmlError
from finml.fitters.base import Sink
from finml.native import load_solvers
from finml.store import FAILED, RUNNING, STOPPED, RunStore
from finml.tasks import get_task
from finml.tasks.base import TrainResult
from finml.tasks.spec import RunSpec
from finml.training.local import JobFiles, release_slot

load_solvers()  # OR-Tools' solver before TensorFlow, or a scorecard's solve would crash


class StoreSink(Sink):
    """A training sink that logs each step's metrics to the run store.

    Args:
        store: the run store.
        run_id: the run.
    """

    def __init__(self, store: RunStore, run_id: str):
        self.store = store
        self.run_id = run_id
        self.total_: int | None = None

    def on_step(self, step: int, total: int, metrics: dict[str, float]) -> None:
        """Record the planned total once, then this step's metrics (one write)."""
        self.on_steps([(step, total, metrics)])

    def on_fold(self, fold: int, total: int, metrics: dict[str, float]) -> None:
        """Record one cross-validation fold's metrics as ``fold_<name>`` at step ``fold``
        (read back by :meth:`finml.store.RunStore.fold_history`)."""
        self.store.log_step(self.run_id, fold, {f"fold_{k}": v for k, v in metrics.items()})

    def on_trial(self, trial: int, total: int, row: dict[str, object]) -> None:
        """Record one hyperparameter-search trial as a child run (:meth:`RunStore
        .log_trial`); the progress bar counts trials until the refit starts."""
        if total != self.total_:
            self.store.set_total_steps(self.run_id, total)
            self.total_ = total
        self.store.log_trial(self.run_id, row)

    def on_stage(self, what: str, done: int, total: int) -> None:
        """Record the progress of work before the first step (one tag write)."""
        self.store.set_stage(self.run_id, what, done, total)

    def on_steps(self, steps: list[tuple[int, int, dict[str, float]]]) -> None:
        """Record several steps in one batch write (see :class:`SampledSink`)."""
        if steps and steps[-1][1] != self.total_:
            self.store.set_total_steps(self.run_id, steps[-1][1])
            self.total_ = steps[-1][1]
        self.store.log_steps(self.run_id, [(step, metrics) for step, _, metrics in steps])


def log_result(store: RunStore, run_id: str, spec: RunSpec, result: TrainResult) -> None:
    """Log what a training run produced: split audit, predictions, test metrics, the
    cross-validation or backtest, the search, the intervals (a task with them) and the
    bundle."""
    store.log_json(run_id, result.split_report.to_dict(orient="records"), "split_report.json")
    store.log_json(run_id, json.loads(spec.to_json()), "spec.json")  # a Ray run's, again
    store.log_frame(run_id, result.split.assignment(), "split.parquet")
    if result.cv is not None and not result.cv.folds.empty:
        store.log_frame(run_id, result.cv.folds, "cv/folds.parquet")
        store.log_metrics(run_id, result.cv.summary())
        forecasts = getattr(result.cv, "forecasts", None)  # a forecast's backtest
        if forecasts is not None and len(forecasts):
            store.log_frame(run_id, forecasts, "cv/forecasts.parquet")
    if result.tuning is not None and not result.tuning.trials.empty:
        store.log_frame(run_id, result.tuning.trials, "tuning/trials.parquet")
        if result.tuning.best_params:
            store.log_json(run_id, result.tuning.best_params, "tuning/best_params.json")
            best = {f"tune_best_{result.tuning.metric}": result.tuning.best_value}
            store.log_metrics(run_id, best)
    if result.model is None:
        return
    store.log_frame(run_id, result.val_predictions, "predictions/validation.parquet")
    store.log_frame(run_id, result.test_predictions, "predictions/test.parquet")
    store.log_metrics(run_id, {f"test_{k}": v for k, v in result.test_metrics.items()})
    store.log_metrics(run_id, {f"validation_{k}": v for k, v in result.validation_metrics.items()})
    for name, record in result.records.items():
        store.log_json(run_id, record, name)
    if get_task(spec.task).tags.intervals:
        store.log_json(run_id, result.model.intervals, "intervals.json")
    log_importance(store, run_id, result)
    from finml.models.bundle import save_bundle

    recorded = spec.run_params()
    kept = ("model", "dataset", "positive_class", "seed", "target")
    provenance = {k: recorded[k] for k in kept if k in recorded}
    result.model.set_params(meta={**provenance, "steps": result.steps, "status": result.status})
    with tempfile.TemporaryDirectory() as tmp:
        store.log_artifacts(run_id, save_bundle(Path(tmp) / "bundle", result.model), "bundle")


def log_importance(store: RunStore, run_id: str, result: TrainResult) -> None:
    """Log the permutation importance table, if the result has one."""
    if not result.importance.empty:
        store.log_frame(run_id, result.importance, "explain/permutation_importance.parquet")


def log_shap(store: RunStore, run_id: str, spec: RunSpec, frame, result: TrainResult) -> None:
    """Compute and log the run's SHAP summary (the task's :meth:`~finml.tasks.base.Task.shap`):
    ``explain/shap_values.parquet`` (column ``row``, the data-row position, for a
    multi-class run ``class``, the class index, and one column of contributions per
    feature) and ``explain/shap.json`` (:meth:`~finml.evaluation.shap_values.ShapValues.about`:
    base value(s), explainer, what the values add up to)."""
    explained = get_task(spec.task).shap(spec, frame, result)
    if explained is None:
        return
    rows, values = explained
    classes = range(len(values.classes)) if values.is_multiclass else [None]
    parts = []
    for c in classes:
        part = values.frame(c)
        part.insert(0, "row", rows.astype("int64"))
        if c is not None:
            part.insert(1, "class", c)
        parts.append(part)
    store.log_frame(run_id, pd.concat(parts, ignore_index=True), "explain/shap_values.parquet")
    store.log_json(run_id, values.about(), "explain/shap.json")


def follow_ups(spec: RunSpec) -> list[str]:
    """What explains a run of ``spec``'s task after its result is shown, in order:
    ``"permutation importance"`` and ``"SHAP values"`` where the task has them."""
    tags = get_task(spec.task).tags
    return [
        name
        for name, on in (("permutation importance", tags.importance), ("SHAP values", tags.shap))
        if on
    ]


def _follow_up(store: RunStore, run_id: str, spec: RunSpec, frame, result: TrainResult) -> None:
    """What explains a finished run, after its result is shown (:func:`follow_ups`). A
    failure leaves the run finished, only that explanation missing."""
    task = get_task(spec.task)

    def importance():
        result.importance = task.explain(spec, frame, result)
        log_importance(store, run_id, result)

    steps = {
        "permutation importance": importance,
        "SHAP values": lambda: log_shap(store, run_id, spec, frame, result),
    }
    try:
        for what in follow_ups(spec):
            store.set_followup(run_id, what)
            try:
                steps[what]()
            except Exception:  # the run stays finished: only this explanation is missing
                traceback.print_exc()
    finally:
        store.set_followup(run_id, "")


#: Nice levels a worker drops by while it explains a finished run: the server and the
#: browser drawing its result, and the next queued run, then get the cores first. On two
#: cores the explanations (permutation importance over the test rows) had delayed the
#: result's tiles in the browser by up to a second after the run ended.
FOLLOW_UP_NICE = 10


def lower_priority(increment: int = FOLLOW_UP_NICE) -> None:
    """Lower every thread of this process by ``increment`` nice levels (at most to 19).

    Linux keeps a nice value per thread and a thread inherits its creator's, so the
    threads started before this call (OpenMP's and BLAS's pools) are lowered one by one
    through ``/proc/self/task``. Best effort: a thread that ended meanwhile, or a system
    without ``/proc``, is skipped (only the calling thread is lowered there).
    """
    try:
        tids = [int(t) for t in os.listdir("/proc/self/task")]
    except OSError:
        tids = [0]  # 0: the calling thread
    for tid in tids:
        with contextlib.suppress(OSError):
            now = os.getpriority(os.PRIO_PROCESS, tid)
            os.setpriority(os.PRIO_PROCESS, tid, min(19, now + increment))


class StopRequest:
    """Whether the run was asked to stop: the local executor's ``stop`` file, or SIGTERM
    (how a Ray job is stopped, :func:`finml.training.ray_jobs.request_stop`), which the
    worker takes as a request: it ends after the current batch and logs what it has.

    Args:
        job: the run's job files (the ``stop`` file; absent on a Ray node).
    """

    def __init__(self, job: JobFiles):
        self.job = job
        self.signalled_ = False

    def install(self) -> StopRequest:
        """Take SIGTERM as a stop request from now on (main thread only); returns self."""
        signal.signal(signal.SIGTERM, self._on_signal)
        return self

    def _on_signal(self, signum, frame) -> None:
        self.signalled_ = True

    def __call__(self) -> bool:
        """True once a stop was requested (cheap: one ``stat`` per call)."""
        return self.signalled_ or self.job.stop_requested()


def _read_spec(store: RunStore, job: JobFiles) -> RunSpec:
    """The run's spec: the job folder's (local executor) or the run's ``spec.json`` in the
    store (a Ray job, on a node that shares no disk with the web server)."""
    if job.spec.exists():
        return RunSpec.from_json(job.spec.read_text())
    return RunSpec.from_json(json.dumps(store.read_json(job.run_id, "spec.json")))


def run_job(run_id: str) -> int:
    """Train run ``run_id`` and log everything. Returns the process exit code."""
    settings = get_settings()
    store = RunStore(settings)
    job = JobFiles(settings, run_id)
    stop = StopRequest(job).install()
    try:
        if store.get_run(run_id).status == STOPPED:
            return 0  # stopped while queued, just as it started
        spec = _read_spec(store, job)
        store.set_status(run_id, RUNNING)
        task = get_task(spec.task)
        data = task.load(spec.dataset.dataset_id, settings)
        task.log_inputs(store, run_id, spec, data, settings)
        result = task.train(spec, data, StoreSink(store, run_id), stop, explain=False)
        log_result(store, run_id, spec, result)
        pending = follow_ups(spec) if result.model is not None else []
        if pending:  # the result is complete and shown; what explains it follows here
            store.set_followup(run_id, pending[0])
        store.set_status(run_id, result.status)
        if pending:  # the next queued run may start while this one explains itself
            release_slot(settings, run_id)
            lower_priority()  # the page showing the result, and the next run, come first
            _follow_up(store, run_id, spec, data, result)
        return 0
    except FinmlError as exc:
        store.set_status(run_id, FAILED, str(exc))
        return 1
    except OSError as exc:
        traceback.print_exc()
        full = exc.errno in (errno.ENOSPC, errno.EDQUOT)
        why = "The disk is full" if full else f"A file could not be written ({exc})"
        store.set_status(run_id, FAILED, f"{why}: the run stopped without its results.")
        return 1
    except Exception as exc:
        traceback.print_exc()
        store.set_status(
            run_id, FAILED, f"Unexpected error in the worker: {type(exc).__name__}: {exc}"
        )
        return 1


def standby(warm_marker: str) -> int:
    """Warm up (import TensorFlow, Keras, scikit-learn, skops, shap; open the store), create
    ``warm_marker``, then read one run id from stdin and run it. Empty stdin: exit."""
    import keras
    import mapie.regression  # noqa: F401
    import shap  # noqa: F401
    import sklearn.compose
    import sklearn.ensemble
    import sklearn.linear_model  # noqa: F401
    import skops.io  # noqa: F401

    import finml.fitters.callbacks  # noqa: F401

    keras.ops.convert_to_numpy(keras.ops.ones((1, 1)))  # starts the TF runtime
    settings = get_settings()
    RunStore(settings).experiment_id  # noqa: B018  (opens the database connection)
    Path(warm_marker).touch()
    run_id = sys.stdin.readline().strip()
    if not run_id:
        return 0
    log = os.open(JobFiles(settings, run_id).log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    sys.stdout.flush()
    sys.stderr.flush()
    os.dup2(log, 1)
    os.dup2(log, 2)
    return run_job(run_id)


if __name__ == "__main__":
    if sys.argv[1] == "--standby":
        sys.exit(standby(sys.argv[2]))
    sys.exit(run_job(sys.argv[1]))
