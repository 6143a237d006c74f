"""Scoring new images (PNG, JPEG, DICOM) with an image run's fitted model. TensorFlow is
imported only when the model was loaded."""

from __future__ import annotations

import numpy as np
import pandas as pd

from finml.data.images import ImageSkip, decode_image
from finml.models.pipeline import FittedModel


def predict_image_files(
    model: FittedModel, files: list[tuple[str, bytes]]
) -> tuple[pd.DataFrame, np.ndarray, list[tuple[str, str]]]:
    """Score uploaded images (PNG, JPEG, DICOM) with an image bundle.

    Each file is read exactly as in training (same size and channel mode, same safety
    checks); files that cannot be read are skipped with the reason.

    Args:
        model: an image run's fitted model.
        files: (client name, bytes) of each file.

    Returns:
        (table with ``file``, ``predicted class``, ``probability`` and one ``p(<class>)``
        column per class; the decoded uint8 images, shape (n, size, size, channels);
        skipped (file, reason)).
    """
    classes = list(model.class_names)
    size, _, channels = model.image_shape
    mode = "L" if channels == 1 else "RGB"
    arrays, names, skipped = [], [], []
    for name, data in files:
        try:
            arrays.append(decode_image(data, name, size, mode)[0])
            names.append(name)
        except ImageSkip as exc:
            skipped.append((name, str(exc)))
    if not arrays:
        return pd.DataFrame(), np.empty((0,)), skipped
    batch = np.stack(arrays)
    proba = model.predict_proba(batch)
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
