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
    assert profile["categorical"]["c"] == {"mode": "(missing)", "shares": {}}
