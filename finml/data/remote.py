"""Staged datasets through a shared MLflow tracking server, so a worker on another machine
(or a second app server) reads what an analyst staged without a shared folder.

With ``MLFLOW_TRACKING_URI=http(s)://...`` every staged file (table, image set, the
analyst's choices) is also uploaded as an artifact of one MLflow run per owner, in the
experiment :data:`EXPERIMENT` (apart from the runs finml lists), under its own name
(``<uuid>.parquet`` ...). A read that misses the local data folder downloads the file into
it first; the local folder is then a cache. With a local store nothing here is used.
"""

from __future__ import annotations

import contextlib
import tempfile
from pathlib import Path

from finml.config import Settings

#: The MLflow experiment holding staged datasets (one run per owner folder).
EXPERIMENT = "finml-datasets"
#: The tag naming the owner folder of a datasets run.
OWNER_TAG = "finml.datasets_of"


def is_remote(settings: Settings) -> bool:
    """True when the run store is a tracking server (``http://`` or ``https://``)."""
    return settings.tracking_uri.split(":", 1)[0] in ("http", "https")


def _client(settings: Settings):
    from mlflow import MlflowClient

    return MlflowClient(settings.tracking_uri)


def _owner_runs(client, folder: str, create: bool) -> list[str]:
    """The datasets runs of ``folder``, oldest first (one is created if asked and none)."""
    exp = client.get_experiment_by_name(EXPERIMENT)
    exp_id = exp.experiment_id if exp else client.create_experiment(EXPERIMENT)
    found = client.search_runs(
        [exp_id], f"tags.`{OWNER_TAG}` = '{folder}'", order_by=["attributes.start_time ASC"]
    )
    ids = [r.info.run_id for r in found]
    if not ids and create:
        ids = [client.create_run(exp_id, tags={OWNER_TAG: folder}, run_name=folder).info.run_id]
    return ids


def publish(path: Path, folder: str, settings: Settings) -> None:
    """Upload a staged file to its owner's datasets run on the tracking server.

    Args:
        path: the staged file (its name is its artifact name).
        folder: the owner's folder (:func:`finml.access.user_folder`).
        settings: the settings (its tracking URI).
    """
    client = _client(settings)
    client.log_artifact(_owner_runs(client, folder, create=True)[0], str(path))


def fetch(path: Path, folder: str, settings: Settings) -> bool:
    """Download a staged file from the tracking server to ``path`` unless it is there.

    Returns:
        True if ``path`` exists afterwards.
    """
    if path.exists():
        return True
    client = _client(settings)
    for run_id in _owner_runs(client, folder, create=False):
        with tempfile.TemporaryDirectory(dir=path.parent) as tmp, contextlib.suppress(Exception):
            got = Path(client.download_artifacts(run_id, path.name, tmp))
            got.replace(path)  # same file system: an atomic move into the cache
            return True
    return False
