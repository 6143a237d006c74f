"""The run store: MLflow tracking (params, per-epoch metrics, artifacts) plus finml's status.

MLflow's own run statuses cannot say "queued", "stopped" or "interrupted", so finml keeps
its status in the tag ``finml.status`` (and the reason of a failure in ``finml.reason``), and
mirrors it into MLflow's status (SCHEDULED, RUNNING, FINISHED, KILLED, FAILED) so the MLflow
UI agrees. The default store is a SQLite file in the data folder; ``MLFLOW_TRACKING_URI``
points a team at a shared server.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from finml.config import Settings, get_settings
from finml.errors import StoreError

EXPERIMENT = "finml"
#: Tags of ownership on a run (read through :mod:`finml.access`): the owner's stable id,
#: their display name, and "1" when shared with the team.
OWNER_TAG, OWNER_NAME_TAG, SHARED_TAG = "finml.owner", "finml.owner_name", "finml.shared"
#: The tag of a run whose import is still being written (:mod:`finml.reporting.exchange`):
#: :meth:`RunStore.list_runs` leaves it out until :meth:`RunStore.finish_import`.
IMPORTING_TAG = "finml.importing"
QUEUED, RUNNING, FINISHED, STOPPED, FAILED, INTERRUPTED = (
    "queued",
    "running",
    "finished",
    "stopped",
    "failed",
    "interrupted",
)
#: Statuses of a run that a worker may still change.
ACTIVE = (QUEUED, RUNNING)
#: Statuses after which a run has test predictions to evaluate (if it trained at all).
EVALUABLE = (FINISHED, STOPPED)
_MLFLOW_STATUS = {
    QUEUED: "SCHEDULED",
    RUNNING: "RUNNING",
    FINISHED: "FINISHED",
    STOPPED: "KILLED",
    FAILED: "FAILED",
    INTERRUPTED: "KILLED",
}
#: The prefixes of a trial's judged value (validation or backtest metric).
JUDGED_PREFIXES = ("val_", "backtest_")
#: Per-step metrics kept in the learning-curve history.
HISTORY_METRICS = ("loss", "val_loss", "val_auc", "val_rmse")
#: Per-fold metrics of a cross-validated run, logged at step = fold (1-based): each task
#: logs ``fold_<name>`` of its :attr:`finml.tasks.base.TaskTags.fold_metrics`.
FOLD_METRICS = (
    "fold_roc_auc",
    "fold_gini",
    "fold_ks",
    "fold_brier",
    "fold_accuracy",
    "fold_macro_f1",
    "fold_rmse",
    "fold_mae",
    "fold_r2",
)
#: Per-fold metrics of a forecasting run's rolling-origin backtest.
BACKTEST_METRICS = ("fold_mase", "fold_rmse", "fold_mae", "fold_naive_mase")


@dataclass(frozen=True)
class RunInfo:
    """One run as listed by the store.

    Attributes:
        run_id: MLflow run id.
        name: run name.
        model: registry name of the model.
        dataset: dataset display name.
        status: one of queued, running, finished, stopped, failed, interrupted.
        reason: why it failed or was interrupted ("" otherwise).
        submitted: submit time, seconds since the epoch.
        started: training start, seconds since the epoch (None while queued).
        ended: end time, seconds since the epoch (None while active).
        total_steps: planned epochs / iterations (None until known).
        params: logged parameters (text).
        metrics: latest value of each logged metric.
        threshold: the decision threshold saved on the Evaluate page, if any.
        tags: every tag of the run (``finml.*`` among them).
    """

    run_id: str
    name: str
    model: str
    dataset: str
    status: str
    reason: str
    submitted: float
    started: float | None
    ended: float | None
    total_steps: int | None
    params: dict[str, str] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    threshold: float | None = None
    tags: dict[str, str] = field(default_factory=dict)

    @property
    def followup(self) -> str:
        """What the worker still computes after the result ("" if nothing)."""
        return self.tags.get("finml.followup", "")

    @property
    def stage(self) -> tuple[str, int, int] | None:
        """Work before the first step (e.g. extracting image features): (what, done,
        total) as last recorded, or ``None``."""
        what, _, counts = self.tags.get("finml.stage", "").rpartition("|")
        done, _, total = counts.partition("/")
        if not what or not done.isdigit() or not total.isdigit():
            return None
        return what, int(done), int(total)

    @property
    def has_results(self) -> bool:
        """True once the run ended with test predictions and metrics to evaluate (every
        task logs a test ROC-AUC or a test RMSE with them)."""
        scored = "test_roc_auc" in self.metrics or "test_rmse" in self.metrics
        return self.status in EVALUABLE and scored

    @property
    def label(self) -> str:
        """Short display label: name, status and the start of the id."""
        return f"{self.name} ({self.status}, {self.run_id[:8]})"

    @property
    def duration(self) -> float | None:
        """Seconds from training start to end (or to now while running)."""
        if self.started is None:
            return None
        return (self.ended or time.time()) - self.started


#: Seconds finml keeps retrying a store call while another process holds the SQLite lock
#: (on top of MLflow's own busy timeout of 20 s per call).
LOCK_WAIT_S = 15.0
#: Runs fetched per page when listing (MLflow's own page size limit is 50,000).
PAGE_SIZE = 1000


def _is_lock_error(exc: Exception) -> bool:
    return "locked" in str(exc).lower() or "busy" in str(exc).lower()


def _retry(fn, *args, **kwargs):
    """Call the MLflow client, retrying with backoff while another process holds the SQLite
    lock ("database is locked"); after :data:`LOCK_WAIT_S` say so plainly.

    Raises:
        StoreError: the store stayed locked.
    """
    started = time.monotonic()
    deadline = started + LOCK_WAIT_S
    delay = 0.05
    while True:
        try:
            return fn(*args, **kwargs)
        except Exception as exc:  # MlflowException / OperationalError wrap "database is locked"
            if "disk is full" in str(exc).lower() or "no space left" in str(exc).lower():
                raise StoreError(
                    "The disk is full: the run store could not save this. Free some space in "
                    "the data folder (delete old runs), then try again."
                ) from exc
            if not _is_lock_error(exc):
                raise
            if time.monotonic() + delay > deadline:
                waited = time.monotonic() - started
                raise StoreError(
                    f"The run store is busy: another process has held its database locked "
                    f"for the last {waited:.0f} s. Nothing was lost; try again in a moment. If "
                    "this persists, a stuck process may be holding the store's database file."
                ) from exc
        time.sleep(delay)
        delay = min(delay * 2, 2.0)


class RunStore:
    """Access to the run store. Cheap to create; MLflow is imported on first use.

    Args:
        settings: finml settings (default: from the environment).
    """

    def __init__(self, settings: Settings | None = None):
        os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")  # no tqdm bars
        self.settings = settings or get_settings()
        self._client = None
        self._experiment_id: str | None = None

    @property
    def client(self):
        """The ``mlflow.tracking.MlflowClient`` of this store."""
        if self._client is None:
            from mlflow.tracking import MlflowClient

            self._client = MlflowClient(tracking_uri=self.settings.tracking_uri)
        return self._client

    @property
    def experiment_id(self) -> str:
        """Id of the ``finml`` experiment, created on first use."""
        if self._experiment_id is None:
            exp = _retry(self.client.get_experiment_by_name, EXPERIMENT)
            if exp is None:
                location = None
                if self.settings.tracking_uri.startswith("sqlite:"):
                    self.settings.artifact_root.mkdir(parents=True, exist_ok=True)
                    location = self.settings.artifact_root.as_uri()
                try:
                    self._experiment_id = self.client.create_experiment(
                        EXPERIMENT, artifact_location=location
                    )
                except Exception:  # another process created it first
                    self._experiment_id = self.client.get_experiment_by_name(
                        EXPERIMENT
                    ).experiment_id
            else:
                self._experiment_id = exp.experiment_id
        return self._experiment_id

    # -- writing -------------------------------------------------------------------------
    def create_run(self, name: str, params: dict[str, object], tags: dict[str, str]) -> str:
        """Create a run with status ``queued`` and return its id."""
        from mlflow.entities import Param

        all_tags = {**tags, "finml.status": QUEUED}
        run = _retry(self.client.create_run, self.experiment_id, run_name=name, tags=all_tags)
        run_id = run.info.run_id
        items = [Param(k, str(v)[:6000]) for k, v in params.items()]
        for i in range(0, len(items), 100):
            _retry(self.client.log_batch, run_id, params=items[i : i + 100])
        _retry(self.client.update_run, run_id, status=_MLFLOW_STATUS[QUEUED])
        return run_id

    def log_trial(self, study_run_id: str, trial: dict[str, object]) -> str:
        """Record one hyperparameter-search trial as an MLflow child run of the study's run
        (tags ``mlflow.parentRunId`` and ``finml.trial_of``): its parameters, its validation
        ROC-AUC and its state. Trials are not listed as runs of their own
        (:meth:`list_runs`); read them with :meth:`trials`.

        Args:
            study_run_id: the study's run.
            trial: a row of :attr:`finml.tasks.tuning.TuneResult.trials`.

        Returns:
            The child run's id.
        """
        from mlflow.entities import Metric, Param

        tags = {
            "mlflow.parentRunId": study_run_id,
            "finml.trial_of": study_run_id,
            "finml.trial": str(trial["trial"]),
            "finml.status": str(trial["state"]),
        }
        name = f"trial {trial['trial']}"
        run = _retry(self.client.create_run, self.experiment_id, run_name=name, tags=tags)
        child = run.info.run_id
        judged = [k for k in trial if str(k).startswith(JUDGED_PREFIXES)]
        numbers = (*judged, "seconds", "steps")
        params = [Param(k, str(v)) for k, v in trial.items() if k not in (*numbers, "state")]
        now = int(time.time() * 1000)
        metrics = [
            Metric(k, float(trial[k]), now, 0) for k in numbers if math.isfinite(float(trial[k]))
        ]
        _retry(self.client.log_batch, child, metrics=metrics, params=params)
        _retry(self.client.set_terminated, child, "FINISHED")
        return child

    def trials(self, study_run_id: str) -> pd.DataFrame:
        """The trials of a study run so far, by trial number: ``trial``, ``state``, the
        judged value (``val_roc_auc``, ``val_rmse``, ``backtest_mase``...), ``seconds``,
        ``steps`` and each drawn hyperparameter (as text); empty if none."""
        rows = []
        for r in self._trial_runs(study_run_id):
            row = {"trial": int(r.data.tags["finml.trial"]), "state": r.data.tags["finml.status"]}
            row.update({k: r.data.metrics.get(k) for k in ("seconds", "steps")})
            row.update({k: v for k, v in r.data.metrics.items() if k.startswith(JUDGED_PREFIXES)})
            row.update({k: v for k, v in r.data.params.items() if k != "trial"})
            rows.append(row)
        if not rows:
            return pd.DataFrame()
        return pd.DataFrame(rows).sort_values("trial").reset_index(drop=True)

    def _trial_runs(self, study_run_id: str) -> list:
        """The MLflow child runs recording the trials of a study run (at most 1,000: the
        Train form allows 500 trials)."""
        return _retry(
            self.client.search_runs,
            [self.experiment_id],
            filter_string=f"tags.finml.trial_of = '{study_run_id}'",
            max_results=PAGE_SIZE,
        )

    def set_status(self, run_id: str, status: str, reason: str = "") -> None:
        """Set finml's status (and MLflow's); terminal statuses also set the end time.

        The status tag is written last, so that a reader who sees a run running has its
        start time, and one who sees it ended has its end time and reason."""
        tags = {}
        if reason:
            tags["finml.reason"] = reason[:4000]
        if status == RUNNING:
            tags["finml.started"] = repr(time.time())
        for k, v in tags.items():
            _retry(self.client.set_tag, run_id, k, v)
        if status in ACTIVE:
            _retry(self.client.update_run, run_id, status=_MLFLOW_STATUS[status])
        else:
            _retry(self.client.set_terminated, run_id, status=_MLFLOW_STATUS[status])
        _retry(self.client.set_tag, run_id, "finml.status", status)

    def set_threshold(self, run_id: str, threshold: float, how: str) -> None:
        """Save the chosen decision threshold of a run (tags ``finml.threshold``, ``.how``)."""
        _retry(self.client.set_tag, run_id, "finml.threshold", repr(float(threshold)))
        _retry(self.client.set_tag, run_id, "finml.threshold_how", how)

    def set_shared(self, run_id: str, shared: bool) -> None:
        """Share a run with the team (read-only to others) or take it back (tag
        ``finml.shared``, see :mod:`finml.access`)."""
        _retry(self.client.set_tag, run_id, SHARED_TAG, "1" if shared else "0")

    def rename_run(self, run_id: str, name: str) -> None:
        """Give a run a new display name (1 to 200 characters, surrounding blanks dropped).

        Raises:
            StoreError: an empty name.
        """
        name = " ".join(str(name).split())[:200]
        if not name:
            raise StoreError("A run name needs at least one character that is not a space.")
        _retry(self.client.set_tag, run_id, "mlflow.runName", name)

    def log_dataset(
        self, run_id: str, frame: pd.DataFrame, name: str, target: str, digest: str
    ) -> None:
        """Record the run's training table as an MLflow dataset input (name, digest, schema
        and size, never its rows), so lineage shows in MLflow's own UI.

        The schema is MLflow's own (``mlflow.data.from_pandas``), inferred on the first
        1,000 rows: on a whole table MLflow inspects every cell in Python (22 s for 1M rows
        x 20 columns). The digest is the caller's: the staged file's SHA-256 covers every
        row, where MLflow's own hashes 10,000 rows after visiting every cell.

        Args:
            run_id: the run.
            frame: the table the run trained on, (n_rows, n_columns).
            name: the dataset's display name.
            target: the target column ("" if none).
            digest: a digest of the whole table (hex).
        """
        import warnings

        import mlflow.data
        from mlflow.entities import Dataset, DatasetInput, InputTag

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # MLflow's hint about integer columns
            sample = mlflow.data.from_pandas(frame.head(1000), name=name, targets=target or None)
            schema = json.dumps({"mlflow_colspec": sample.schema.to_dict()})
        dataset = Dataset(
            name=name,
            digest=digest[:36],
            source_type="finml",
            source=json.dumps({"staged": "finml workspace"}),
            schema=schema,
            profile=json.dumps({"num_rows": len(frame), "num_elements": int(frame.size)}),
        )
        context = InputTag("mlflow.data.context", "training")
        _retry(self.client.log_inputs, run_id, [DatasetInput(dataset, tags=[context])])

    def set_total_steps(self, run_id: str, total: int) -> None:
        """Record the planned number of epochs / iterations (the progress bar's total)."""
        _retry(self.client.set_tag, run_id, "finml.total_steps", str(int(total)))

    def set_stage(self, run_id: str, what: str, done: int, total: int) -> None:
        """Record the progress of work before the first step: ``done`` of ``total`` items
        of ``what`` (read back as :attr:`RunInfo.stage`)."""
        _retry(self.client.set_tag, run_id, "finml.stage", f"{what}|{int(done)}/{int(total)}")

    def set_followup(self, run_id: str, what: str) -> None:
        """Record what the worker computes after the result (e.g. ``"permutation
        importance"``); ``""`` when done. Read back as :attr:`RunInfo.followup`."""
        _retry(self.client.set_tag, run_id, "finml.followup", what)

    def log_step(self, run_id: str, step: int, metrics: dict[str, float]) -> None:
        """Log one epoch's metrics at ``step`` in a single write."""
        self.log_steps(run_id, [(step, metrics)])

    def log_steps(self, run_id: str, steps: list[tuple[int, dict[str, float]]]) -> None:
        """Log several steps' metrics in as few writes as MLflow allows (1,000 values each)."""
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        items = [Metric(k, float(v), now, int(step)) for step, m in steps for k, v in m.items()]
        for start in range(0, len(items), 1000):
            _retry(self.client.log_batch, run_id, metrics=items[start : start + 1000])

    def log_metrics(self, run_id: str, metrics: dict[str, float]) -> None:
        """Log final metrics (step 0)."""
        self.log_step(run_id, 0, metrics)

    def log_artifacts(self, run_id: str, local_dir: Path, artifact_path: str | None = None) -> None:
        """Copy a local folder into the run's artifacts."""
        _retry(self.client.log_artifacts, run_id, str(local_dir), artifact_path)

    def log_frame(self, run_id: str, frame: pd.DataFrame, artifact_file: str) -> None:
        """Store a DataFrame as a Parquet artifact at ``artifact_file`` (e.g. ``a/b.parquet``)."""
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / Path(artifact_file).name
            frame.to_parquet(path, index=False)
            parent = str(Path(artifact_file).parent)
            _retry(self.client.log_artifact, run_id, str(path), None if parent == "." else parent)

    def log_json(self, run_id: str, obj: object, artifact_file: str) -> None:
        """Store a JSON-serialisable object as an artifact."""
        _retry(self.client.log_dict, run_id, obj, artifact_file)

    def delete_run(self, run_id: str) -> None:
        """Delete a run for good: its artifacts and its record. With a database behind the
        store (the embedded SQLite file, or PostgreSQL given directly) that is MLflow's own
        ``mlflow gc`` for this run; behind a tracking server the artifacts are deleted
        through it and the record stays marked deleted until the server's ``mlflow gc``.

        Raises:
            StoreError: no such run.
        """
        run = self.get_run(run_id)  # raises StoreError for an unknown run
        for trial in self._trial_runs(run.run_id):
            self.delete_run(trial.info.run_id)  # a study's trials go with it
        artifact_uri = _retry(self.client.get_run, run.run_id).info.artifact_uri
        _retry(self.client.delete_run, run_id)
        uri = self.settings.tracking_uri
        if uri.split(":", 1)[0].split("+", 1)[0] in ("sqlite", "postgresql", "mysql", "mssql"):
            from mlflow.cli import gc

            args = ["--backend-store-uri", uri, "--tracking-uri", uri, "--run-ids", run_id]
            _retry(gc.main, args, standalone_mode=False)
        else:
            from mlflow.store.artifact.artifact_repository_registry import (
                get_artifact_repository,
            )

            _retry(get_artifact_repository(artifact_uri).delete_artifacts)
        if uri.startswith("sqlite:"):  # the local artifact folder MLflow leaves empty
            import shutil

            shutil.rmtree(self.settings.artifact_root / run_id, ignore_errors=True)

    # -- reading -------------------------------------------------------------------------
    def get_run(self, run_id: str) -> RunInfo:
        """Return one run.

        Raises:
            StoreError: no such run.
        """
        try:
            run = _retry(self.client.get_run, run_id)
        except StoreError:
            raise
        except Exception as exc:
            raise StoreError(f"Run {run_id} is not in the run store.") from exc
        return _info(run)

    def finish_import(self, run_id: str) -> None:
        """Show an imported run whose every part is written (removes :data:`IMPORTING_TAG`)."""
        _retry(self.client.delete_tag, run_id, IMPORTING_TAG)

    def list_runs(self, include_importing: bool = False) -> list[RunInfo]:
        """Return every run of the finml experiment, newest first (paged through
        ``MlflowClient.search_runs``, :data:`PAGE_SIZE` at a time, so none is dropped).
        Trials of a study are never listed; runs still being imported only with
        ``include_importing``."""
        out, token = [], None
        while True:
            page = _retry(
                self.client.search_runs,
                [self.experiment_id],
                order_by=["attributes.start_time DESC"],
                max_results=PAGE_SIZE,
                page_token=token,
            )
            out.extend(
                _info(r)
                for r in page
                if "finml.trial_of" not in r.data.tags
                and (include_importing or IMPORTING_TAG not in r.data.tags)
            )
            token = page.token
            if not token:
                return out

    def history(self, run_id: str, keys: tuple[str, ...] = HISTORY_METRICS) -> pd.DataFrame:
        """Per-step metrics: columns ``step`` and each of ``keys`` that was logged, one row
        per step, sorted by step."""
        frames = []
        for key in keys:
            hist = _retry(self.client.get_metric_history, run_id, key)
            if hist:
                frames.append(
                    pd.DataFrame({"step": [m.step for m in hist], key: [m.value for m in hist]})
                    .drop_duplicates("step", keep="last")
                    .set_index("step")
                )
        if not frames:
            return pd.DataFrame({"step": pd.Series(dtype=int)})
        return pd.concat(frames, axis=1).sort_index().reset_index()

    def fold_history(self, run_id: str, keys: tuple[str, ...] = FOLD_METRICS) -> pd.DataFrame:
        """The cross-validation folds done so far: ``step`` (the fold, 1-based) and each of
        ``keys`` (:data:`FOLD_METRICS`, or :data:`BACKTEST_METRICS` for a forecast's
        backtest); empty for a run without cross-validation."""
        return self.history(run_id, keys)

    def read_frame(self, run_id: str, artifact_file: str) -> pd.DataFrame:
        """Read a Parquet artifact written by :meth:`log_frame`.

        Raises:
            StoreError: the run has no such artifact.
        """
        with self.artifact(run_id, artifact_file) as path:
            return pd.read_parquet(path)

    def read_json(self, run_id: str, artifact_file: str) -> object:
        """Read a JSON artifact written by :meth:`log_json`."""
        with self.artifact(run_id, artifact_file) as path:
            return json.loads(path.read_text())

    @contextmanager
    def artifact(self, run_id: str, artifact_path: str) -> Iterator[Path]:
        """A local copy of an artifact file or folder, deleted when the ``with`` block ends.

        Raises:
            StoreError: the run has no such artifact.
        """
        with tempfile.TemporaryDirectory(prefix="finml-artifact-") as dst:
            try:
                local = Path(_retry(self.client.download_artifacts, run_id, artifact_path, dst))
            except StoreError:
                raise
            except Exception as exc:
                raise StoreError(f"Run {run_id} has no artifact {artifact_path!r}.") from exc
            yield local


def sweep_imports(store: RunStore, older_than_s: float = 3600.0) -> list[str]:
    """Delete runs whose import never finished (the server died while writing one), once
    older than ``older_than_s`` seconds (an import in progress is younger).

    Args:
        store: the run store (a system action: every owner's runs).

    Returns:
        list[str]: the ids deleted.
    """
    gone = []
    for run in store.list_runs(include_importing=True):
        if IMPORTING_TAG in run.tags and time.time() - run.submitted > older_than_s:
            store.delete_run(run.run_id)
            gone.append(run.run_id)
    return gone


def _info(run) -> RunInfo:
    tags = run.data.tags
    started = tags.get("finml.started")
    total = tags.get("finml.total_steps")
    return RunInfo(
        run_id=run.info.run_id,
        name=run.info.run_name or run.info.run_id[:8],
        model=tags.get("finml.model", ""),
        dataset=tags.get("finml.dataset", ""),
        status=tags.get("finml.status", FAILED),
        reason=tags.get("finml.reason", ""),
        submitted=run.info.start_time / 1000,
        started=float(started) if started else None,
        ended=run.info.end_time / 1000 if run.info.end_time else None,
        total_steps=int(total) if total else None,
        threshold=float(tags["finml.threshold"]) if "finml.threshold" in tags else None,
        params=dict(run.data.params),
        metrics=dict(run.data.metrics),
        tags=dict(tags),
    )
