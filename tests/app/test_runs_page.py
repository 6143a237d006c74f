"""AppTest of the Runs page."""

from __future__ import annotations

from tests.app.conftest import open_app, shown


def test_empty_store():
    assert "No runs yet" in shown(open_app("runs").info[0])


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
    from finml.store import RunStore
    from tests.app.test_evaluate_page import _second_run

    store = RunStore()
    second = _second_run(german_spec)
    at = open_app("runs")
    at.multiselect(key="compare").set_value([finished_run, second]).run()
    assert not at.exception, at.exception
    titles = " ".join(c.proto.spec for c in at.get("plotly_chart"))
    assert "ROC curves (test split)" in titles and "Learning curves: val_loss" in titles
    delong = next(d.value for d in at.dataframe if "p-value" in d.value)
    assert delong["run"].str.startswith("hgb · German").tolist() == [True] and delong[
        "note"
    ].tolist() == [""]
    assert 0 <= delong["p-value"].iloc[0] <= 1
    board = at.dataframe[0].value.set_index("run")  # ranked on test ROC-AUC (no CV)
    assert sorted(board["rank"]) == [1, 2] and set(board["ranked on"]) == {"test ROC-AUC"}
    best = board["test ROC-AUC"].idxmax()
    assert board.loc[best, "rank"] == 1
    at.selectbox(key="run").set_value(second).run()
    assert at.button(key="delete").disabled
    at.checkbox(key="confirm_delete").check().run()
    at.button(key="delete").click().run()
    assert [r.run_id for r in store.list_runs()] == [finished_run]


def test_clicking_a_leaderboard_row_opens_that_run(finished_run, german_spec):
    from tests.app.test_evaluate_page import _second_run

    second = _second_run(german_spec)
    at = open_app("runs")
    assert at.dataframe[0].value["run id"].tolist() == [second, finished_run]
    assert at.selectbox(key="run").value == second
    at.session_state["leaderboard"] = {"selection": {"rows": [1], "columns": []}}
    at.run()
    assert not at.exception, at.exception
    assert at.selectbox(key="run").value == finished_run


def test_a_queued_run_shows_its_place_and_a_running_one_stops_from_here(
    german_spec, reap, monkeypatch
):
    from finml.store import RunStore
    from finml.training import jobs
    from tests.conftest import wait_for

    monkeypatch.setenv("FINML_MAX_WORKERS", "1")
    store = RunStore()
    first = jobs.submit(german_spec("mlp", epochs=2000, patience=1000), store)
    second = jobs.submit(german_spec("logreg"), store)
    wait_for(lambda: len(store.history(first)) >= 1)
    at = open_app("runs")
    table = at.dataframe[0].value.set_index("run id")
    assert table.loc[second, "status"] == "queued (place 1)"
    assert table.loc[first, "status"] == "running"
    at.selectbox(key="run").set_value(first).run()
    at.button(key="stop").click().run()
    assert wait_for(lambda: store.get_run(first).status == "stopped")
    assert wait_for(lambda: store.get_run(second).status == "finished")
