"""The fair-lending analysis: protected columns suggested by name, age bands, and the
approval rates, adverse impact ratios and fairlearn's disparities checked against a hand
count on a built case and on a scorecard trained on German Credit."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from finml.errors import DataError
from finml.evaluation.fairness import (
    FOUR_FIFTHS,
    fairness_table,
    groups_of,
    suggest_protected,
)


def test_protected_columns_are_suggested_by_whole_words(german):
    assert suggest_protected(german.columns) == [
        "personal_status_and_sex",
        "age_in_years",
        "foreign_worker",
    ]
    assert suggest_protected(["mortgage", "usage", "Applicant Age", "RACE", "black"]) == [
        "Applicant Age",
        "RACE",
        "black",
    ]


def test_age_is_banded_and_a_category_keeps_its_values():
    ages = pd.Series([19, 24.9, 25, 61, 62, 80, np.nan])
    assert groups_of(ages, "age_in_years").tolist() == [
        "< 25", "< 25", "25-61", "25-61", ">= 62", ">= 62", "(missing)",
    ]  # fmt: skip
    sex = pd.Series(["f", "m", None, "m"])
    assert groups_of(sex, "sex").tolist() == ["f", "m", "(missing)", "m"]


def test_the_table_matches_a_hand_count():
    """Group a: 200 applicants, 160 approved; group b: 100 applicants, 40 approved. So
    b's AIR is 0.4 / 0.8 = 0.5 (fails four-fifths), the parity difference 0.4."""
    rng = np.random.default_rng(1)
    groups = np.array(["a"] * 200 + ["b"] * 100)
    approved = np.r_[np.arange(200) < 160, np.arange(100) < 40]
    score = np.where(approved, 0.2, 0.8)
    y = rng.integers(0, 2, 300)
    table, summary = fairness_table(y, score, 0.5, pd.Series(groups), seed=3)
    rows = table.set_index("group")
    assert rows.loc["a", "approval rate"] == pytest.approx(0.8)
    assert rows.loc["b", "adverse impact ratio"] == pytest.approx(0.5)
    assert rows.loc["b", "four-fifths"] == "fail" and rows.loc["a", "four-fifths"] == "pass"
    assert rows.loc["b", "AIR lower"] < 0.5 < rows.loc["b", "AIR upper"] < FOUR_FIFTHS
    assert summary["demographic_parity_difference"] == pytest.approx(0.4)
    assert summary["reference"] == "a" and summary["min_air"] == pytest.approx(0.5)
    for g in ("a", "b"):  # by hand: approval among good (y=0) and bad (y=1) applicants
        mine = groups == g
        good = mine & (y == 0)
        bad = mine & (y == 1)
        assert rows.loc[g, "approval rate of good"] == pytest.approx(approved[good].mean())
        assert rows.loc[g, "approval rate of bad"] == pytest.approx(approved[bad].mean())
        assert rows.loc[g, "bad rate among approved"] == pytest.approx(y[mine & approved].mean())
    gaps = [
        abs(rows.loc["a", col] - rows.loc["b", col])
        for col in ("approval rate of good", "approval rate of bad")
    ]
    assert summary["equalized_odds_difference"] == pytest.approx(max(gaps))


def test_one_group_only_is_a_clear_error():
    with pytest.raises(DataError, match="one group only"):
        fairness_table(np.array([0, 1]), np.array([0.1, 0.9]), 0.5, pd.Series(["x", "x"]))


def test_a_small_group_does_not_set_the_bar(german):
    """The most favoured group is chosen among groups of 30 or more applicants."""
    groups = pd.Series(["big"] * 100 + ["tiny"] * 5)
    score = np.r_[np.full(50, 0.2), np.full(50, 0.8), np.full(5, 0.1)]  # tiny: all approved
    table, summary = fairness_table(np.zeros(105, dtype=int), score, 0.5, groups)
    assert summary["reference"] == "big"
    note = table.set_index("group").loc["tiny", "note"]
    assert note.startswith("fewer than 30")
