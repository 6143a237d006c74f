"""Model bundles: the model, its fitted preprocessing and metadata, in safe formats.

A bundle is a folder with ``meta.json``, ``preprocessor.skops`` and either ``model.keras``
(Keras models) or ``model.skops`` (scikit-learn models). Nothing is pickled: skops loads
only types on an allow-list, and Keras loads with ``safe_mode=True``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from finml.errors import BundleError

#: Module prefixes whose types a skops file may contain.
SKOPS_ALLOWED_PREFIXES = ("sklearn.", "numpy.", "builtins.", "scipy.")
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


def _load_skops(path: Path):
    import skops.io as sio

    untrusted = sio.get_untrusted_types(file=path)
    refused = [t for t in untrusted if not t.startswith(SKOPS_ALLOWED_PREFIXES)]
    if refused:
        raise BundleError(
            f"{path.name} contains types finml does not load: {', '.join(refused[:5])}."
        )
    return sio.load(path, trusted=untrusted)


def load_bundle(bundle_dir: Path) -> Bundle:
    """Load a bundle folder written by :func:`save_bundle`, safely.

    Raises:
        BundleError: files missing, unknown format, types outside the allow-list, or a Keras
            file that needs unsafe deserialisation (e.g. a Lambda layer).
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
    pre_file = bundle_dir / "preprocessor.skops"
    pre = _load_skops(pre_file) if meta.get("task") != "images" else None
    if meta.get("family") == "keras":
        import keras

        try:
            model = keras.saving.load_model(
                bundle_dir / "model.keras", safe_mode=True, compile=False
            )
        except Exception as exc:
            raise BundleError(f"model.keras could not be loaded safely: {exc}") from exc
    else:
        model = _load_skops(bundle_dir / "model.skops")
    return Bundle(preprocessor=pre, model=model, meta=meta)
