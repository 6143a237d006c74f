"""Settings of finml, read from environment variables with embedded defaults.

| variable | default | meaning |
| --- | --- | --- |
| ``FINML_DATA_DIR`` | ``<project>/data`` | folder for the run store, staged data and job files |
| ``MLFLOW_TRACKING_URI`` | ``sqlite:///<data dir>/mlflow.db`` | MLflow tracking store |
| ``FINML_MAX_WORKERS`` | ``2`` | training jobs that may run at once; the rest are queued |
| ``FINML_MAX_UPLOAD_MB`` | ``200`` | largest accepted upload, in MiB |
| ``FINML_MAX_ROWS`` | ``1000000`` | most data rows accepted in one table |
| ``FINML_MAX_COLUMNS`` | ``10000`` | most columns accepted in one table |
| ``FINML_DATASET_RETENTION_DAYS`` | ``30`` | a staged dataset no run uses is removed after this |
| ``FINML_IMPORT_QUOTA_MB`` | ``2048`` | most MiB of imported runs one user may keep |
| ``FINML_WARM_WORKER`` | ``1`` | keep one spare worker with TensorFlow imported (0 = off) |
| ``FINML_WARM_IDLE_S`` | ``1800`` | seconds an unused spare worker waits before it exits |
| ``FINML_SECRET_KEY`` | generated | the installation's secret key (64 hex characters); |
|  |  | default: ``<data dir>/secrets/finml.key``, made on first use |
| ``FINML_ADMINS`` | empty | e-mails of the admins of a team deployment (comma separated); |
|  |  | the role needs the provider's ``email_verified`` claim true |
| ``FINML_ALLOW_ANONYMOUS`` | ``0`` | ``1``: serve a non-loopback address without sign-in |
| ``FINML_RAY_ADDRESS`` | empty | Ray dashboard address (``http://head:8265``): runs become |
|  |  | Ray jobs (:mod:`finml.training.ray_jobs`); empty: local workers |
| ``FINML_RAY_CPUS`` | ``1`` | CPUs each Ray job asks for |
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
    max_columns: int = 10_000
    dataset_retention_days: int = 30
    import_quota_bytes: int = 2048 << 20
    warm_worker: bool = True
    warm_idle_s: int = 1800
    admins: frozenset[str] = frozenset()
    allow_anonymous: bool = False
    ray_address: str = ""
    ray_cpus: int = 1

    @property
    def artifact_root(self) -> Path:
        """Folder where MLflow stores run artifacts (local store only)."""
        return self.data_dir / "artifacts"

    @property
    def jobs_dir(self) -> Path:
        """Folder with one sub-folder per run: spec, stop request, worker log, locks."""
        return self.data_dir / "jobs"

    @property
    def secrets_dir(self) -> Path:
        """Folder of the installation's secret key (mode 0700): in the data folder, but
        outside the run store (MLflow's database and artifacts) and the repository."""
        return self.data_dir / "secrets"

    @property
    def datasets_dir(self) -> Path:
        """Folder of staged datasets, each under a random id (never a client filename)."""
        return self.data_dir / "datasets"

    def read_limits(self) -> dict[str, int]:
        """The caps of :func:`finml.data.reader.read_table`, as keyword arguments."""
        return {
            "max_bytes": self.max_upload_bytes,
            "max_rows": self.max_rows,
            "max_columns": self.max_columns,
        }

    def environment(self) -> dict[str, str]:
        """These settings as the environment variables they are read from (for a worker
        process: it must see the same store and folders)."""
        return {
            "FINML_DATA_DIR": str(self.data_dir),
            "MLFLOW_TRACKING_URI": self.tracking_uri,
            "FINML_MAX_WORKERS": str(self.max_workers),
            "FINML_MAX_UPLOAD_MB": str(self.max_upload_bytes >> 20),
            "FINML_MAX_ROWS": str(self.max_rows),
            "FINML_MAX_COLUMNS": str(self.max_columns),
            "FINML_DATASET_RETENTION_DAYS": str(self.dataset_retention_days),
            "FINML_IMPORT_QUOTA_MB": str(self.import_quota_bytes >> 20),
            "FINML_WARM_WORKER": "1" if self.warm_worker else "0",
            "FINML_WARM_IDLE_S": str(self.warm_idle_s),
        }


def admin_emails(raw: str) -> frozenset[str]:
    """The admins' e-mails of ``FINML_ADMINS`` (comma or space separated), lower case."""
    return frozenset(e.strip().lower() for e in raw.replace(",", " ").split() if e.strip())


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
        max_columns=_int_env("FINML_MAX_COLUMNS", 10_000),
        dataset_retention_days=_int_env("FINML_DATASET_RETENTION_DAYS", 30),
        import_quota_bytes=_int_env("FINML_IMPORT_QUOTA_MB", 2048) << 20,
        warm_worker=os.environ.get("FINML_WARM_WORKER", "1").strip() not in ("0", "false", "no"),
        warm_idle_s=_int_env("FINML_WARM_IDLE_S", 1800),
        admins=admin_emails(os.environ.get("FINML_ADMINS", "")),
        allow_anonymous=os.environ.get("FINML_ALLOW_ANONYMOUS", "0").strip()
        in ("1", "true", "yes"),
        ray_address=os.environ.get("FINML_RAY_ADDRESS", "").strip().rstrip("/"),
        ray_cpus=_int_env("FINML_RAY_CPUS", 1),
    )


def secret_key(settings: Settings | None = None) -> bytes:
    """The installation's secret key: ``FINML_SECRET_KEY`` (64 hex characters) if set, else
    32 random bytes in ``<data dir>/secrets/finml.key``, created (mode 0600) on first use.
    It keys the hash of patient IDs (:func:`finml.data.images.patient_key`), so a hash
    cannot be reversed by hashing guesses without it.

    Raises:
        ValueError: ``FINML_SECRET_KEY`` is not 64 hex characters.
    """
    raw = os.environ.get("FINML_SECRET_KEY", "").strip()
    if raw:
        try:
            key = bytes.fromhex(raw)
        except ValueError:
            key = b""
        if len(key) != 32:
            raise ValueError("Setting FINML_SECRET_KEY must be 64 hex characters (32 bytes).")
        return key
    folder = (settings or get_settings()).secrets_dir
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = folder / "finml.key"
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_bytes()
    with os.fdopen(fd, "wb") as fh:  # only the process that created it writes it
        fh.write(os.urandom(32))
    return path.read_bytes()
