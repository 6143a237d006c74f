"""Prediction with a run's saved bundle. TensorFlow is imported only when a Keras bundle is
loaded."""

from __future__ import annotations

import numpy as np
import pandas as pd

from finml.bundle import Bundle, load_bundle
from finml.data.images import ImageSkip, decode_image
from finml.store import RunStore


def load_run_bundle(store: RunStore, run_id: str) -> Bundle:
    """Download and safely load the model bundle of a run.

    Raises:
        StoreError: the run has no bundle.
        BundleError: the bundle cannot be loaded safely.
    """
    with store.artifact(run_id, "bundle") as folder:
        return load_bundle(folder)  # loads everything into memory before the copy is deleted


def image_probabilities(model, images: np.ndarray) -> np.ndarray:
    """Class probabilities of uint8 images of shape (n, size, size, channels): float (n, k)."""
    return np.asarray(model.predict(images, verbose=0, batch_size=64), dtype=np.float64)


def predict_image_files(
    bundle: Bundle, files: list[tuple[str, bytes]]
) -> tuple[pd.DataFrame, np.ndarray, list[tuple[str, str]]]:
    """Score uploaded images (PNG, JPEG, DICOM) with an image bundle.

    Each file is read exactly as in training (same size and channel mode, same safety
    checks); files that cannot be read are skipped with the reason.

    Args:
        bundle: a loaded image bundle (``meta["task"] == "images"``).
        files: (client name, bytes) of each file.

    Returns:
        (table with ``file``, ``predicted class``, ``probability`` and one ``p(<class>)``
        column per class; the decoded uint8 images, shape (n, size, size, channels);
        skipped (file, reason)).
    """
    meta = bundle.meta
    classes = meta["classes"]
    arrays, names, skipped = [], [], []
    for name, data in files:
        try:
            arrays.append(decode_image(data, name, meta["size"], meta["mode"])[0])
            names.append(name)
        except ImageSkip as exc:
            skipped.append((name, str(exc)))
    if not arrays:
        return pd.DataFrame(), np.empty((0,)), skipped
    batch = np.stack(arrays)
    proba = image_probabilities(bundle.model, batch)
    table = pd.DataFrame(
        {
            "file": names,
            "predicted class": [classes[i] for i in proba.argmax(axis=1)],
            "probability": proba.max(axis=1).round(4),
        }
    )
    for i, c in enumerate(classes):
        table[f"p({c})"] = proba[:, i].round(4)
    return table, batch, skipped
