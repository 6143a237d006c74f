"""Real regression training on the German Credit loan-amount demo (small, seeded)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from finml.data.demo import LEAVE_OUT
from finml.errors import DataError, SpecError
from finml.evaluation.regression import regression_metrics
from finml.fitters.base import ListSink
from finml.tasks import train_spec
from tests.conftest import table_spec

DEMO = "German Credit: loan amount (regression)"


def regression_spec(frame, model: str, drop=(), **kw):
    """A regression RunSpec on the loan-amount demo's default features less ``drop``."""
    from dataclasses import replace

    spec = table_spec(frame, model, "credit_amount", "", drop=(*LEAVE_OUT[DEMO], *drop), **kw)
    return replace(spec, dataset=replace(spec.dataset, task="regression"))


@pytest.mark.parametrize(
    ("model", "params"),
    [("ridge", {}), ("hgb_reg", {"max_iter": 150}), ("mlp_reg", {"epochs": 25, "batch_size": 64})],
)
def test_each_regressor_beats_the_mean_baseline_on_the_test_split(model, params, german):
    sink = ListSink()
    spec = regression_spec(german, model, params=params)
    result = train_spec(spec, german, sink, explain=model == "ridge")
    m = result.test_metrics
    assert result.status == "finished"
    # the amount follows the loan's duration: every model explains a good part of it
    assert m["r2"] > 0.3, m
    assert m["rmse"] < m["baseline_rmse"] and m["mae"] < m["baseline_mae"]
    test = result.test_predictions
    assert len(test) == 200 and set(test["row"]) == set(result.split.test.tolist())
    again = regression_metrics(test["y_true"].to_numpy(), test["y_pred"].to_numpy())
    assert again["rmse"] == pytest.approx(m["rmse"])
    # the fitted pipeline predicts raw rows exactly as the stored test predictions
    np.testing.assert_allclose(result.model.predict(german.iloc[test["row"]]), test["y_pred"])
    history = sink.history()
    assert history[["loss", "val_loss"]].notna().all(axis=None)
    assert history["val_rmse"].dropna().iloc[-1] > 0
    q = result.model.intervals
    assert 0 < q["0.8"] < q["0.9"] < q["0.95"]
    if model == "ridge":  # permutation importance: the RMSE rise, duration first
        assert result.importance["feature"].iloc[0] == "duration_in_month"


def test_the_target_transform_is_fitted_on_the_training_split_only(german):
    spec = regression_spec(german, "ridge", params={"log_target": True})
    result = train_spec(spec, german, ListSink())
    y = german["credit_amount"].to_numpy(dtype=float)
    train = np.log1p(y[result.split.train])
    assert result.model.target_mean == pytest.approx(train.mean())
    assert result.model.target_scale == pytest.approx(train.std())
    everything = np.log1p(y)
    assert result.model.target_mean != pytest.approx(everything.mean(), abs=1e-9)
    # the split is stratified by target quintile: each side's mean is close to the whole's
    report = result.split_report.set_index("split")
    assert (abs(report["target mean"] / y.mean() - 1) < 0.08).all()
    assert np.isclose(result.model.decode_target(result.model.encode_target(y[:5])), y[:5]).all()


def test_the_log_transform_refuses_negative_targets(german):
    frame = german.assign(credit_amount=german["credit_amount"] - 1000)
    spec = regression_spec(frame, "ridge", params={"log_target": True})
    with pytest.raises(DataError, match="needs values >= 0"):
        train_spec(spec, frame, ListSink())


def test_a_classifier_model_is_refused_for_regression(german):
    with pytest.raises(SpecError, match="does not do regression"):
        train_spec(regression_spec(german, "logreg"), german, ListSink())


def test_cross_validation_of_a_regression_run_calibrates_its_intervals_out_of_fold(german):
    """Each fold standardises the target on its own training rows; the folds report RMSE,
    MAE and R² live; the intervals come from the out-of-fold residuals (the refit saw every
    non-test row) and still cover about their level on the test split."""
    sink = ListSink()
    result = train_spec(regression_spec(german, "ridge", cv_folds=5), german, sink)
    folds = result.cv.folds
    assert folds["fold"].tolist() == [1, 2, 3, 4, 5]
    assert [sorted(m) for _, _, m in sink.folds] == [["mae", "r2", "rmse"]] * 5
    oof = result.val_predictions
    residuals = np.abs(oof["y_true"] - oof["y_pred"]).to_numpy()
    q90 = result.model.intervals["0.9"]
    assert np.isclose(q90, np.sort(residuals)[int(np.ceil((len(residuals) + 1) * 0.9)) - 1])
    test = result.test_predictions
    covered = np.mean(np.abs(test["y_true"] - test["y_pred"]) <= q90)
    assert 0.8 <= covered <= 0.97, covered
    assert result.test_metrics["rmse"] < result.test_metrics["baseline_rmse"]


def test_tuning_a_regression_run_minimises_the_validation_rmse(german):
    sink = ListSink()
    result = train_spec(regression_spec(german, "ridge", tune_trials=4), german, sink)
    trials = result.tuning.trials
    assert len(trials) == 4 and "val_rmse" in trials
    assert result.tuning.best_value == trials.loc[trials["state"] == "complete", "val_rmse"].min()
    assert result.tuning.metric == "val_rmse"


def test_a_stop_request_keeps_what_was_trained(german):
    calls = {"n": 0}

    def stop_after_some():
        calls["n"] += 1
        return calls["n"] > 30

    spec = regression_spec(german, "hgb_reg", params={"max_iter": 500})
    result = train_spec(spec, german, ListSink(), stop_after_some)
    assert result.status == "stopped" and 0 < result.steps < 500
    assert result.model is not None and len(result.test_predictions) == 200


def test_an_out_of_time_split_gives_mase(german):
    from dataclasses import replace

    from finml.data.split import SplitSpec

    frame = german.assign(opened=pd.date_range("2020-01-01", periods=len(german), freq="D"))
    spec = regression_spec(frame, "ridge", drop=("opened",))
    spec = replace(spec, dataset=replace(spec.dataset, split=SplitSpec(time_col="opened")))
    result = train_spec(spec, frame, ListSink())
    assert result.split.train.max() < result.split.test.min()  # oldest train, newest test
    assert 0 < result.test_metrics["mase"] < 2


def test_the_quintile_stratification_can_be_turned_off(german):
    from finml.data.split import SplitSpec

    plain = regression_spec(german, "ridge")
    plain = replace_split(plain, SplitSpec(stratify=False))
    a = train_spec(plain, german, ListSink(), explain=False)
    b = train_spec(regression_spec(german, "ridge"), german, ListSink(), explain=False)
    assert not np.array_equal(a.split.test, b.split.test)
    y = german["credit_amount"].to_numpy(float)
    # stratified: every side's quintile shares are within a row of 20%
    from finml.data.target import quantile_strata

    strata = quantile_strata(y)
    shares = np.bincount(strata[b.split.test], minlength=5) / len(b.split.test)
    assert np.abs(shares - 0.2).max() <= 0.01
    assert a.test_metrics["r2"] > 0.2


def replace_split(spec, split):
    from dataclasses import replace

    return replace(spec, dataset=replace(spec.dataset, split=split))
