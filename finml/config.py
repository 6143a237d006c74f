"""Settings of finml, read from environment variables with embedded defaults.

| variable | default | meaning |
| --- | --- | --- |
| ``FINML_DATA_DIR`` | ``<project>/data`` | folder for the run store, staged data and job files |
| ``MLFLOW_TRACKING_URI`` | ``sqlite:///<data dir>/mlflow.db`` | MLflow tracking store |
| ``FINML_MAX_WORKERS`` | ``2`` | training jobs that may run at once; the rest are queued |
| ``FINML_MAX_UPLOAD_MB`` | ``200`` | largest accepted upload, in MiB |
| ``FINML_MAX_ROWS`` | ``1000000`` | most data rows accepted in one table |
| ``FINML_WARM_WORKER`` | ``1`` | keep one spare worker with TensorFlow imported (0 = off) |
| ``FINML_WARM_IDLE_S`` | ``1800`` | seconds an unused spare worker waits before it exits |
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Settings:
    """Resolved settings. Build with :func:`get_settings`; paths are absolute."""

    data_dir: Path
    tracking_uri: str
    max_workers: int
    max_upload_bytes: int
    max_rows: int
    warm_worker: bool = True
    warm_idle_s: int = 1800

    @property
    def artifact_root(self) -> Path:
        """Folder where MLflow stores run artifacts (local store only)."""
        return self.data_dir / "artifacts"

    @property
    def jobs_dir(self) -> Path:
        """Folder with one sub-folder per run: spec, stop request, worker log, locks."""
        return self.data_dir / "jobs"

    @property
    def datasets_dir(self) -> Path:
        """Folder of staged datasets, each under a random id (never a client filename)."""
        return self.data_dir / "datasets"

    def environment(self) -> dict[str, str]:
        """These settings as the environment variables they are read from (for a worker
        process: it must see the same store and folders)."""
        return {
            "FINML_DATA_DIR": str(self.data_dir),
            "MLFLOW_TRACKING_URI": self.tracking_uri,
            "FINML_MAX_WORKERS": str(self.max_workers),
            "FINML_MAX_UPLOAD_MB": str(self.max_upload_bytes >> 20),
            "FINML_MAX_ROWS": str(self.max_rows),
            "FINML_WARM_WORKER": "1" if self.warm_worker else "0",
            "FINML_WARM_IDLE_S": str(self.warm_idle_s),
        }


def _int_env(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise ValueError(f"Setting {name}={raw!r} is not a whole number.") from exc
    if value < 1:
        raise ValueError(f"Setting {name}={raw!r} must be at least 1.")
    return value


def get_settings() -> Settings:
    """Read the settings from the environment (cheap; call it where needed).

    Returns:
        Settings: with the data folder created if missing.

    Raises:
        ValueError: if a numeric setting is not a positive whole number.
    """
    data_dir = Path(os.environ.get("FINML_DATA_DIR") or PROJECT_ROOT / "data").resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    tracking_uri = os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{data_dir / 'mlflow.db'}"
    return Settings(
        data_dir=data_dir,
        tracking_uri=tracking_uri,
        max_workers=_int_env("FINML_MAX_WORKERS", 2),
        max_upload_bytes=_int_env("FINML_MAX_UPLOAD_MB", 200) * 1024 * 1024,
        max_rows=_int_env("FINML_MAX_ROWS", 1_000_000),
        warm_worker=os.environ.get("FINML_WARM_WORKER", "1").strip() not in ("0", "false", "no"),
        warm_idle_s=_int_env("FINML_WARM_IDLE_S", 1800),
    )
