"""Hyperparameter search with Optuna: the registry's search space, a seeded study whose best
trial is refit and tested once, the trials reported one by one, stop, and the study rebuilt
from stored trials for Optuna's charts."""

from __future__ import annotations

import numpy as np
import pytest

from finml.fitters.base import ListSink
from finml.tasks import train_spec
from finml.tasks.tuning import search_space, study_from_trials
from tests.conftest import table_spec

TrialSink = ListSink  # it keeps the trials too


def test_the_search_space_comes_from_the_registry():
    space = search_space("hgb")
    assert set(space) == {
        "learning_rate",
        "max_leaf_nodes",
        "min_samples_leaf",
        "l2_regularization",
    }
    assert space["learning_rate"].log and not space["l2_regularization"].log
    assert (space["max_leaf_nodes"].low, space["max_leaf_nodes"].high) == (4, 64)
    assert search_space("mlp")["hidden"].choices == ("32", "64,32", "128,64")
    assert set(search_space("small_cnn")) == {"learning_rate", "dropout"}


def test_the_best_trial_is_refit_and_tested_once_and_the_study_is_reproducible(german):
    spec = table_spec(german, "logreg", tune_trials=6, seed=7)
    sink = TrialSink()
    result = train_spec(spec, german, sink, explain=False)
    trials = result.tuning.trials
    assert [t[0] for t in sink.trials] == list(range(6)) and len(trials) == 6
    assert {t[1] for t in sink.trials} == {6}
    best = trials.loc[trials["val_roc_auc"].idxmax()]
    assert result.tuning.best_value == pytest.approx(best["val_roc_auc"])
    assert result.tuning.best_params["C"] == pytest.approx(best["C"])
    assert pytest.approx(best["C"]) == result.model.estimator.C  # the refit uses the best C
    assert trials["C"].between(1e-3, 1e2).all() and trials["C"].nunique() == 6
    again = train_spec(spec, german, TrialSink(), explain=False).tuning.trials
    np.testing.assert_allclose(again["C"], trials["C"])  # TPE with a fixed seed
    # Optuna's own charts from the stored trials (parameters come back as text)
    stored = trials.astype({"C": str})
    study = study_from_trials("logreg", stored)
    assert len(study.trials) == 6 and study.best_value == pytest.approx(best["val_roc_auc"])


def test_stop_ends_the_study_without_a_model(german):
    spec = table_spec(german, "hgb", tune_trials=20, params={"max_iter": 300})
    sink = TrialSink()
    result = train_spec(spec, german, sink, lambda: len(sink.trials) >= 2, explain=False)
    assert result.status == "stopped" and result.model is None
    assert len(result.tuning.trials) == 3  # two done; the third halted at once, as pruned
    assert result.tuning.trials["state"].iloc[-1] == "pruned"
