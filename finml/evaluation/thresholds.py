"""Choosing a decision threshold: Youden's J, expected costs, and operating points at a
required sensitivity or specificity. Thresholds are chosen on validation scores and applied
to the test split.

Conventions as in :mod:`finml.evaluation.metrics`: a row is predicted positive (refused, or
flagged) when ``score >= threshold``.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from finml.evaluation.metrics import confusion

#: Statlog German Credit cost matrix (Hofmann 1994, UCI documentation): accepting a bad
#: applicant (a false negative, the event missed) costs 5, refusing a good one (a false
#: positive) costs 1.
GERMAN_CREDIT_COSTS = {"fp": 1.0, "fn": 5.0}


def youden_threshold(y_true: np.ndarray, score: np.ndarray) -> float:
    """Threshold that maximises Youden's J = sensitivity + specificity - 1 (Youden 1950).

    Call it on validation scores, never on the test split.

    Returns:
        float in [0, 1].
    """
    from sklearn.metrics import roc_curve

    fpr, tpr, thr = roc_curve(y_true, score)
    best = int(np.argmax(tpr - fpr))
    return float(np.clip(thr[best], 0.0, 1.0))


def expected_cost_curve(
    y_true: np.ndarray, score: np.ndarray, cost_fp: float, cost_fn: float
) -> pd.DataFrame:
    """Expected cost per case at every threshold where the confusion matrix changes: each
    distinct score (``sklearn.metrics.roc_curve`` with ``drop_intermediate=False``), plus
    "flag nobody" above the highest score (threshold 1.0, or the next float above 1.0 when a
    score is exactly 1).

    cost(t) = (cost_fp * FP(t) + cost_fn * FN(t)) / n_cases.

    Returns:
        DataFrame with columns ``threshold``, ``fp``, ``fn``, ``cost`` (per case), thresholds
        decreasing.
    """
    from sklearn.metrics import roc_curve

    y = np.asarray(y_true).astype(int)
    fpr, tpr, thr = roc_curve(y, score, drop_intermediate=False)
    n_pos, n_neg = int(y.sum()), int(len(y) - y.sum())
    fp = np.rint(fpr * n_neg).astype(int)
    fn = n_pos - np.rint(tpr * n_pos).astype(int)
    top = float(np.max(score)) if len(y) else 0.0
    thr = thr.copy()
    thr[0] = 1.0 if top < 1.0 else np.nextafter(top, np.inf)
    return pd.DataFrame(
        {"threshold": thr, "fp": fp, "fn": fn, "cost": (cost_fp * fp + cost_fn * fn) / len(y)}
    )


def min_cost_threshold(
    y_true: np.ndarray, score: np.ndarray, cost_fp: float, cost_fn: float
) -> tuple[float, float]:
    """The threshold with the lowest expected cost (exact: one of the thresholds of
    :func:`expected_cost_curve`; the highest one on a tie), and that cost per case. Choose it
    on validation scores, then apply it to the test split."""
    curve = expected_cost_curve(y_true, score, cost_fp, cost_fn)
    best = curve.loc[curve["cost"].idxmin()]
    return float(best["threshold"]), float(best["cost"])


def expected_cost(cm: np.ndarray, cost_fp: float, cost_fn: float) -> float:
    """Expected cost per case of a 2x2 confusion matrix ``[[TN, FP], [FN, TP]]``."""
    return float((cost_fp * cm[0, 1] + cost_fn * cm[1, 0]) / cm.sum())


def operating_point(y_true: np.ndarray, score: np.ndarray, threshold: float) -> tuple[float, float]:
    """(false-positive rate, true-positive rate) at ``threshold``, for marking the ROC curve."""
    (tn, fp), (fn, tp) = confusion(y_true, score, threshold)
    return (fp / (fp + tn) if fp + tn else 0.0, tp / (tp + fn) if tp + fn else 0.0)


def sensitivity_at_specificity(
    y_true: np.ndarray, score: np.ndarray, specificity: float
) -> tuple[float, float]:
    """The highest sensitivity among thresholds whose specificity is at least ``specificity``.

    Returns:
        (sensitivity, threshold).
    """
    from sklearn.metrics import roc_curve

    fpr, tpr, thr = roc_curve(y_true, score)
    ok = (1 - fpr) >= specificity - 1e-12
    i = int(np.flatnonzero(ok)[np.argmax(tpr[ok])])
    return float(tpr[i]), float(np.clip(thr[i], 0, 1))


def specificity_at_sensitivity(
    y_true: np.ndarray, score: np.ndarray, sensitivity: float
) -> tuple[float, float]:
    """The highest specificity among thresholds whose sensitivity is at least
    ``sensitivity``.

    Returns:
        (specificity, threshold).
    """
    from sklearn.metrics import roc_curve

    fpr, tpr, thr = roc_curve(y_true, score)
    ok = tpr >= sensitivity - 1e-12
    i = int(np.flatnonzero(ok)[np.argmax(1 - fpr[ok])])
    return float(1 - fpr[i]), float(np.clip(thr[i], 0, 1))


def clinical_operating_points(
    val_y: np.ndarray,
    val_score: np.ndarray,
    y_true: np.ndarray,
    score: np.ndarray,
    targets: tuple[float, ...] = (0.80, 0.90, 0.95),
) -> pd.DataFrame:
    """Sensitivity at a required specificity, and the reverse, honestly: each threshold is
    chosen on the validation split, then both rates are read on the test split.

    Args:
        val_y, val_score: validation labels (int 0/1) and scores, shape (m,).
        y_true, score: test labels and scores, shape (n,).
        targets: required rates.

    Returns:
        DataFrame with ``requirement``, ``threshold`` (from validation), ``test sensitivity``,
        ``test specificity``; one row per target and rate.
    """
    from finml.evaluation.metrics import rates_from_counts

    rows = []
    for given, read_off in (
        ("specificity", sensitivity_at_specificity),
        ("sensitivity", specificity_at_sensitivity),
    ):
        for target in targets:
            _, threshold = read_off(val_y, val_score, target)
            (tn, fp), (fn, tp) = confusion(y_true, score, threshold)
            rates = rates_from_counts(tn, fp, fn, tp)
            rows.append(
                {
                    "requirement": f"{given} >= {target:.2f}",
                    "threshold": threshold,
                    "test sensitivity": float(rates["recall"]),
                    "test specificity": float(rates["specificity"]),
                }
            )
    return pd.DataFrame(rows)


def cost_interval(
    curve: pd.DataFrame, threshold: float, cost_fp: float, cost_fn: float
) -> tuple[float, float, float]:
    """The expected cost per case at ``threshold`` on the split ``curve`` was computed on
    (:func:`finml.evaluation.thresholds.expected_cost_curve`), with its 95% interval.

    Given the class counts (as in finml's stratified bootstrap), the false positives and
    the false negatives are two independent binomial counts, so the cost per case
    ``(cost_fp * FP + cost_fn * FN) / n`` has variance
    ``(cost_fp / n)^2 FP (1 - FP / n0) + (cost_fn / n)^2 FN (1 - FN / n1)``; the interval is
    the normal one (Wald) of that variance, cut at 0.

    Returns:
        (cost, lower, upper).
    """
    n_neg, n_pos = int(curve["fp"].max()), int(curve["fn"].max())  # flag all / flag nobody
    n = n_neg + n_pos
    # score >= threshold is flagged: the same cases as at the lowest curve threshold at or
    # above it (above every score: nobody flagged, as at the top row)
    ordered = curve.sort_values("threshold")
    above = ordered[ordered["threshold"] >= threshold - 1e-12]
    row = above.iloc[0] if len(above) else ordered.iloc[-1]
    fp, fn = float(row["fp"]), float(row["fn"])
    cost = (cost_fp * fp + cost_fn * fn) / n
    var = 0.0
    if n_neg:
        var += (cost_fp / n) ** 2 * fp * (1 - fp / n_neg)
    if n_pos:
        var += (cost_fn / n) ** 2 * fn * (1 - fn / n_pos)
    half = 1.959964 * math.sqrt(var)
    return cost, max(cost - half, 0.0), cost + half


def cost_points(
    curve: pd.DataFrame, points: dict[str, float], cost_fp: float, cost_fn: float
) -> pd.DataFrame:
    """The test cost per case of named thresholds (chosen, the validation minimum,
    Youden's), with the 95% interval of :func:`cost_interval`: a threshold that was
    cheapest on validation can cost more on test, within that interval.

    Args:
        curve: :func:`finml.evaluation.thresholds.expected_cost_curve` of the test split.
        points: label -> threshold.
        cost_fp: cost of a false positive.
        cost_fn: cost of a false negative.

    Returns:
        DataFrame with ``threshold`` (the label), ``value``, ``test cost per case``,
        ``95% CI low`` and ``95% CI high``.
    """
    rows = []
    for label, value in points.items():
        cost, low, high = cost_interval(curve, value, cost_fp, cost_fn)
        rows.append(
            {
                "threshold": label,
                "value": value,
                "test cost per case": cost,
                "95% CI low": low,
                "95% CI high": high,
            }
        )
    return pd.DataFrame(rows)
