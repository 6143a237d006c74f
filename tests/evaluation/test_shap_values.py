"""SHAP values of the table models on German Credit, trained for real: additivity (base
value + sum of contributions = the model's output: the log-odds of a binary model, each
class's centred log-probability of a multi-class one, the prediction in the target's units
of a regression), the raw-column grouping, the explainer chosen from the estimator's class,
reasons in plain words, and the background that travels in the bundle."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from finml.data.target import class_values
from finml.errors import BundleError
from finml.evaluation.shap_values import (
    MIN_REASON,
    ShapValues,
    adverse_reasons,
    class_reasons,
    explain_rows,
    explained_output,
    explainer_kind,
    fit_background,
    log_odds,
    output_groups,
    regression_reasons,
    row_reasons,
    summary_table,
)
from finml.fitters.base import ListSink
from finml.models.bundle import load_bundle, save_bundle
from finml.models.pipeline import FittedModel
from finml.tasks import train_spec
from tests.conftest import table_spec

#: Gradient boosting splitting on the categories themselves (small, for speed).
NATIVE = {"max_iter": 60, "categories": "native"}


@pytest.fixture(scope="module")
def runs(german):
    """One trained run per model (small), keyed by model name."""
    out = {}
    for name, params in (
        ("logreg", {}),
        ("hgb", {"max_iter": 60}),
        ("hgb-native", NATIVE),
        ("mlp", {"epochs": 5}),
    ):
        spec = table_spec(german, name.removesuffix("-native"), params=params)
        out[name] = train_spec(spec, german, ListSink(), explain=False)
    return out


@pytest.mark.parametrize(
    ("name", "method", "rows"),
    [
        ("logreg", "linear", 200),
        ("hgb", "tree", 200),
        ("hgb-native", "tree", 200),
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


# -- regression and multi-class --------------------------------------------------------------
def _task_spec(frame, model: str, task: str, params: dict):
    """A regression spec of the loan amount, or a multi-class spec of housing (own / rent /
    for free), on German Credit less creditability."""
    if task == "regression":
        spec = table_spec(frame, model, "credit_amount", "", drop=("creditability",), params=params)
        return replace(spec, dataset=replace(spec.dataset, task="regression"))
    spec = table_spec(frame, model, "housing", "for free", drop=("creditability",), params=params)
    classes = tuple(class_values(frame["housing"]))
    return replace(spec, dataset=replace(spec.dataset, task="multiclass", classes=classes))


def _train(frame, model: str, task: str, params: dict):
    """A trained run of ``task``; its model carries the training split's background (as
    a binary run's does) and names its target (as a worker-logged bundle does)."""
    result = train_spec(_task_spec(frame, model, task, params), frame, ListSink(), explain=False)
    model = result.model
    if model.background is None:  # the trainer's own, where it makes one
        x_train = model.transform(frame.iloc[result.split.train])
        model.set_params(background=fit_background(x_train, 0))
    model.set_params(meta={"target": "credit_amount" if task == "regression" else "housing"})
    return result


@pytest.fixture(scope="module")
def regressions(german):
    """One small trained regression of the loan amount per model, and ridge on log1p."""
    models = (
        ("ridge", {}),
        ("ridge-log", {"log_target": True}),
        ("hgb_reg", {"max_iter": 60}),
        ("hgb_reg-native", NATIVE),
        ("mlp_reg", {"epochs": 5}),
    )
    return {
        key: _train(german, key.removesuffix("-log").removesuffix("-native"), "regression", params)
        for key, params in models
    }


@pytest.fixture(scope="module")
def multiclass(german):
    """One small trained multi-class model of housing per model."""
    models = (
        ("logreg", {}),
        ("hgb", {"max_iter": 40}),
        ("hgb-native", {**NATIVE, "max_iter": 40}),
        ("mlp", {"epochs": 5}),
    )
    return {
        name: _train(german, name.removesuffix("-native"), "multiclass", params)
        for name, params in models
    }


def _rows(german, result, rows):
    return german.iloc[result.split.test[:rows]]


@pytest.mark.parametrize(
    ("name", "method", "rows", "rtol"),
    [
        ("ridge", "linear", 200, 1e-6),
        ("hgb_reg", "tree", 200, 1e-6),
        ("hgb_reg-native", "tree", 200, 1e-6),
        ("mlp_reg", "permutation", 12, 1e-4),
    ],
)
def test_regression_contributions_add_up_to_the_prediction_in_target_units(
    regressions, german, name, method, rows, rtol
):
    result = regressions[name]
    model = result.model
    X = _rows(german, result, rows)
    explained = explain_rows(model, X, seed=1)
    assert explainer_kind(model) == explained.method == method
    assert explained.task == "regression" and explained.output == "the predicted credit_amount"
    assert explained.values.shape == (rows, len(model.feature_names_in_))
    assert isinstance(explained.base_value, float)
    pred = model.predict(X)  # DM, as the analyst sees it
    total = explained.base_value + explained.values.sum(axis=1)
    # relative to the predictions' size: float32 models round at about 1e-7 of it
    np.testing.assert_allclose(total, pred, rtol=0, atol=rtol * np.abs(pred).mean())
    np.testing.assert_allclose(explained.totals(), total)
    # the base value is a prediction too: of the background (the training split's summary)
    assert 1_000 < explained.base_value < 6_000
    # the loan's duration moves the amount most (as permutation importance says)
    assert summary_table(explained)["feature"].iloc[0] == "duration_in_month"


def test_ridge_shap_is_the_coefficient_times_the_target_scale(regressions, german):
    model = regressions["ridge"].model
    X = german.iloc[:5]
    explained = explain_rows(model, X)
    x = model.transform(X)
    per_column = model.target_scale * model.estimator.coef_ * (x - model.background.mean(0))
    groups = output_groups(model.preprocessor, model.numeric, model.categorical)
    n_features = len(model.feature_names_in_)
    by_feature = np.stack([per_column[:, groups == j].sum(1) for j in range(n_features)], 1)
    np.testing.assert_allclose(explained.values, by_feature, rtol=1e-4, atol=1e-2)
    mean_pred = model.predict_transformed(model.background).mean()
    assert explained.base_value == pytest.approx(mean_pred, rel=1e-6)


def test_a_log_target_is_explained_in_log1p_units_and_reasons_give_percentages(regressions, german):
    result = regressions["ridge-log"]
    model = result.model
    X = _rows(german, result, 50)
    explained = explain_rows(model, X)
    assert explained.method == "linear" and explained.log_target
    assert explained.output == "log1p of the predicted credit_amount"
    pred = model.predict(X)
    np.testing.assert_allclose(explained.totals(), np.log1p(pred), rtol=1e-6)
    # each contribution is an exact factor of 1 + prediction
    factors = np.exp(explained.values).prod(axis=1)
    np.testing.assert_allclose((1 + np.expm1(explained.base_value)) * factors, 1 + pred, rtol=1e-5)
    reasons = regression_reasons(explained, X)
    row = explained.values[0]
    j = int(np.argmax(np.abs(row)))
    verb = "raised" if row[j] > 0 else "lowered"
    assert reasons[0][0].endswith(
        f"{verb} the predicted credit_amount by {abs(np.expm1(row[j])):.0%}"
    )
    assert all(r.endswith("%") for row in reasons for r in row)


def test_regression_reasons_name_what_moved_the_prediction_most_in_plain_words():
    X = pd.DataFrame(
        {"duration_in_month": [48.0, 12.0], "purpose": ["car (new)", "tv"], "age": [30.0, 40.0]}
    )
    values = np.array([[1234.4, -567.0, 5.0], [-1207.2, 0.0, 12.3456]])
    explained = ShapValues(
        values, 3000.0, list(X.columns), "linear", task="regression", target="credit_amount"
    )
    assert regression_reasons(explained, X) == [
        [
            "Duration in month of 48 raised the predicted credit_amount by 1,234",
            "Purpose = car (new) lowered the predicted credit_amount by 567",
            # 5 DM is under 1% of the row's 1,806 DM of contributions: no reason
        ],
        [
            "Duration in month of 12 lowered the predicted credit_amount by 1,207",
            "Age of 40 raised the predicted credit_amount by 12.3",
        ],
    ]
    assert regression_reasons(replace(explained, target=""), X, top=1)[1] == [
        "Duration in month of 12 lowered the prediction by 1,207"
    ]


def test_real_regression_reasons_follow_the_largest_contributions(regressions, german):
    result = regressions["hgb_reg"]
    X = _rows(german, result, 100)
    explained = explain_rows(result.model, X)
    reasons = regression_reasons(explained, X)
    assert all(0 < len(r) <= 4 for r in reasons)
    for row, texts in zip(explained.values, reasons, strict=True):
        j = int(np.argmax(np.abs(row)))
        feature = explained.features[j].replace("_", " ")
        assert texts[0].lower().startswith(feature)
        assert (" raised " in texts[0]) == (row[j] > 0)
    assert row_reasons(explained, X) == reasons
    firsts = pd.Series([r[0].split(" of ")[0] for r in reasons]).value_counts()
    assert firsts.index[0] == "Duration in month"


@pytest.mark.parametrize(
    ("name", "method", "rows", "tol"),
    [
        ("logreg", "linear", 200, 1e-6),
        ("hgb", "tree", 200, 1e-6),
        ("hgb-native", "tree", 200, 1e-6),
        ("mlp", "permutation", 12, 1e-4),
    ],
)
def test_multiclass_contributions_add_up_to_each_classs_centred_log_probability(
    multiclass, german, name, method, rows, tol
):
    result = multiclass[name]
    model = result.model
    X = _rows(german, result, rows)
    explained = explain_rows(model, X, seed=1)
    k = len(model.class_names)
    assert k == 3 and explainer_kind(model) == explained.method == method
    assert explained.task == "multiclass" and explained.classes == tuple(model.class_names)
    assert explained.values.shape == (rows, len(model.feature_names_in_), k)
    assert explained.base_value.shape == (k,)
    log_p = np.log(model.predict_proba(X))
    centred = log_p - log_p.mean(axis=1, keepdims=True)
    total = explained.base_value + explained.values.sum(axis=1)
    np.testing.assert_allclose(total, centred, rtol=tol, atol=tol)
    np.testing.assert_allclose(total, explained_output(model, model.transform(X)), atol=tol)
    # centred: every row's and the base value's classes sum to 0; differences are log-odds
    np.testing.assert_allclose(explained.values.sum(axis=2), 0, atol=1e-9)
    assert explained.base_value.sum() == pytest.approx(0, abs=1e-9)
    odds = total[:, 1] - total[:, 0]
    np.testing.assert_allclose(odds, log_p[:, 1] - log_p[:, 0], rtol=tol, atol=tol)
    np.testing.assert_array_equal(explained.predicted_class(), model.predict(X))
    one = explained.for_class(2)
    assert one.output == f"centred log-probability of '{model.class_names[2]}'"
    np.testing.assert_allclose(one.totals(), centred[:, 2], rtol=tol, atol=tol)


def test_multinomial_linear_shap_is_the_centred_coefficients_times_the_distance(multiclass, german):
    model = multiclass["logreg"].model
    X = german.iloc[:5]
    explained = explain_rows(model, X)
    coef = model.estimator.coef_ - model.estimator.coef_.mean(axis=0)  # (k, columns)
    per_column = (model.transform(X) - model.background.mean(0))[:, :, None] * coef.T
    groups = output_groups(model.preprocessor, model.numeric, model.categorical)
    by_feature = np.stack(
        [per_column[:, groups == j].sum(1) for j in range(len(model.feature_names_in_))], 1
    )
    np.testing.assert_allclose(explained.values, by_feature, atol=1e-5)


def test_class_reasons_explain_the_predicted_class(multiclass, german):
    X = pd.DataFrame({"property": ["unknown / no property", "real estate"], "age": [60.0, 30.0]})
    values = np.zeros((2, 2, 3))
    values[0, :, 0] = [1.5, 0.4]  # row 0 points to class 0 ("for free")
    values[1, :, 1] = [0.8, MIN_REASON / 2]  # row 1 to "own"; age is too small to tell
    explained = ShapValues(
        values,
        np.array([-0.5, 0.5, 0.0]),
        list(X.columns),
        "tree",
        "",
        "multiclass",
        ("for free", "own", "rent"),
    )
    assert class_reasons(explained, X) == [
        ["Property = unknown / no property favoured 'for free'", "Age of 60 favoured 'for free'"],
        ["Property = real estate favoured 'own'"],
    ]
    assert class_reasons(explained, X, class_index=2) == [[], []]
    with pytest.raises(ValueError, match="class_reasons"):
        adverse_reasons(explained, X)
    # a real model: the rows it puts in "for free" housing are told by their property
    result = multiclass["logreg"]
    X = _rows(german, result, 200)
    explained = explain_rows(result.model, X)
    predicted = explained.predicted_class()
    free = result.model.class_names.index("for free")
    reasons = class_reasons(explained, X)
    told = [r[0] for r, c in zip(reasons, predicted, strict=True) if c == free]
    assert told and all(r.endswith("favoured 'for free'") for r in told)
    assert row_reasons(explained, X) == reasons
    assert pd.Series(told).str.startswith("Property = ").mean() > 0.5


def test_the_summary_table_works_per_class_and_over_the_classes(multiclass, german):
    result = multiclass["hgb"]
    explained = explain_rows(result.model, _rows(german, result, 100))
    per_class = summary_table(explained, class_index=1)
    assert list(per_class.columns) == ["feature", "mean_abs", "mean"]
    pd.testing.assert_frame_equal(per_class, summary_table(explained.for_class(1)))
    pd.testing.assert_frame_equal(explained.frame(1), explained.for_class(1).frame())
    overall = summary_table(explained)
    names = [f"mean_abs {c}" for c in result.model.class_names]
    assert list(overall.columns) == ["feature", "mean_abs", *names]
    np.testing.assert_allclose(overall["mean_abs"], overall[names].sum(axis=1))
    assert overall["feature"].iloc[0] == "property"  # owning property tells housing apart
    assert overall["mean_abs"].is_monotonic_decreasing
    with pytest.raises(ValueError, match="class_index"):
        explained.frame()
    about = json.loads(json.dumps(explained.about()))
    assert about["task"] == "multiclass" and len(about["base_value"]) == 3


def test_models_without_a_background_explain_against_a_typical_row(regressions, multiclass, german):
    for result in (regressions["ridge"], multiclass["logreg"]):
        model = result.model
        bare = model.__class__(**{**model.get_params(deep=False), "background": None})
        X = _rows(german, result, 20)
        explained = explain_rows(bare, X)
        np.testing.assert_allclose(
            explained.totals(), explained_output(bare, bare.transform(X)), rtol=1e-5, atol=1e-5
        )


def test_the_explainer_follows_the_estimators_class_not_its_name():
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
    from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge

    class Scorecard(LogisticRegression):  # a linear model by any name
        pass

    class Forest(HistGradientBoostingRegressor):
        pass

    class HistGradientBoostingLookalike:  # the old name check would take it for boosting
        pass

    def kind(estimator):
        return explainer_kind(FittedModel(estimator=estimator))

    assert [kind(e()) for e in (LogisticRegression, Ridge, LinearRegression, Scorecard)] == [
        "linear"
    ] * 4
    assert kind(HistGradientBoostingClassifier()) == kind(Forest()) == "tree"
    assert kind(HistGradientBoostingLookalike()) == "permutation"


def _cover_value(predictor, row: np.ndarray, known: set[int], node: int = 0) -> float:
    """One tree's output at ``row`` (the rows its predictor reads: the boosting's own
    category codes) when only the ``known`` columns are known: at a split on an unknown
    column, the children's values weighted by their training rows (Tree SHAP's
    path-dependent value function, Lundberg et al. 2020, Algorithm 1)."""
    nodes = predictor.nodes
    here = nodes[node]
    if here["is_leaf"]:
        return float(here["value"])
    left, right = int(here["left"]), int(here["right"])
    feature = int(here["feature_idx"])
    if feature not in known:
        counts = nodes["count"].astype(float)
        return (
            counts[left] * _cover_value(predictor, row, known, left)
            + counts[right] * _cover_value(predictor, row, known, right)
        ) / (counts[left] + counts[right])
    value = row[feature]
    if np.isnan(value):
        goes_left = bool(here["missing_go_to_left"])
    elif here["is_categorical"]:
        code = int(value)
        bits = predictor.raw_left_cat_bitsets[here["bitset_idx"]]
        goes_left = bool((int(bits[code // 32]) >> (code % 32)) & 1)
    else:
        goes_left = value <= here["num_threshold"]
    return _cover_value(predictor, row, known, left if goes_left else right)


def test_native_categorical_tree_shap_equals_brute_force_shapley_values(german):
    """Exact: on a small boosting of two categorical and two numeric columns, finml's Tree
    SHAP of native categorical splits equals the Shapley values computed by brute force
    over all 16 coalitions of the same value function; and that value function with every
    column known is the model's own raw output (so the categorical sets are read as
    scikit-learn reads them)."""
    from itertools import combinations
    from math import factorial

    from finml.data.schema import default_features, infer_schema

    keep = {"purpose", "credit_history", "duration_in_month", "credit_amount"}
    numeric, categorical = default_features(infer_schema(german), "creditability")
    drop = [c for c in (*numeric, *categorical) if c not in keep]
    params = {"max_iter": 10, "max_leaf_nodes": 6, "categories": "native"}
    spec = table_spec(german, "hgb", drop=drop, params=params)
    model = train_spec(spec, german, ListSink(), explain=False).model
    est = model.estimator
    assert est.is_categorical_.sum() == 2
    X = german.iloc[:25]
    x = model.transform(X)
    seen = est._preprocessor.transform(x)
    trees = [stage[0] for stage in est._predictors]
    base = float(np.ravel(est._baseline_prediction)[0])

    def value(row, known):
        return base + sum(_cover_value(t, row, set(known)) for t in trees)

    p = x.shape[1]
    full = [value(row, range(p)) for row in seen]
    np.testing.assert_allclose(full, est.decision_function(x), atol=1e-9)
    explained = explain_rows(model, X)
    assert explained.method == "tree"
    sign = 1.0 if model.positive == 1 else -1.0
    # each model column is one raw feature (no missing values, so no indicators)
    groups = output_groups(model.preprocessor, model.numeric, model.categorical)
    assert sorted(groups) == list(range(p)) == list(range(len(explained.features)))
    for r, row in enumerate(seen):
        for i in range(p):
            others = [j for j in range(p) if j != i]
            phi = 0.0
            for size in range(p):
                weight = factorial(size) * factorial(p - size - 1) / factorial(p)
                for subset in combinations(others, size):
                    phi += weight * (value(row, (*subset, i)) - value(row, subset))
            assert explained.values[r, groups[i]] == pytest.approx(sign * phi, abs=1e-6)


def test_a_native_column_of_more_categories_than_tree_shap_holds_is_explained_by_permutation(
    german,
):
    """shap's categorical test holds 24 categories per column: a column of 30 goes to the
    model-agnostic explainer, whose contributions still add up to the log-odds."""
    from finml.evaluation.shap_values import TREE_SHAP_CATEGORIES

    frame = german.copy()
    rng = np.random.default_rng(0)
    frame["branch"] = [f"b{i:02d}" for i in rng.integers(0, 30, len(frame))]
    spec = table_spec(frame, "hgb", params={"max_iter": 20, "categories": "native"})
    assert "branch" in spec.dataset.categorical
    result = train_spec(spec, frame, ListSink(), explain=False)
    model = result.model
    assert TREE_SHAP_CATEGORIES < 30 and explainer_kind(model) == "permutation"
    X = frame.iloc[result.split.test[:5]]
    explained = explain_rows(model, X, seed=1)
    total = explained.base_value + explained.values.sum(axis=1)
    np.testing.assert_allclose(total, log_odds(model, model.transform(X)), atol=1e-4)
