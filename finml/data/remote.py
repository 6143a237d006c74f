"""Staged datasets through a shared MLflow tracking server, so a worker on another machine
(or a second app server) reads what an analyst staged without a shared folder.

With ``MLFLOW_TRACKING_URI=http(s)://...`` every staged file (table, image set, the
analyst's choices) is also uploaded as an artifact of one MLflow run per owner, in the
experiment :data:`EXPERIMENT` (apart from the runs finml lists), under its own name
(``<uuid>.parquet`` ...). A read that misses the local data folder downloads the file into
it first; the local folder is then a cache. With a local store nothing here is used.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from finml.config import Settings
from finml.errors import StoreError

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


def _owner_runs(client, folder: str, create: bool, experiment: str = EXPERIMENT) -> list[str]:
    """The runs of ``folder`` in ``experiment``, oldest first (one is created if asked and
    none)."""
    exp = client.get_experiment_by_name(experiment)
    exp_id = exp.experiment_id if exp else client.create_experiment(experiment)
    found = client.search_runs(
        [exp_id], f"tags.`{OWNER_TAG}` = '{folder}'", order_by=["attributes.start_time ASC"]
    )
    ids = [r.info.run_id for r in found]
    if not ids and create:
        ids = [client.create_run(exp_id, tags={OWNER_TAG: folder}, run_name=folder).info.run_id]
    return ids


def publish(path: Path, folder: str, settings: Settings, experiment: str = EXPERIMENT) -> None:
    """Upload a file to the run of ``folder`` on the tracking server (a staged file to its
    owner's datasets run; an app server's audit trail, :mod:`finml.audit`).

    Args:
        path: the file (its name is its artifact name; a new upload replaces the old).
        folder: the owner's folder (:func:`finml.access.user_folder`), or another name.
        settings: the settings (its tracking URI).
        experiment: the MLflow experiment of the folder's runs.
    """
    client = _client(settings)
    client.log_artifact(_owner_runs(client, folder, True, experiment)[0], str(path))


def fetch_all(folder: str, dest: Path, settings: Settings, experiment: str) -> list[Path]:
    """Download every file of the runs of ``folder`` in ``experiment`` into ``dest``.

    Returns:
        list[Path]: the files downloaded (none if the folder has no run yet).

    Raises:
        StoreError: the tracking server did not answer.
    """
    dest.mkdir(parents=True, exist_ok=True)
    try:
        client = _client(settings)
        out = []
        for run_id in _owner_runs(client, folder, False, experiment):
            for item in client.list_artifacts(run_id):
                if not item.is_dir:
                    out.append(Path(client.download_artifacts(run_id, item.path, str(dest))))
        return out
    except Exception as exc:
        if _unreachable(exc):
            raise _down(settings) from exc
        raise


def _down(settings: Settings) -> StoreError:
    return StoreError(
        f"The tracking server at {settings.tracking_uri} did not answer. Check that it is running."
    )


def fetch(path: Path, folder: str, settings: Settings) -> bool:
    """Download a staged file from the tracking server to ``path`` unless it is there.

    Returns:
        True if ``path`` exists afterwards (False: the server has no such file).

    Raises:
        StoreError: the tracking server did not answer (down, wrong address): said so,
            rather than calling the dataset gone.
    """
    if path.exists():
        return True
    try:
        client = _client(settings)
        for run_id in _owner_runs(client, folder, create=False):
            with tempfile.TemporaryDirectory(dir=path.parent) as tmp:
                try:
                    got = Path(client.download_artifacts(run_id, path.name, tmp))
                except Exception as exc:
                    if _unreachable(exc):
                        raise
                    continue  # not in this run: try the owner's next one
                got.replace(path)  # same file system: an atomic move into the cache
                return True
    except Exception as exc:
        if _unreachable(exc):
            raise _down(settings) from exc
        raise
    return False


#: What a failed request says when the server is not there (requests/urllib3 wording).
_DOWN = ("Connection refused", "Max retries exceeded", "Failed to establish", "timed out")


def _unreachable(exc: BaseException) -> bool:
    """True if ``exc`` (or what caused it) says the tracking server could not be reached."""
    import requests

    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, requests.exceptions.ConnectionError | requests.exceptions.Timeout):
            return True
        if any(word in str(exc) for word in _DOWN):
            return True
        exc = exc.__cause__ or exc.__context__
    return False
