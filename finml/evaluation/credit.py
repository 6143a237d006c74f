"""The credit-risk pack: KS curve, lift and cumulative gains by decile, calibration with the
Hosmer-Lemeshow test.

Conventions as in :mod:`finml.evaluation.metrics`: ``y_true`` int 0/1 of shape (n,), 1 = the
event (a bad loan); ``score`` float of shape (n,), higher = more likely an event.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def ks_curve(y_true: np.ndarray, score: np.ndarray) -> pd.DataFrame:
    """Cumulative share of bads (events) and goods at or above each score, highest first:
    the true- and false-positive rates of ``sklearn.metrics.roc_curve`` at every distinct
    score. The KS statistic is the largest gap between the two curves.

    Returns:
        DataFrame with ``score``, ``cum_bad``, ``cum_good``, ``gap``; the first row (all
        zeros, score 1.0) is "nobody flagged".
    """
    from sklearn.metrics import roc_curve

    fpr, tpr, thr = roc_curve(y_true, score, drop_intermediate=False)
    thr = np.minimum(thr, 1.0)
    return pd.DataFrame({"score": thr, "cum_bad": tpr, "cum_good": fpr, "gap": tpr - fpr})


def lift_table(y_true: np.ndarray, score: np.ndarray, n_bins: int = 10) -> pd.DataFrame:
    """Lift and cumulative gains by score decile (decile 1 = highest scores).

    Rows are ranked by score (ties in file order) and cut into ``n_bins`` groups of equal
    size (the first groups take one more row when ``n`` does not divide evenly).

    Returns:
        DataFrame with ``decile``, ``rows``, ``events``, ``event rate``, ``lift`` (event rate
        / overall rate), ``cumulative events %`` (gains) and ``cumulative lift``.
    """
    y = np.asarray(y_true).astype(int)
    order = np.argsort(-np.asarray(score, dtype=float), kind="stable")
    groups = np.array_split(y[order], n_bins)
    base = y.mean()
    rows, cum_events, cum_rows = [], 0, 0
    for i, g in enumerate(groups, start=1):
        cum_events += int(g.sum())
        cum_rows += len(g)
        rows.append(
            {
                "decile": i,
                "rows": len(g),
                "events": int(g.sum()),
                "event rate": float(g.mean()) if len(g) else 0.0,
                "lift": float(g.mean() / base) if len(g) and base else 0.0,
                "cumulative events %": 100.0 * cum_events / max(y.sum(), 1),
                "cumulative lift": float((cum_events / cum_rows) / base) if base else 0.0,
            }
        )
    return pd.DataFrame(rows)


def calibration_table(y_true: np.ndarray, score: np.ndarray, n_bins: int = 10) -> pd.DataFrame:
    """Observed event rate against mean predicted probability in ``n_bins`` equal-size groups
    of rows ranked by score (``sklearn.calibration.calibration_curve``, strategy quantile).

    Returns:
        DataFrame with ``predicted`` and ``observed`` (one row per non-empty bin).
    """
    from sklearn.calibration import calibration_curve

    observed, predicted = calibration_curve(y_true, score, n_bins=n_bins, strategy="quantile")
    return pd.DataFrame({"predicted": predicted, "observed": observed})


def hosmer_lemeshow(y_true: np.ndarray, score: np.ndarray, groups: int = 10) -> dict[str, float]:
    """Hosmer-Lemeshow goodness-of-fit test (Hosmer & Lemeshow, Applied Logistic Regression,
    2nd ed., 2000, section 5.2.2): rows ranked by score in ``groups`` equal-size groups;

    H = sum_g (O_g - E_g)^2 / (E_g * (1 - E_g / n_g)),

    with O_g observed events, E_g the sum of predicted probabilities, n_g rows of group g;
    H follows a chi-square distribution with ``groups - 2`` degrees of freedom.

    Returns:
        {"statistic": H, "dof": groups - 2, "p_value": ...}. A small p-value (< 0.05) means
        the probabilities are not calibrated.
    """
    from scipy.stats import chi2

    y = np.asarray(y_true).astype(float)
    s = np.clip(np.asarray(score, dtype=float), 1e-12, 1 - 1e-12)
    order = np.argsort(s, kind="stable")
    stat = 0.0
    for idx in np.array_split(order, groups):
        n_g, o_g, e_g = len(idx), y[idx].sum(), s[idx].sum()
        stat += (o_g - e_g) ** 2 / (e_g * (1 - e_g / n_g))
    dof = groups - 2
    return {"statistic": float(stat), "dof": dof, "p_value": float(chi2.sf(stat, dof))}
