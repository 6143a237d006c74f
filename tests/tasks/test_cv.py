"""k-fold cross-validation: the folds of each split kind, out-of-fold predictions from
preprocessing fitted per fold, the refit behind the test metrics, live folds and stop."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from finml.data.split import SplitSpec, cv_folds
from finml.data.target import validate_target
from finml.errors import SplitError
from finml.evaluation.metrics import binary_metrics
from finml.fitters.base import ListSink
from finml.tasks import train_spec
from tests.conftest import table_spec


def _spec(german, model="logreg", k=5, **params):
    return table_spec(german, model, params=params, cv_folds=k)


def test_folds_of_each_kind_partition_the_rows_without_leaking():
    rng = np.random.default_rng(0)
    n = 300
    frame = pd.DataFrame(
        {
            "customer": rng.integers(0, 60, n).astype(str),
            "date": pd.date_range("2020-01-01", periods=n, freq="D")[rng.permutation(n)],
        }
    )
    y = rng.integers(0, 2, n)
    rows = np.arange(0, n, 1)[rng.random(n) < 0.8]
    for spec in (SplitSpec(), SplitSpec(group_col="customer"), SplitSpec(time_col="date")):
        folds = cv_folds(frame, y, rows, spec, 4)
        assert len(folds) == 4
        held = np.concatenate([va for _, va in folds])
        assert len(np.unique(held)) == len(held) and set(held) <= set(rows)
        for tr, va in folds:
            assert not set(tr) & set(va) and set(tr) | set(va) <= set(rows)
            if spec.group_col:
                assert not set(frame["customer"][tr]) & set(frame["customer"][va])
            if spec.time_col:
                assert frame["date"][tr].max() < frame["date"][va].min()  # the past only
        if not spec.time_col:
            assert set(held) == set(rows)  # every row is held out once
    with pytest.raises(SplitError, match="2 to 20 folds"):
        cv_folds(frame, y, rows, SplitSpec(), 1)
    few = frame.assign(customer=(np.arange(n) % 3).astype(str))
    with pytest.raises(SplitError, match="fewer than 4 distinct values"):
        cv_folds(few, y, rows, SplitSpec(group_col="customer"), 4)


def test_out_of_fold_scores_come_from_preprocessing_and_model_fitted_on_the_other_folds(german):
    from finml.models.features import build_preprocessor, prepare_features
    from finml.models.tabular import build_sklearn

    spec = _spec(german)
    sink = ListSink()
    result = train_spec(spec, german, sink, explain=False)
    cv = result.cv
    non_test = np.sort(np.concatenate([result.split.train, result.split.val]))
    # every non-test row is scored once, out of fold; no test row takes part
    assert sorted(cv.oof["row"]) == non_test.tolist()
    assert not set(cv.oof["row"]) & set(result.split.test)
    # the folds arrived live, one by one, and the summary is their mean and sd
    assert [f[0] for f in sink.folds] == [1, 2, 3, 4, 5]
    aucs = cv.folds["roc_auc"].to_numpy()
    assert [f[2]["roc_auc"] for f in sink.folds] == pytest.approx(aucs)
    summary = cv.summary()
    assert summary["cv_roc_auc_mean"] == pytest.approx(aucs.mean())
    assert summary["cv_roc_auc_sd"] == pytest.approx(aucs.std(ddof=1))
    # fold 1 again by hand: preprocessing and model fitted on the other four folds only
    ds = spec.dataset
    y = validate_target(german, ds.target, ds.positive)
    X = prepare_features(german, list(ds.numeric), list(ds.categorical))
    held = cv.oof[cv.oof["fold"] == 1]["row"].to_numpy()
    train = np.setdiff1d(non_test, held)
    pre = build_preprocessor(list(ds.numeric), list(ds.categorical))
    x_tr = pre.fit_transform(X.iloc[train]).astype(np.float32)
    lr = build_sklearn("logreg", spec.params, class_weights=False, seed=spec.seed).fit(
        x_tr, y[train]
    )
    by_hand = lr.predict_proba(pre.transform(X.iloc[held]).astype(np.float32))[:, 1]
    np.testing.assert_allclose(cv.oof[cv.oof["fold"] == 1]["score"], by_hand, rtol=1e-6)
    # the tested model was refit on every non-test row; thresholds use the OOF scores
    pre_all = build_preprocessor(list(ds.numeric), list(ds.categorical))
    x_all = pre_all.fit_transform(X.iloc[non_test]).astype(np.float32)
    refit = build_sklearn("logreg", spec.params, class_weights=False, seed=spec.seed)
    refit.fit(x_all, y[non_test])
    np.testing.assert_allclose(result.model.estimator.coef_, refit.coef_, rtol=1e-6)
    assert len(result.val_predictions) == len(non_test)
    test = result.test_predictions
    assert result.test_metrics == binary_metrics(test["y_true"], test["score"], 0.5)


def test_a_cross_validated_mlp_is_refit_for_the_folds_median_best_epochs(german):
    spec = _spec(german, "mlp", k=3, epochs=15, patience=2)
    sink = ListSink()
    result = train_spec(spec, german, sink, explain=False)
    assert result.status == "finished" and len(sink.folds) == 3
    assert 1 <= result.cv.best_steps <= 15
    assert result.steps == result.cv.best_steps  # the refit trains exactly that long
    history = sink.history()
    assert "loss" in history and "val_loss" not in history


def test_stop_during_cross_validation_ends_the_run_without_a_model(german):
    spec = _spec(german, "hgb", k=5, max_iter=400)
    sink = ListSink()
    result = train_spec(spec, german, sink, lambda: len(sink.folds) >= 2, explain=False)
    assert result.status == "stopped" and result.model is None
    assert len(sink.folds) == 2  # the third fold stopped at its first iteration
