"""The rows behind a run: the one way Evaluate's drill-downs, SHAP colours, the image views,
the regression view's largest errors and the HTML report reach the staged data a run
trained on.

Rule: **a run reaches only data in its own owner's folder.** A run's parameters name its
dataset (``dataset_id``), and that id names the folder of the user who staged it
(:mod:`finml.data.staging`); the rows are read only if that folder is the run owner's.
An imported run reaches no data at all: an import brings no rows, and a ``dataset_id`` in
an imported record (or one written by an older finml) is never followed. So a shared run
shows its owner's rows, a forged or imported pointer shows nothing, and a run one may not
see fails exactly like a missing one (:meth:`finml.access.ScopedStore.check`).

Reading another user's rows through a run they shared is recorded in the audit trail
(``read_rows``: the run, its owner, the dataset) each time the rows are read; pages read
them once per session and run.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from finml import audit
from finml.access import ScopedStore, owner_of, user_folder
from finml.data.staging import dataset_owner_folder, load_staged, load_staged_images
from finml.errors import StoreError


def dataset_of(store: ScopedStore, run_id: str, record: bool = True) -> str | None:
    """The id of the staged dataset ``run_id`` may reach, after every check.

    Args:
        store: the user's scoped run store.
        run_id: the run.
        record: record a ``read_rows`` audit event when the run is another user's.

    Returns:
        The dataset id, or ``None`` when the run reaches no data: imported, no dataset, a
        malformed id, or an id in a folder other than the run owner's.

    Raises:
        StoreError: a run the user may not see (as if it did not exist).
    """
    run = store.check(run_id)
    dataset_id = run.params.get("dataset_id", "")
    if not dataset_id or run.tags.get("finml.imported") == "1":
        return None
    try:
        folder = dataset_owner_folder(dataset_id)
    except StoreError:
        return None
    owner = owner_of(run)
    if folder != user_folder(owner):
        return None
    if record and owner != store.who.user_id:
        details = {"owner": owner, "dataset": dataset_id}
        audit.record(store.who, "read_rows", run_id, store.settings, **details)
    return dataset_id


def run_table(store: ScopedStore, run_id: str) -> pd.DataFrame | None:
    """The staged table a run trained on, (n_rows, n_columns), in the order the run's
    ``row`` numbers refer to; ``None`` if the run reaches no data (:func:`dataset_of`) or
    the table is gone from the workspace.

    Raises:
        StoreError: a run the user may not see (as if it did not exist).
    """
    return _read(store, run_id, load_staged)


def run_images(store: ScopedStore, run_id: str) -> dict[str, np.ndarray] | None:
    """The staged image set a run trained on (``images`` uint8 (n, size, size, channels),
    ``labels``, ``groups``, ``names``); ``None`` if the run reaches no data or the set is
    gone.

    Raises:
        StoreError: a run the user may not see (as if it did not exist).
    """
    return _read(store, run_id, load_staged_images)


def _read(store: ScopedStore, run_id: str, load):
    """``load(dataset_id, settings)`` of the dataset ``run_id`` may reach, or ``None``."""
    dataset_id = dataset_of(store, run_id)
    if dataset_id is None:
        return None
    try:
        return load(dataset_id, store.settings)
    except StoreError:
        return None
