"""Bootstrap confidence intervals of the binary metrics and a bootstrap band of the ROC
curve, on ``scipy.stats.bootstrap``.

Both resample the cases **within each class** (the events' scores and the non-events'
scores are two independent samples, ``paired=False``), so every resample has both classes
in the test split's proportions (a stratified bootstrap). The metric intervals are BCa
(bias-corrected and accelerated; Efron & Tibshirani, An Introduction to the Bootstrap, 1993,
ch. 14) where it works: up to :data:`BCA_MAX_ROWS` cases (its jackknife costs one
evaluation per case), and for metrics that are not constant under the jackknife; elsewhere
the percentile interval of the same resamples. The Evaluate page and the HTML report call
the same function with the same defaults, so they show the same interval.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import numpy as np
import pandas as pd

from finml.evaluation.metrics import METRIC_LABELS, rates_from_counts

#: Resamples of every interval finml shows.
N_RESAMPLES = 1000
#: Confidence level of every interval finml shows.
LEVEL = 0.95
#: Seed of the resampling: the same run always shows the same interval.
SEED = 0
#: Most test cases for which the BCa interval is computed (its jackknife is quadratic).
BCA_MAX_ROWS = 3000
#: Metrics in the order :func:`binary_statistics` returns them.
METRICS = tuple(METRIC_LABELS)
#: Elements a vectorised evaluation may hold at once (memory per batch of resamples).
_BATCH_ELEMENTS = 4_000_000
#: Batches the resamples are split into at least, so progress moves.
_STEPS = 20


def binary_statistics(pos: np.ndarray, neg: np.ndarray, threshold: float, axis: int = -1):
    """Every metric of :data:`METRICS` from the events' and non-events' scores, vectorised
    over resamples.

    One sort of the pooled scores per resample gives ROC-AUC (the Mann-Whitney U statistic
    over n1 * n0: the share of (event, non-event) pairs ranked correctly, ties counted half,
    as ``sklearn.metrics.roc_auc_score``) and KS (the largest TPR - FPR over the distinct
    scores); Brier is the mean squared error of the probabilities.

    Args:
        pos: scores of the events, shape (..., n1) along ``axis``.
        neg: scores of the non-events, shape (..., n0) along ``axis``.
        threshold: decision threshold (score >= threshold: predicted event).
        axis: the axis of the cases.

    Returns:
        float array of shape (len(METRICS), ...).
    """
    pos = np.moveaxis(np.asarray(pos, dtype=float), axis, -1)
    neg = np.moveaxis(np.asarray(neg, dtype=float), axis, -1)
    n1, n0 = pos.shape[-1], neg.shape[-1]
    tp = (pos >= threshold).sum(axis=-1)
    fp = (neg >= threshold).sum(axis=-1)
    rates = rates_from_counts(n0 - fp, fp, n1 - tp, tp)
    both = np.concatenate([pos, neg], axis=-1)
    order = np.argsort(-both, axis=-1)  # highest first; order within a tie never matters
    ranked = np.take_along_axis(both, order, axis=-1)
    is_event = order < n1
    events_above = np.cumsum(is_event, axis=-1)  # events at or above each position
    others_above = np.cumsum(~is_event, axis=-1)
    last = np.ones((*ranked.shape[:-1], 1), bool)
    tie_end = np.concatenate([ranked[..., 1:] != ranked[..., :-1], last], axis=-1)
    tie_start = np.concatenate([last, tie_end[..., :-1]], axis=-1)
    # non-events strictly above / at or above each case's tie group
    others_at_end = np.flip(
        np.minimum.accumulate(np.flip(np.where(tie_end, others_above, n0), -1), axis=-1), -1
    )
    others_before = np.maximum.accumulate(np.where(tie_start, others_above - ~is_event, 0), axis=-1)
    below = n0 - others_at_end + 0.5 * (others_at_end - others_before)
    auc = np.where(is_event, below, 0.0).sum(axis=-1) / (n1 * n0)
    ks = np.where(tie_end, events_above / n1 - others_above / n0, 0.0).max(axis=-1)
    brier = (((1 - pos) ** 2).sum(axis=-1) + (neg**2).sum(axis=-1)) / (n1 + n0)
    values = {**rates, "roc_auc": auc, "gini": 2 * auc - 1, "ks": ks, "brier": brier}
    return np.stack([np.broadcast_to(values[m], auc.shape) for m in METRICS])


def _classes(y_true: np.ndarray, score: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(y_true).astype(int)
    s = np.asarray(score, dtype=float)
    pos, neg = s[y == 1], s[y == 0]
    if len(pos) < 2 or len(neg) < 2:
        raise ValueError("A bootstrap interval needs at least two cases of each class.")
    return pos, neg


def no_progress(done: int, total: int) -> None:
    """A progress callback that reports nowhere."""


def _bootstrap(
    statistic: Callable,
    pos,
    neg,
    method: str,
    n_resamples: int,
    seed,
    width: int,
    progress: Callable[[int, int], None],
):
    """``scipy.stats.bootstrap`` of the two classes as independent samples.

    ``width`` is the memory one resample's evaluation takes (elements), to size the batches;
    ``progress`` gets (evaluations done, evaluations in all): scipy calls the vectorised
    statistic once per batch, so counting batch sizes is the true progress (the BCa
    jackknife adds one evaluation per case).
    """
    from scipy.stats import bootstrap

    total = n_resamples + (len(pos) + len(neg) if method == "BCa" else 0)
    done = 0

    def counted(p, n, axis=-1):
        nonlocal done
        out = statistic(p, n, axis=axis)
        if np.ndim(p) > 1:  # a batch of resamples (the full sample is evaluated once too)
            done = min(done + int(np.prod(np.delete(np.shape(p), axis))), total)
            progress(done, total)
        return out

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a degenerate BCa output is NaN: handled by callers
        result = bootstrap(
            (pos, neg),
            counted,
            paired=False,
            vectorized=True,
            n_resamples=n_resamples,
            batch=max(1, min(_BATCH_ELEMENTS // max(width, 1), -(-n_resamples // _STEPS))),
            confidence_level=LEVEL,
            method=method,
            random_state=np.random.default_rng(seed),
        )
    progress(total, total)
    return result


def metric_cis(
    y_true: np.ndarray,
    score: np.ndarray,
    threshold: float,
    n_resamples: int = N_RESAMPLES,
    seed: int = SEED,
    progress: Callable[[int, int], None] = no_progress,
) -> pd.DataFrame:
    """Stratified bootstrap 95% confidence intervals of every metric of
    :func:`finml.evaluation.metrics.binary_metrics` at ``threshold``.

    Args:
        y_true: int 0/1 labels, shape (n,); at least two cases of each class.
        score: float scores, shape (n,).
        threshold: decision threshold.
        n_resamples: bootstrap resamples (default :data:`N_RESAMPLES`).
        seed: random seed (default :data:`SEED`).
        progress: called with (evaluations done, in all) as the bootstrap goes.

    Returns:
        DataFrame indexed by metric key with ``value`` (on the full sample), ``lower``,
        ``upper`` and ``method`` (``"BCa"`` or ``"percentile"``).

    Raises:
        ValueError: fewer than two cases of a class.
    """
    pos, neg = _classes(y_true, score)

    def statistic(p, n, axis=-1):
        return binary_statistics(p, n, threshold, axis)

    method = "BCa" if len(pos) + len(neg) <= BCA_MAX_ROWS else "percentile"
    width = 4 * (len(pos) + len(neg))
    res = _bootstrap(statistic, pos, neg, method, n_resamples, seed, width, progress)
    lower = np.asarray(res.confidence_interval.low, dtype=float)
    upper = np.asarray(res.confidence_interval.high, dtype=float)
    methods = np.full(len(METRICS), method, dtype=object)
    failed = ~(np.isfinite(lower) & np.isfinite(upper))
    if failed.any():  # BCa is undefined where the jackknife is constant: use percentiles
        tail = (1 - LEVEL) / 2 * 100
        lo, hi = np.percentile(res.bootstrap_distribution[failed], [tail, 100 - tail], axis=-1)
        lower[failed], upper[failed], methods[failed] = lo, hi, "percentile"
    value = statistic(pos, neg)
    return pd.DataFrame(
        {"value": value, "lower": lower, "upper": upper, "method": methods},
        index=pd.Index(METRICS, name="metric"),
    )


def roc_band(
    y_true: np.ndarray,
    score: np.ndarray,
    n_resamples: int = N_RESAMPLES,
    seed: int = SEED,
    grid_points: int = 101,
    progress: Callable[[int, int], None] = no_progress,
) -> pd.DataFrame:
    """Pointwise stratified bootstrap band (percentile) of the ROC curve: the true-positive
    rate reachable at each of ``grid_points`` false-positive rates (the ROC step function:
    flag the cases scoring above the (m+1)-th highest non-event, m = floor(FPR * n0)).

    Returns:
        DataFrame with ``fpr``, ``tpr`` (full sample), ``lower``, ``upper``.

    Raises:
        ValueError: fewer than two cases of a class.
    """
    pos, neg = _classes(y_true, score)
    grid = np.linspace(0, 1, grid_points)

    def tpr_at(p, n, axis=-1):
        p, n = np.moveaxis(p, axis, -1), np.moveaxis(n, axis, -1)
        m = np.floor(grid * n.shape[-1] + 1e-9).astype(int)
        ranked = np.concatenate(
            [-np.sort(-n, axis=-1), np.full((*n.shape[:-1], 1), -np.inf)], axis=-1
        )
        cut = ranked[..., m]  # (..., grid): the highest non-event score left unflagged
        return np.moveaxis((p[..., None, :] > cut[..., :, None]).mean(axis=-1), -1, 0)

    width = grid_points * len(pos) + len(neg)
    res = _bootstrap(tpr_at, pos, neg, "percentile", n_resamples, seed, width, progress)
    return pd.DataFrame(
        {
            "fpr": grid,
            "tpr": tpr_at(pos, neg),
            "lower": res.confidence_interval.low,
            "upper": res.confidence_interval.high,
        }
    )
