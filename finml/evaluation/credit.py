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


#: Accept rates of the rows of a cut-off strategy table (the chosen cut-off is added).
STRATEGY_ACCEPT_RATES = (0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95)


def strategy_cutoffs(
    score: np.ndarray, chosen: float, accept_rates=STRATEGY_ACCEPT_RATES
) -> np.ndarray:
    """The cut-offs of a strategy table: the scores that accept each of ``accept_rates``
    of the applicants (refused: score >= cut-off; the ``rate`` quantile of the scores,
    "higher" interpolation, so at most that share is accepted where scores tie) and the
    ``chosen`` one, sorted and unique.

    Args:
        score: float scores of shape (n,) (a bad's probability).
        chosen: the cut-off in use.
        accept_rates: shares in (0, 1].
    """
    s = np.asarray(score, dtype=float)
    cuts = np.quantile(s, np.asarray(accept_rates, dtype=float), method="higher")
    return np.unique(np.append(cuts, float(chosen)))


def cutoff_table(
    y_true: np.ndarray,
    score: np.ndarray,
    cutoffs: np.ndarray,
    cost_fp: float = 1.0,
    cost_fn: float = 1.0,
) -> pd.DataFrame:
    """The cut-off strategy table: what each cut-off accepts and what it costs (credit
    policy's accept rate against bad rate trade-off; Siddiqi 2006, ch. 9 "strategy
    development").

    Args:
        y_true: int 0/1 of shape (n,), 1 = bad.
        score: float of shape (n,); an applicant is refused when score >= the cut-off.
        cutoffs: float cut-offs, in the order the rows should take.
        cost_fp: cost of refusing a good applicant (a false positive).
        cost_fn: cost of accepting a bad applicant (a false negative).

    Returns:
        DataFrame with ``cut-off``, ``accepted`` (count), ``accept rate``, ``bads accepted``,
        ``bad rate among accepted`` (NaN when nobody is accepted), ``goods refused`` and
        ``expected cost per applicant`` (:func:`finml.evaluation.thresholds.expected_cost`).
    """
    from finml.evaluation.metrics import confusion
    from finml.evaluation.thresholds import expected_cost

    y = np.asarray(y_true).astype(int)
    rows = []
    for cut in np.asarray(cutoffs, dtype=float):
        cm = confusion(y, score, cut)
        (tn, fp), (fn, _tp) = cm
        accepted = int(tn + fn)
        rows.append(
            {
                "cut-off": float(cut),
                "accepted": accepted,
                "accept rate": accepted / len(y),
                "bads accepted": int(fn),
                "bad rate among accepted": fn / accepted if accepted else float("nan"),
                "goods refused": int(fp),
                "expected cost per applicant": expected_cost(cm, cost_fp, cost_fn),
            }
        )
    return pd.DataFrame(rows)


#: The four cells of a swap set, in order.
SWAP_CELLS = (
    "accepted by both",
    "swap-in: accepted now, refused before",
    "swap-out: refused now, accepted before",
    "refused by both",
)


def swap_set(y_true: np.ndarray, accept_now: np.ndarray, accept_before: np.ndarray):
    """The swap set of a new cut-off (or model) against the one before it, on the same
    applicants: who is accepted by both, swapped in, swapped out, refused by both, and the
    bad rate of each (Siddiqi 2006: a new scorecard is judged on its swap set, not its
    accept rate alone).

    Args:
        y_true: int 0/1 of shape (n,), 1 = bad.
        accept_now: bool of shape (n,), accepted under the new decision.
        accept_before: bool of shape (n,), accepted under the old one.

    Returns:
        DataFrame with ``applicants``, ``share``, ``bads`` and ``bad rate`` (NaN for an
        empty cell), one row per :data:`SWAP_CELLS` cell.
    """
    y = np.asarray(y_true).astype(int)
    now, before = np.asarray(accept_now, bool), np.asarray(accept_before, bool)
    masks = (now & before, now & ~before, ~now & before, ~now & ~before)
    rows = []
    for cell, mask in zip(SWAP_CELLS, masks, strict=True):
        n = int(mask.sum())
        rows.append(
            {
                "cell": cell,
                "applicants": n,
                "share": n / len(y) if len(y) else float("nan"),
                "bads": int(y[mask].sum()),
                "bad rate": float(y[mask].mean()) if n else float("nan"),
            }
        )
    return pd.DataFrame(rows)
