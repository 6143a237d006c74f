"""The credit pack against hand computations on small fixed inputs."""

from __future__ import annotations

import numpy as np
import pytest

from finml.evaluation import credit
from finml.evaluation.metrics import ks_statistic

# 4 events (bad), 6 non-events.
Y = np.array([1, 1, 1, 1, 0, 0, 0, 0, 0, 0])
S = np.array([0.9, 0.8, 0.4, 0.35, 0.7, 0.3, 0.2, 0.2, 0.1, 0.05])


def test_ks_curve_by_hand_and_against_scipy():
    from scipy.stats import ks_2samp

    curve = credit.ks_curve(Y, S)
    # at score 0.35: all 4 bads and 1 of 6 goods are at or above it -> KS = 5/6
    assert curve["gap"].max() == pytest.approx(5 / 6)
    assert curve["gap"].max() == pytest.approx(ks_statistic(Y, S))
    assert ks_statistic(Y, S) == pytest.approx(ks_2samp(S[Y == 1], S[Y == 0]).statistic)
    assert curve.iloc[0][["cum_bad", "cum_good"]].tolist() == [0.0, 0.0]
    assert curve.iloc[-1][["cum_bad", "cum_good"]].tolist() == [1.0, 1.0]
    assert curve.loc[curve["score"] == 0.2, "cum_good"].item() == pytest.approx(4 / 6)  # a tie


def test_lift_and_gains_by_hand():
    table = credit.lift_table(Y, S, n_bins=5)  # 2 rows per bin, highest scores first
    assert table["events"].tolist() == [2, 1, 1, 0, 0]
    assert table["lift"].tolist() == pytest.approx([2.5, 1.25, 1.25, 0, 0])
    assert table["cumulative events %"].tolist() == pytest.approx([50, 75, 100, 100, 100])
    assert table["cumulative lift"].tolist() == pytest.approx([2.5, 1.875, 4 / 6 / 0.4, 1.25, 1])


def test_hosmer_lemeshow_by_hand():
    s = np.array([0.1, 0.1, 0.2, 0.2, 0.6, 0.6, 0.9, 0.9])
    y = np.array([0, 0, 0, 1, 1, 0, 1, 1])
    # groups of 2: (O, E, n) = (0, .2, 2), (1, .4, 2), (1, 1.2, 2), (2, 1.8, 2)
    h = 0.04 / 0.18 + 0.36 / 0.32 + 0.04 / 0.48 + 0.04 / 0.18
    out = credit.hosmer_lemeshow(y, s, groups=4)
    assert out["statistic"] == pytest.approx(h)
    assert out["dof"] == 2
    assert out["p_value"] == pytest.approx(np.exp(-h / 2))  # chi-square, 2 dof


def test_the_cutoff_table_counts_by_hand():
    y = np.array([0, 0, 0, 1, 0, 1, 1, 0, 1, 1])
    score = np.array([0.05, 0.1, 0.2, 0.3, 0.35, 0.5, 0.6, 0.7, 0.8, 0.9])
    table = credit.cutoff_table(y, score, [0.3, 0.55, 1.01], cost_fp=1.0, cost_fn=5.0)
    # 0.3: accepted the three below it (no bad); refused 7, of which goods 0.35 and 0.7
    first = table.iloc[0]
    assert (first["accepted"], first["bads accepted"], first["goods refused"]) == (3, 0, 2)
    assert first["accept rate"] == 0.3 and first["bad rate among accepted"] == 0.0
    assert first["expected cost per applicant"] == pytest.approx(2 * 1.0 / 10)
    # 0.55: accepted 6 (bads 0.3 and 0.5), refused good 0.7
    second = table.iloc[1]
    assert (second["accepted"], second["bads accepted"], second["goods refused"]) == (6, 2, 1)
    assert second["bad rate among accepted"] == pytest.approx(2 / 6)
    assert second["expected cost per applicant"] == pytest.approx((2 * 5.0 + 1 * 1.0) / 10)
    # above every score: all accepted, every bad among them
    assert table.iloc[2]["accept rate"] == 1.0 and table.iloc[2]["bads accepted"] == 5


def test_strategy_cutoffs_accept_at_most_each_rate_and_keep_the_chosen_one():
    score = np.random.default_rng(0).uniform(size=1000)
    cuts = credit.strategy_cutoffs(score, 0.4321)
    assert 0.4321 in cuts and (np.diff(cuts) > 0).all()
    table = credit.cutoff_table(np.zeros(1000, int), score, cuts)
    rates = table.set_index("cut-off")["accept rate"].drop(0.4321)
    assert rates.to_numpy() == pytest.approx(credit.STRATEGY_ACCEPT_RATES, abs=0.002)


def test_the_swap_set_of_two_decisions():
    y = np.array([1, 0, 1, 0, 0, 1])
    now = np.array([True, True, False, False, True, False])
    before = np.array([True, False, True, False, True, True])
    swaps = credit.swap_set(y, now, before).set_index("cell")
    assert swaps["applicants"].tolist() == [2, 1, 2, 1]  # both, in, out, neither
    assert swaps.loc["swap-in: accepted now, refused before", "bad rate"] == 0.0
    assert swaps.loc["swap-out: refused now, accepted before", "bads"] == 2
    assert swaps["applicants"].sum() == len(y) and swaps["share"].sum() == pytest.approx(1)
