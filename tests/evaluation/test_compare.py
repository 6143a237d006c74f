"""DeLong's test: its AUCs, a hand-computed case, its standard error against a paired
bootstrap, and its false-positive rate under the null hypothesis."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from finml.errors import DataError
from finml.evaluation.compare import delong_test, paired_scores


def test_a_hand_computed_case():
    # 2 positives, 2 negatives. A ranks perfectly (AUC 1); B: positives 0.6, 0.2 against
    # negatives 0.4, 0.1, so 3 of the 4 pairs are ordered (AUC 0.75).
    y = np.array([1, 1, 0, 0])
    a = np.array([0.9, 0.8, 0.3, 0.1])
    b = np.array([0.6, 0.2, 0.4, 0.1])
    out = delong_test(y, a, b)
    assert out["auc_a"] == 1.0 and out["auc_b"] == 0.75
    # placements: A: V10 = (1, 1), V01 = (0, 0) -> no variance of its own.
    # B: V10 = (1, 0.5), V01 = (0.5, 0) -> var(V10) = var(V01) = 0.125 (ddof 1).
    # Var(AUC_a - AUC_b) = 0.125 / 2 + 0.125 / 2 = 0.125.
    assert out["se"] == pytest.approx(np.sqrt(0.125))
    assert out["z"] == pytest.approx(0.25 / np.sqrt(0.125))


def test_aucs_match_sklearn_with_ties_and_se_matches_a_paired_bootstrap():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 600)
    a = np.round(y + rng.normal(0, 1.2, 600), 1)  # rounding makes ties
    b = np.round(y + rng.normal(0, 1.5, 600) + 0.3 * (a - y), 1)  # correlated with a
    out = delong_test(y, a, b)
    assert out["auc_a"] == pytest.approx(roc_auc_score(y, a))
    assert out["auc_b"] == pytest.approx(roc_auc_score(y, b))
    diffs = []
    for _ in range(800):
        i = rng.integers(0, 600, 600)
        diffs.append(roc_auc_score(y[i], a[i]) - roc_auc_score(y[i], b[i]))
    assert out["se"] == pytest.approx(np.std(diffs), rel=0.12)


def test_under_the_null_about_five_percent_of_p_values_fall_below_005():
    rng = np.random.default_rng(1)
    hits = 0
    for _ in range(400):
        y = rng.integers(0, 2, 300)
        signal = y + rng.normal(0, 1, 300)
        a = signal + rng.normal(0, 1, 300)  # two equally good, correlated models
        b = signal + rng.normal(0, 1, 300)
        hits += delong_test(y, a, b)["p_value"] < 0.05
    assert 0.025 <= hits / 400 <= 0.08


def test_runs_scored_on_other_rows_are_refused():
    a = pd.DataFrame({"row": [1, 2, 3, 4], "y_true": [0, 1, 0, 1], "score": [0.1, 0.9, 0.2, 0.8]})
    y, sa, sb = paired_scores(a, a.iloc[::-1])
    assert (y == [0, 1, 0, 1]).all() and (sa == sb).all()
    with pytest.raises(DataError, match="not scored on the same rows"):
        paired_scores(a, a.assign(row=[1, 2, 3, 5]))
    with pytest.raises(DataError, match="at least two rows of each class"):
        delong_test(np.array([1, 0, 0]), np.zeros(3), np.ones(3))


def test_the_delong_interval_of_one_auc_agrees_with_the_bootstrap():
    from finml.evaluation.bootstrap import metric_cis
    from finml.evaluation.compare import delong_interval

    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 600)
    score = y * 0.8 + rng.normal(size=600)  # ROC-AUC about 0.72
    low, high = delong_interval(y, score)
    boot = metric_cis(y, score, 0.5)
    assert low == pytest.approx(boot.loc["roc_auc", "lower"], abs=0.01)
    assert high == pytest.approx(boot.loc["roc_auc", "upper"], abs=0.01)
    with pytest.raises(DataError, match="two rows of each class"):
        delong_interval(np.array([1, 0, 0]), np.array([0.9, 0.1, 0.2]))
