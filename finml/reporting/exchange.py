"""A run as one file: export (model bundle, predictions, metrics, learning curves) and a
safe import of such a file from someone else.

An import reads the ZIP in memory with caps on declared sizes and the compression ratio,
accepts only the member names finml writes (never used as paths), loads the model through
:mod:`finml.models.bundle` (safe formats only), checks ``run.json`` field by field and reads
the predictions, all **before** it creates a run: a refused file leaves nothing behind.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from finml import access
from finml.errors import BundleError, StoreError, listing
from finml.models.bundle import load_bundle

#: Members a run export may contain; anything else makes the import refuse the file.
EXPORT_MEMBERS = (
    "run.json",
    "bundle/meta.json",
    "bundle/preprocessor.skops",
    "bundle/model.skops",
    "bundle/model.keras",
    "predictions/test.parquet",
    "predictions/validation.parquet",
)
#: Largest run export accepted, declared uncompressed bytes.
MAX_EXPORT_BYTES = 1 << 30
#: Most bytes an export may declare per byte of the file (a ZIP bomb declares many).
MAX_EXPORT_RATIO = 200
#: Most learning-curve steps an import may carry.
MAX_STEPS = 100_000
#: Columns the stored predictions must have: of a classifier, and of a regression run.
PREDICTION_COLUMNS = ("row", "y_true", "score")
REGRESSION_COLUMNS = ("row", "y_true", "y_pred")


def export_run(store, run_id: str) -> bytes:
    """One file (a ZIP) with a run's model bundle, test and validation predictions, and its
    metadata, parameters, metrics and learning curves (``run.json``).

    Raises:
        StoreError: the run has no bundle.
    """
    info = store.get_run(run_id)
    record = {
        "name": info.name,
        "model": info.model,
        "dataset": info.dataset,
        "status": info.status,
        "params": info.params,
        "metrics": info.metrics,
        "threshold": info.threshold,
        "history": store.history(run_id).to_dict(orient="list"),
    }
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("run.json", json.dumps(record, default=str))
        with store.artifact(run_id, "bundle") as bundle_dir:
            for path in sorted(bundle_dir.iterdir()):
                zf.write(path, f"bundle/{path.name}")
        for part in ("test", "validation"):
            member = f"predictions/{part}.parquet"
            with contextlib.suppress(StoreError), store.artifact(run_id, member) as path:
                zf.write(path, member)  # a run stopped before training has none
    return buf.getvalue()


@dataclass(frozen=True)
class RunRecord:
    """A checked ``run.json``: every field of the right type."""

    name: str
    model: str
    dataset: str
    params: dict[str, str]
    metrics: dict[str, float]
    threshold: float | None
    history: dict[str, list[float]]


def _number(value, where: str, missing_ok: bool = False) -> float:
    """A finite number (or NaN where ``missing_ok``: a metric an epoch did not log)."""
    if missing_ok and value is None:
        return math.nan
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise BundleError(f"run.json: {where} is not a number.")
    try:
        out = float(value)
    except ValueError:
        raise BundleError(f"run.json: {where} is not a number ({value!r}).") from None
    if not (math.isfinite(out) or (missing_ok and math.isnan(out))):
        raise BundleError(f"run.json: {where} is not a finite number ({value!r}).")
    return out


def parse_record(text: bytes, name: str) -> RunRecord:
    """Check ``run.json`` of an export.

    Raises:
        BundleError: not JSON, not an object, a field of the wrong type, learning curves of
            different lengths, a non-numeric metric, or a threshold outside [0, 1].
    """
    try:
        raw = json.loads(text.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise BundleError(f"{name}: run.json is not valid JSON ({exc}).") from exc
    if not isinstance(raw, dict):
        raise BundleError(f"{name}: run.json does not hold an object.")
    texts = {k: raw.get(k, "") for k in ("name", "model", "dataset")}
    if not all(isinstance(v, str) for v in texts.values()):
        raise BundleError(f"{name}: run.json: name, model and dataset must be text.")
    params, metrics = raw.get("params", {}), raw.get("metrics", {})
    if not isinstance(params, dict) or not isinstance(metrics, dict):
        raise BundleError(f"{name}: run.json: params and metrics must be objects.")
    metrics = {str(k): _number(v, f"metric {k!r}") for k, v in metrics.items()}
    threshold = raw.get("threshold")
    if threshold is not None:
        threshold = _number(threshold, "the threshold")
        if not 0.0 <= threshold <= 1.0:
            raise BundleError(f"{name}: run.json: the threshold {threshold} is not in [0, 1].")
    history = raw.get("history") or {}
    if not isinstance(history, dict) or not all(isinstance(v, list) for v in history.values()):
        raise BundleError(f"{name}: run.json: the learning curves must be lists.")
    lengths = {len(v) for v in history.values()}
    if len(lengths) > 1 or max(lengths, default=0) > MAX_STEPS:
        raise BundleError(
            f"{name}: run.json: the learning curves have different lengths "
            f"({', '.join(f'{k}: {len(v)}' for k, v in history.items())})."
            if len(lengths) > 1
            else f"{name}: run.json: more than {MAX_STEPS:,} learning-curve steps."
        )
    curves = {
        str(k): [
            _number(v, f"learning curve {k!r} step {i + 1}", missing_ok=True)
            for i, v in enumerate(values)
        ]
        for k, values in history.items()
    }
    if "step" in curves and not all(s >= 0 and s == int(s) for s in curves["step"]):
        raise BundleError(f"{name}: run.json: learning-curve steps must be whole numbers >= 0.")
    return RunRecord(
        name=texts["name"] or "imported",
        model=texts["model"],
        dataset=texts["dataset"],
        params={str(k): str(v)[:6000] for k, v in params.items()},
        metrics=metrics,
        threshold=threshold,
        history=curves,
    )


def _read_predictions(path: Path, member: str, name: str, regression: bool = False) -> None:
    try:
        frame = pd.read_parquet(path)
    except Exception as exc:  # pyarrow raises several types for a damaged file
        raise BundleError(f"{name}: {member} is not a readable Parquet file.") from exc
    needed = REGRESSION_COLUMNS if regression else PREDICTION_COLUMNS
    missing = [c for c in needed if c not in frame.columns]
    if missing:
        raise BundleError(f"{name}: {member} lacks the column(s) {', '.join(missing)}.")


def open_export(data: bytes, name: str) -> dict[str, bytes]:
    """The members of a run export, read in memory after every check on the archive.

    Raises:
        BundleError: a pickle, not a ZIP (or a damaged one: bad CRC, lying sizes), members
            other than :data:`EXPORT_MEMBERS`, too large, or a ratio over
            :data:`MAX_EXPORT_RATIO`.
    """
    if data[:1] == b"\x80" or data[:2] in (b"cc", b"(d"):
        raise BundleError(
            f"{name} is a Python pickle, not a finml bundle; finml never loads pickles."
        )
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
        members = {m.filename: m for m in zf.infolist() if not m.is_dir()}
    except (zipfile.BadZipFile, ValueError, OSError) as exc:
        raise BundleError(f"{name} is not a finml bundle (not a ZIP archive).") from exc
    unknown = sorted(set(members) - set(EXPORT_MEMBERS))
    if unknown:
        raise BundleError(
            f"{name} is not a finml bundle: it holds {listing(unknown, 5)}, which finml "
            "bundles never contain."
        )
    if "run.json" not in members or "bundle/meta.json" not in members:
        raise BundleError(f"{name} is not a finml bundle: run.json or bundle/meta.json is missing.")
    declared = sum(m.file_size for m in members.values())
    if declared > MAX_EXPORT_BYTES or declared > MAX_EXPORT_RATIO * len(data) + (1 << 20):
        raise BundleError(
            f"{name} declares {declared / 2**20:,.0f} MiB uncompressed from "
            f"{len(data) / 2**20:,.1f} MiB; finml refuses it (limit "
            f"{MAX_EXPORT_BYTES >> 20} MiB, ratio {MAX_EXPORT_RATIO})."
        )
    out = {}
    for member, info in members.items():
        try:
            with zf.open(info) as fh:
                content = fh.read(info.file_size + 1)
        except (zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:
            raise BundleError(f"{name}: member {member} is damaged ({exc}).") from exc
        if len(content) != info.file_size:
            raise BundleError(f"{name}: member {member} is not the size the archive declares.")
        out[member] = content
    return out


def imported_bytes(store, owner: str) -> int:
    """Bytes of the runs ``owner`` imported and still keeps (tag ``finml.import_bytes``)."""
    return sum(
        int(r.tags.get("finml.import_bytes", 0))
        for r in store.list_runs()
        if r.tags.get("finml.imported") == "1" and access.owner_of(r) == owner
    )


def import_run(data: bytes, store, name: str = "bundle", owner: str = "local") -> str:
    """Import a run exported by :func:`export_run` into the store, after every check
    (:func:`open_export`, the safe model load, :func:`parse_record`, the predictions); never
    unpickles anything, and creates nothing unless all checks pass.

    Args:
        data: the uploaded file's bytes.
        store: the run store.
        name: the file's display name, for messages (never a path).
        owner: who imports it; imports count against their ``FINML_IMPORT_QUOTA_MB``.

    Returns:
        str: the new run id (status ``finished``, tag ``finml.imported``).

    Raises:
        BundleError: any check failed; the message says which and where.
    """
    members = open_export(data, name)
    size = sum(len(content) for content in members.values())
    quota = store.settings.import_quota_bytes
    used = imported_bytes(store, owner)
    if used + size > quota:
        raise BundleError(
            f"{name} takes {size / 2**20:,.1f} MiB, and your imported runs already take "
            f"{used / 2**20:,.1f} MiB of your {quota >> 20:,} MiB. Delete imported runs you no "
            "longer need first."
        )
    record = parse_record(members["run.json"], name)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for member, content in members.items():  # only the fixed names above become paths
            target = root / member
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(content)
        model = load_bundle(root / "bundle")  # raises BundleError unless it loads safely
        task = model.meta["task"]
        if task == "table" and record.params.get("task") == "multiclass":
            task = "multiclass"  # a k-class table model: its bundle says "table"
        predictions = root / "predictions"
        for path in sorted(predictions.glob("*.parquet")) if predictions.is_dir() else ():
            _read_predictions(
                path, f"predictions/{path.name}", name, task in ("regression", "forecast")
            )
        tags = {
            "finml.model": record.model,
            "finml.dataset": record.dataset,
            "finml.imported": "1",
            "finml.import_bytes": str(size),
            access.OWNER_TAG: owner,  # also when the store is not scoped (a script)
            "finml.task": task,
        }
        params = {**record.params, "task": task}
        run_id = store.create_run(f"{record.name} (imported)", params, tags)
        try:
            _log_import(store, run_id, root, record)
        except BaseException:
            store.delete_run(run_id)  # never leave a half-imported run behind
            raise
    return run_id


def _log_import(store, run_id: str, root: Path, record: RunRecord) -> None:
    store.log_artifacts(run_id, root / "bundle", "bundle")
    if (root / "predictions").is_dir():
        store.log_artifacts(run_id, root / "predictions", "predictions")
    steps = record.history.get("step", [])
    for i, step in enumerate(steps):
        values = {k: v[i] for k, v in record.history.items() if k != "step"}
        store.log_step(run_id, int(step), {k: v for k, v in values.items() if v == v})
    store.log_metrics(run_id, {k: v for k, v in record.metrics.items() if k.startswith("test_")})
    if record.threshold is not None:
        store.set_threshold(run_id, record.threshold, "imported")
    meta = json.loads((root / "bundle" / "meta.json").read_text())
    if meta.get("task") in ("regression", "forecast"):  # the intervals Evaluate reads
        store.log_json(run_id, meta["intervals"], "intervals.json")
    store.set_status(run_id, "finished")
