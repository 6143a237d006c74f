"""Preprocessing: fitted on the training rows only; unseen categories handled."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from finml.errors import DataError
from finml.models.features import build_preprocessor, prepare_features


def test_fitted_on_training_rows_only_and_unknown_categories_ignored():
    train = pd.DataFrame({"amount": [1.0, 2.0, 3.0, None], "grade": ["A", "B", "A", None]})
    test = pd.DataFrame({"amount": [100.0], "grade": ["Z"]})  # unseen grade, extreme amount
    pre = build_preprocessor(["amount"], ["grade"])
    x_train = pre.fit_transform(prepare_features(train, ["amount"], ["grade"]))
    # the scaler saw only training values: mean of the median-imputed [1, 2, 3, 2] is 2
    assert pre.named_transformers_["num"].named_steps["scale"].mean_[0] == pytest.approx(2.0)
    x_test = pre.transform(prepare_features(test, ["amount"], ["grade"]))
    names = list(pre.get_feature_names_out())
    onehot = [i for i, n in enumerate(names) if n.startswith("grade_")]
    assert x_test[0, onehot].sum() == 0  # unseen category -> all zeros, no error
    assert x_train.shape[1] == x_test.shape[1]
    assert not np.isnan(x_train).any()


@pytest.mark.parametrize("categories", ["one-hot", "native"])
def test_a_missing_category_is_coded_by_the_encoder_itself(categories):
    """No imputer on categorical columns: a missing value is a category of its own (a
    one-hot column; native: MISSING_CODE), told apart from a category unseen in training
    (all zeros; native: -1), and no NaN comes out."""
    from finml.models.category_codes import MISSING_CODE

    train = pd.DataFrame({"grade": ["A", "B", None, "A"]})
    new = pd.DataFrame({"grade": [None, "Z", "B"]})
    pre = build_preprocessor([], ["grade"], categories)
    assert not any(name == "impute" for name, _ in pre.transformers[0][1].steps)
    pre.fit(prepare_features(train, [], ["grade"]))
    x = pre.transform(prepare_features(new, [], ["grade"]))
    assert not np.isnan(x).any()
    if categories == "native":
        assert x[:, 0].tolist() == [MISSING_CODE, -1, 1]
    else:
        assert x.shape[1] == 3  # A, B and missing
        assert x[0].sum() == 1 and x[1].sum() == 0 and x[2].sum() == 1
        assert x[0].argmax() != x[2].argmax()


def test_numeric_text_is_coerced_and_missing_features_refused():
    frame = pd.DataFrame({"a": ["1", "x", "3"], "b": [1, 2, 3]})
    prepared = prepare_features(frame, ["a"], ["b"])
    assert prepared["a"].isna().tolist() == [False, True, False]
    assert prepared["b"].tolist() == ["1", "2", "3"]
    with pytest.raises(DataError, match="'nope'"):
        prepare_features(frame, ["nope"], [])


def test_native_codes_cap_a_column_with_too_many_categories():
    """Native codes: a column of 300 categories keeps MAX_NATIVE_CATEGORIES codes (the
    rarest grouped as one), a column of four (missing included) keeps its own, and both are
    scikit-learn's OrdinalEncoder's codes with the same cap."""
    from sklearn.preprocessing import OrdinalEncoder

    from finml.models.category_codes import MISSING_CODE
    from finml.models.features import MAX_NATIVE_CATEGORIES, fit_preprocessing

    rng = np.random.default_rng(0)
    n = 3000
    frame = pd.DataFrame(
        {
            "amount": rng.normal(size=n),
            "grade": rng.choice(["A", "B", "C", None], n),
            "branch": [f"b{int(v)}" for v in rng.zipf(1.3, n) % 300],
        }
    )
    rows, new = np.arange(2000), np.arange(2000, n)
    cats = ["grade", "branch"]
    many = prepare_features(frame, ["amount"], cats)
    assert many["branch"].iloc[rows].nunique() > MAX_NATIVE_CATEGORIES
    _, x_many, x_new = fit_preprocessing(
        many, ["amount"], cats, {"categories": "native"}, rows, new
    )
    assert len(np.unique(x_many[:, 1])) == MAX_NATIVE_CATEGORIES
    assert len(np.unique(x_many[:, 0])) == 4
    sklearn_codes = OrdinalEncoder(
        handle_unknown="use_encoded_value",
        unknown_value=-1,
        encoded_missing_value=MISSING_CODE,
        max_categories=MAX_NATIVE_CATEGORIES,
    ).fit(many.iloc[rows][cats])
    for part, x in ((rows, x_many), (new, x_new)):
        expected = sklearn_codes.transform(many.iloc[part][cats]).astype(np.float32)
        np.testing.assert_array_equal(x[:, :2], expected)


def test_text_features_are_object_columns_whatever_the_reader_gave():
    """An upload's text columns (pandas' Arrow-backed str) and a staged table's (objects)
    become the same object columns, missing as NaN: scikit-learn's encoders would convert
    a str column back to objects on every call."""
    from finml.data import reader

    data = b"grade,amount\nA,1\n,2\nB,3\nA,4\n"
    uploaded = reader.read_table(data, "t.csv").frame
    assert isinstance(uploaded["grade"].dtype, pd.StringDtype)
    staged = uploaded.astype({"grade": object})
    for frame in (uploaded, staged):
        x = prepare_features(frame, ["amount"], ["grade"])
        assert x["grade"].dtype == object
        assert x["grade"].iloc[[0, 2, 3]].tolist() == ["A", "B", "A"]
        assert x["grade"].iloc[1] != x["grade"].iloc[1]  # NaN


def test_the_text_nan_is_missing_so_one_hot_names_stay_unique():
    """From Excel or Parquet a category can be the text "nan" beside real missing values:
    both are missing (as the CSV readers read it), so the one-hot columns keep unique names
    and a model on them explains (names are what maps SHAP values back)."""
    frame = pd.DataFrame({"grade": pd.Series(["A", "nan", None, "B"], dtype=object)})
    prepared = prepare_features(frame, [], ["grade"])
    assert prepared["grade"].isna().tolist() == [False, True, True, False]
    stringy = prepare_features(frame.astype({"grade": "str"}), [], ["grade"])
    assert stringy["grade"].isna().tolist() == [False, True, True, False]
    pre = build_preprocessor([], ["grade"]).fit(prepared)
    names = list(pre.get_feature_names_out())
    assert len(names) == len(set(names)) == 3
