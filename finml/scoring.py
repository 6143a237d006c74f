"""Scoring new table rows with a run's bundle: schema check against the training data,
scores and decisions at the saved threshold, reason codes, population stability (PSI), and
permutation importance for every tabular model.

The training-data *profile* (ranges, typical values, decile bins and category shares of the
training split, and the bins of the training scores) is computed by the worker and stored
in the bundle's ``meta.json``, so new data is compared with what the model was fitted on.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from finml.decision import psi_band, psi_binned, reference_bins
from finml.errors import DataError
from finml.preprocess import prepare_features

#: Reason codes shown per scored row.
TOP_REASONS = 3


def _psi_categories(ref: dict[str, float], values: pd.Series) -> float:
    actual = values.astype(str).value_counts(normalize=True)
    keys = set(ref) | set(actual.index)
    e = np.maximum(np.array([ref.get(k, 0.0) for k in keys]), 1e-4)
    a = np.maximum(np.array([actual.get(k, 0.0) for k in keys]), 1e-4)
    return float(np.sum((a - e) * np.log(a / e)))


def training_profile(
    x_train: pd.DataFrame, numeric: list[str], categorical: list[str], train_scores: np.ndarray
) -> dict:
    """Profile of the training split (JSON-serialisable) for schema checks, PSI and reason
    codes: per numeric column min, max, median and decile bins; per categorical column the
    mode and category shares; the decile bins of the training scores.

    Args:
        x_train: prepared training features (:func:`finml.preprocess.prepare_features`).
        train_scores: model scores of the training rows, shape (n,).
    """
    profile = {"numeric": {}, "categorical": {}, "score": reference_bins(train_scores)}
    for c in numeric:
        v = x_train[c].dropna().to_numpy(dtype=float)
        profile["numeric"][c] = {
            "min": float(v.min()),
            "max": float(v.max()),
            "median": float(np.median(v)),
            **reference_bins(v),
        }
    for c in categorical:
        shares = x_train[c].dropna().astype(str).value_counts(normalize=True)
        profile["categorical"][c] = {"mode": str(shares.idxmax()), "shares": shares.to_dict()}
    return profile


def check_schema(frame: pd.DataFrame, meta: dict) -> tuple[pd.DataFrame, list[str]]:
    """Compare new rows with the training data.

    Args:
        frame: the uploaded rows.
        meta: the bundle's metadata (features and training profile).

    Returns:
        (per-row issue flags: a DataFrame with one text column ``issues``, "" when none;
        messages about the table as a whole: extra columns, wrong types, unseen categories).

    Raises:
        DataError: feature columns are missing (the model cannot score without them).
    """
    numeric, categorical = meta["numeric"], meta["categorical"]
    missing = [c for c in [*numeric, *categorical] if c not in frame.columns]
    if missing:
        raise DataError(
            f"The new data lacks {len(missing)} column(s) the model needs: "
            f"{', '.join(map(repr, missing[:10]))}. Use the same columns as the training data."
        )
    messages = []
    extra = [c for c in frame.columns if c not in (*numeric, *categorical, meta.get("target"))]
    if extra:
        messages.append(
            f"Extra column(s) not used by the model: {', '.join(map(repr, extra[:10]))}."
        )
    issues = [[] for _ in range(len(frame))]
    profile = meta["profile"]
    for c in numeric:
        raw = frame[c]
        num = pd.to_numeric(raw, errors="coerce")
        bad_type = (num.isna() & raw.notna()).to_numpy()
        if bad_type.any():
            messages.append(f"{c!r}: {int(bad_type.sum())} value(s) are not numbers (set missing).")
        ref = profile["numeric"][c]
        low, high = (num < ref["min"]).to_numpy(), (num > ref["max"]).to_numpy()
        for i in np.flatnonzero(bad_type):
            issues[i].append(f"{c}: not a number")
        for i in np.flatnonzero(low | high):
            issues[i].append(
                f"{c}={num.iloc[i]:g} outside training range [{ref['min']:g}, {ref['max']:g}]"
            )
    for c in categorical:
        known = set(profile["categorical"][c]["shares"])
        values = frame[c].astype(str).where(frame[c].notna(), None)
        unseen = values.notna() & ~values.isin(known)
        if unseen.any():
            shown = sorted(set(values[unseen]))[:5]
            messages.append(
                f"{c!r}: {int(unseen.sum())} row(s) with categories unseen in training: {shown}."
            )
        for i in np.flatnonzero(unseen.to_numpy()):
            issues[i].append(f"{c}={values.iloc[i]!r} unseen in training")
    return pd.DataFrame({"issues": ["; ".join(x) for x in issues]}, index=frame.index), messages


def reason_codes(bundle, x: pd.DataFrame, scores: np.ndarray, top: int = TOP_REASONS) -> list[str]:
    """Per-row reason codes, a clearly named approximation (not SHAP): for each feature, the
    score change when that feature alone is set to its typical training value (median or
    mode); the features whose own value raises the score most are the reasons.

    Args:
        bundle: a loaded tabular bundle.
        x: prepared features of the rows, shape (n, k).
        scores: their scores, shape (n,).

    Returns:
        One text per row, e.g. ``"duration_in_month (+0.12); purpose (+0.05)"``.
    """
    from finml.train import predict_scores

    meta, profile = bundle.meta, bundle.meta["profile"]
    features = [*meta["numeric"], *meta["categorical"]]
    deltas = np.zeros((len(x), len(features)))
    for j, c in enumerate(features):
        typical = x.copy()
        if c in profile["numeric"]:
            typical[c] = profile["numeric"][c]["median"]
        else:
            typical[c] = profile["categorical"][c]["mode"]
        xt = bundle.preprocessor.transform(typical).astype(np.float32)
        deltas[:, j] = scores - predict_scores(bundle.model, xt)
    out = []
    for row in deltas:
        order = np.argsort(-row)[:top]
        out.append("; ".join(f"{features[j]} ({row[j]:+.2f})" for j in order if row[j] > 0.005))
    return out


def score_rows(bundle, frame: pd.DataFrame, threshold: float) -> tuple[pd.DataFrame, list[str]]:
    """Score new rows: schema check, score, decision at ``threshold``, reason codes.

    Returns:
        (table with ``score``, ``decision`` ("refuse" when score >= threshold, else
        "accept"), ``reasons``, ``issues`` and the input columns; table-level messages).

    Raises:
        DataError: feature columns are missing.
    """
    from finml.train import predict_scores

    meta = bundle.meta
    issues, messages = check_schema(frame, meta)
    x = prepare_features(frame, meta["numeric"], meta["categorical"])
    scores = predict_scores(bundle.model, bundle.preprocessor.transform(x).astype(np.float32))
    out = pd.DataFrame(
        {
            "score": scores.round(4),
            "decision": np.where(scores >= threshold, "refuse", "accept"),
            "reasons": reason_codes(bundle, x, scores),
            "issues": issues["issues"].to_numpy(),
        },
        index=frame.index,
    )
    return pd.concat([out, frame], axis=1), messages


def psi_table(meta: dict, frame: pd.DataFrame, scores: np.ndarray) -> pd.DataFrame:
    """PSI of the score and of every feature between the training split and new rows, with
    the usual bands (< 0.1 stable, 0.1 to 0.25 moderate, > 0.25 major shift).

    Returns:
        DataFrame with ``variable``, ``PSI``, ``band``, sorted by PSI, the score first.
    """
    profile = meta["profile"]
    rows = [("score", psi_binned(profile["score"], np.asarray(scores, dtype=float)))]
    for c, ref in profile["numeric"].items():
        v = pd.to_numeric(frame[c], errors="coerce").dropna().to_numpy(dtype=float)
        rows.append((c, psi_binned(ref, v)))
    for c, ref in profile["categorical"].items():
        rows.append((c, _psi_categories(ref["shares"], frame[c].dropna())))
    table = pd.DataFrame(rows, columns=["variable", "PSI"])
    table["band"] = table["PSI"].map(psi_band)
    head, rest = table.iloc[:1], table.iloc[1:].sort_values("PSI", ascending=False)
    return pd.concat([head, rest]).round({"PSI": 4}).reset_index(drop=True)


def permutation_importances(
    model, preprocessor, x_val: pd.DataFrame, y_val: np.ndarray, seed: int, n_repeats: int = 5
) -> pd.DataFrame:
    """Permutation importance of each raw feature on the validation split
    (``sklearn.inspection.permutation_importance``, Breiman 2001): the drop of ROC-AUC when
    that column's values are shuffled.

    Returns:
        DataFrame with ``feature``, ``importance`` (mean AUC drop) and ``std``, largest first.
    """
    from sklearn.inspection import permutation_importance
    from sklearn.metrics import roc_auc_score

    from finml.train import predict_scores

    class _Fitted:
        """The already-fitted preprocessing + model, in the shape sklearn's API expects."""

        def fit(self, x, y):
            return self

        def score_rows(self, x):
            return predict_scores(model, preprocessor.transform(x).astype(np.float32))

    def auc(estimator, x, y):
        return roc_auc_score(y, estimator.score_rows(x))

    result = permutation_importance(
        _Fitted(), x_val, y_val, scoring=auc, n_repeats=n_repeats, random_state=seed
    )
    table = pd.DataFrame(
        {
            "feature": x_val.columns,
            "importance": result.importances_mean,
            "std": result.importances_std,
        }
    )
    return table.sort_values("importance", ascending=False).reset_index(drop=True)
