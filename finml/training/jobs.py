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
    from finml.tasks.spec import RunSpec


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
        SpecError: unknown model, or what the task does not support
            (:meth:`finml.tasks.base.Task.check_spec`).
        StoreError: the run could not be started (a full disk, the Ray cluster did not
            answer); no run is left behind. Or, with a :class:`finml.access.ScopedStore`,
            the dataset is not its user's own (:func:`finml.data.staging.check_dataset`).
    """
    from finml.access import ScopedStore
    from finml.store import RunStore
    from finml.tasks import get_task

    get_task(spec.task).check_spec(spec)  # refused here, not later in the worker
    store = store or RunStore()
    if isinstance(store, ScopedStore):  # a user trains on their own staged data only
        from finml.data.staging import check_dataset

        check_dataset(store.who, spec.dataset.dataset_id)
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


def resubmit(store: RunStore, run_id: str, who, name: str | None = None, **changes) -> str:
    """Train a run again on its own dataset with some hyperparameters changed (e.g. a
    scorecard with bins set by hand): the same model, settings and split, as a new run;
    the old one is left as it is.

    Args:
        store: the user's run store (a :class:`finml.access.ScopedStore` checks the run).
        run_id: the run to train again.
        who: the :class:`finml.access.Principal` asking: the dataset must be their own
            (:func:`finml.data.staging.check_dataset`).
        name: the new run's name (default: model and dataset).
        **changes: hyperparameter name -> value (:func:`finml.tasks.spec.spec_again`).

    Returns:
        str: the new run's id.

    Raises:
        StoreError: a run the user may not see, an imported run or one whose dataset is
            gone or not the user's own ("train it again from the Data page"), or a
            dataset whose choices (target, features) are no longer the run's.
        SpecError: a change that is not a valid value.
    """
    from finml.access import ScopedStore
    from finml.data.staging import check_dataset, load_dataset_spec
    from finml.tasks.spec import spec_again

    run = store.check(run_id) if isinstance(store, ScopedStore) else store.get_run(run_id)
    dataset_id = run.params.get("dataset_id", "")
    again = (
        "This run's training data is not in your workspace (an import, another user's run "
        "or deleted data), so it cannot be trained again here. Load the data on the Data "
        "page and train from the Train page."
    )
    if not dataset_id or run.tags.get("finml.imported") == "1":
        raise StoreError(again)
    try:
        check_dataset(who, dataset_id)
        ds = load_dataset_spec(dataset_id, store.settings)
    except StoreError:
        raise StoreError(again) from None
    p = run.params
    same = ds.task == p.get("task") and getattr(ds, "target", None) == p.get("target")
    same = same and str(len(getattr(ds, "numeric", ()))) == p.get("n_numeric")
    if not (same and str(len(getattr(ds, "categorical", ()))) == p.get("n_categorical")):
        raise StoreError(
            "The dataset's choices (target or features) are no longer this run's; train "
            "from the Train page instead."
        )
    return submit(spec_again(p, ds, **changes), store, name)


def delete_run(run_id: str, store: RunStore | None = None, keep_dataset: bool = False) -> None:
    """Delete a run for good (:meth:`finml.store.RunStore.delete_run`: its record and
    artifacts), its job folder, and its staged dataset when no run of anyone uses it any
    more and it lies in the run's owner's folder (an import never points at data, and a
    run never reaches data of another user: :mod:`finml.run_data`).

    Removing the dataset is recorded in the audit trail (``delete_dataset``: whose, by
    whom, which run) when ``store`` is a :class:`finml.access.ScopedStore`.

    Raises:
        StoreError: no such run (or one the scoped store's user may not see).
        AccessError: a run the user sees but may not change.
    """
    import shutil

    from finml.access import ScopedStore, owner_of, user_folder
    from finml.data.staging import dataset_owner_folder, remove_dataset
    from finml.store import RunStore

    store = store or RunStore()
    run = store.check(run_id, change=True) if isinstance(store, ScopedStore) else None
    run = run or store.get_run(run_id)
    dataset_id = run.params.get("dataset_id", "")
    store.delete_run(run_id)
    shutil.rmtree(local.JobFiles(store.settings, run_id).dir, ignore_errors=True)  # if local
    if not dataset_id or keep_dataset or run.tags.get("finml.imported") == "1":
        return
    in_use = datasets_in_use(RunStore(store.settings).list_runs(include_importing=True))
    with contextlib.suppress(StoreError):  # a malformed id was never a staged dataset
        if dataset_id in in_use or dataset_owner_folder(dataset_id) != user_folder(owner_of(run)):
            return
        remove_dataset(dataset_id, store.settings)
        if isinstance(store, ScopedStore):
            from finml import audit

            details = {"owner": owner_of(run), "run": run_id}
            audit.record(store.who, "delete_dataset", dataset_id, store.settings, **details)


def datasets_in_use(runs: list[RunInfo]) -> set[str]:
    """The staged datasets that ``runs`` (everyone's) may reach: each run's dataset when it
    lies in the run's owner's folder and the run is not an import (:mod:`finml.run_data`).
    A pointer to another user's data keeps nothing alive."""
    from finml.access import owner_of, user_folder
    from finml.data.staging import dataset_owner_folder

    out = set()
    for run in runs:
        dataset_id = run.params.get("dataset_id", "")
        if not dataset_id or run.tags.get("finml.imported") == "1":
            continue
        with contextlib.suppress(StoreError):
            if dataset_owner_folder(dataset_id) == user_folder(owner_of(run)):
                out.add(dataset_id)
    return out


def housekeeping(store: RunStore | None = None) -> list[str]:
    """Remove staged datasets no run uses, past ``FINML_DATASET_RETENTION_DAYS``, and runs
    whose import a dead server left half-written (:func:`finml.store.sweep_imports`).

    Returns:
        list[str]: the dataset ids removed.
    """
    from finml.data.staging import sweep_datasets
    from finml.store import RunStore, sweep_imports

    store = store or RunStore()
    sweep_imports(store)
    in_use = datasets_in_use(store.list_runs(include_importing=True))
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

    This is the system's own bookkeeping, done with the store of ``store``'s settings
    whoever looks: a user who sees a shared run whose worker died fixes its status too.

    Args:
        store: the run store, or a user's :class:`finml.access.ScopedStore`.
        runs: the runs to check (default: every run in the store).

    Returns:
        list[str]: ids of the runs changed.
    """
    from finml.store import ACTIVE, RunStore

    settings = (store or RunStore()).settings
    system = RunStore(settings)  # a system action: whoever looks, the run's state is fixed
    run_executor = executor(settings)
    marked = []
    for run in system.list_runs() if runs is None else runs:
        if run.status in ACTIVE:
            final = run_executor.ended(settings, run)
            if final is not None:
                system.set_status(run.run_id, *final)
                marked.append(run.run_id)
        elif run.followup and not run_executor.is_alive(settings, run.run_id):
            system.set_followup(run.run_id, "")  # the worker died after the result
            marked.append(run.run_id)
    return marked


def list_runs(store: RunStore | None = None) -> list[RunInfo]:
    """Recover interrupted runs, then list every run (every run the user of a
    :class:`finml.access.ScopedStore` may see), newest first."""
    from finml.store import RunStore

    store = store or RunStore()
    runs = store.list_runs()
    if recover_interrupted(store, runs):  # a system action, whoever looks
        runs = store.list_runs()
    return runs


def queue_positions(settings: Settings | None = None) -> dict[str, int]:
    """Place of each queued run in the queue of everyone's runs (:func:`queue_places`
    over the run store's runs). Only places and run ids: a user's page looks up its own
    runs in it.

    Returns:
        dict: run id -> place, for the queued runs only; 0: a slot is free, its worker is
        starting.
    """
    from finml.store import RunStore

    settings = settings or get_settings()
    slots = 0 if settings.ray_address else settings.max_workers  # Ray places its own jobs
    return queue_places(RunStore(settings).list_runs(), slots)


def queue_places(runs: list, slots: int) -> dict[str, int]:
    """Place of each queued run among ``runs`` (oldest submit first), counted behind the
    ``slots`` training slots: the runs that fit in the slots left free by the running
    ones are starting (place 0), the next waits at place 1.

    Args:
        runs: :class:`~finml.store.RunInfo` of every user.
        slots: training jobs that may run at once (``FINML_MAX_WORKERS``); 0 when a
            cluster (Ray) decides, then every queued run has a place from 1.

    Returns:
        dict: run id -> place (0 = its worker is starting), for the queued runs only.
    """
    from finml.store import QUEUED, RUNNING

    free = max(slots - sum(r.status == RUNNING for r in runs), 0)
    queued = sorted((r for r in runs if r.status == QUEUED), key=lambda r: r.submitted)
    return {r.run_id: max(i - free, 0) for i, r in enumerate(queued, start=1)}
