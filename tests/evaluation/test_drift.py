"""PSI against hand computations, one formula for numeric bins and categories."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from finml.evaluation import drift


def test_psi_by_hand_and_bands():
    expected = np.arange(100.0)
    actual = np.r_[np.arange(25.0), 50 + np.arange(75.0) / 2]  # 25% below the median, 75% above
    value = drift.psi(expected, actual, n_bins=2)
    assert value == pytest.approx(-0.25 * np.log(0.5) + 0.25 * np.log(1.5))
    assert drift.psi_band(value) == "major shift"
    assert drift.psi(expected, expected) == pytest.approx(0.0)
    assert drift.psi_band(0.05) == "stable" and drift.psi_band(0.2) == "moderate shift"


def test_category_psi_by_hand_with_a_new_category():
    reference = {"A": 0.5, "B": 0.5}
    values = pd.Series(["A"] * 50 + ["C"] * 50)  # B vanished, C is new
    # bins A, B, C: (0.5 - 0.5) ln 1 + (1e-4 - 0.5) ln(1e-4 / 0.5) + (0.5 - 1e-4) ln(0.5 / 1e-4)
    expected = 2 * (0.5 - 1e-4) * np.log(0.5 / 1e-4)
    assert drift.psi_categories(reference, values) == pytest.approx(expected)


def test_the_training_profile_survives_an_all_missing_column():
    frame = pd.DataFrame({"a": [np.nan] * 4, "b": [1.0, 2, 3, 4], "c": [None] * 4})
    profile = drift.training_profile(frame, ["a", "b"], ["c"], np.array([0.1, 0.2, 0.3, 0.4]))
    assert profile["numeric"]["b"]["median"] == 2.5
    assert np.isfinite(profile["numeric"]["a"]["min"])
    assert profile["categorical"]["c"] == {"mode": "(missing)", "shares": {}, "n": 0}


# ---------------------------------------------------------------- small samples, the test


@pytest.fixture(scope="module")
def german_logreg(german):
    """A logistic regression of German Credit (its training profile) and its training rows."""
    from finml.fitters.base import ListSink
    from finml.tasks import train_spec
    from tests.conftest import table_spec

    result = train_spec(table_spec(german, "logreg"), german, ListSink())
    return result.model, german.iloc[result.split.train]


def _table(model, rows):
    return drift.psi_table(model.profile, rows, model.predict_proba(rows)[:, 1])


def test_twenty_training_rows_raise_no_alarm(german_logreg):
    model, train = german_logreg
    table = _table(model, train.head(20))
    # the PSI itself is as large as the issue saw (most deciles empty) ...
    assert table["PSI"].max() > 1
    # ... but 20 rows are too few to judge: no variable is called a shift
    assert set(table["band"]) == {drift.TOO_FEW}
    assert (table["rows"] == 20).all() and table["p-value"].between(0, 1).all()


def test_a_random_sample_of_training_rows_is_stable(german_logreg):
    model, train = german_logreg
    table = _table(model, train.sample(500, replace=True, random_state=0))
    assert set(table["band"]) == {"stable"}


def test_five_hundred_young_applicants_are_a_shift(german_logreg, german):
    model, _ = german_logreg
    young = german.nsmallest(500, "age_in_years")  # a real subpopulation, not a resample
    table = _table(model, young).set_index("variable")
    assert table.loc["age_in_years", "band"] == "major shift"
    assert table.loc["age_in_years", "p-value"] < 1e-6
    assert table.loc["present_employment_since", "band"] != "stable"  # the young work less long
    # a significant but small PSI stays "stable"; no band without a rejected test
    shifted = table[table["band"].str.endswith("shift")]
    assert (shifted["p-value"] * len(table) < drift.ALPHA).all()


def test_the_shift_test_handles_empty_bins():
    # a bin empty in the new rows, and a category new to the reference (share 0)
    shares = np.array([0.5, 0.3, 0.2, 0.0])
    counts = np.array([150, 0, 30, 20])
    p = drift.shift_p_value(shares, counts, n_reference=600)
    assert 0 <= p < 1e-6
    # the same with the reference taken as exact (a profile without its size)
    assert 0 <= drift.shift_p_value(shares, counts) < 1e-6
    # a bin empty in both samples changes nothing
    same = drift.shift_p_value([0.5, 0.5], [100, 100], 600)
    assert drift.shift_p_value([0.5, 0.0, 0.5], [100, 0, 100], 600) == pytest.approx(same)
    assert same == pytest.approx(1.0)
    assert drift.shift_p_value([0.5, 0.5], [0, 0], 600) == 1.0  # no new rows


def test_the_shift_test_is_pearsons_chi_square_by_hand():
    from scipy.stats import chi2

    shares, counts, n = np.array([0.5, 0.5]), np.array([60, 40]), 100
    # 2 x 2 table [[50, 50], [60, 40]]: expected 55, 45 in each row
    x2 = sum((o - e) ** 2 / e for o, e in [(50, 55), (50, 45), (60, 55), (40, 45)])
    assert drift.shift_p_value(shares, counts, n) == pytest.approx(chi2.sf(x2, 1))


def test_an_old_profile_without_sizes_is_tested_against_its_shares(german):
    profile = drift.training_profile(german, ["age_in_years"], [], np.arange(10.0))
    del profile["numeric"]["age_in_years"]["n"], profile["score"]["n"]
    young = german.nsmallest(500, "age_in_years")
    table = drift.psi_table(profile, young, np.arange(500.0) % 10).set_index("variable")
    assert table.loc["age_in_years", "band"] == "major shift"


def test_the_profile_keeps_a_numeric_targets_range(german):
    x = german[["age_in_years"]]
    profile = drift.training_profile(x, ["age_in_years"], [], np.zeros(3), german["credit_amount"])
    assert profile["target"] == {"min": 250.0, "max": 18424.0}
    assert "target" not in drift.training_profile(x, ["age_in_years"], [], np.zeros(3))
