"""SHAP values of the three table models on German Credit: additivity (base value + sum of
contributions = the model's log-odds), the raw-column grouping, reasons in plain words, and
the background that travels in the bundle."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from finml.errors import BundleError
from finml.evaluation.shap_values import (
    MIN_REASON,
    ShapValues,
    adverse_reasons,
    explain_rows,
    log_odds,
    output_groups,
    summary_table,
)
from finml.models.bundle import load_bundle, save_bundle
from finml.training.base import ListSink
from finml.training.tables import run_training
from tests.conftest import table_spec


@pytest.fixture(scope="module")
def runs(german):
    """One trained run per model (small), keyed by model name."""
    out = {}
    for name, params in (("logreg", {}), ("hgb", {"max_iter": 60}), ("mlp", {"epochs": 5})):
        spec = table_spec(german, name, params=params)
        out[name] = run_training(spec, german, ListSink(), explain=False)
    return out


@pytest.mark.parametrize(
    ("name", "method", "rows"),
    [
        ("logreg", "linear", 200),
        ("hgb", "tree", 200),
        ("mlp", "permutation", 12),
    ],
)
def test_contributions_add_up_to_the_models_log_odds(runs, german, name, method, rows):
    result = runs[name]
    model = result.model
    X = german.iloc[result.split.test[:rows]]
    explained = explain_rows(model, X, seed=1)
    assert explained.method == method
    assert explained.values.shape == (rows, len(model.feature_names_in_))
    total = explained.base_value + explained.values.sum(axis=1)
    np.testing.assert_allclose(total, log_odds(model, model.transform(X)), atol=1e-4)
    # log-odds are the logit of the score the analyst sees
    p = model.positive_score(X)
    np.testing.assert_allclose(total, np.log(p / (1 - p)), atol=1e-3)


def test_linear_shap_is_the_coefficient_times_the_distance_from_the_background(runs, german):
    model = runs["logreg"].model
    X = german.iloc[:5]
    explained = explain_rows(model, X)
    x = model.transform(X)
    per_column = model.estimator.coef_[0] * (x - model.background.mean(axis=0))
    groups = output_groups(model.preprocessor, model.numeric, model.categorical)
    n_features = len(model.feature_names_in_)
    by_feature = np.stack([per_column[:, groups == j].sum(1) for j in range(n_features)], 1)
    np.testing.assert_allclose(explained.values, by_feature, atol=1e-5)


def test_one_hot_and_missing_indicator_columns_map_back_to_their_raw_column():
    from finml.models.features import build_preprocessor, prepare_features

    frame = pd.DataFrame(
        {
            "income": [1.0, np.nan, 3.0, 4.0],
            "age": [30.0, 40.0, 50.0, 60.0],
            "purpose": ["car", "tv", "car", "repairs"],
        }
    )
    x = prepare_features(frame, ["income", "age"], ["purpose"])
    pre = build_preprocessor(["income", "age"], ["purpose"]).fit(x)
    names = list(pre.get_feature_names_out())
    groups = output_groups(pre, ["income", "age"], ["purpose"])
    features = ["income", "age", "purpose"]
    assert [features[g] for g in groups] == [
        "income",
        "age",
        "income",
        "purpose",
        "purpose",
        "purpose",
    ]
    assert names[2] == "missingindicator_income" and names[3].startswith("purpose_")


def test_reasons_name_the_largest_adverse_contributions_in_plain_words():
    X = pd.DataFrame({"duration_in_month": [48.0, 12.0], "purpose": ["car (new)", "tv"]})
    values = np.array([[0.80, 0.30], [-0.5, MIN_REASON / 2]])
    reasons = adverse_reasons(ShapValues(values, -1.0, list(X.columns), "tree"), X)
    assert reasons == [
        ["Duration in month of 48 raised the risk", "Purpose = car (new) raised the risk"],
        [],  # nothing raised the risk of the second applicant by MIN_REASON or more
    ]
    table = summary_table(ShapValues(values, -1.0, list(X.columns), "tree"))
    assert table["feature"].tolist() == ["duration_in_month", "purpose"]
    assert table["mean_abs"].iloc[0] == pytest.approx(0.65)


def test_the_background_travels_in_the_bundle_and_a_malformed_one_is_refused(
    runs, german, tmp_path
):
    model = runs["mlp"].model
    assert model.background.shape[1] == len(model.feature_names_out_)
    folder = save_bundle(tmp_path / "bundle", model)
    loaded = load_bundle(folder)
    np.testing.assert_allclose(loaded.background, model.background, atol=1e-6)
    X = german.iloc[:3]
    a, b = explain_rows(model, X, seed=3), explain_rows(loaded, X, seed=3)
    np.testing.assert_allclose(a.values, b.values, atol=1e-4)
    meta = json.loads((folder / "meta.json").read_text())
    meta["shap_background"][0] = meta["shap_background"][0][:-1]  # one number short
    (folder / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(BundleError, match="'shap_background' must be 1 to 1,000 rows"):
        load_bundle(folder)


def test_a_model_saved_without_background_explains_against_a_typical_applicant(
    runs, german, tmp_path
):
    model = runs["logreg"].model
    folder = save_bundle(tmp_path / "bundle", model)
    meta = json.loads((folder / "meta.json").read_text())
    del meta["shap_background"]  # as bundles of earlier finml versions
    (folder / "meta.json").write_text(json.dumps(meta))
    loaded = load_bundle(folder)
    assert loaded.background is None
    X = german.iloc[:4]
    explained = explain_rows(loaded, X)
    total = explained.base_value + explained.values.sum(axis=1)
    np.testing.assert_allclose(total, log_odds(loaded, loaded.transform(X)), atol=1e-6)
