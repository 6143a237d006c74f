"""Stage a dataset in the workspace under a random id, so a worker process can read it and
a reloaded page can find it again.

Uploaded bytes never reach disk under the client's filename: only the parsed table is
written, as Parquet (images as ``.npz``, no pickle), under a fresh UUID in the owner's own
folder (named by a hash of the user id, :func:`finml.access.user_folder`); the analyst's
choices (the dataset spec) are kept beside it as JSON.

A dataset id is ``<owner folder>-<uuid>`` (16 + 1 + 32 hex characters), so a worker finds
the file from the id alone and :func:`check_dataset` can tell whose it is.
Ids of plain 32 hex characters (staged before owners existed) live at the top of the
datasets folder and belong to the local user.
"""

from __future__ import annotations

import errno
import json
import re
import time
import uuid
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd

from finml.config import Settings, get_settings
from finml.errors import StoreError

_ID = re.compile(r"^(?:([0-9a-f]{16})-)?([0-9a-f]{32})$")

#: What a missing dataset, a malformed id and another user's dataset all say.
GONE = "That dataset is no longer in the workspace; choose the data again."


def _path(dataset_id: str, settings: Settings, suffix: str = ".parquet") -> Path:
    match = _ID.match(dataset_id)
    if not match:
        raise StoreError(f"{dataset_id!r} is not a dataset id.")
    folder, key = match.groups()
    base = settings.datasets_dir / folder if folder else settings.datasets_dir
    return base / f"{key}{suffix}"


def _published(dataset_id: str, settings: Settings, suffix: str) -> None:
    """Upload a staged file to the tracking server when the store is one
    (:mod:`finml.data.remote`), so workers elsewhere can read it."""
    from finml.data import remote

    if not remote.is_remote(settings):
        return
    try:
        remote.publish(
            _path(dataset_id, settings, suffix), dataset_owner_folder(dataset_id), settings
        )
    except Exception as exc:  # the server is down, refused the upload, ...
        raise StoreError(
            "The data could not be sent to the tracking server "
            f"({type(exc).__name__}: {str(exc)[:200]}). Check that it is running, then try again."
        ) from exc


def _local(dataset_id: str, settings: Settings, suffix: str = ".parquet") -> Path:
    """The staged file's path, fetched from the tracking server first if it is not here."""
    from finml.data import remote

    path = _path(dataset_id, settings, suffix)
    if not path.exists() and remote.is_remote(settings):
        path.parent.mkdir(parents=True, exist_ok=True)
        remote.fetch(path, dataset_owner_folder(dataset_id), settings)
    return path


def dataset_owner_folder(dataset_id: str) -> str:
    """The owner's folder named in a dataset id (the local user's for an id without one).

    Raises:
        StoreError: a malformed id.
    """
    from finml.access import LOCAL_ID, user_folder

    match = _ID.match(dataset_id)
    if not match:
        raise StoreError(f"{dataset_id!r} is not a dataset id.")
    return match.group(1) or user_folder(LOCAL_ID)


def check_dataset(who, dataset_id: str) -> None:
    """The one ownership check of a staged dataset: its id names its owner's folder; an id
    of another user's dataset fails exactly like one that does not exist (or a malformed
    one). A staged dataset is its owner's alone, admins' included: others reach its rows
    only through a run its owner shared (:mod:`finml.run_data`).

    Args:
        who: the :class:`finml.access.Principal` asking.
        dataset_id: the id, perhaps from a URL.

    Raises:
        StoreError: :data:`GONE`, unless the dataset is in ``who``'s own folder.
    """
    try:
        folder = dataset_owner_folder(dataset_id)
    except StoreError as exc:
        raise StoreError(GONE) from exc
    if folder != who.folder:
        raise StoreError(GONE)


def _new_id(settings: Settings, owner: str) -> str:
    """A fresh dataset id in ``owner``'s folder (created if new)."""
    from finml.access import user_folder

    folder = user_folder(owner)
    (settings.datasets_dir / folder).mkdir(parents=True, exist_ok=True)
    return f"{folder}-{uuid.uuid4().hex}"


@contextmanager
def _writing(tmp: Path, what: str):
    """Write through ``tmp``: on any OS error remove it and say what happened (a full disk
    first of all), so no half-written file is left behind."""
    try:
        yield
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        if exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
            raise StoreError(
                f"The disk is full: {what} could not be saved ({exc.strerror}). Free some "
                "space in the data folder (delete old runs), then try again."
            ) from exc
        raise StoreError(f"{what} could not be saved ({exc.strerror or exc}).") from exc


def stage_frame(frame: pd.DataFrame, settings: Settings | None = None, owner: str = "local") -> str:
    """Write ``frame`` to ``owner``'s folder of the workspace and return its new id.

    Text-like columns of mixed types are stored as strings so Parquet can hold them.
    """
    settings = settings or get_settings()
    dataset_id = _new_id(settings, owner)
    out = frame.copy()
    for c in out.columns:
        if out[c].dtype == object:
            out[c] = out[c].astype("string")
    tmp = _path(dataset_id, settings).with_suffix(".tmp")
    with _writing(tmp, "The table"):
        out.to_parquet(tmp, index=False)
        tmp.rename(_path(dataset_id, settings))
    _published(dataset_id, settings, ".parquet")
    return dataset_id


def dataset_digest(dataset_id: str, settings: Settings | None = None) -> str:
    """SHA-256 (hex) of a staged table's file: the same rows and types give the same digest.

    Raises:
        StoreError: the id is malformed or no such dataset is staged.
    """
    import hashlib

    path = _local(dataset_id, settings or get_settings())
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    except FileNotFoundError as exc:
        raise StoreError(f"Dataset {dataset_id} is no longer in the workspace.") from exc
    return digest.hexdigest()


def load_staged(dataset_id: str, settings: Settings | None = None) -> pd.DataFrame:
    """Read a staged table back: its text columns as pandas' ``str`` (missing as NaN), as
    :func:`finml.data.reader.read_table` gives an upload's (no Python object per value:
    converting them took 0.8 s at 1M rows).

    Raises:
        StoreError: the id is malformed or no such dataset is staged.
    """
    path = _local(dataset_id, settings or get_settings())
    if not path.exists():
        raise StoreError(
            f"Dataset {dataset_id} is no longer in the workspace; load the data again."
        )
    frame = pd.read_parquet(path)
    for c in frame.columns:  # pandas' str (NaN missing), as an upload's text: held by Arrow
        dtype = frame[c].dtype
        if isinstance(dtype, pd.StringDtype) and dtype.na_value is pd.NA:
            frame[c] = frame[c].astype(pd.StringDtype(dtype.storage, na_value=np.nan))
    return frame


#: Arrays of a staged image set.
IMAGE_ARRAYS = ("images", "labels", "groups", "names")


def stage_images(
    images: np.ndarray,
    labels: np.ndarray,
    groups: np.ndarray,
    names: list[str],
    settings: Settings | None = None,
    owner: str = "local",
) -> str:
    """Write an image set to ``owner``'s folder of the workspace (``.npz``, no pickle) and
    return its new id.

    Args:
        images: uint8 array of shape (n, size, size, channels).
        labels: class name per image, shape (n,).
        groups: split group per image (patient key or near-duplicate group), shape (n,).
        names: display name per image.
    """
    settings = settings or get_settings()
    dataset_id = _new_id(settings, owner)
    tmp = _path(dataset_id, settings, ".tmp.npz")
    with _writing(tmp, "The images"):
        np.savez(
            tmp,
            images=np.asarray(images, dtype=np.uint8),
            labels=np.asarray(labels, dtype=str),
            groups=np.asarray(groups, dtype=str),
            names=np.asarray(names, dtype=str),
        )
        tmp.rename(_path(dataset_id, settings, ".npz"))
    _published(dataset_id, settings, ".npz")
    return dataset_id


def load_staged_images(dataset_id: str, settings: Settings | None = None) -> dict[str, np.ndarray]:
    """Read a staged image set back: {"images", "labels", "groups", "names"} arrays.

    Raises:
        StoreError: the id is malformed or no such image set is staged.
    """
    path = _local(dataset_id, settings or get_settings(), ".npz")
    if not path.exists():
        raise StoreError(f"Image set {dataset_id} is no longer in the workspace; load it again.")
    with np.load(path, allow_pickle=False) as data:
        return {k: data[k] for k in IMAGE_ARRAYS}


def cache_prefix(dataset_id: str, settings: Settings | None = None) -> str:
    """The staged set's path without suffix: what is computed from its data (e.g. image
    features) may be cached at ``<prefix>.<name>`` beside it, in its owner's folder, and
    goes when the set goes (:func:`remove_dataset`).

    Raises:
        StoreError: a malformed id.
    """
    return str(_path(dataset_id, settings or get_settings(), ""))


def save_dataset_spec(spec, settings: Settings | None = None) -> None:
    """Keep the analyst's choices (:mod:`finml.data.spec`) beside the staged data, so a
    page reloaded with ``?dataset=<id>`` can restore them."""
    from finml.data.spec import dataset_spec_to_dict

    settings = settings or get_settings()
    path = _path(spec.dataset_id, settings, ".json")
    tmp = path.with_suffix(".json.tmp")
    with _writing(tmp, "The dataset's settings"):
        tmp.write_text(json.dumps(dataset_spec_to_dict(spec)))
        tmp.rename(path)
    _published(spec.dataset_id, settings, ".json")


def load_dataset_spec(dataset_id: str, settings: Settings | None = None):
    """The dataset spec saved by :func:`save_dataset_spec`.

    Raises:
        StoreError: a malformed id, or no such dataset (or its spec) in the workspace.
    """
    from finml.data.spec import dataset_spec_from_dict

    gone = StoreError(GONE)
    if not _ID.match(dataset_id):
        raise gone  # a malformed id (from a URL) is never echoed back
    path = _local(dataset_id, settings or get_settings(), ".json")
    try:
        return dataset_spec_from_dict(json.loads(path.read_text()))
    except (OSError, ValueError, TypeError, KeyError) as exc:
        raise gone from exc


#: The files a staged dataset may have, by suffix.
_SUFFIXES = (".parquet", ".npz", ".json")


def remove_dataset(dataset_id: str, settings: Settings | None = None) -> None:
    """Delete a staged dataset (its data, settings and caches) from the workspace."""
    settings = settings or get_settings()
    for suffix in _SUFFIXES:
        _path(dataset_id, settings, suffix).unlink(missing_ok=True)
    prefix = _path(dataset_id, settings, "")
    for cached in prefix.parent.glob(f"{prefix.name}.features-*"):
        cached.unlink(missing_ok=True)


def sweep_datasets(
    in_use: set[str], older_than_s: float, settings: Settings | None = None
) -> list[str]:
    """Remove staged datasets that no run uses and that are older than ``older_than_s``
    seconds, and unfinished ``*.tmp`` files older than an hour.

    Args:
        in_use: dataset ids that runs refer to (kept whatever their age).
        older_than_s: retention period of unused datasets, in seconds.
        settings: the settings.

    Returns:
        list[str]: the ids removed.
    """
    settings = settings or get_settings()
    if not settings.datasets_dir.is_dir():
        return []
    now, removed = time.time(), set()
    for path in list(settings.datasets_dir.rglob("*")):
        if not path.is_file():  # a folder, or a sibling removed just before
            continue
        dataset_id = path.name.split(".", 1)[0]
        if path.parent != settings.datasets_dir:  # an owner's folder
            dataset_id = f"{path.parent.name}-{dataset_id}"
        age = now - path.stat().st_mtime
        if ".tmp" in path.suffixes:
            if age > 3600:
                path.unlink(missing_ok=True)
        elif _ID.match(dataset_id) and dataset_id not in in_use and age > older_than_s:
            remove_dataset(dataset_id, settings)
            removed.add(dataset_id)
    return sorted(removed)
