"""Model bundles: the model, its fitted preprocessing and metadata, in safe formats.

A bundle is a folder with ``meta.json``, ``preprocessor.skops`` and either ``model.keras``
(Keras models) or ``model.skops`` (scikit-learn models). Nothing is pickled: every model
file goes through :mod:`finml.safe_load` (exact allow-lists, an audit of what was loaded,
Keras with ``safe_mode=True``).
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass
from pathlib import Path

from finml.errors import BundleError, StoreError
from finml.safe_load import load_keras, load_skops

FORMAT_VERSION = 1


@dataclass
class Bundle:
    """A loaded bundle.

    Attributes:
        preprocessor: the fitted ColumnTransformer (None for image models).
        model: the fitted classifier (sklearn) or Keras model.
        meta: metadata (model name, family, features, target, positive class, versions).
    """

    preprocessor: object
    model: object
    meta: dict


def library_versions() -> dict[str, str]:
    """Versions of the libraries a bundle depends on."""
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for pkg in ("finml", "scikit-learn", "keras", "tensorflow-cpu", "tensorflow", "skops", "numpy"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            continue
    return out


def save_bundle(out_dir: Path, *, preprocessor, model, family: str, meta: dict) -> Path:
    """Write a bundle folder.

    Args:
        out_dir: folder to create (must not hold another bundle).
        preprocessor: fitted ColumnTransformer, or None (image models).
        model: fitted model.
        family: ``"keras"`` or ``"sklearn"``.
        meta: JSON-serialisable metadata; ``family``, ``format`` and ``versions`` are added.

    Returns:
        Path: ``out_dir``.
    """
    import skops.io as sio

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    if preprocessor is not None:  # image models scale their inputs themselves
        sio.dump(preprocessor, out_dir / "preprocessor.skops")
    if family == "keras":
        model.save(out_dir / "model.keras")
    else:
        sio.dump(model, out_dir / "model.skops")
    full = {**meta, "family": family, "format": FORMAT_VERSION, "versions": library_versions()}
    (out_dir / "meta.json").write_text(json.dumps(full, indent=2, default=str))
    return out_dir


def load_bundle(bundle_dir: Path) -> Bundle:
    """Load a bundle folder written by :func:`save_bundle`, safely.

    Raises:
        BundleError: files missing, unknown format, or a model file that
            :mod:`finml.safe_load` refuses (a type or class outside its allow-lists, an
            attribute replacing a method, a malformed tree, a Lambda or custom layer).
    """
    bundle_dir = Path(bundle_dir)
    try:
        meta = json.loads((bundle_dir / "meta.json").read_text())
    except (OSError, ValueError) as exc:
        raise BundleError(
            "This is not a finml bundle: meta.json is missing or unreadable."
        ) from exc
    if meta.get("format") != FORMAT_VERSION:
        raise BundleError(f"Unknown bundle format {meta.get('format')!r}.")
    pre = None
    if meta.get("task") != "images":
        pre = load_skops(_member(bundle_dir, "preprocessor.skops"), "preprocessor.skops")
    if meta.get("family") == "keras":
        model = load_keras(_member(bundle_dir, "model.keras"), "model.keras")
    else:
        model = load_skops(_member(bundle_dir, "model.skops"), "model.skops")
    return Bundle(preprocessor=pre, model=model, meta=meta)


def _member(bundle_dir: Path, name: str) -> Path:
    path = bundle_dir / name
    if not path.is_file():
        raise BundleError(f"This finml bundle is incomplete: {name} is missing.")
    return path


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


def export_run(store, run_id: str) -> bytes:
    """One file (a ZIP) with a run's model bundle, test and validation predictions, and its
    metadata, parameters, metrics and learning curves (``run.json``).

    Raises:
        StoreError: the run has no bundle.
    """
    import io
    import zipfile

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


def import_run(data: bytes, store, name: str = "bundle") -> str:
    """Import a run exported by :func:`export_run` into the store, after loading its model
    safely (skops allow-list, Keras ``safe_mode=True``); never unpickles anything.

    Returns:
        str: the new run id (status ``finished``, tag ``finml.imported``).

    Raises:
        BundleError: not a ZIP (e.g. a pickle), members other than :data:`EXPORT_MEMBERS`,
            too large, no ``run.json`` / ``meta.json``, or a model that cannot be loaded
            safely (a Lambda layer, a type outside the allow-list).
    """
    import io
    import tempfile
    import zipfile

    if data[:1] == b"\x80" or data[:2] in (b"cc", b"(d"):
        raise BundleError(
            f"{name} is a Python pickle, not a finml bundle; finml never loads pickles."
        )
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile as exc:
        raise BundleError(f"{name} is not a finml bundle (not a ZIP archive).") from exc
    members = {m.filename: m for m in zf.infolist() if not m.is_dir()}
    unknown = sorted(set(members) - set(EXPORT_MEMBERS))
    if unknown:
        raise BundleError(
            f"{name} is not a finml bundle: it holds {', '.join(map(repr, unknown[:5]))}, which "
            "finml bundles never contain."
        )
    if "run.json" not in members or "bundle/meta.json" not in members:
        raise BundleError(f"{name} is not a finml bundle: run.json or bundle/meta.json is missing.")
    if sum(m.file_size for m in members.values()) > MAX_EXPORT_BYTES:
        raise BundleError(f"{name} declares more than {MAX_EXPORT_BYTES >> 20} MiB uncompressed.")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for member in members:  # only the fixed names above become paths
            target = root / member
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(zf.read(member))
        load_bundle(root / "bundle")  # raises BundleError unless it loads safely
        record = json.loads((root / "run.json").read_text())
        params = {k: v for k, v in record.get("params", {}).items()}
        tags = {
            "finml.model": str(record.get("model", "")),
            "finml.dataset": str(record.get("dataset", "")),
            "finml.imported": "1",
            "finml.task": params.get("task", "table"),
        }
        run_id = store.create_run(f"{record.get('name', 'imported')} (imported)", params, tags)
        store.log_artifacts(run_id, root / "bundle", "bundle")
        if (root / "predictions").is_dir():
            store.log_artifacts(run_id, root / "predictions", "predictions")
        history = record.get("history") or {}
        for i, step in enumerate(history.get("step", [])):
            store.log_step(
                run_id,
                int(step),
                {k: float(v[i]) for k, v in history.items() if k != "step" and v[i] == v[i]},
            )
        metrics = {
            k: float(v) for k, v in record.get("metrics", {}).items() if k.startswith("test_")
        }
        store.log_metrics(run_id, metrics)
        if record.get("threshold") is not None:
            store.set_threshold(run_id, float(record["threshold"]), "imported")
        store.set_status(run_id, "finished")
    return run_id
