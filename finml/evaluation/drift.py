"""Population stability: the training profile a model is fitted on, and the population
stability index (PSI) of new data against it, per feature and for the score, with a
significance test so that a small sample cannot raise an alarm.

PSI = sum_b (a_b - e_b) * ln(a_b / e_b), with e_b and a_b the shares of the reference
(training) and new data in bin b; numeric bins are the deciles of the reference (open at
both ends), categorical bins its categories; an empty share is floored at 0.0001 so the
logarithm exists (Siddiqi, Credit Risk Scorecards, 2006, ch. 8). Bands: :data:`PSI_BANDS`.

PSI is a statistic of two samples, so it is noisy: with N reference and M new rows over B
bins and no shift at all, PSI is asymptotically (1/M + 1/N) * chi2(B - 1) (Yurdakul,
"Statistical properties of population stability index", Western Michigan University,
2018), whose mean (B - 1)(1/M + 1/N) is 0.45 for 20 new rows over deciles, already a
"major shift" by the fixed bands; and with many empty bins the floored shares make it far
larger (20 training rows gave 10.7). So :func:`psi_table` judges only samples of at least
:data:`MIN_ROWS` rows, and calls a shift only where Pearson's chi-square test of the binned
counts (new against reference) rejects "same distribution" (:func:`shift_p_value`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

#: Usual PSI bands: below 0.1 stable, 0.1 to 0.25 a moderate shift, above 0.25 a major shift.
PSI_BANDS = (0.1, 0.25)
#: Floor of a share in the PSI formula.
_FLOOR = 1e-4
#: Fewest new rows (non-missing values of a variable) whose PSI is judged. With decile bins
#: and no shift, PSI is about chi2(9) / M for M new rows against a large reference
#: (Yurdakul 2018): its 95th percentile 16.9 / M stays below the "stable" band's 0.1 only
#: from M = 170, so a smaller sample of unchanged data would often read as a shift.
MIN_ROWS = 200
#: Smallest expected new count of a bin in the shift test; smaller bins are pooled.
MIN_EXPECTED = 5.0
#: Significance level of the shift test, Bonferroni-corrected over a table's variables.
ALPHA = 0.05
#: The band of a variable with fewer than :data:`MIN_ROWS` new values.
TOO_FEW = "too few rows to judge drift"


def _psi(expected: np.ndarray, actual: np.ndarray) -> float:
    """PSI of two share vectors over the same bins."""
    e = np.maximum(np.asarray(expected, dtype=float), _FLOOR)
    a = np.maximum(np.asarray(actual, dtype=float), _FLOOR)
    return float(np.sum((a - e) * np.log(a / e)))


def reference_bins(values: np.ndarray, n_bins: int = 10) -> dict:
    """Decile bins of a reference sample for PSI: inner ``edges`` (open at both ends), the
    ``shares`` of the sample in each bin and its size ``n`` (JSON-serialisable).

    Args:
        values: finite float values, shape (n,), n >= 1.
    """
    values = np.asarray(values, dtype=float)
    edges = np.unique(np.quantile(values, np.linspace(0, 1, n_bins + 1))[1:-1])
    counts = np.bincount(np.searchsorted(edges, values, side="right"), minlength=len(edges) + 1)
    return {"edges": edges.tolist(), "shares": (counts / len(values)).tolist(), "n": len(values)}


def binned_counts(reference: dict, actual: np.ndarray) -> np.ndarray:
    """Counts of numeric values ``actual`` in the bins of :func:`reference_bins`, int (B,)."""
    edges = np.asarray(reference["edges"])
    actual = np.asarray(actual, dtype=float)
    return np.bincount(np.searchsorted(edges, actual, side="right"), minlength=len(edges) + 1)


def psi_binned(reference: dict, actual: np.ndarray) -> float:
    """PSI of numeric values ``actual`` against bins from :func:`reference_bins`."""
    counts = binned_counts(reference, actual)
    return _psi(reference["shares"], counts / max(len(np.asarray(actual)), 1))


def _category_counts(reference: dict[str, float], values: pd.Series):
    """Reference shares and new counts over the union of categories (sorted)."""
    actual = values.astype(str).value_counts()
    keys = sorted(set(reference) | set(actual.index))
    shares = np.array([reference.get(k, 0.0) for k in keys], dtype=float)
    return shares, np.array([actual.get(k, 0) for k in keys], dtype=float)


def psi_categories(reference: dict[str, float], values: pd.Series) -> float:
    """PSI of categorical values against the category shares of the reference; categories
    new to the reference count with a reference share of 0 (floored)."""
    shares, counts = _category_counts(reference, values)
    return _psi(shares, counts / max(counts.sum(), 1))


def psi(expected: np.ndarray, actual: np.ndarray, n_bins: int = 10) -> float:
    """Population stability index of a numeric variable or score between a reference sample
    (``expected``, e.g. the training split) and new data (``actual``), over the deciles of
    ``expected`` (see the module docstring)."""
    return psi_binned(reference_bins(expected, n_bins), actual)


def shift_p_value(shares, counts, n_reference: int | None = None) -> float:
    """p-value of "the new rows come from the reference distribution" over the PSI's bins:
    Pearson's chi-square test, asymptotically the same test as Yurdakul's (2018) PSI test.

    With the reference size known, the test of homogeneity of the 2 x B table of reference
    and new counts (``scipy.stats.chi2_contingency``, no continuity correction), which
    allows for the noise of both samples (Yurdakul's 1/M + 1/N); without it (a profile
    from an older finml), the goodness-of-fit test of the new counts against the reference
    shares taken as exact (``scipy.stats.chisquare``; shares floored at 0.0001 as in PSI).
    A bin empty in one sample is fine (the test has no logarithm), one empty in both is
    left out; bins whose expected new
    count is below :data:`MIN_EXPECTED` are pooled into one, the usual condition for the
    chi-square approximation (Cochran, "Some methods for strengthening the common chi2
    tests", Biometrics 1954).

    Args:
        shares: the reference's share of each bin, float (B,), summing to 1.
        counts: the new rows' count in each bin, int (B,).
        n_reference: the size of the reference sample, or ``None``.

    Returns:
        The p-value in [0, 1]; 1.0 with fewer than two bins left or no new rows.
    """
    from scipy.stats import chi2_contingency, chisquare

    counts = np.asarray(counts, dtype=float)
    m = counts.sum()
    if m == 0:
        return 1.0
    if n_reference:
        reference = np.asarray(shares, dtype=float) * float(n_reference)
        expected = m * (reference + counts) / (reference.sum() + m)
    else:
        e = np.maximum(np.asarray(shares, dtype=float), _FLOOR)
        reference = expected = m * e / e.sum()
    small = expected < MIN_EXPECTED
    if small.any():
        reference = np.r_[reference[~small], reference[small].sum()]
        counts = np.r_[counts[~small], counts[small].sum()]
    keep = (reference + counts) > 0  # a bin empty in both samples says nothing
    reference, counts = reference[keep], counts[keep]
    if len(counts) < 2:
        return 1.0
    if n_reference:
        return float(chi2_contingency(np.vstack([reference, counts]), False).pvalue)
    return float(chisquare(counts, reference).pvalue)


def psi_band(value: float) -> str:
    """``"stable"`` (< 0.1), ``"moderate shift"`` (0.1 to 0.25) or ``"major shift"``."""
    if value < PSI_BANDS[0]:
        return "stable"
    return "moderate shift" if value < PSI_BANDS[1] else "major shift"


def drift_band(value: float, rows: int, p_value: float, tests: int = 1) -> str:
    """The band shown for a variable: :data:`TOO_FEW` below :data:`MIN_ROWS` new values;
    ``"stable"`` when the shift test does not reject at :data:`ALPHA` (Bonferroni over
    ``tests`` variables), however large the PSI; else the PSI's band (:func:`psi_band`:
    a significant shift with PSI < 0.1 is too small to matter and stays "stable").

    Args:
        value: the PSI.
        rows: the new non-missing values it was computed on.
        p_value: :func:`shift_p_value`.
        tests: how many variables are tested together (the table's rows).
    """
    if rows < MIN_ROWS:
        return TOO_FEW
    if p_value * max(tests, 1) >= ALPHA:
        return "stable"
    return psi_band(value)


def training_profile(
    x_train: pd.DataFrame,
    numeric: list[str],
    categorical: list[str],
    train_scores: np.ndarray,
    target: np.ndarray | None = None,
) -> dict:
    """Profile of the training split (JSON-serialisable) for schema checks, PSI and reason
    codes: per numeric column min, max, median and decile bins (with the count ``n``); per
    categorical column the mode, category shares and count ``n``; the decile bins of the
    training scores; for a numeric target, its range ``target`` (``min``, ``max``), which
    tells whether prediction intervals may go below 0.

    Args:
        x_train: prepared training features (:func:`finml.models.features.prepare_features`).
        numeric: numeric feature columns.
        categorical: categorical feature columns.
        train_scores: model scores of the training rows, shape (n,).
        target: the training rows' numeric target, float (n,) in its units, or ``None``
            (classes).
    """
    profile = {"numeric": {}, "categorical": {}, "score": reference_bins(train_scores)}
    t = np.asarray([] if target is None else target, dtype=float)
    t = t[np.isfinite(t)]
    if len(t):
        profile["target"] = {"min": float(t.min()), "max": float(t.max())}
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
        # prepared columns hold text already: no copy as str (0.5 of 0.9 s at 600,000 rows)
        counts = x_train[c].value_counts()  # missing values left out
        n = int(counts.sum())
        shares = counts / max(n, 1)
        shares.index = shares.index.map(str)
        mode = str(shares.idxmax()) if len(shares) else "(missing)"
        profile["categorical"][c] = {"mode": mode, "shares": shares.to_dict(), "n": n}
    return profile


def psi_table(profile: dict, frame: pd.DataFrame, scores: np.ndarray) -> pd.DataFrame:
    """PSI of the score and of every feature between the training split and new rows, with
    the number of new values, the shift test's p-value and the band of :func:`drift_band`
    (Bonferroni over the table's variables).

    Args:
        profile: the model's training profile (:func:`training_profile`; one from before
            the reference sizes were kept is tested against its shares as exact).
        frame: the new rows, with every feature column.
        scores: their scores, shape (n,).

    Returns:
        DataFrame with ``variable``, ``PSI``, ``rows`` (new non-missing values),
        ``p-value`` and ``band``, the score first, then by PSI (largest first).
    """
    rows = []

    def add(name, ref, shares, counts):
        value = _psi(shares, counts / max(counts.sum(), 1))
        p = shift_p_value(shares, counts, ref.get("n"))
        rows.append((name, value, int(counts.sum()), p))

    scores = np.asarray(scores, dtype=float)
    scores = scores[np.isfinite(scores)]
    ref = profile["score"]
    add("score", ref, ref["shares"], binned_counts(ref, scores))
    for c, ref in profile["numeric"].items():
        v = pd.to_numeric(frame[c], errors="coerce").to_numpy(dtype=float)
        add(c, ref, ref["shares"], binned_counts(ref, v[np.isfinite(v)]))
    for c, ref in profile["categorical"].items():
        add(c, ref, *_category_counts(ref["shares"], frame[c].dropna()))
    table = pd.DataFrame(rows, columns=["variable", "PSI", "rows", "p-value"])
    table["band"] = [
        drift_band(v, n, p, len(table))
        for v, n, p in table[["PSI", "rows", "p-value"]].itertuples(index=False)
    ]
    head, rest = table.iloc[:1], table.iloc[1:].sort_values("PSI", ascending=False)
    return pd.concat([head, rest]).round({"PSI": 4, "p-value": 4}).reset_index(drop=True)
