"""Bootstrap intervals on scipy.stats.bootstrap: exact statistics, nominal coverage, one
interval for page and report."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import norm

from finml.evaluation import bootstrap
from finml.evaluation.metrics import binary_metrics


def test_the_vectorised_statistics_equal_binary_metrics_on_tied_scores():
    rng = np.random.default_rng(2)
    for _ in range(200):
        n1, n0 = rng.integers(2, 40, 2)
        y = np.r_[np.ones(n1, int), np.zeros(n0, int)]
        s = np.round(rng.random(n1 + n0), 1)  # many ties
        values = bootstrap.binary_statistics(s[:n1], s[n1:], 0.5)
        expected = binary_metrics(y, s, 0.5)
        assert values == pytest.approx([expected[m] for m in bootstrap.METRICS])


def test_the_auc_interval_covers_the_true_auc_at_the_nominal_rate():
    d = 1.0
    true_auc = norm.cdf(d / np.sqrt(2))  # AUC of N(d, 1) events against N(0, 1) non-events
    rng = np.random.default_rng(7)
    hits, runs = 0, 400  # 400 simulated data sets: the coverage estimate has SE ~0.011
    for r in range(runs):
        s = np.r_[rng.normal(d, 1, 60), rng.normal(0, 1, 140)]
        y = np.r_[np.ones(60, int), np.zeros(140, int)]
        row = bootstrap.metric_cis(y, s, 0.5, n_resamples=500, seed=r).loc["roc_auc"]
        hits += row["lower"] <= true_auc <= row["upper"]
    assert 0.92 <= hits / runs <= 0.98, hits / runs  # nominal 0.95 +- 0.03


def test_intervals_bracket_the_values_and_use_bca_where_it_works():
    rng = np.random.default_rng(2)
    y = np.r_[np.ones(80, int), np.zeros(220, int)]
    s = np.clip(np.r_[rng.normal(0.6, 0.2, 80), rng.normal(0.35, 0.2, 220)], 0, 1)
    table = bootstrap.metric_cis(y, s, 0.5)
    expected = binary_metrics(y, s, 0.5)
    for key, value in expected.items():
        assert table.loc[key, "value"] == pytest.approx(value), key
        assert table.loc[key, "lower"] <= value + 1e-9 <= table.loc[key, "upper"] + 2e-9, key
    assert set(table["method"]) == {"BCa"}
    again = bootstrap.metric_cis(y, s, 0.5)  # same seed, same interval (page = report)
    assert again.equals(table)


def test_a_degenerate_metric_falls_back_to_percentiles():
    y = np.r_[np.ones(20, int), np.zeros(30, int)]
    s = np.r_[np.full(20, 0.9), np.full(30, 0.1)]  # perfect separation: AUC is always 1
    table = bootstrap.metric_cis(y, s, 0.5)
    assert table.loc["roc_auc", ["value", "lower", "upper"]].tolist() == [1.0, 1.0, 1.0]
    assert table.loc["roc_auc", "method"] == "percentile"
    assert np.isfinite(table[["lower", "upper"]].to_numpy(float)).all()


def test_large_samples_use_percentiles_and_report_progress():
    rng = np.random.default_rng(3)
    n = bootstrap.BCA_MAX_ROWS + 1
    y = (rng.random(n) < 0.3).astype(int)
    s = np.clip(rng.normal(0.3 + 0.3 * y, 0.2), 0, 1)
    seen = []
    table = bootstrap.metric_cis(y, s, 0.5, n_resamples=200, progress=lambda *a: seen.append(a))
    assert set(table["method"]) == {"percentile"}
    assert len(seen) > 2 and seen[-1] == (200, 200)
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)


def test_roc_band_matches_the_roc_steps_and_holds_its_curve():
    from sklearn.metrics import roc_curve

    rng = np.random.default_rng(5)
    y = np.r_[np.ones(50, int), np.zeros(150, int)]
    s = np.round(np.r_[rng.normal(1, 1, 50), rng.normal(0, 1, 150)], 1)
    band = bootstrap.roc_band(y, s, n_resamples=300)
    fpr, tpr, _ = roc_curve(y, s)
    for g in (0.0, 0.1, 0.5):
        assert band.loc[band["fpr"] == g, "tpr"].item() == pytest.approx(tpr[fpr <= g].max())
    assert (band["lower"] <= band["tpr"] + 1e-9).mean() > 0.95
    assert (band["tpr"] <= band["upper"] + 1e-9).mean() > 0.95
    assert band["tpr"].iloc[-1] == 1.0
