"""Paired comparison of two models scored on the same rows: DeLong's test of the ROC-AUC
difference.

DeLong, DeLong and Clarke-Pearson, "Comparing the areas under two or more correlated
receiver operating characteristic curves: a nonparametric approach", Biometrics 44 (1988)
837-845; computed with the placement values of Sun and Xu, "Fast implementation of DeLong's
algorithm for comparing the areas under correlated receiver operating characteristic
curves", IEEE Signal Processing Letters 21 (2014) 1389-1393.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from finml.errors import DataError


def _placements(y: np.ndarray, score: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """AUC and the placement values of the positives (V10) and negatives (V01)."""
    from scipy.stats import rankdata

    pos, neg = score[y == 1], score[y == 0]
    m, n = len(pos), len(neg)
    ranks = rankdata(np.concatenate([pos, neg]))  # mid-ranks: ties count one half
    pos_in_all, neg_in_all = ranks[:m], ranks[m:]
    v10 = (pos_in_all - rankdata(pos)) / n  # share of negatives below each positive
    v01 = 1.0 - (neg_in_all - rankdata(neg)) / m  # share of positives above each negative
    auc = float(v10.mean())
    return auc, v10, v01


def delong_interval(y: np.ndarray, score: np.ndarray) -> tuple[float, float]:
    """95% interval of one model's ROC-AUC from DeLong's variance of its placement values
    (DeLong, DeLong and Clarke-Pearson, Biometrics 44 (1988) 837-845), cut to [0, 1].

    Args:
        y: 0/1 labels, shape (n,).
        score: the model's scores, float, shape (n,).

    Raises:
        DataError: fewer than two rows of either class.
    """
    y = np.asarray(y).astype(int)
    m, n = int((y == 1).sum()), int((y == 0).sum())
    if m < 2 or n < 2:
        raise DataError("A ROC-AUC interval needs at least two rows of each class.")
    auc, v10, v01 = _placements(y, np.asarray(score, dtype=np.float64))
    se = float(np.sqrt(v10.var(ddof=1) / m + v01.var(ddof=1) / n))
    return max(auc - 1.959964 * se, 0.0), min(auc + 1.959964 * se, 1.0)


def delong_test(y: np.ndarray, score_a: np.ndarray, score_b: np.ndarray) -> dict[str, float]:
    """DeLong's test of ROC-AUC(a) = ROC-AUC(b) for two models scored on the same rows.

    Args:
        y: 0/1 labels, shape (n,), both classes present.
        score_a: model A's scores of the rows, float (n,).
        score_b: model B's scores of the same rows, float (n,).

    Returns:
        ``auc_a``, ``auc_b``, ``difference`` (a - b), ``se`` (its standard error),
        ``ci_low`` / ``ci_high`` (95% normal interval of the difference), ``z`` and
        ``p_value`` (two-sided).

    Raises:
        DataError: lengths differ, or one class is missing.
    """
    from scipy.stats import norm

    y = np.asarray(y).astype(int)
    a, b = np.asarray(score_a, dtype=np.float64), np.asarray(score_b, dtype=np.float64)
    if not len(y) == len(a) == len(b):
        raise DataError("DeLong's test needs both models' scores of the same rows.")
    m, n = int((y == 1).sum()), int((y == 0).sum())
    if m < 2 or n < 2:
        raise DataError("DeLong's test needs at least two rows of each class.")
    auc_a, v10_a, v01_a = _placements(y, a)
    auc_b, v10_b, v01_b = _placements(y, b)
    s10 = np.cov(np.vstack([v10_a, v10_b]))
    s01 = np.cov(np.vstack([v01_a, v01_b]))
    cov = s10 / m + s01 / n
    var = float(cov[0, 0] + cov[1, 1] - 2 * cov[0, 1])
    diff = auc_a - auc_b
    se = float(np.sqrt(max(var, 0.0)))
    z = diff / se if se > 0 else 0.0
    return {
        "auc_a": auc_a,
        "auc_b": auc_b,
        "difference": diff,
        "se": se,
        "ci_low": diff - 1.959964 * se,
        "ci_high": diff + 1.959964 * se,
        "z": float(z),
        "p_value": float(2 * norm.sf(abs(z))) if se > 0 else 1.0,
    }


def paired_scores(a: pd.DataFrame, b: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Join two runs' predictions of the same rows.

    Args:
        a: run A's predictions (columns ``row``, ``y_true``, ``score``).
        b: run B's predictions of the same data.

    Returns:
        (y, score_a, score_b), each shape (n,), over the rows both scored.

    Raises:
        DataError: the runs did not score the same rows with the same labels.
    """
    joined = a[["row", "y_true", "score"]].merge(
        b[["row", "y_true", "score"]], on="row", suffixes=("_a", "_b")
    )
    if len(joined) != len(a) or len(joined) != len(b):
        raise DataError(
            "These runs were not scored on the same rows (another dataset, split or seed), "
            "so a paired test does not apply. Compare runs trained on the same data and split."
        )
    if (joined["y_true_a"] != joined["y_true_b"]).any():
        raise DataError("These runs label the same rows differently (another target or class).")
    return (
        joined["y_true_a"].to_numpy(),
        joined["score_a"].to_numpy(),
        joined["score_b"].to_numpy(),
    )


def delong_table(predictions: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """DeLong's test of each run against the first, on the rows both scored.

    Args:
        predictions: run label -> its test predictions (``row``, ``y_true``, ``score``);
            the first entry is the reference.

    Returns:
        One row per other run: ``run``, ``against``, ``ROC-AUC``, ``reference ROC-AUC``,
        ``difference``, ``95% CI low`` / ``high``, ``p-value``, and ``note`` (why a pair
        cannot be tested; then the numbers are missing).
    """
    (ref_label, ref), *others = predictions.items()
    rows = []
    for label, pred in others:
        row = {"run": label, "against": ref_label}
        try:
            out = delong_test(*paired_scores(pred, ref))
        except DataError as exc:
            rows.append({**row, "note": str(exc)})
            continue
        rows.append(
            {
                **row,
                "ROC-AUC": out["auc_a"],
                "reference ROC-AUC": out["auc_b"],
                "difference": out["difference"],
                "95% CI low": out["ci_low"],
                "95% CI high": out["ci_high"],
                "p-value": out["p_value"],
                "note": "",
            }
        )
    return pd.DataFrame(rows)
