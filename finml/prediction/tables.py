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
from finml.models.scorecard import bin_labels, scorecard_of

#: Largest magnitude a numeric feature may have: beyond it the model's arithmetic (float64
#: tops out near 1.8e308, the estimator's float32 inputs near 3.4e38) overflows. Such values
#: are placeholders (1e308) or export errors; they are set missing, like infinite ones.
MAX_MAGNITUDE = 1e150

#: Farthest a numeric feature may lie from its training median, in training ranges (max -
#: min, or 1 for a column constant in training). The model standardises each feature with
#: the training split's sd, which is at least range / sqrt(2 n); 1e20 ranges stay near 1e23
#: standard deviations even for n = 1M rows, far inside float32. Farther values overflow.
MAX_RANGES = 1e20

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
        messages about the table as a whole: extra columns, wrong types, infinite values
        and values too large to compute with (:func:`too_large`; both set missing, the first
        data row named), unseen categories).

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
        ref = profile["numeric"][c]
        infinite = np.isinf(num.to_numpy())
        if infinite.any():
            messages.append(
                f"{c!r}: {int(infinite.sum())} value(s) are infinite (set missing), first at data "
                f"row {int(np.flatnonzero(infinite)[0]) + 1}; check the export that produced them."
            )
        for i in np.flatnonzero(infinite):
            issues[i].append(f"{c}: infinite value")
        huge = too_large(num.to_numpy(), ref)
        if huge.any():
            first = int(np.flatnonzero(huge)[0])
            messages.append(
                f"{c!r}: {int(huge.sum())} value(s) are too large to compute with (set missing), "
                f"first {str(raw.iloc[first])[:30]!r} at data row {first + 1}; the training data "
                f"spans [{ref['min']:g}, {ref['max']:g}]. Check the column's units and the export "
                "that produced them."
            )
        for i in np.flatnonzero(huge):
            issues[i].append(f"{c}={num.iloc[i]:g} too large to compute with (set missing)")
        num = num.where(~(infinite | huge), np.nan)
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


def too_large(values: np.ndarray, ref: dict) -> np.ndarray:
    """Which finite values of a numeric feature are too large for the model's arithmetic:
    beyond :data:`MAX_MAGNITUDE`, or farther than :data:`MAX_RANGES` training ranges from
    the training median.

    Args:
        values: the column, float64 (n,); missing and infinite values are never flagged.
        ref: the column's training profile (``min``, ``max``, ``median``).

    Returns:
        bool (n,).
    """
    values = np.asarray(values, dtype=np.float64)
    span = float(ref["max"]) - float(ref["min"])
    span = span if span > 0 else 1.0
    with np.errstate(invalid="ignore", over="ignore"):
        far = np.abs(values - float(ref["median"])) > MAX_RANGES * span
        return np.isfinite(values) & ((np.abs(values) > MAX_MAGNITUDE) | far)


def model_features(frame: pd.DataFrame, model: FittedModel | FittedRegressor) -> pd.DataFrame:
    """The model's features of new rows (:func:`~finml.models.features.prepare_features`),
    with the values :func:`too_large` flags set missing, as :func:`check_schema` reports.

    Returns:
        DataFrame (n, features): numeric columns float64, categorical ones text.

    Raises:
        DataError: feature columns are missing.
    """
    x = prepare_features(frame, list(model.numeric), list(model.categorical))
    for c in model.numeric:
        huge = too_large(x[c].to_numpy(), model.profile["numeric"][c])
        if huge.any():
            x[c] = x[c].where(~huge, np.nan)
    return x


def score_rows(
    model: FittedModel, frame: pd.DataFrame, threshold: float, outcome: str = "the risk"
) -> tuple[pd.DataFrame, list[str]]:
    """Score new rows: schema check, score, decision at ``threshold``, and the top
    :data:`~finml.evaluation.shap_values.TOP_REASONS` adverse-action reasons of each row
    (SHAP values in log-odds, :func:`~finml.evaluation.shap_values.adverse_reasons`; for a
    points scorecard its total ``points``, the points per characteristic and the
    characteristics that lost the most points against their best bin,
    :func:`finml.reporting.scorecard.row_points`).

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
    issues, messages = check_schema(frame, model)
    x = model_features(frame, model)
    scores = model.positive_score(x)
    out = pd.DataFrame(
        {"score": scores.round(4), "decision": np.where(scores >= threshold, "refuse", "accept")},
        index=frame.index,
    )
    if scorecard_of(model) is not None:  # its own reasons: points below maximum
        points, reasons = row_points(model, x)
        out = pd.concat([out, points], axis=1)
        reason_columns(out, reasons)
    else:
        add_reasons(out, model, x, messages, outcome)
    out["issues"] = issues["issues"].to_numpy()
    return pd.concat([out, frame], axis=1), messages


def add_reasons(
    out: pd.DataFrame, model, x: pd.DataFrame, messages: list[str], outcome: str = "the risk"
) -> None:
    """Add ``reason_1`` .. ``reason_4`` to ``out``: each row's top SHAP reasons for its
    model's task (:func:`finml.evaluation.shap_values.row_reasons`: the adverse-action
    reasons of a two-class model, the features that favoured the predicted class of a
    k-class one, or what raised and lowered a prediction), "" where fewer; for at most
    :data:`REASON_ROWS` rows of the model's explainer, with a message when rows are left
    without.

    Args:
        out: the result table, one row per row of ``x`` (changed in place).
        model: the fitted table model.
        x: the rows as the model reads them (:func:`model_features`).
        messages: the table-level messages (appended to).
        outcome: what a binary reason raised, in words.
    """
    from finml.evaluation.shap_values import explain_rows, explainer_kind, row_reasons

    method = explainer_kind(model)
    cap = REASON_ROWS[method]
    reasons = []
    if len(x):
        reasons = row_reasons(explain_rows(model, x.iloc[:cap]), x.iloc[:cap], outcome=outcome)
    reasons += [[] for _ in range(len(x) - len(reasons))]
    reason_columns(out, reasons)
    if len(x) > cap:
        messages.append(
            f"Reasons are given for the first {cap:,} rows only: this model's SHAP explainer "
            f"({method}) is slow on many rows. Score the rest in smaller files for theirs."
        )


def reason_columns(out: pd.DataFrame, reasons: list[list[str]]) -> None:
    """Add ``reason_1`` .. ``reason_4`` to ``out`` (changed in place) from each row's
    reasons, most important first; "" where a row has fewer."""
    from finml.evaluation.shap_values import TOP_REASONS

    for k in range(TOP_REASONS):
        out[f"reason_{k + 1}"] = [r[k] if k < len(r) else "" for r in reasons]


def predict_rows(
    model: FittedRegressor, frame: pd.DataFrame, level: float = 0.9
) -> tuple[pd.DataFrame, list[str]]:
    """Predict a numeric target for new rows: schema check (as :func:`check_schema`), the
    prediction and its split-conformal interval at ``level``.

    Args:
        model: the fitted regression model.
        frame: the new rows, shape (n, k).
        level: the interval's nominal coverage, one the model carries (0.8, 0.9, 0.95).

    Values too large for the model's arithmetic are set missing (:func:`model_features`);
    a row whose prediction still comes out infinite or NaN (e.g. a log-target model far
    outside its training data) gets ``NaN`` prediction and bounds, never a number, with an
    issue on the row and a message.

    Returns:
        (table with ``prediction``, ``lower``, ``upper`` (float64, target units; ``NaN``
        where the arithmetic overflowed), the SHAP reasons ``reason_1`` .. ``reason_4``
        (:func:`add_reasons`), ``issues`` and the input columns; table-level messages).

    Raises:
        DataError: feature columns are missing, or no interval at ``level``.
    """
    issues, messages = check_schema(frame, model)
    x = model_features(frame, model)
    with np.errstate(over="ignore", invalid="ignore"):  # overflow is checked just below
        out = model.predict_interval(x, level).set_axis(frame.index)
    flags = issues["issues"].to_numpy(dtype=object)
    bounds = out[["prediction", "lower", "upper"]].to_numpy(dtype=np.float64)
    overflow = ~np.isfinite(bounds).all(axis=1)
    if overflow.any():
        out.loc[overflow, ["prediction", "lower", "upper"]] = np.nan
        for i in np.flatnonzero(overflow):
            flags[i] = "; ".join(
                [*filter(None, [flags[i]]), "no prediction: the model's arithmetic overflowed"]
            )
        messages.append(
            f"{int(overflow.sum())} row(s) get no prediction (first at data row "
            f"{int(np.flatnonzero(overflow)[0]) + 1}): on their values the model's arithmetic "
            "overflows, so the prediction is not a finite number. Check those rows' values and "
            "units (they lie far outside the training data)."
        )
    add_reasons(out, model, x, messages)
    out["issues"] = flags
    return pd.concat([out, frame], axis=1), messages


def classify_rows(model: FittedModel, frame: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """Classify new rows with a multi-class model: schema check (as :func:`check_schema`),
    the most probable class, its probability and each class's probability.

    Returns:
        (table with ``predicted class``, ``probability``, ``p(<class>)`` per class, the
        SHAP reasons of the predicted class ``reason_1`` .. ``reason_4``
        (:func:`add_reasons`), ``issues`` and the input columns; table-level messages).

    Raises:
        DataError: feature columns are missing.
    """
    issues, messages = check_schema(frame, model)
    x = model_features(frame, model)
    proba = model.predict_proba(x)
    names = np.asarray(model.class_names, dtype=object)
    out = pd.DataFrame(
        {"predicted class": names[proba.argmax(axis=1)], "probability": proba.max(axis=1)},
        index=frame.index,
    )
    for i, name in enumerate(model.class_names):
        out[f"p({name})"] = proba[:, i].round(4)
    add_reasons(out, model, x, messages)
    out["issues"] = issues["issues"].to_numpy()
    return pd.concat([out, frame], axis=1), messages


def row_points(model, x: pd.DataFrame) -> tuple[pd.DataFrame, list[list[str]]]:
    """Each row's total score, its points per characteristic in the model, and its
    reason codes.

    Args:
        model: a fitted model whose estimator is a scorecard.
        x: rows with the model's feature columns, shape (n, k).

    Returns:
        (DataFrame with ``points`` (int64, the total score) and one int64 column
        ``points: <characteristic>`` per characteristic in the model; for each row, up
        to :data:`TOP_REASONS` reasons "<characteristic> = <bin>: <n> points below its
        best bin", most points lost first, none for a characteristic at its best bin).
    """
    from finml.evaluation.shap_values import TOP_REASONS

    card = scorecard_of(model)
    z = model.transform(x)
    points = card.points(z)
    lost = card.points_lost(z)
    bins = card.bin_indices(z)
    chosen = card.selected()
    table = pd.DataFrame({"points": points.sum(axis=1)}, index=x.index)
    for j in chosen:
        table[f"points: {card.names[j]}"] = points[:, j]
    labels = {j: [*bin_labels(model, j), "Other (not seen in training)"] for j in chosen}
    reasons = []
    for i in range(len(z)):
        order = sorted((j for j in chosen if lost[i, j] > 0), key=lambda j: -lost[i, j])
        reasons.append(
            [
                f"{card.names[j]} = {labels[j][bins[i, j]]}: {lost[i, j]} points below its best bin"
                for j in order[:TOP_REASONS]
            ]
        )
    return table, reasons
