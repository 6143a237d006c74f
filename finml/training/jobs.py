"""Training runs as jobs: submit, stop, liveness, queue places and recovery.

:func:`submit` creates the run in the store (status ``queued``) and hands it to the
executor, returning at once. Two executors run :mod:`finml.training.worker`, which writes
progress and results to the run store:

- :mod:`finml.training.local` (the default): worker processes on this machine;
- :mod:`finml.training.ray_jobs` (``FINML_RAY_ADDRESS`` set): Ray jobs on a cluster.

Both offer the same functions (``launch``, ``request_stop``, ``is_alive``, ``ended``,
``ensure_spare``); pages only call this module, never an executor directly.

A run still ``queued``/``running`` whose job is gone without reporting (a dead server, a
killed job) gets its final status from :func:`recover_interrupted`.
"""

from __future__ import annotations

import contextlib
import errno
from typing import TYPE_CHECKING

from finml.config import Settings, get_settings
from finml.errors import StoreError
from finml.training import local

if TYPE_CHECKING:
    from finml.store import RunInfo, RunStore
    from finml.training.spec import RunSpec


def executor(settings: Settings):
    """The executor module of these settings: :mod:`finml.training.ray_jobs` if
    ``FINML_RAY_ADDRESS`` is set, else :mod:`finml.training.local`."""
    if settings.ray_address:
        from finml.training import ray_jobs

        return ray_jobs
    return local


def submit(spec: RunSpec, store: RunStore | None = None, name: str | None = None) -> str:
    """Queue a training run and hand it to the executor; return at once.

    Args:
        spec: the run spec.
        store: the run store (default: from the environment).
        name: run name (default: model and dataset).

    Returns:
        str: the run id (32 hex characters).

    Raises:
        SpecError: unknown model.
        StoreError: the run could not be started (a full disk, the Ray cluster did not
            answer); no run is left behind.
    """
    from finml.store import RunStore

    store = store or RunStore()
    name = name or f"{spec.model} · {spec.dataset.name}"
    run_id = store.create_run(name, spec.run_params(), spec.run_tags())
    try:
        executor(store.settings).launch(store.settings, run_id, spec)
    except StoreError:  # e.g. the Ray cluster did not answer: leave no orphan run behind
        delete_run(run_id, store, keep_dataset=True)
        raise
    except OSError as exc:  # e.g. a full disk
        delete_run(run_id, store, keep_dataset=True)
        why = "the disk is full" if exc.errno == errno.ENOSPC else (exc.strerror or str(exc))
        raise StoreError(f"The run could not be started: {why}. Nothing was saved.") from exc
    return run_id


def delete_run(run_id: str, store: RunStore | None = None, keep_dataset: bool = False) -> None:
    """Delete a run for good (:meth:`finml.store.RunStore.delete_run`: its record and
    artifacts), its job folder, and its staged dataset unless another run uses it.

    Raises:
        StoreError: no such run.
    """
    import shutil

    from finml.data.staging import remove_dataset
    from finml.store import RunStore

    store = store or RunStore()
    dataset_id = store.get_run(run_id).params.get("dataset_id", "")
    store.delete_run(run_id)
    shutil.rmtree(local.JobFiles(store.settings, run_id).dir, ignore_errors=True)  # if local
    others = {r.params.get("dataset_id") for r in store.list_runs()}
    if dataset_id and not keep_dataset and dataset_id not in others:
        with contextlib.suppress(StoreError):  # a malformed id was never a staged dataset
            remove_dataset(dataset_id, store.settings)


def housekeeping(store: RunStore | None = None) -> list[str]:
    """Remove staged datasets no run uses, past ``FINML_DATASET_RETENTION_DAYS``.

    Returns:
        list[str]: the dataset ids removed.
    """
    from finml.data.staging import sweep_datasets
    from finml.store import RunStore

    store = store or RunStore()
    in_use = {r.params.get("dataset_id", "") for r in store.list_runs()}
    days = store.settings.dataset_retention_days
    return sweep_datasets(in_use, days * 86400.0, store.settings)


def warm_up(settings: Settings | None = None) -> None:
    """Get a worker ready before the analyst presses Start (the local executor's warm
    spare; a no-op if warm start is off or runs go to Ray). Cheap: pages call it on every
    render."""
    settings = settings or get_settings()
    executor(settings).ensure_spare(settings)


def request_stop(run_id: str, settings: Settings | None = None) -> None:
    """Ask a run to stop: a running worker ends after its current batch, a queued one never
    starts. Both keep status ``stopped`` and what they logged.

    Raises:
        StoreError: the Ray cluster did not answer.
    """
    settings = settings or get_settings()
    executor(settings).request_stop(settings, run_id)


def is_alive(run_id: str, settings: Settings | None = None) -> bool:
    """True while the run's processes (or Ray job) live."""
    settings = settings or get_settings()
    return executor(settings).is_alive(settings, run_id)


def recover_interrupted(store: RunStore | None = None, runs: list | None = None) -> list[str]:
    """Give every queued/running run whose job is gone without reporting its final status
    (the executor's ``ended``: ``interrupted``, or ``failed``/``stopped`` with Ray's reason),
    and clear the follow-up of a finished run whose worker is gone (it will not come).

    Args:
        store: the run store.
        runs: the runs to check (default: all of them).

    Returns:
        list[str]: ids of the runs changed.
    """
    from finml.store import ACTIVE, RunStore

    store = store or RunStore()
    settings = store.settings
    run_executor = executor(settings)
    marked = []
    for run in store.list_runs() if runs is None else runs:
        if run.status in ACTIVE:
            final = run_executor.ended(settings, run)
            if final is not None:
                store.set_status(run.run_id, *final)
                marked.append(run.run_id)
        elif run.followup and not run_executor.is_alive(settings, run.run_id):
            store.set_followup(run.run_id, "")  # the worker died after the result
            marked.append(run.run_id)
    return marked


def list_runs(store: RunStore | None = None) -> list[RunInfo]:
    """Recover interrupted runs, then list every run (every run the user of a
    :class:`finml.access.ScopedStore` may see), newest first."""
    from finml.access import unscoped
    from finml.store import RunStore

    store = store or RunStore()
    runs = store.list_runs()
    if recover_interrupted(unscoped(store), runs):  # a system action, whoever looks
        runs = store.list_runs()
    return runs


def queue_positions(runs: list[RunInfo]) -> dict[str, int]:
    """Place of each queued run in the queue: 1 starts next (oldest submit first).

    Args:
        runs: runs as listed by the store.

    Returns:
        dict: run id -> 1-based place, for the queued runs only.
    """
    from finml.store import QUEUED

    queued = sorted((r for r in runs if r.status == QUEUED), key=lambda r: r.submitted)
    return {r.run_id: i for i, r in enumerate(queued, start=1)}
