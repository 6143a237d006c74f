"""The fitted pipeline: one object from raw rows (or images) to probabilities."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.inspection import permutation_importance
from sklearn.utils.validation import check_is_fitted

from finml.errors import DataError
from finml.models.features import build_preprocessor, prepare_features
from finml.models.pipeline import FittedModel

ROWS = pd.DataFrame(
    {
        "amount": [1.0, 2.0, 3.0, None, 5.0, 6.0, 7.0, 8.0] * 5,
        "grade": ["A", "B", "A", None, "C", "B", "A", "C"] * 5,
        "note": ["ignored"] * 40,
    }
)
Y = np.array([0, 1, 0, 1, 1, 0, 0, 1] * 5)


def _fitted(estimator) -> FittedModel:
    pre = build_preprocessor(["amount"], ["grade"])
    x = pre.fit_transform(prepare_features(ROWS, ["amount"], ["grade"])).astype(np.float32)
    if hasattr(estimator, "fit") and hasattr(estimator, "predict_proba"):
        estimator.fit(x, Y)
    return FittedModel(estimator, pre, ("amount",), ("grade",), ("good", "bad"), 1)


def test_it_scores_raw_rows_like_its_parts_and_ignores_extra_columns():
    from sklearn.linear_model import LogisticRegression

    model = _fitted(LogisticRegression())
    x = model.transform(ROWS)
    assert x.dtype == np.float32 and x.shape == (40, len(model.feature_names_out_))
    np.testing.assert_allclose(model.predict_proba(ROWS), model.estimator.predict_proba(x))
    np.testing.assert_allclose(model.positive_score(ROWS), model.predict_proba(ROWS)[:, 1])
    assert model.predict(ROWS).tolist() == model.predict_proba(ROWS).argmax(axis=1).tolist()
    assert model.feature_names_in_.tolist() == ["amount", "grade"]
    assert model.classes_.tolist() == [0, 1] and model.family == "sklearn"
    check_is_fitted(model)
    assert model.fit(None) is model  # frozen: fitting again is a no-op
    with pytest.raises(DataError, match="'grade'"):
        model.predict_proba(ROWS.drop(columns="grade"))


def test_sklearn_permutation_importance_takes_it_as_it_is():
    from sklearn.linear_model import LogisticRegression

    model = _fitted(LogisticRegression())
    result = permutation_importance(
        model, ROWS[["amount", "grade"]], Y, scoring="roc_auc", n_repeats=3, random_state=0
    )
    assert result.importances_mean.shape == (2,)


def test_a_keras_sigmoid_becomes_two_probability_columns():
    from finml.models.registry import resolve_params
    from finml.models.tabular import build_mlp

    pre = build_preprocessor(["amount"], ["grade"])
    width = pre.fit_transform(prepare_features(ROWS, ["amount"], ["grade"])).shape[1]
    net = build_mlp(width, resolve_params("mlp", {"hidden": "4"}), seed=0)
    model = FittedModel(net, pre, ("amount",), ("grade",), ("good", "bad"), 1)
    proba = model.predict_proba(ROWS)
    assert proba.shape == (40, 2) and model.family == "keras"
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-6)
    np.testing.assert_allclose(proba[:, 1], np.asarray(net(model.transform(ROWS))).ravel(), 1e-6)


def test_an_image_model_takes_images_of_its_shape():
    from finml.models.registry import resolve_params
    from finml.models.vision import build_vision_model

    params = resolve_params("small_cnn", {"width": 4})
    net = build_vision_model("small_cnn", (16, 16, 1), 3, params, seed=0)
    model = FittedModel(net, None, class_names=("a", "b", "c"), positive=2)
    images = np.zeros((2, 16, 16, 1), dtype=np.uint8)
    assert model.is_image_model and model.image_shape == (16, 16, 1)
    assert model.predict_proba(images).shape == (2, 3)
    with pytest.raises(DataError, match=r"\(16, 16, 1\)"):
        model.predict_proba(np.zeros((2, 8, 8, 1), dtype=np.uint8))
    with pytest.raises(AttributeError):
        _ = model.feature_names_in_
