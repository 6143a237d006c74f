"""Scoring new table rows with a run's fitted model: a schema check against the training
data, scores and decisions at the saved threshold, and adverse-action reasons from SHAP
values (:mod:`finml.evaluation.shap_values`).

The training-data profile (ranges, typical values, decile bins and category shares of the
training split) travels with the fitted model, so new data is compared with what the model
was fitted on; its population stability is :func:`finml.evaluation.drift.psi_table`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from finml.errors import DataError, listing
from finml.models.features import prepare_features
from finml.models.pipeline import FittedModel, FittedRegressor

#: Most rows given SHAP reasons per explainer (the permutation explainer of the Keras MLP
#: costs about 0.08 s a row on 2 cores; Tree and Linear SHAP about 0.5 ms).
REASON_ROWS = {"tree": 100_000, "linear": 100_000, "permutation": 200}


def check_schema(
    frame: pd.DataFrame, model: FittedModel | FittedRegressor
) -> tuple[pd.DataFrame, list[str]]:
    """Compare new rows with the training data.

    Args:
        frame: the uploaded rows.
        model: the fitted table model (its features, target and training profile).

    Returns:
        (per-row issue flags: a DataFrame with one text column ``issues``, "" when none;
        messages about the table as a whole: extra columns, wrong types, unseen categories).

    Raises:
        DataError: feature columns are missing (the model cannot score without them).
    """
    numeric, categorical = list(model.numeric), list(model.categorical)
    target = (model.meta or {}).get("target")
    missing = [c for c in [*numeric, *categorical] if c not in frame.columns]
    if missing:
        raise DataError(
            f"The new data lacks {len(missing)} column(s) the model needs: "
            f"{listing(missing)}. Use the same columns as the training data."
        )
    messages = []
    extra = [c for c in frame.columns if c not in (*numeric, *categorical, target)]
    if extra:
        messages.append(f"Extra column(s) not used by the model: {listing(extra)}.")
    issues = [[] for _ in range(len(frame))]
    profile = model.profile
    for c in numeric:
        raw = frame[c]
        num = pd.to_numeric(raw, errors="coerce").astype("float64")
        bad_type = (num.isna() & raw.notna()).to_numpy()
        if bad_type.any():
            messages.append(f"{c!r}: {int(bad_type.sum())} value(s) are not numbers (set missing).")
        infinite = np.isinf(num.to_numpy())
        if infinite.any():
            messages.append(
                f"{c!r}: {int(infinite.sum())} value(s) are infinite (set missing); check the "
                "export that produced them."
            )
        for i in np.flatnonzero(infinite):
            issues[i].append(f"{c}: infinite value")
        num = num.where(~np.isinf(num), np.nan)
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
            shown = listing(sorted(set(values[unseen])), 5)
            messages.append(
                f"{c!r}: {int(unseen.sum())} row(s) with categories unseen in training: {shown}."
            )
        for i in np.flatnonzero(unseen.to_numpy()):
            issues[i].append(f"{c}={values.iloc[i]!r} unseen in training")
    return pd.DataFrame({"issues": ["; ".join(x) for x in issues]}, index=frame.index), messages


def score_rows(
    model: FittedModel, frame: pd.DataFrame, threshold: float, outcome: str = "the risk"
) -> tuple[pd.DataFrame, list[str]]:
    """Score new rows: schema check, score, decision at ``threshold``, and the top
    :data:`~finml.evaluation.shap_values.TOP_REASONS` adverse-action reasons of each row
    (SHAP values in log-odds, :func:`~finml.evaluation.shap_values.adverse_reasons`).

    Args:
        model: the fitted table model.
        frame: the new rows, shape (n, k).
        threshold: decision threshold on the score (probability of the positive class).
        outcome: what a reason raised, in words (``"the risk"``).

    Returns:
        (table with ``score``, ``decision`` ("refuse" when score >= threshold, else
        "accept"), ``reason_1`` .. ``reason_4`` ("" where fewer), ``issues`` and the input
        columns; table-level messages).

    Raises:
        DataError: feature columns are missing.
    """
    from finml.evaluation.shap_values import (
        TOP_REASONS,
        adverse_reasons,
        explain_rows,
        explainer_kind,
    )

    issues, messages = check_schema(frame, model)
    x = prepare_features(frame, list(model.numeric), list(model.categorical))
    scores = model.positive_score(x)
    out = pd.DataFrame(
        {"score": scores.round(4), "decision": np.where(scores >= threshold, "refuse", "accept")},
        index=frame.index,
    )
    method = explainer_kind(model)
    cap = REASON_ROWS[method]
    reasons = []
    if len(x):
        explained = explain_rows(model, x.iloc[:cap])
        reasons = adverse_reasons(explained, x.iloc[:cap], outcome=outcome)
    reasons += [[] for _ in range(len(x) - len(reasons))]
    for k in range(TOP_REASONS):
        out[f"reason_{k + 1}"] = [r[k] if k < len(r) else "" for r in reasons]
    if len(x) > cap:
        messages.append(
            f"Reasons are given for the first {cap:,} rows only: this model's SHAP explainer "
            f"({method}) is slow on many rows. Score the rest in smaller files for theirs."
        )
    out["issues"] = issues["issues"].to_numpy()
    return pd.concat([out, frame], axis=1), messages


def predict_rows(
    model: FittedRegressor, frame: pd.DataFrame, level: float = 0.9
) -> tuple[pd.DataFrame, list[str]]:
    """Predict a numeric target for new rows: schema check (as :func:`check_schema`), the
    prediction and its split-conformal interval at ``level``.

    Args:
        model: the fitted regression model.
        frame: the new rows, shape (n, k).
        level: the interval's nominal coverage, one the model carries (0.8, 0.9, 0.95).

    Returns:
        (table with ``prediction``, ``lower``, ``upper`` (target units), ``issues`` and the
        input columns; table-level messages).

    Raises:
        DataError: feature columns are missing, or no interval at ``level``.
    """
    issues, messages = check_schema(frame, model)
    x = prepare_features(frame, list(model.numeric), list(model.categorical))
    out = model.predict_interval(x, level).set_axis(frame.index)
    out["issues"] = issues["issues"].to_numpy()
    return pd.concat([out, frame], axis=1), messages


def classify_rows(model: FittedModel, frame: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """Classify new rows with a multi-class model: schema check (as :func:`check_schema`),
    the most probable class, its probability and each class's probability.

    Returns:
        (table with ``predicted class``, ``probability``, ``p(<class>)`` per class,
        ``issues`` and the input columns; table-level messages).

    Raises:
        DataError: feature columns are missing.
    """
    issues, messages = check_schema(frame, model)
    x = prepare_features(frame, list(model.numeric), list(model.categorical))
    proba = model.predict_proba(x)
    names = np.asarray(model.class_names, dtype=object)
    out = pd.DataFrame(
        {"predicted class": names[proba.argmax(axis=1)], "probability": proba.max(axis=1)},
        index=frame.index,
    )
    for i, name in enumerate(model.class_names):
        out[f"p({name})"] = proba[:, i].round(4)
    out["issues"] = issues["issues"].to_numpy()
    return pd.concat([out, frame], axis=1), messages
