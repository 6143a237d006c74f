"""Decision analysis of a binary score: costs and thresholds, the credit-risk pack (KS curve,
lift and gains by decile, calibration with the Hosmer-Lemeshow test), population stability
(PSI) and bootstrap confidence intervals.

Conventions as in :mod:`finml.evaluate`: ``y_true`` int 0/1 of shape (n,), 1 = the event
(a bad loan); ``score`` float of shape (n,), higher = more likely an event; a row is
predicted positive (refused) when ``score >= threshold``.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

#: Statlog German Credit cost matrix (Hofmann 1994, UCI documentation): accepting a bad
#: applicant (a false negative, the event missed) costs 5, refusing a good one (a false
#: positive) costs 1.
GERMAN_CREDIT_COSTS = {"fp": 1.0, "fn": 5.0}
#: Usual PSI bands: below 0.1 stable, 0.1 to 0.25 a moderate shift, above 0.25 a major shift.
PSI_BANDS = (0.1, 0.25)


def expected_cost_curve(
    y_true: np.ndarray, score: np.ndarray, cost_fp: float, cost_fn: float, n: int = 201
) -> pd.DataFrame:
    """Expected cost per case at each threshold on a grid of ``n`` points in [0, 1].

    cost(t) = (cost_fp * FP(t) + cost_fn * FN(t)) / n_cases.

    Returns:
        DataFrame with columns ``threshold``, ``fp``, ``fn``, ``cost`` (per case).
    """
    y = np.asarray(y_true).astype(bool)
    s = np.asarray(score, dtype=float)
    thresholds = np.linspace(0.0, 1.0, n)
    pred = s[None, :] >= thresholds[:, None]  # (n thresholds, cases)
    fp = (pred & ~y).sum(axis=1)
    fn = (~pred & y).sum(axis=1)
    return pd.DataFrame(
        {
            "threshold": thresholds,
            "fp": fp,
            "fn": fn,
            "cost": (cost_fp * fp + cost_fn * fn) / len(y),
        }
    )


def min_cost_threshold(
    y_true: np.ndarray, score: np.ndarray, cost_fp: float, cost_fn: float
) -> tuple[float, float]:
    """The threshold (on a 0.005 grid) with the lowest expected cost, and that cost per case.
    Choose it on validation scores, then apply it to the test split."""
    curve = expected_cost_curve(y_true, score, cost_fp, cost_fn)
    best = curve.loc[curve["cost"].idxmin()]
    return float(best["threshold"]), float(best["cost"])


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


def ks_curve(y_true: np.ndarray, score: np.ndarray) -> pd.DataFrame:
    """Cumulative share of bads (events) and goods at or above each score, highest first.
    The KS statistic is the largest gap between the two curves.

    Returns:
        DataFrame with ``score``, ``cum_bad``, ``cum_good``, ``gap`` (one row per distinct
        score, plus a first row of zeros).
    """
    y = np.asarray(y_true).astype(int)
    s = np.asarray(score, dtype=float)
    order = np.argsort(-s, kind="stable")
    s, y = s[order], y[order]
    last = np.r_[s[1:] != s[:-1], True]  # last row of each run of tied scores
    cum_bad = np.cumsum(y)[last] / max(y.sum(), 1)
    cum_good = np.cumsum(1 - y)[last] / max((1 - y).sum(), 1)
    return pd.DataFrame(
        {
            "score": np.r_[1.0, s[last]],
            "cum_bad": np.r_[0.0, cum_bad],
            "cum_good": np.r_[0.0, cum_good],
            "gap": np.r_[0.0, cum_bad - cum_good],
        }
    )


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


def reference_bins(values: np.ndarray, n_bins: int = 10) -> dict[str, list[float]]:
    """Decile bins of a reference sample for PSI: inner ``edges`` (open at both ends) and the
    ``shares`` of the sample in each bin (JSON-serialisable)."""
    values = np.asarray(values, dtype=float)
    edges = np.unique(np.quantile(values, np.linspace(0, 1, n_bins + 1))[1:-1])
    counts = np.bincount(np.searchsorted(edges, values, side="right"), minlength=len(edges) + 1)
    return {"edges": edges.tolist(), "shares": (counts / len(values)).tolist()}


def psi_binned(reference: dict[str, list[float]], actual: np.ndarray) -> float:
    """PSI of ``actual`` against reference bins from :func:`reference_bins` (see :func:`psi`)."""
    edges = np.asarray(reference["edges"])
    actual = np.asarray(actual, dtype=float)
    counts = np.bincount(np.searchsorted(edges, actual, side="right"), minlength=len(edges) + 1)
    e = np.maximum(np.asarray(reference["shares"]), 1e-4)
    a = np.maximum(counts / max(len(actual), 1), 1e-4)
    return float(np.sum((a - e) * np.log(a / e)))


def psi(expected: np.ndarray, actual: np.ndarray, n_bins: int = 10) -> float:
    """Population stability index of a numeric variable or score between a reference sample
    (``expected``, e.g. the training split) and new data (``actual``):

    PSI = sum_b (a_b - e_b) * ln(a_b / e_b),

    with e_b and a_b the shares of each sample in bin b; bins are the deciles of ``expected``
    (open at both ends); an empty share is floored at 0.0001 so the logarithm exists
    (Siddiqi, Credit Risk Scorecards, 2006, ch. 8). Bands: :data:`PSI_BANDS`.
    """
    return psi_binned(reference_bins(expected, n_bins), actual)


def psi_band(value: float) -> str:
    """``"stable"`` (< 0.1), ``"moderate shift"`` (0.1 to 0.25) or ``"major shift"``."""
    if value < PSI_BANDS[0]:
        return "stable"
    return "moderate shift" if value < PSI_BANDS[1] else "major shift"


def fast_auc(y_true: np.ndarray, score: np.ndarray) -> float:
    """ROC-AUC by the Mann-Whitney rank sum (ties get average ranks): equal to
    ``sklearn.metrics.roc_auc_score`` and fast enough for thousands of bootstrap samples."""
    from scipy.stats import rankdata

    y = np.asarray(y_true).astype(bool)
    n1, n0 = y.sum(), (~y).sum()
    ranks = rankdata(score)
    return float((ranks[y].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def bootstrap_ci(
    y_true: np.ndarray,
    score: np.ndarray,
    metric: Callable[[np.ndarray, np.ndarray], float] = fast_auc,
    n_boot: int = 1000,
    level: float = 0.95,
    seed: int = 0,
) -> tuple[float, float, float]:
    """Percentile bootstrap confidence interval of a metric (Efron & Tibshirani, An
    Introduction to the Bootstrap, 1993, ch. 13), resampling cases within each class so every
    resample has both classes (stratified bootstrap).

    Args:
        metric: function (y_true, score) -> float; default ROC-AUC.
        n_boot: resamples.
        level: confidence level.
        seed: random seed.

    Returns:
        (point estimate on the full sample, lower bound, upper bound).
    """
    y = np.asarray(y_true).astype(int)
    s = np.asarray(score, dtype=float)
    rng = np.random.default_rng(seed)
    pos, neg = np.flatnonzero(y == 1), np.flatnonzero(y == 0)
    stats = np.empty(n_boot)
    for b in range(n_boot):
        idx = np.r_[rng.choice(pos, len(pos)), rng.choice(neg, len(neg))]
        stats[b] = metric(y[idx], s[idx])
    tail = (1 - level) / 2 * 100
    lo, hi = np.percentile(stats, [tail, 100 - tail])
    return float(metric(y, s)), float(lo), float(hi)


def _threshold_metrics(y: np.ndarray, s: np.ndarray, threshold: float) -> dict[str, float]:
    """:func:`finml.evaluate.binary_metrics` with numpy counts and :func:`fast_auc`, fast
    enough to run on hundreds of bootstrap resamples."""
    from finml.evaluate import rates_from_counts

    pred = s >= threshold
    counts = [np.sum(p & (y == t)) for p, t in ((~pred, 0), (pred, 0), (~pred, 1), (pred, 1))]
    auc = fast_auc(y, s)
    return {
        **rates_from_counts(*map(float, counts)),
        "roc_auc": auc,
        "gini": 2 * auc - 1,
        "ks": float(ks_curve(y, s)["gap"].max()),
        "brier": float(np.mean((s - y) ** 2)),
    }


def metric_cis(
    y_true: np.ndarray,
    score: np.ndarray,
    threshold: float,
    n_boot: int = 500,
    level: float = 0.95,
    seed: int = 0,
) -> pd.DataFrame:
    """Percentile bootstrap confidence intervals (stratified, as :func:`bootstrap_ci`) of every
    metric of :func:`finml.evaluate.binary_metrics` at ``threshold``.

    Returns:
        DataFrame indexed by metric key with ``value``, ``lower``, ``upper``.
    """
    y = np.asarray(y_true).astype(int)
    s = np.asarray(score, dtype=float)
    rng = np.random.default_rng(seed)
    pos, neg = np.flatnonzero(y == 1), np.flatnonzero(y == 0)
    samples = []
    for _ in range(n_boot):
        idx = np.r_[rng.choice(pos, len(pos)), rng.choice(neg, len(neg))]
        samples.append(_threshold_metrics(y[idx], s[idx], threshold))
    boot = pd.DataFrame(samples)
    tail = (1 - level) / 2
    out = pd.DataFrame({"value": pd.Series(_threshold_metrics(y, s, threshold))})
    out["lower"] = boot.quantile(tail)
    out["upper"] = boot.quantile(1 - tail)
    return out


def roc_band(
    y_true: np.ndarray, score: np.ndarray, n_boot: int = 300, level: float = 0.95, seed: int = 0
) -> pd.DataFrame:
    """Pointwise bootstrap band of the ROC curve: the true-positive rate at 101 fixed
    false-positive rates, its percentile interval over stratified resamples.

    Returns:
        DataFrame with ``fpr``, ``tpr`` (full sample), ``lower``, ``upper``.
    """
    from sklearn.metrics import roc_curve

    y = np.asarray(y_true).astype(int)
    s = np.asarray(score, dtype=float)
    grid = np.linspace(0, 1, 101)

    def tpr_at(yy, ss):
        fpr, tpr, _ = roc_curve(yy, ss)
        return np.interp(grid, fpr, tpr)

    rng = np.random.default_rng(seed)
    pos, neg = np.flatnonzero(y == 1), np.flatnonzero(y == 0)
    curves = np.array(
        [
            tpr_at(y[idx], s[idx])
            for idx in (
                np.r_[rng.choice(pos, len(pos)), rng.choice(neg, len(neg))] for _ in range(n_boot)
            )
        ]
    )
    tail = (1 - level) / 2 * 100
    return pd.DataFrame(
        {
            "fpr": grid,
            "tpr": tpr_at(y, s),
            "lower": np.percentile(curves, tail, axis=0),
            "upper": np.percentile(curves, 100 - tail, axis=0),
        }
    )
