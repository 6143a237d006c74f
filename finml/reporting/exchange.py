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
import tempfile
import zipfile
from pathlib import Path

from finml import access
from finml.errors import BundleError, StoreError, listing
from finml.models.bundle import load_bundle
from finml.reporting import import_checks as checks
from finml.store import IMPORTING_TAG
from finml.tasks import task_of_bundle

#: Members a run export may contain; anything else makes the import refuse the file.
EXPORT_MEMBERS = (
    "run.json",
    "bundle/meta.json",
    "bundle/preprocessor.skops",
    "bundle/model.skops",
    "bundle/model.keras",
    "bundle/scorecard.json",
    "bundle/head.npz",
    "bundle/finetuned.npz",
    "predictions/test.parquet",
    "predictions/validation.parquet",
    "cv/folds.parquet",
    "cv/forecasts.parquet",
    "tuning/trials.parquet",
    "tuning/best_params.json",
    "explain/permutation_importance.parquet",
    "explain/shap_values.parquet",
    "explain/shap.json",
    "split_report.json",
    "split.parquet",
    "forecast_choice.json",
    "documentation.json",
)
#: The run's own artifacts an export carries beside its bundle (whatever the run has).
RESULT_MEMBERS = tuple(m for m in EXPORT_MEMBERS if m != "run.json" and "bundle/" not in m)
#: Largest run export accepted, declared uncompressed bytes.
MAX_EXPORT_BYTES = 1 << 30
#: Most bytes an export may declare per byte of the file (a ZIP bomb declares many).
MAX_EXPORT_RATIO = 200


def export_run(store, run_id: str) -> bytes:
    """One file (a ZIP) with a run's model bundle, its predictions and other results
    (cross-validation folds, trials, explanations, the split), and its metadata,
    parameters, metrics, learning curves and per-fold metrics (``run.json``). Pointers
    into the workspace (``dataset_id``) stay behind: an import never points at data.

    Raises:
        StoreError: the run has no bundle.
    """
    from finml.store import BACKTEST_METRICS, FOLD_METRICS

    info = store.get_run(run_id)
    folds = store.fold_history(run_id, tuple(dict.fromkeys(FOLD_METRICS + BACKTEST_METRICS)))
    record = {
        "name": info.name,
        "model": info.model,
        "dataset": info.dataset,
        "status": info.status,
        "params": {k: v for k, v in info.params.items() if k != "dataset_id"},
        "metrics": info.metrics,
        "threshold": info.threshold,
        "history": store.history(run_id).to_dict(orient="list"),
        "folds": folds.dropna(axis=1, how="all").to_dict(orient="list") if len(folds) else {},
    }
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("run.json", json.dumps(record, default=str))
        with store.artifact(run_id, "bundle") as bundle_dir:
            for path in sorted(bundle_dir.iterdir()):
                zf.write(path, f"bundle/{path.name}")
        for member in RESULT_MEMBERS:
            with contextlib.suppress(StoreError), store.artifact(run_id, member) as path:
                zf.write(path, member)  # e.g. a run stopped before training has none
    return buf.getvalue()


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
    (:func:`open_export`, the safe model load, :mod:`finml.reporting.import_checks` on
    ``run.json`` and every table and JSON member); never unpickles anything, and creates
    nothing unless all checks pass. The new run points at no data (no ``dataset_id``):
    Evaluate shows its stored results, never rows of a workspace.

    The run is written hidden (tag :data:`finml.store.IMPORTING_TAG`) and shown only once
    complete; a failure while writing deletes it, and :func:`finml.store.sweep_imports`
    removes one a dead server left behind.

    Args:
        data: the uploaded file's bytes.
        store: the run store (a :class:`finml.access.ScopedStore`: the run is its user's).
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
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for member, content in members.items():  # only the fixed names above become paths
            target = root / member
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(content)
        try:
            model = load_bundle(root / "bundle")  # raises BundleError unless it loads safely
        except BundleError as exc:
            raise BundleError(f"{name}: {exc}") from None
        record = checks.parse_record(members["run.json"], name, model.meta)
        task = task_of_bundle(model.meta)
        folds = int(record.params.get("cv_folds", "0") or 0)
        for member, content in members.items():
            if member.endswith(".parquet"):
                rules = checks.table_rules(member, task, model.meta, folds)
                checks.read_table(content, member, name, rules)
            elif member.endswith(".json") and member != "run.json" and "bundle/" not in member:
                checks.check_json_member(content, member, name)
        tags = {
            "finml.model": record.model,
            "finml.dataset": record.dataset,
            "finml.imported": "1",
            "finml.import_bytes": str(size),
            access.OWNER_TAG: owner,  # also when the store is not scoped (a script)
            "finml.task": task.name,
            IMPORTING_TAG: "1",  # hidden until complete
        }
        run_id = store.create_run(f"{record.name[:180]} (imported)", record.params, tags)
        try:
            _log_import(store, run_id, root, record, model.meta)
        except BaseException:
            store.delete_run(run_id)  # never leave a half-imported run behind
            raise
    return run_id


def _log_import(store, run_id: str, root: Path, record, meta: dict) -> None:
    """Write a checked import into its (hidden) run, then show it: artifacts, learning
    curves and per-fold metrics in batched writes, metrics, threshold, intervals."""
    from finml.store import FINISHED

    for folder in ("bundle", "predictions", "cv", "tuning", "explain"):
        if (root / folder).is_dir():
            store.log_artifacts(run_id, root / folder, folder)
    with tempfile.TemporaryDirectory() as tmp:
        loose = Path(tmp)
        for member in (
            "split_report.json",
            "split.parquet",
            "forecast_choice.json",
            "documentation.json",
        ):
            if (root / member).is_file():
                (loose / member).write_bytes((root / member).read_bytes())
        if any(loose.iterdir()):
            store.log_artifacts(run_id, loose, None)
    for curves in (record.history, record.folds):
        steps = curves.get("step", [])
        store.log_steps(
            run_id,
            [
                (int(step), {k: v[i] for k, v in curves.items() if k != "step" and v[i] == v[i]})
                for i, step in enumerate(steps)
            ],
        )
    store.log_metrics(run_id, record.metrics)
    if record.threshold is not None:
        store.set_threshold(run_id, record.threshold, "imported")
    if task_of_bundle(meta).tags.intervals:  # the intervals Evaluate reads
        store.log_json(run_id, meta["intervals"], "intervals.json")
    fc = meta.get("forecaster") or {}
    if fc.get("boxcox"):  # the lambdas Evaluate says, from the checked bundle
        from finml.tasks.forecast import boxcox_record

        store.log_json(run_id, boxcox_record(fc.get("entities", [""]), fc["boxcox"]), "boxcox.json")
    store.set_status(run_id, FINISHED)
    store.finish_import(run_id)
