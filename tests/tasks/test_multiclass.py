"""Multi-class table targets, trained for real: German Credit's housing (own / rent / for
free) from the other attributes."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from finml.data.target import class_values, infer_task, validate_classes
from finml.errors import TargetError
from finml.evaluation.metrics import image_metrics
from finml.fitters.base import ListSink
from finml.tasks import train_spec
from tests.conftest import table_spec


def housing_spec(frame, model: str, **kw):
    spec = table_spec(frame, model, "housing", "for free", drop=("creditability",), **kw)
    classes = tuple(class_values(frame["housing"]))
    return replace(spec, dataset=replace(spec.dataset, task="multiclass", classes=classes))


@pytest.mark.parametrize(
    ("model", "params"),
    [("logreg", {}), ("hgb", {"max_iter": 40}), ("mlp", {"epochs": 12, "batch_size": 64})],
)
def test_each_model_separates_the_classes(model, params, german):
    sink = ListSink()
    explain = model == "logreg"  # permutation importance (macro OvR AUC drop) once
    spec = housing_spec(german, model, params=params)
    result = train_spec(spec, german, sink, explain=explain)
    m = result.test_metrics
    # owning property, or not, tells "for free" and "own" apart: well above chance (0.5)
    assert m["roc_auc"] > 0.75 and m["accuracy"] > 0.7, m
    test = result.test_predictions
    proba = test[["p_0", "p_1", "p_2"]].to_numpy()
    np.testing.assert_allclose(proba.sum(axis=1), 1, rtol=1e-5)
    assert image_metrics(test["y_true"].to_numpy(), proba, 0)["roc_auc"] == pytest.approx(
        m["roc_auc"]
    )
    np.testing.assert_allclose(
        result.model.predict_proba(german.iloc[test["row"]]), proba, rtol=1e-5
    )
    assert sink.history()["val_auc"].dropna().iloc[-1] > 0.7
    report = result.split_report.set_index("split")
    assert list(report.columns[1:4]) == ["for free", "own", "rent"]
    if explain:
        assert result.importance["feature"].iloc[0] == "property"  # "for free" housing


def test_the_task_guess_and_bad_class_targets():
    assert infer_task(pd.Series(list("ABCDEFG") * 10)) == "multiclass"
    assert infer_task(pd.Series(["good", "bad"] * 10)) == "binary"
    few = pd.Series(["A"] * 50 + ["B"] * 50 + ["C"] * 4, name="grade")
    with pytest.raises(TargetError, match="class 'C' of 'grade' has only 4 rows"):
        validate_classes(few, ("A", "B", "C"))
    with pytest.raises(TargetError, match="needs 3 to 20 classes; 'grade' has 2"):
        validate_classes(few[:100], ("A", "B"))


def test_cross_validation_and_tuning_of_a_multiclass_run(german):
    """k folds of the one-vs-rest macro ROC-AUC, out-of-fold probabilities of every class,
    a refit on every non-test row tested once; a search judged on the validation ROC-AUC."""
    sink = ListSink()
    result = train_spec(
        housing_spec(german, "hgb", cv_folds=3, params={"max_iter": 30}), german, sink
    )
    folds = result.cv.folds
    assert folds["fold"].tolist() == [1, 2, 3] and (folds["roc_auc"] > 0.5).all()
    assert [f for f, _, _ in sink.folds] == [1, 2, 3]
    assert set(sink.folds[0][2]) == {"roc_auc", "accuracy", "macro_f1"}
    oof = result.val_predictions
    non_test = np.sort(np.concatenate([result.split.train, result.split.val]))
    assert np.array_equal(np.sort(oof["row"].to_numpy()), non_test)
    assert np.allclose(oof[["p_0", "p_1", "p_2"]].sum(axis=1), 1.0)
    assert set(result.cv.summary()) >= {"cv_roc_auc_mean", "cv_accuracy_sd"}
    tuned = train_spec(housing_spec(german, "logreg", tune_trials=3), german, sink := ListSink())
    assert len(sink.trials) == 3 and "val_roc_auc" in tuned.tuning.trials
    assert 0.5 < tuned.tuning.best_value <= 1 and tuned.test_metrics["roc_auc"] > 0.5
