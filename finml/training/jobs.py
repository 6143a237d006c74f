"""Training runs as jobs: submit, stop, liveness, queue places and recovery.

:func:`submit` creates the run in the store (status ``queued``), writes its spec and hands
it to the executor, returning at once. The executor (:mod:`finml.training.local`: worker
processes on this machine) runs :mod:`finml.training.worker`, which writes progress and
results to the run store. Pages only call this module, never an executor directly.

A run still ``queued``/``running`` whose processes are gone was left behind by a dead
server and is marked ``interrupted`` by :func:`recover_interrupted`.
"""

from __future__ import annotations

import contextlib
import errno
import time
from typing import TYPE_CHECKING

from finml.config import Settings, get_settings
from finml.errors import StoreError
from finml.training import local

if TYPE_CHECKING:
    from finml.store import RunInfo, RunStore
    from finml.training.spec import RunSpec

#: A run this young without a lock file is still being started, not interrupted.
START_GRACE_S = 30.0


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
    """
    from finml.store import RunStore

    store = store or RunStore()
    name = name or f"{spec.model} · {spec.dataset.name}"
    run_id = store.create_run(name, spec.run_params(), spec.run_tags())
    try:
        job = local.JobFiles(store.settings, run_id)
        job.dir.mkdir(parents=True, exist_ok=True)
        job.spec.write_text(spec.to_json())
        local.launch(store.settings, run_id)
    except OSError as exc:  # e.g. a full disk: leave no orphan run behind
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
    shutil.rmtree(local.JobFiles(store.settings, run_id).dir, ignore_errors=True)
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
    spare; a no-op if warm start is off). Cheap: pages call it on every render."""
    local.ensure_spare(settings or get_settings())


def request_stop(run_id: str, settings: Settings | None = None) -> None:
    """Ask a run to stop: a running worker ends after its current batch, a queued one never
    starts. Both keep status ``stopped`` and what they logged."""
    local.request_stop(settings or get_settings(), run_id)


def is_alive(run_id: str, settings: Settings | None = None) -> bool:
    """True while the run's processes live."""
    return local.is_alive(settings or get_settings(), run_id)


def recover_interrupted(store: RunStore | None = None, runs: list | None = None) -> list[str]:
    """Mark ``interrupted`` every queued/running run whose processes are gone, and clear
    the follow-up of a finished run whose worker is gone (it will not come).

    Args:
        store: the run store.
        runs: the runs to check (default: all of them).

    Returns:
        list[str]: ids of the runs changed.
    """
    from finml.store import ACTIVE, INTERRUPTED, RunStore

    store = store or RunStore()
    marked = []
    for run in store.list_runs() if runs is None else runs:
        if run.status in ACTIVE and not _alive_or_starting(run, store.settings):
            store.set_status(
                run.run_id,
                INTERRUPTED,
                "The worker ended without reporting back (the server or machine stopped).",
            )
            marked.append(run.run_id)
        elif run.followup and not local.is_alive(store.settings, run.run_id):
            store.set_followup(run.run_id, "")  # the worker died after the result
            marked.append(run.run_id)
    return marked


def _alive_or_starting(run: RunInfo, settings: Settings) -> bool:
    if local.is_alive(settings, run.run_id):
        return True
    starting = local.handing_over(settings, run.run_id)
    return starting and time.time() - run.submitted < START_GRACE_S


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
