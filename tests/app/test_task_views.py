"""AppTest of the task views (pages/views): every task has one and the pages compare no
task names; cross-validation, tuning and SHAP of a regression run and of a multi-class run,
each started from the Train form (a real job in a worker) and read on Train, Evaluate and
Predict."""

from __future__ import annotations

import re
from dataclasses import replace

import pytest

from finml.config import PROJECT_ROOT
from finml.store import RunStore
from finml.tasks import TASKS
from tests.app.conftest import chart_titles, open_app, open_tab, shown
from tests.conftest import wait_for

#: A comparison with a task's name (or an old one): pages ask the task or its view instead.
TASK_NAME_TEST = re.compile(
    r"(==|!=|in \(|in \{|in \[)\s*[\(\[\{]?\s*\"(binary|multiclass|regression|forecast|"
    r"forecasting|image|images|table)\""
)


@pytest.mark.parametrize("name", list(TASKS))
def test_every_task_has_a_view_of_its_own(name):
    from pages.views import get_view

    view = get_view(TASKS[name])
    assert view.task is TASKS[name]
    if TASKS[name].data_kind == TASKS["binary"].data_kind:  # offered among a table's tasks
        assert view.choice


def test_the_pages_compare_no_task_names():
    files = [PROJECT_ROOT / "app.py", *sorted((PROJECT_ROOT / "pages").rglob("*.py"))]
    found = [
        f"{path.relative_to(PROJECT_ROOT)}:{number}: {line.strip()}"
        for path in files
        for number, line in enumerate(path.read_text().splitlines(), start=1)
        if TASK_NAME_TEST.search(line)
    ]
    assert found == []


def _train_with_cv_and_tuning(dataset, model: str, folds: int = 3, trials: int = 3):
    """Submit ``model`` on ``dataset`` from the Train form with ``folds``-fold
    cross-validation (0: none) and a search of ``trials`` trials; wait for the run and its
    explanations. Returns (the Train page after the run, run id, store)."""
    at = open_app("train")
    at.session_state["dataset"] = dataset
    at.run()
    at.selectbox(key="model").set_value(model).run()
    if folds:
        at.toggle(key="use_cv").set_value(True)
        at.number_input(key="cv_k").set_value(folds)
    at.toggle(key="tune").set_value(True)
    at.number_input(key="tune_trials").set_value(trials)
    at.button(key="start").click().run()
    run_id = at.session_state["active_run"]
    store = RunStore()
    assert wait_for(lambda: store.get_run(run_id).status in ("finished", "failed"), timeout=240)
    assert store.get_run(run_id).status == "finished", store.get_run(run_id).reason
    assert wait_for(lambda: not store.get_run(run_id).followup, timeout=240)  # SHAP
    at.run()
    assert not at.exception, at.exception
    return at, run_id, store


def _shown_on_train(at, run, fold_metrics: list[str], judged: str, tile: str) -> None:
    """The Train page's live view of a finished run: the folds, the CV tile, the trials."""
    folds = next(d.value for d in at.dataframe if "fold" in d.value and fold_metrics[0] in d.value)
    assert folds["fold"].tolist() == [1, 2, 3] and set(fold_metrics) <= set(folds.columns)
    assert any(shown(c).startswith("Cross-validation: 3 of 3 folds done") for c in at.caption)
    cv = next(m for m in at.metric if m.label == tile)
    mean = float(cv.value.split(" ± ")[0])
    assert mean == round(folds[fold_metrics[0]].mean(), 3)
    trials = next(d.value for d in at.dataframe if judged in d.value)
    assert len(trials) == 3 and trials[judged].notna().all()


def _shown_on_evaluate(ev, run, metric: str, judged: str, key: str, tabs: str):
    """Evaluate's run tabs (under the lazy tabs' key ``tabs``), each opened in turn: the
    fold table, the trials and best parameters, the SHAP summary (left open); returns the
    SHAP table and the cross-validation tab's chart titles."""
    labels = [t.label for t in ev.tabs]
    assert {"Explanations", "Cross-validation", "Tuning"} <= set(labels), labels
    open_tab(ev, tabs, "Cross-validation")
    table = next(d.value for d in ev.dataframe if "fold 3" in d.value).set_index("metric")
    assert table.loc[metric, "mean"] == round(run.metrics[f"cv_{key}_mean"], 4)
    cv_titles = chart_titles(ev)
    open_tab(ev, tabs, "Tuning")
    trials = next(d.value for d in ev.dataframe if judged in d.value)
    assert len(trials) == 3
    assert any("refit with the best trial's parameters" in shown(c) for c in ev.caption)
    assert [j for j in ev.json if j.value]
    open_tab(ev, tabs, "Explanations")
    charts = chart_titles(ev)
    assert "SHAP summary (validation rows)" in charts and "Permutation importance" in charts
    return next(d.value for d in ev.dataframe if "mean |SHAP|" in d.value), cv_titles


def test_cv_tuning_and_shap_of_a_regression_run_from_the_form(loan_amount_spec, german, reap):
    ds = loan_amount_spec.dataset
    at, run_id, store = _train_with_cv_and_tuning(ds, "ridge")
    run = store.get_run(run_id)
    assert run.params["cv_folds"] == "3" and run.params["tune_trials"] == "3"
    _shown_on_train(at, run, ["rmse", "mae", "r2"], "val_rmse", "3-fold CV RMSE (mean ± sd)")
    assert any("(validation RMSE)" in shown(c) for c in at.caption)  # the search's caption

    ev = open_app("evaluate", {"run": run_id})
    assert not ev.exception, ev.exception
    summary, cv_titles = _shown_on_evaluate(ev, run, "RMSE", "val_rmse", "rmse", "regression_tabs")
    assert set(summary["feature"]) == set(ds.numeric + ds.categorical)
    assert any("in credit_amount units" in shown(c) for c in ev.caption)
    assert "rise of RMSE" in chart_titles(ev) and "out-of-fold rows" in cv_titles

    predict = open_app("predict", {"run": run_id})
    rows = german.head(20).drop(columns="credit_amount").to_csv(index=False).encode()
    predict.file_uploader(key="rows").set_value(("loans.csv", rows, "text/csv")).run()
    assert not predict.exception, predict.exception
    out = predict.dataframe[0].value
    assert len(out) == 20 and "reason_1" in out
    assert out["reason_1"].str.contains(r"(?:raised|lowered) the predicted credit_amount by").all()


def test_cv_tuning_and_shap_of_a_multiclass_run_from_the_form(german, reap):
    from finml.data.staging import stage_frame
    from tests.conftest import table_spec

    spec = table_spec(german, "logreg", "housing", "rent", drop=("creditability",))
    classes = ("for free", "own", "rent")
    ds = replace(spec.dataset, dataset_id=stage_frame(german), task="multiclass", classes=classes)
    at, run_id, store = _train_with_cv_and_tuning(ds, "logreg")
    run = store.get_run(run_id)
    folds = ["roc_auc", "accuracy", "macro_f1"]
    _shown_on_train(at, run, folds, "val_roc_auc", "3-fold CV ROC-AUC (mean ± sd)")

    ev = open_app("evaluate", {"run": run_id})
    assert not ev.exception, ev.exception
    assert ev.segmented_control(key="class_view").value == "All classes"
    summary, cv_titles = _shown_on_evaluate(
        ev, run, "Accuracy", "val_roc_auc", "accuracy", "run_tabs"
    )
    assert ev.selectbox(key="shap_class").value == "rent"  # the class of interest first
    assert any("centred log-probability of 'rent'" in shown(c) for c in ev.caption)
    assert "ROC curve of each fold: rent against the rest" in cv_titles
    ev.selectbox(key="shap_class").set_value("own").run()
    assert not ev.exception, ev.exception
    own = next(d.value for d in ev.dataframe if "mean |SHAP|" in d.value)
    assert set(own["feature"]) == set(summary["feature"])
    assert own["mean |SHAP|"].tolist() != summary["mean |SHAP|"].tolist()
    ev.segmented_control(key="class_view").set_value("One class against the rest").run()
    assert not ev.exception, ev.exception  # the run's tabs stay below the class view
    assert {"ROC and PR", "Explanations", "Cross-validation"} <= {t.label for t in ev.tabs}

    predict = open_app("predict", {"run": run_id})
    rows = german.head(25).drop(columns=["housing", "creditability"]).to_csv(index=False)
    predict.file_uploader(key="rows").set_value(("people.csv", rows.encode(), "text/csv")).run()
    assert not predict.exception, predict.exception
    out = predict.dataframe[0].value
    assert len(out) == 25 and "reason_1" in out
    favoured = out[out["reason_1"] != ""]
    assert len(favoured) and all(
        f"favoured '{c}'" in r
        for c, r in zip(favoured["predicted class"], favoured["reason_1"], strict=True)
    )


def test_a_forecast_search_from_the_form_is_judged_on_its_backtest(macro_forecast_run, reap):
    from tests.app.test_forecast_pages import _spec

    dataset = _spec(macro_forecast_run).dataset
    at, run_id, store = _train_with_cv_and_tuning(dataset, "ridge_lags", folds=0, trials=2)
    assert "rolling-origin backtest" in at.toggle(key="tune").help
    assert any("(backtest MASE)" in shown(c) for c in at.caption)
    trials = next(d.value for d in at.dataframe if "backtest_mase" in d.value)
    assert len(trials) == 2
    ev = open_app("evaluate", {"run": run_id})
    assert not ev.exception, ev.exception
    assert [t.label for t in ev.tabs] == ["Tuning", "Documentation"]
    best = store.get_run(run_id).metrics["tune_best_backtest_mase"]
    assert any(f"(backtest MASE {best:.4f})" in shown(c) for c in ev.caption)
