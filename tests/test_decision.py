"""Decision analysis against hand computations on small fixed inputs."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import norm
from sklearn.metrics import roc_auc_score

from finml import decision
from finml.evaluate import ks_statistic

# The worked example of tests/test_evaluate.py: 4 events (bad), 6 non-events.
Y = np.array([1, 1, 1, 1, 0, 0, 0, 0, 0, 0])
S = np.array([0.9, 0.8, 0.4, 0.35, 0.7, 0.3, 0.2, 0.2, 0.1, 0.05])


def test_expected_cost_by_hand_with_the_statlog_costs():
    c = decision.GERMAN_CREDIT_COSTS
    curve = decision.expected_cost_curve(Y, S, c["fp"], c["fn"]).set_index("threshold")
    # t = 0.5: FP 1 (0.7), FN 2 (0.4, 0.35) -> (1 * 1 + 5 * 2) / 10
    assert curve.loc[0.5, "cost"] == pytest.approx(1.1)
    assert curve.loc[0.0, "cost"] == pytest.approx(0.6)  # all refused: 6 goods
    assert curve.loc[1.0, "cost"] == pytest.approx(2.0)  # all accepted: 4 bads x 5 / 10
    # refusing everything at or above (0.3, 0.35]: only the good 0.7 is refused -> 0.1
    t, cost = decision.min_cost_threshold(Y, S, c["fp"], c["fn"])
    assert 0.3 < t <= 0.35 and cost == pytest.approx(0.1)


def test_operating_points_by_hand():
    # specificity >= 0.8 allows one false positive: threshold 0.35 catches all 4 events
    assert decision.sensitivity_at_specificity(Y, S, 0.8) == pytest.approx((1.0, 0.35))
    # sensitivity >= 0.5: threshold 0.8 has no false positive
    assert decision.specificity_at_sensitivity(Y, S, 0.5) == pytest.approx((1.0, 0.8))


def test_ks_curve_by_hand_and_against_scipy():
    curve = decision.ks_curve(Y, S)
    # at score 0.35: all 4 bads and 1 of 6 goods are at or above it -> KS = 5/6
    assert curve["gap"].max() == pytest.approx(5 / 6)
    assert curve["gap"].max() == pytest.approx(ks_statistic(Y, S))
    assert curve.iloc[-1][["cum_bad", "cum_good"]].tolist() == [1.0, 1.0]


def test_lift_and_gains_by_hand():
    table = decision.lift_table(Y, S, n_bins=5)  # 2 rows per bin, highest scores first
    assert table["events"].tolist() == [2, 1, 1, 0, 0]
    assert table["lift"].tolist() == pytest.approx([2.5, 1.25, 1.25, 0, 0])
    assert table["cumulative events %"].tolist() == pytest.approx([50, 75, 100, 100, 100])
    assert table["cumulative lift"].tolist() == pytest.approx([2.5, 1.875, 4 / 6 / 0.4, 1.25, 1])


def test_hosmer_lemeshow_by_hand():
    s = np.array([0.1, 0.1, 0.2, 0.2, 0.6, 0.6, 0.9, 0.9])
    y = np.array([0, 0, 0, 1, 1, 0, 1, 1])
    # groups of 2: (O, E, n) = (0, .2, 2), (1, .4, 2), (1, 1.2, 2), (2, 1.8, 2)
    h = 0.04 / 0.18 + 0.36 / 0.32 + 0.04 / 0.48 + 0.04 / 0.18
    out = decision.hosmer_lemeshow(y, s, groups=4)
    assert out["statistic"] == pytest.approx(h)
    assert out["dof"] == 2
    assert out["p_value"] == pytest.approx(np.exp(-h / 2))  # chi-square, 2 dof


def test_psi_by_hand_and_bands():
    expected = np.arange(100.0)
    actual = np.r_[np.arange(25.0), 50 + np.arange(75.0) / 2]  # 25% below the median, 75% above
    value = decision.psi(expected, actual, n_bins=2)
    assert value == pytest.approx(-0.25 * np.log(0.5) + 0.25 * np.log(1.5))
    assert decision.psi_band(value) == "major shift"
    assert decision.psi(expected, expected) == pytest.approx(0.0)
    assert decision.psi_band(0.05) == "stable" and decision.psi_band(0.2) == "moderate shift"


def test_fast_auc_equals_sklearn_with_ties():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 300)
    s = np.round(rng.random(300), 1)  # many ties
    assert decision.fast_auc(y, s) == pytest.approx(roc_auc_score(y, s))


def test_bootstrap_ci_covers_the_true_auc_at_about_the_nominal_rate():
    d = 1.0
    true_auc = norm.cdf(d / np.sqrt(2))  # AUC of N(d, 1) events against N(0, 1) non-events
    rng = np.random.default_rng(7)
    hits, runs = 0, 400  # 400 simulated data sets: the coverage estimate has SE ~0.011
    for r in range(runs):
        s = np.r_[rng.normal(d, 1, 60), rng.normal(0, 1, 140)]
        y = np.r_[np.ones(60, int), np.zeros(140, int)]
        _, lo, hi = decision.bootstrap_ci(y, s, n_boot=200, seed=r)
        hits += lo <= true_auc <= hi
    # nominal 0.95; the percentile bootstrap is known to run slightly under it (0.93 here)
    assert 0.90 <= hits / runs <= 0.98, hits / runs


def test_metric_cis_bracket_the_point_values_and_match_binary_metrics():
    from finml.evaluate import binary_metrics

    rng = np.random.default_rng(2)
    y = np.r_[np.ones(80, int), np.zeros(220, int)]
    s = np.clip(np.r_[rng.normal(0.6, 0.2, 80), rng.normal(0.35, 0.2, 220)], 0, 1)
    table = decision.metric_cis(y, s, 0.5, n_boot=200)
    expected = binary_metrics(y, s, 0.5)
    for key, value in expected.items():
        assert table.loc[key, "value"] == pytest.approx(value), key
        assert table.loc[key, "lower"] <= value + 1e-9 <= table.loc[key, "upper"] + 2e-9, key
    band = decision.roc_band(y, s, n_boot=100)
    assert (band["lower"] <= band["upper"]).all() and band["tpr"].iloc[-1] == 1.0
