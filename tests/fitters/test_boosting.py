"""Gradient boosting fitted once with live progress (finml.fitters.boosting): every
iteration's loss from the fit's own bookkeeping, a stop request honoured after the current
tree, and native categories for every task alike."""

from __future__ import annotations

import numpy as np
import pytest

from finml.data.staging import load_staged
from finml.fitters.base import ListSink
from finml.tasks import train_spec


def stopped_after(spec, steps: int):
    """Train ``spec`` with every step reported at once, asking to stop once ``steps`` steps
    were reported; return the result and the sink."""
    sink = ListSink()
    result = train_spec(
        spec,
        load_staged(spec.dataset.dataset_id),
        sink,
        lambda: len(sink.steps) >= steps,
        progress_every_s=0,
    )
    return result, sink


def test_hgb_reports_every_iteration_from_one_fit_and_obeys_stop(german_spec):
    spec = german_spec("hgb", max_iter=100)
    result, sink = stopped_after(spec, 30)
    assert result.status == "stopped"
    assert result.model.estimator.n_iter_ == 30  # the trees built before the stop are kept
    history = sink.history()
    assert history["step"].tolist() == list(range(1, 31))
    assert history[["loss", "val_loss"]].notna().all(axis=None)
    assert history["val_auc"].notna().sum() == 20 and history["val_auc"].notna().iloc[-1]
    # the loss of the fit's own bookkeeping equals the log loss of the staged predictions
    from sklearn.metrics import log_loss

    x_val = result.model.transform(load_staged(spec.dataset.dataset_id).iloc[result.split.val])
    staged = list(result.model.estimator.staged_predict_proba(x_val))
    y_val = result.val_predictions["y_true"].to_numpy()
    assert history["val_loss"].iloc[9] == pytest.approx(log_loss(y_val, staged[9][:, 1]), rel=1e-4)
    assert history["loss"].iloc[-1] < history["loss"].iloc[0]  # it learned
    # the fitted model is a plain HistGradientBoostingClassifier again (no hook left on it)
    assert "_should_stop" not in vars(result.model.estimator)


def test_native_categorical_boosting_splits_on_categories_and_reloads_safely(
    german_spec, german, tmp_path
):
    import functools

    from sklearn.utils.validation import check_array

    from finml.evaluation.shap_values import explain_rows, log_odds
    from finml.models.bundle import load_bundle, save_bundle

    spec = german_spec("hgb", max_iter=60, categories="native")
    result = train_spec(spec, german, ListSink(), explain=False)
    model = result.model
    n_cat = len(spec.dataset.categorical)
    assert model.estimator.is_categorical_.sum() == n_cat  # one code column per category
    assert model.transform(german.head(3)).shape[1] < len(
        train_spec(
            german_spec("hgb", max_iter=10, categories="one-hot"), german, ListSink(), explain=False
        ).model.feature_names_out_
    )
    nodes = np.concatenate([row[0].nodes for row in model.estimator._predictors])
    assert nodes["is_categorical"].any()  # the trees split on categories themselves
    # finml's identity in place of scikit-learn's check_array changes no score
    x = model.transform(german)
    ours = model.estimator.predict_proba(x)
    for _, part, _ in model.estimator._preprocessor.transformers_:
        if type(part).__name__ == "FunctionTransformer":
            part.func = functools.partial(check_array, dtype=[np.float64], ensure_all_finite=False)
    np.testing.assert_array_equal(model.estimator.predict_proba(x), ours)
    for _, part, _ in model.estimator._preprocessor.transformers_:
        if type(part).__name__ == "FunctionTransformer":
            part.func = None
    # the bundle reloads through the safe loader and scores the same
    loaded = load_bundle(save_bundle(tmp_path / "bundle", model))
    np.testing.assert_allclose(loaded.positive_score(german), model.positive_score(german))
    # SHAP: exact Tree SHAP of the reloaded trees' category sets, adding up to the log-odds
    explained = explain_rows(loaded, german.head(5))
    assert explained.method == "tree"
    total = explained.base_value + explained.values.sum(axis=1)
    np.testing.assert_allclose(total, log_odds(loaded, loaded.transform(german.head(5))), atol=1e-6)


def test_native_categories_are_split_on_in_a_multiclass_run_too(german):
    """The multi-class copy of the trainer lacked this wiring (categories="native" fell
    back silently): one fitter now serves every task."""
    from tests.tasks.test_multiclass import housing_spec

    spec = housing_spec(german, "hgb", params={"max_iter": 20, "categories": "native"})
    model = train_spec(spec, german, ListSink(), explain=False).model
    assert model.estimator.is_categorical_.sum() == len(spec.dataset.categorical)


def _reloads_and_tree_shap_adds_up(model, rows, tmp_path) -> None:
    """The bundle of ``model`` reloads and scores ``rows`` the same, and Tree SHAP on the
    reloaded model adds up to its log-odds."""
    from finml.evaluation.shap_values import explain_rows, log_odds
    from finml.models.bundle import load_bundle, save_bundle

    loaded = load_bundle(save_bundle(tmp_path / "bundle", model))
    np.testing.assert_array_equal(loaded.positive_score(rows), model.positive_score(rows))
    explained = explain_rows(loaded, rows)
    assert explained.method == "tree"
    total = explained.base_value + explained.values.sum(axis=1)
    np.testing.assert_allclose(total, log_odds(loaded, loaded.transform(rows)), atol=1e-9)


def test_a_missing_category_is_a_category_of_its_own_and_an_unseen_one_is_missing(german, tmp_path):
    """Native codes without an imputer: a missing value gets MISSING_CODE (boosting learns
    where it goes, as the old "(missing)" category), a category unseen in training -1
    (missing to the trees); both score, Tree SHAP adds up to the log-odds, and the bundle
    reloads and scores the same."""
    from finml.models.category_codes import MISSING_CODE
    from tests.conftest import table_spec

    frame = german.copy()
    frame.loc[frame.index[::5], "purpose"] = np.nan
    spec = table_spec(frame, "hgb", params={"max_iter": 40})
    assert spec.params["categories"] == "native"  # the default
    result = train_spec(spec, frame, ListSink(), explain=False)
    model = result.model
    column = list(spec.dataset.categorical).index("purpose")
    rows = frame.iloc[result.split.test[:40]].copy()
    rows.loc[rows.index[:3], "purpose"] = "a purpose never seen"
    codes = model.transform(rows)[:, column]
    assert (codes[:3] == -1).all()
    assert (codes[rows["purpose"].isna().to_numpy()] == MISSING_CODE).all()
    assert rows["purpose"].isna().sum() > 0 and not np.isnan(model.transform(rows)).any()
    _reloads_and_tree_shap_adds_up(model, rows, tmp_path)


def test_native_boosting_takes_the_numbers_as_they_are(german, tmp_path):
    """Native categories: the numbers reach the trees as they are (no imputer, no scaler;
    a missing amount stays NaN and the trees route it), the text as Arrow holds it or as
    objects codes alike, the SHAP background is finite (a missing value as its column's
    median), Tree SHAP adds up to the log-odds, and the bundle reloads and scores the same."""
    from tests.conftest import table_spec

    frame = german.copy()
    frame.loc[frame.index[::4], "credit_amount"] = np.nan
    frame = frame.astype({c: "str" for c in frame.columns if frame[c].dtype == object})
    spec = table_spec(frame, "hgb", params={"max_iter": 40})
    result = train_spec(spec, frame, ListSink(), explain=False)
    model = result.model
    assert "impute" not in str(model.preprocessor)  # the numbers pass through
    rows = frame.iloc[result.split.test[:40]]
    x = model.transform(rows)
    amount = len(spec.dataset.categorical) + list(spec.dataset.numeric).index("credit_amount")
    np.testing.assert_array_equal(np.isnan(x[:, amount]), rows["credit_amount"].isna().to_numpy())
    present = rows["credit_amount"].notna().to_numpy()
    np.testing.assert_allclose(x[present, amount], rows["credit_amount"][present], rtol=1e-6)
    as_objects = rows.astype({c: object for c in spec.dataset.categorical})
    np.testing.assert_array_equal(model.transform(as_objects), x)
    assert np.isfinite(model.background).all()
    _reloads_and_tree_shap_adds_up(model, rows, tmp_path)


def test_native_boosting_trains_with_an_empty_number_and_one_beyond_float32(german):
    """A number missing on every training row (a field added late) and a value beyond
    float32's range (1e39, infinite once the trees' float32 holds it): native boosting
    still trains (scikit-learn's boosting cannot bin an all-missing column: finml makes it
    a constant, never split on) and its SHAP background stays finite."""
    from dataclasses import replace

    from tests.conftest import table_spec

    frame = german.copy()
    frame["bureau_score"] = np.nan
    frame["credit_amount"] = frame["credit_amount"].astype(float)
    frame.loc[frame.index[5], "credit_amount"] = 1e39
    spec = table_spec(frame, "hgb", params={"max_iter": 20})
    numeric = (*spec.dataset.numeric, "bureau_score")
    spec = replace(spec, dataset=replace(spec.dataset, numeric=numeric))
    result = train_spec(spec, frame, ListSink(), explain=False)
    assert result.status == "finished" and result.test_metrics["roc_auc"] > 0.6
    assert np.isfinite(result.model.background).all()
