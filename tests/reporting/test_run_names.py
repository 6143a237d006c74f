"""The leaderboard's groups, names that tell runs apart, and the interval of the metric a
run is ranked on."""

from __future__ import annotations

import pytest

from finml.reporting.runs import (
    group_label,
    ranked_interval,
    run_groups,
    run_names,
    runs_frame,
)
from finml.store import RunInfo


def _run(run_id: str, model="logreg", dataset="German Credit (Statlog)", **kw) -> RunInfo:
    params = {"task": "binary", "model": model, "dataset": dataset, "seed": "42"}
    params |= kw.pop("params", {})
    base = {
        "run_id": run_id * 32,
        "name": f"{model} · {dataset}",  # the name finml gives a run
        "model": model,
        "dataset": dataset,
        "status": "finished",
        "reason": "",
        "submitted": 0.0,
        "started": 1.0,
        "ended": 2.0,
        "total_steps": 1,
        "params": params,
        "metrics": {"test_roc_auc": 0.78},
    }
    return RunInfo(**{**base, **kw})


def test_two_runs_of_one_model_get_names_that_tell_them_apart():
    a = _run("a", params={"hp.C": "1.0", "class_weights": "False"})
    b = _run("b", params={"hp.C": "0.1", "class_weights": "True"})
    c = _run("c", model="hgb", params={"hp.max_iter": "200"})
    names = run_names([a, b, c])
    assert names[a.run_id] == "logreg · C=1, no class weights · aaaaaaaa"
    assert names[b.run_id] == "logreg · C=0.1, class weights · bbbbbbbb"
    assert names[c.run_id] == "hgb · cccccccc"  # the only hgb: nothing to tell apart
    assert len(set(names.values())) == 3
    assert not any("German Credit" in n for n in names.values())  # the group says it


def test_identical_settings_still_differ_by_id_and_datasets_show_when_mixed():
    a, b = _run("a"), _run("b")
    assert run_names([a, b]) == {a.run_id: "logreg · aaaaaaaa", b.run_id: "logreg · bbbbbbbb"}
    other = _run("d", dataset="Breast cancer")
    names = run_names([a, other])
    assert names[other.run_id] == "logreg · Breast cancer · dddddddd"
    assert names[a.run_id] == "logreg · German Credit (Statlog) · aaaaaaaa"


def test_a_name_the_user_gave_is_kept_where_it_is_unique():
    mine = _run("a", name="champion")
    twins = [_run("b", name="try"), _run("c", name="try")]
    names = run_names([mine, *twins])
    assert names[mine.run_id] == "champion"
    assert names["b" * 32] == "try · bbbbbbbb" and names["c" * 32] == "try · cccccccc"


def test_runs_are_grouped_by_task_and_dataset_newest_group_first():
    image = _run("i", model="cnn", dataset="Br35H", params={"task": "images"})
    housing = _run("h", model="mlp", dataset="Housing", params={"task": "multiclass"})
    credit = [_run("a"), _run("b", metrics={"test_roc_auc": 0.8})]
    groups = run_groups([image, housing, *credit])
    assert list(groups) == [
        ("images", "Br35H"),
        ("multiclass", "Housing"),
        ("binary", credit[0].dataset),
    ]
    assert groups[("binary", credit[0].dataset)] == credit
    assert group_label(("binary", "German Credit (Statlog)"), 2) == (
        "Binary classification · German Credit (Statlog) (2 runs)"
    )


def test_the_board_shows_the_ranked_metric_and_its_ci_right_after_the_name():
    runs = [_run("a"), _run("b", metrics={"test_roc_auc": 0.8})]
    table = runs_frame(runs, intervals={"a" * 32: (0.72, 0.84)})
    assert table.columns[:5].tolist() == ["run", "ROC-AUC", "95% CI", "rank", "ranked on"]
    assert table["95% CI"].iloc[0] == "0.720 – 0.840" and table["95% CI"].isna().iloc[1]
    assert table["rank"].tolist() == [2, 1]
    assert table["run"].tolist() == ["logreg · aaaaaaaa", "logreg · bbbbbbbb"]
    assert "test RMSE" not in table  # no run of this table logged it: no empty column


def test_the_interval_of_a_test_roc_auc_agrees_with_the_bootstrap(german_spec):
    from finml.evaluation.bootstrap import metric_cis
    from finml.store import RunStore
    from tests.conftest import train_and_log

    store = RunStore()
    run = store.get_run(train_and_log(german_spec("logreg")))
    test = store.read_frame(run.run_id, "predictions/test.parquet")
    low, high = ranked_interval(run, test)
    auc = run.metrics["test_roc_auc"]
    assert low < auc < high
    boot = metric_cis(test["y_true"].to_numpy(), test["score"].to_numpy(), 0.5)
    assert low == pytest.approx(boot.loc["roc_auc", "lower"], abs=0.03)
    assert high == pytest.approx(boot.loc["roc_auc", "upper"], abs=0.03)
    assert ranked_interval(run, None) is None  # no predictions, no interval


def test_the_interval_of_a_cross_validated_run_is_over_its_folds():
    run = _run(
        "a",
        params={"cv_folds": "5"},
        metrics={"cv_roc_auc_mean": 0.77, "cv_roc_auc_sd": 0.03, "test_roc_auc": 0.8},
    )
    low, high = ranked_interval(run)
    half = 2.776445 * 0.03 / 5**0.5  # t(4) quantile
    assert (low, high) == pytest.approx((0.77 - half, 0.77 + half))


def test_the_interval_of_a_regression_rmse(loan_amount_run):
    from finml.store import RunStore

    store = RunStore()
    run = store.get_run(loan_amount_run)
    test = store.read_frame(run.run_id, "predictions/test.parquet")
    low, high = ranked_interval(run, test)
    assert 0 < low < run.metrics["test_rmse"] < high
