"""AppTest of the Runs page."""

from __future__ import annotations

from tests.app.conftest import open_app


def test_empty_store():
    assert "No runs yet" in open_app("runs").info[0].value


def test_lists_runs_and_opens_one_in_evaluate(finished_run):
    at = open_app("runs")
    table = at.dataframe[0].value
    assert table["run id"].tolist() == [finished_run]
    assert table["status"].tolist() == ["finished"]
    assert table["test ROC-AUC"].iloc[0] > 0.75
    at.button(key="open_eval").click().run()
    assert at.session_state["eval_run"] == finished_run
    assert not at.exception


def test_compare_overlays_and_delete(finished_run, german_spec):
    from finml.data.staging import load_staged
    from finml.store import FINISHED, RunStore
    from finml.train import ListSink, run_training
    from finml.worker import log_result

    store = RunStore()
    spec = german_spec("hgb", max_iter=30)
    second = store.create_run("hgb · German", {"model": "hgb", "positive_class": "bad"}, {})
    log_result(
        store, second, spec, run_training(spec, load_staged(spec.dataset.dataset_id), ListSink())
    )
    store.set_status(second, FINISHED)
    at = open_app("runs")
    at.multiselect(key="compare").set_value([finished_run, second]).run()
    assert not at.exception, at.exception
    titles = " ".join(c.proto.spec for c in at.get("plotly_chart"))
    assert "ROC curves (test split)" in titles and "Learning curves: val_loss" in titles
    at.selectbox(key="run").set_value(second).run()
    assert at.button(key="delete").disabled
    at.checkbox(key="confirm_delete").check().run()
    at.button(key="delete").click().run()
    assert [r.run_id for r in store.list_runs()] == [finished_run]
