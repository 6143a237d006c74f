"""AppTest of the Train page: real jobs submitted from the form, watched, stopped."""

from __future__ import annotations

from finml.store import RunStore
from tests.app.conftest import open_app, open_tab, shown
from tests.conftest import wait_for


def _with_dataset(german_spec, model="logreg"):
    at = open_app("train")
    at.session_state["dataset"] = german_spec(model).dataset
    at.run()
    assert not at.exception, at.exception
    return at


def _start_and_finish(at):
    """Press Start; wait until the submitted run has finished. Returns (run id, store)."""
    at.button(key="start").click().run()
    run_id = at.session_state["active_run"]
    store = RunStore()
    assert wait_for(lambda: store.get_run(run_id).status == "finished")
    return run_id, store


def test_without_data_the_page_says_where_to_start():
    at = open_app("train")
    assert "Data page" in shown(at.info[0])


def test_start_submits_a_job_that_the_page_then_shows(german_spec, reap):
    at = _with_dataset(german_spec)
    _start_and_finish(at)
    at.run()
    assert not at.exception, at.exception
    labels = [m.label for m in at.metric]
    assert labels == ["Test ROC-AUC", "Gini", "KS statistic", "Brier score"]
    assert float(at.metric[0].value) > 0.75


def test_a_reloaded_page_finds_the_running_job_and_can_stop_it(german_spec, reap):
    at = _with_dataset(german_spec, "mlp")
    at.selectbox(key="model").set_value("mlp").run()
    at.number_input(key="mlp.epochs").set_value(2000)  # a form: values commit on submit
    at.number_input(key="mlp.patience").set_value(1000)
    at.button(key="start").click().run()
    run_id = at.session_state["active_run"]
    store = RunStore()
    assert store.get_run(run_id).params["hp.epochs"] == "2000"
    wait_for(lambda: len(store.history(run_id)) >= 1)
    fresh = open_app("train")  # a new session: nothing in session_state
    assert "active_run" not in fresh.session_state
    fresh.button(key="stop").click().run()
    assert wait_for(lambda: store.get_run(run_id).status == "stopped")


def test_bad_hyperparameters_show_a_message_and_submit_nothing(german_spec):
    at = _with_dataset(german_spec, "mlp")
    at.selectbox(key="model").set_value("mlp").run()
    at.text_input(key="mlp.hidden").set_value("64,abc")
    at.button(key="start").click().run()
    assert "comma-separated" in shown(at.error[0])
    assert "active_run" not in at.session_state
    assert RunStore().list_runs() == []


def test_the_br35h_preset_fills_the_form_for_image_data():
    from finml.data.spec import ImageDatasetSpec
    from finml.data.split import SplitSpec
    from finml.models.registry import PRESETS

    at = open_app("train")
    at.session_state["dataset"] = ImageDatasetSpec(
        "0" * 32, "Br35H brain MRI", ("no", "yes"), "yes", 64, "L", SplitSpec(group_col="group")
    )
    at.run()
    assert at.selectbox(key="model").options == [
        "EfficientNet-Lite0 (ImageNet), pretrained features + head",
        "Small CNN",
        "ResNet-18-like (residual blocks)",
        "ResNet50 (keras.applications)",
        "MobileNetV2 (keras.applications)",
    ]
    at.button(key="preset").click().run()
    assert not at.exception, at.exception
    model, values, _ = PRESETS["br35h-pretrained"]
    assert at.selectbox(key="model").value == model == "efficientnet_lite0"
    assert at.selectbox(key=f"{model}.head").value == values["head"] == "logistic"
    assert at.number_input(key=f"{model}.C").value == values["C"]
    at.button(key="preset_cnn").click().run()
    assert not at.exception, at.exception
    model, values, _ = PRESETS["br35h-64"]
    assert at.selectbox(key="model").value == model
    assert at.number_input(key=f"{model}.width").value == values["width"]
    assert at.number_input(key=f"{model}.epochs").value == values["epochs"]
    assert at.checkbox(key=f"{model}.contrast").value is False


def test_a_reload_restores_the_dataset_from_the_url(german_spec):
    from finml.data.staging import save_dataset_spec

    ds = german_spec("logreg").dataset
    save_dataset_spec(ds)
    at = open_app("train")
    assert "Data page" in shown(at.info[0])  # a fresh session knows no dataset...
    reloaded = open_app("train", {"dataset": ds.dataset_id})  # ...but the URL does
    assert any(ds.name in shown(c) for c in reloaded.caption)
    assert reloaded.session_state["dataset"] == ds
    assert [b for b in reloaded.button if b.key == "start"]
    gone = open_app("train", {"dataset": "f" * 32})
    assert "no longer in the workspace" in shown(gone.warning[0])
    assert "Data page" in shown(gone.info[0])


def test_cross_validation_from_the_form_is_shown_live_then_in_evaluate_and_runs(german_spec, reap):
    at = _with_dataset(german_spec)
    at.toggle(key="use_cv").set_value(True)
    at.number_input(key="cv_k").set_value(4)
    run_id, store = _start_and_finish(at)
    run = store.get_run(run_id)
    assert run.params["cv_folds"] == "4" and run.params["cv_kind"] == "stratified"
    assert store.fold_history(run_id)["step"].tolist() == [1, 2, 3, 4]
    at.run()
    assert not at.exception, at.exception
    folds = next(d.value for d in at.dataframe if "roc_auc" in d.value)
    assert folds["fold"].tolist() == [1, 2, 3, 4]
    cv = next(m for m in at.metric if "CV ROC-AUC" in m.label)
    mean, sd = (float(v) for v in cv.value.split(" ± "))
    assert mean == round(folds["roc_auc"].mean(), 3) and sd > 0
    # Evaluate: a Cross-validation tab with mean ± sd and per-fold values, and fold ROCs
    assert wait_for(lambda: store.get_run(run_id).followup == "")  # importance and SHAP
    ev = open_app("evaluate")
    assert "Cross-validation" in [t.label for t in ev.tabs]
    open_tab(ev, "eval_tabs", "Explanations")
    assert any("out-of-fold rows, which the refit model" in shown(c) for c in ev.caption)
    open_tab(ev, "eval_tabs", "Cross-validation")
    table = next(d.value for d in ev.dataframe if "fold 4" in d.value)
    auc = table.set_index("metric").loc["ROC-AUC"]
    assert auc["mean"] == round(run.metrics["cv_roc_auc_mean"], 4)
    charts = " ".join(c.proto.spec for c in ev.get("plotly_chart"))
    assert "ROC curve of each fold" in charts and "fold 4 (AUC" in charts
    # Runs: ranked on its cross-validated ROC-AUC
    board = open_app("runs").dataframe[0].value
    assert board["ranked on"].tolist() == ["4-fold cross-validation ROC-AUC"]
    assert board["rank"].tolist() == [1]


def test_tune_from_the_form_records_trials_as_child_runs_and_shows_optunas_charts(
    german_spec, reap
):
    from finml.training import jobs

    at = _with_dataset(german_spec)
    at.toggle(key="tune").set_value(True)
    at.number_input(key="tune_trials").set_value(4)
    run_id, store = _start_and_finish(at)
    trials = store.trials(run_id)
    assert trials["trial"].tolist() == [0, 1, 2, 3] and set(trials["state"]) == {"complete"}
    children = store.client.search_runs(
        [store.experiment_id], filter_string=f"tags.mlflow.parentRunId = '{run_id}'"
    )
    assert len(children) == 4  # MLflow's own UI nests them under the study's run
    assert [r.run_id for r in store.list_runs()] == [run_id]  # not listed as runs
    best = store.read_json(run_id, "tuning/best_params.json")
    assert best["C"] == float(trials.loc[trials["val_roc_auc"].idxmax(), "C"])
    at.run()
    assert not at.exception, at.exception
    shown_trials = next(d.value for d in at.dataframe if "val_roc_auc" in d.value)
    assert len(shown_trials) == 4
    charts = " ".join(c.proto.spec for c in at.get("plotly_chart"))
    assert "Optimization History Plot" in charts and "Hyperparameter Importances" in charts
    ev = open_app("evaluate")  # the Tuning tab keeps the study beside the results
    assert "Tuning" in [t.label for t in ev.tabs]
    open_tab(ev, "eval_tabs", "Tuning")
    assert any(j.value and "C" in j.value for j in ev.json)
    jobs.delete_run(run_id, store)  # the trials go with their study
    assert store.trials(run_id).empty


def test_a_reload_shows_the_settings_of_the_run_it_watches(german_spec):
    """A fresh session (a reload, or Back) with the run in its URL: the form shows that
    run's model and settings, not the defaults (logistic regression), while the run is
    shown below it."""
    from dataclasses import replace

    from finml.data.staging import save_dataset_spec
    from tests.conftest import train_and_log

    hp = {"learning_rate": 0.1, "max_iter": 40, "max_leaf_nodes": 16, "categories": "native"}
    spec = replace(german_spec("hgb", **hp), seed=7, cv_folds=3, tune_trials=2, tune_minutes=1.5)
    run_id = train_and_log(spec, "hgb · German")
    save_dataset_spec(spec.dataset)
    at = open_app("train", {"dataset": spec.dataset.dataset_id, "run": run_id})
    assert at.selectbox(key="model").value == "hgb"
    assert at.number_input(key="hgb.learning_rate").value == 0.1
    assert at.number_input(key="hgb.max_iter").value == 40
    assert at.number_input(key="hgb.max_leaf_nodes").value == 16
    assert at.selectbox(key="hgb.categories").value == "native"
    assert at.number_input(key="seed").value == 7
    assert at.toggle(key="use_cv").value is True and at.number_input(key="cv_k").value == 3
    assert at.toggle(key="tune").value is True and at.number_input(key="tune_trials").value == 2
    assert at.number_input(key="tune_min").value == 1.5
    assert any("hgb · German" in shown(s) for s in at.subheader)  # the run it watches
    # the session's own choice then stays: the run's settings fill an empty form only
    at.selectbox(key="model").set_value("logreg").run()
    assert at.selectbox(key="model").value == "logreg"
    assert at.number_input(key="logreg.C").value == 1.0
    # a run of another dataset leaves the form on its defaults
    other = replace(spec.dataset, dataset_id="e" * 32)
    save_dataset_spec(other)
    elsewhere = open_app("train", {"dataset": other.dataset_id, "run": run_id})
    assert elsewhere.selectbox(key="model").value == "logreg"


def test_per_column_choices_are_a_table_of_the_numeric_features(german_spec, reap):
    """Boosting's monotone constraints and a scorecard's trends are one row per numeric
    feature with a choice; a run's choices (e.g. restored from the run a reload watches)
    start the table, and Start records them as the run's parameters."""
    at = _with_dataset(german_spec, "hgb")
    at.selectbox(key="model").set_value("hgb").run()
    numeric = list(german_spec("hgb").dataset.numeric)
    table = next(d for d in at.dataframe if "choice" in d.value.columns)
    assert table.value["column"].tolist() == numeric
    assert set(table.value["choice"]) == {"none"}
    at.session_state["hgb.monotone"] = "duration_in_month:+1, age_in_years:-1"
    at.run()
    choices = next(d for d in at.dataframe if "choice" in d.value.columns).value
    picked = dict(zip(choices["column"], choices["choice"], strict=True))
    assert picked["duration_in_month"] == "increasing" and picked["age_in_years"] == "decreasing"
    at.number_input(key="hgb.max_iter").set_value(20)
    at.button(key="start").click().run()
    assert not at.exception, at.exception
    run = RunStore().get_run(at.session_state["active_run"])
    assert run.params["hp.monotone"] == "duration_in_month:+1, age_in_years:-1"

    at.selectbox(key="model").set_value("scorecard").run()
    table = next(d for d in at.dataframe if "choice" in d.value.columns)
    assert set(table.value["choice"]) == {"default"} and len(table.value) == len(numeric)
