"""Population stability: the training profile a model is fitted on, and the population
stability index (PSI) of new data against it, per feature and for the score.

PSI = sum_b (a_b - e_b) * ln(a_b / e_b), with e_b and a_b the shares of the reference
(training) and new data in bin b; numeric bins are the deciles of the reference (open at
both ends), categorical bins its categories; an empty share is floored at 0.0001 so the
logarithm exists (Siddiqi, Credit Risk Scorecards, 2006, ch. 8). Bands: :data:`PSI_BANDS`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

#: Usual PSI bands: below 0.1 stable, 0.1 to 0.25 a moderate shift, above 0.25 a major shift.
PSI_BANDS = (0.1, 0.25)
#: Floor of a share in the PSI formula.
_FLOOR = 1e-4


def _psi(expected: np.ndarray, actual: np.ndarray) -> float:
    """PSI of two share vectors over the same bins."""
    e = np.maximum(np.asarray(expected, dtype=float), _FLOOR)
    a = np.maximum(np.asarray(actual, dtype=float), _FLOOR)
    return float(np.sum((a - e) * np.log(a / e)))


def reference_bins(values: np.ndarray, n_bins: int = 10) -> dict[str, list[float]]:
    """Decile bins of a reference sample for PSI: inner ``edges`` (open at both ends) and the
    ``shares`` of the sample in each bin (JSON-serialisable).

    Args:
        values: finite float values, shape (n,), n >= 1.
    """
    values = np.asarray(values, dtype=float)
    edges = np.unique(np.quantile(values, np.linspace(0, 1, n_bins + 1))[1:-1])
    counts = np.bincount(np.searchsorted(edges, values, side="right"), minlength=len(edges) + 1)
    return {"edges": edges.tolist(), "shares": (counts / len(values)).tolist()}


def psi_binned(reference: dict[str, list[float]], actual: np.ndarray) -> float:
    """PSI of numeric values ``actual`` against bins from :func:`reference_bins`."""
    edges = np.asarray(reference["edges"])
    actual = np.asarray(actual, dtype=float)
    counts = np.bincount(np.searchsorted(edges, actual, side="right"), minlength=len(edges) + 1)
    return _psi(reference["shares"], counts / max(len(actual), 1))


def psi_categories(reference: dict[str, float], values: pd.Series) -> float:
    """PSI of categorical values against the category shares of the reference; categories
    new to the reference count with a reference share of 0 (floored)."""
    actual = values.astype(str).value_counts(normalize=True)
    keys = sorted(set(reference) | set(actual.index))
    return _psi([reference.get(k, 0.0) for k in keys], [actual.get(k, 0.0) for k in keys])


def psi(expected: np.ndarray, actual: np.ndarray, n_bins: int = 10) -> float:
    """Population stability index of a numeric variable or score between a reference sample
    (``expected``, e.g. the training split) and new data (``actual``), over the deciles of
    ``expected`` (see the module docstring)."""
    return psi_binned(reference_bins(expected, n_bins), actual)


def psi_band(value: float) -> str:
    """``"stable"`` (< 0.1), ``"moderate shift"`` (0.1 to 0.25) or ``"major shift"``."""
    if value < PSI_BANDS[0]:
        return "stable"
    return "moderate shift" if value < PSI_BANDS[1] else "major shift"


def training_profile(
    x_train: pd.DataFrame, numeric: list[str], categorical: list[str], train_scores: np.ndarray
) -> dict:
    """Profile of the training split (JSON-serialisable) for schema checks, PSI and reason
    codes: per numeric column min, max, median and decile bins; per categorical column the
    mode and category shares; the decile bins of the training scores.

    Args:
        x_train: prepared training features (:func:`finml.models.features.prepare_features`).
        numeric: numeric feature columns.
        categorical: categorical feature columns.
        train_scores: model scores of the training rows, shape (n,).
    """
    profile = {"numeric": {}, "categorical": {}, "score": reference_bins(train_scores)}
    for c in numeric:
        v = x_train[c].to_numpy(dtype=float)
        v = v[np.isfinite(v)]
        if not len(v):  # an all-missing training column: nothing to compare with
            v = np.zeros(1)
        profile["numeric"][c] = {
            "min": float(v.min()),
            "max": float(v.max()),
            "median": float(np.median(v)),
            **reference_bins(v),
        }
    for c in categorical:
        shares = x_train[c].dropna().astype(str).value_counts(normalize=True)
        mode = str(shares.idxmax()) if len(shares) else "(missing)"
        profile["categorical"][c] = {"mode": mode, "shares": shares.to_dict()}
    return profile


def psi_table(profile: dict, frame: pd.DataFrame, scores: np.ndarray) -> pd.DataFrame:
    """PSI of the score and of every feature between the training split and new rows, with
    the bands of :func:`psi_band`.

    Args:
        profile: the model's training profile (:func:`training_profile`).
        frame: the new rows, with every feature column.
        scores: their scores, shape (n,).

    Returns:
        DataFrame with ``variable``, ``PSI``, ``band``, sorted by PSI, the score first.
    """
    rows = [("score", psi_binned(profile["score"], np.asarray(scores, dtype=float)))]
    for c, ref in profile["numeric"].items():
        v = pd.to_numeric(frame[c], errors="coerce").to_numpy(dtype=float)
        rows.append((c, psi_binned(ref, v[np.isfinite(v)])))
    for c, ref in profile["categorical"].items():
        rows.append((c, psi_categories(ref["shares"], frame[c].dropna())))
    table = pd.DataFrame(rows, columns=["variable", "PSI"])
    table["band"] = table["PSI"].map(psi_band)
    head, rest = table.iloc[:1], table.iloc[1:].sort_values("PSI", ascending=False)
    return pd.concat([head, rest]).round({"PSI": 4}).reset_index(drop=True)
