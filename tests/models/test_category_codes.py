"""finml's native category codes against scikit-learn's OrdinalEncoder, code for code."""

import numpy as np
import pandas as pd
import pytest
from sklearn.preprocessing import OrdinalEncoder

from finml.models.category_codes import MISSING_CODE, UNKNOWN_CODE, CategoryCodes


def _column(rng, n: int, k: int, missing: float, skewed: bool) -> np.ndarray:
    """n text values of k categories (Zipf-skewed: many ties among the rare ones), a share
    ``missing`` of them NaN, as prepare_features gives them (object, str or NaN)."""
    names = np.array([f"c{i:03d}" for i in range(k)], dtype=object)
    picks = (rng.zipf(1.3, n) - 1) % k if skewed else rng.integers(0, k, n)
    values = names[picks]
    values[rng.random(n) < missing] = np.nan
    return values


def _table(rng, n: int, grow: int = 0) -> pd.DataFrame:
    """Five columns: many skewed categories (infrequent ones under a cap), a few, many with
    missing values, mostly missing, and all missing; ``grow`` adds categories unseen in a
    table drawn without it."""
    columns = {
        "branch": _column(rng, n, 300 + grow, 0.0, True),
        "grade": _column(rng, n, 7 + grow, 0.0, False),
        "zip": _column(rng, n, 260 + grow, 0.1, True),
        "purpose": _column(rng, n, 3 + grow, 0.5, False),
        "empty": _column(rng, n, 3, 1.0, False),
    }
    return pd.DataFrame({k: pd.Series(v, dtype=object) for k, v in columns.items()})


@pytest.mark.parametrize("cap", [None, 250, 5, 2, 1])
@pytest.mark.parametrize("seed", [0, 1])
def test_the_codes_and_categories_are_scikit_learns(cap, seed):
    """Fitted on one table, coding it and a table with unseen categories and missing values
    where training had none: every code equals OrdinalEncoder's (unknown -1, missing -2,
    the same cap), and so do the categories."""
    rng = np.random.default_rng(seed)
    train, new = _table(rng, 3000), _table(rng, 600, grow=40)
    new.loc[::7, "grade"] = np.nan  # training had no missing grade: scikit-learn says -1
    reference = OrdinalEncoder(
        handle_unknown="use_encoded_value",
        unknown_value=UNKNOWN_CODE,
        encoded_missing_value=MISSING_CODE,
        max_categories=cap,
    ).fit(train)
    codes = CategoryCodes(max_categories=cap).fit(train)
    for frame in (train, new):
        np.testing.assert_array_equal(codes.transform(frame), reference.transform(frame))
    assert [list(map(str, c)) for c in codes.categories_] == [
        list(map(str, c)) for c in reference.categories_
    ]
    assert list(codes.get_feature_names_out()) == list(train.columns)


def test_infrequent_categories_share_one_code_and_unseen_ones_are_apart():
    """A cap of 3 on five categories: the two most frequent keep codes 0 and 1 (sorted),
    the three rarer share code 2; an unseen category is -1, a missing value -2."""
    values = ["a"] * 5 + ["b"] * 1 + ["c"] * 9 + ["d"] * 2 + ["e"] * 1 + [np.nan]
    train = pd.DataFrame({"c": pd.Series(values, dtype=object)})
    codes = CategoryCodes(max_categories=3).fit(train)
    new = pd.DataFrame({"c": pd.Series(["a", "b", "c", "d", "e", "zz", np.nan], dtype=object)})
    assert codes.transform(new)[:, 0].tolist() == [0, 2, 1, 2, 2, UNKNOWN_CODE, MISSING_CODE]


def test_other_columns_than_in_fitting_are_refused():
    codes = CategoryCodes().fit(pd.DataFrame({"a": ["x", "y"], "b": ["u", "v"]}))
    with pytest.raises(ValueError, match="feature names"):
        codes.transform(pd.DataFrame({"a": ["x"], "c": ["u"]}))
    with pytest.raises(ValueError, match="1 features, but CategoryCodes is expecting 2"):
        codes.transform(np.array([["x"]], dtype=object))
    with pytest.raises(ValueError, match="max_categories"):
        CategoryCodes(max_categories=0).fit(pd.DataFrame({"a": ["x"]}))
