"""Thresholds, costs and operating points against hand computations on small fixed inputs."""

from __future__ import annotations

import numpy as np
import pytest

from finml.evaluation import thresholds
from finml.evaluation.metrics import binary_metrics

# The worked example of test_metrics.py: 4 events (bad), 6 non-events.
Y = np.array([1, 1, 1, 1, 0, 0, 0, 0, 0, 0])
S = np.array([0.9, 0.8, 0.4, 0.35, 0.7, 0.3, 0.2, 0.2, 0.1, 0.05])


def test_expected_cost_at_exact_thresholds_by_hand_with_the_statlog_costs():
    c = thresholds.GERMAN_CREDIT_COSTS
    curve = thresholds.expected_cost_curve(Y, S, c["fp"], c["fn"]).set_index("threshold")
    # one row per distinct score, plus "flag nobody" at 1.0
    assert sorted(curve.index) == sorted({*S.tolist(), 1.0})
    # t = 0.7: refuse 0.9, 0.8, 0.7 -> FP 1 (0.7), FN 2 (0.4, 0.35) -> (1 * 1 + 5 * 2) / 10
    assert curve.loc[0.7, "cost"] == pytest.approx(1.1)
    assert curve.loc[0.05, "cost"] == pytest.approx(0.6)  # all refused: 6 goods
    assert curve.loc[1.0, "cost"] == pytest.approx(2.0)  # all accepted: 4 bads x 5 / 10
    # refusing from 0.35 up: all 4 bads and only the good 0.7 -> 0.1, exactly at a score
    assert thresholds.min_cost_threshold(Y, S, c["fp"], c["fn"]) == pytest.approx((0.35, 0.1))


def test_every_cost_on_the_curve_matches_the_confusion_matrix():
    rng = np.random.default_rng(4)
    y = rng.integers(0, 2, 300)
    s = np.round(rng.random(300), 2)
    curve = thresholds.expected_cost_curve(y, s, 2.0, 3.0)
    for t, cost in curve[["threshold", "cost"]].itertuples(index=False):
        cm = thresholds.confusion(y, s, t)
        assert cost == pytest.approx(thresholds.expected_cost(cm, 2.0, 3.0))


def test_a_score_of_exactly_one_still_has_a_flag_nobody_threshold():
    curve = thresholds.expected_cost_curve(np.array([0, 1, 1]), np.array([0.2, 0.9, 1.0]), 1, 1)
    assert curve["threshold"].iloc[0] > 1.0 and curve["fp"].iloc[0] == 0
    assert curve["fn"].iloc[0] == 2


def test_operating_points_by_hand():
    # specificity >= 0.8 allows one false positive: threshold 0.35 catches all 4 events
    assert thresholds.sensitivity_at_specificity(Y, S, 0.8) == pytest.approx((1.0, 0.35))
    # sensitivity >= 0.5: threshold 0.8 has no false positive
    assert thresholds.specificity_at_sensitivity(Y, S, 0.5) == pytest.approx((1.0, 0.8))
    assert thresholds.operating_point(Y, S, 0.5) == pytest.approx((1 / 6, 2 / 4))


def test_clinical_points_choose_on_validation_and_read_on_test():
    val_y, val_s = Y, S
    test_y = np.array([1, 1, 0, 0, 0])
    test_s = np.array([0.5, 0.3, 0.36, 0.1, 0.9])
    table = thresholds.clinical_operating_points(val_y, val_s, test_y, test_s, (0.8,))
    row = table.set_index("requirement").loc["specificity >= 0.80"]
    assert row["threshold"] == pytest.approx(0.35)  # from validation, as above
    m = binary_metrics(test_y, test_s, 0.35)  # test: TP 1 (0.5), FP 2 (0.36, 0.9)
    assert row["test sensitivity"] == pytest.approx(m["recall"]) == pytest.approx(0.5)
    assert row["test specificity"] == pytest.approx(m["specificity"]) == pytest.approx(1 / 3)


def test_youden_threshold_maximises_j():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 400)
    s = np.clip(rng.normal(0.35 + 0.3 * y, 0.15), 0, 1)
    t = thresholds.youden_threshold(y, s)
    j = binary_metrics(y, s, t)
    best = max(
        binary_metrics(y, s, c)["recall"] + binary_metrics(y, s, c)["specificity"]
        for c in np.linspace(0, 1, 101)
    )
    assert j["recall"] + j["specificity"] >= best - 1e-9
