"""AppTest of the Runs page."""

from __future__ import annotations

import json

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
    figures = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]
    roc = next(f for f in figures if f["layout"]["title"]["text"] == "ROC curves (test split)")
    legend = roc["layout"]["legend"]  # below the plot, not beside it
    assert legend["orientation"] == "h" and legend["y"] < 0
    # both are one-shot fits here (no history): a caption, not a chart of lone dots
    assert not any("Learning curves" in f["layout"]["title"]["text"] for f in figures)
    assert any("No learning curve" in shown(c) for c in at.caption)
    delong = next(d.value for d in at.dataframe if "p-value" in d.value)
    assert delong.columns[:5].tolist() == [
        "run",
        "difference",
        "95% CI low",
        "95% CI high",
        "p-value",
    ]
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
    assert table.loc[second, "status"] == "queued (place 1 in the queue)"
    assert table.loc[first, "status"] == "running"
    at.selectbox(key="run").set_value(first).run()
    at.button(key="stop").click().run()
    assert wait_for(lambda: store.get_run(first).status == "stopped")
    assert wait_for(lambda: store.get_run(second).status == "finished")


def test_the_board_shows_one_task_and_dataset_with_names_that_differ(
    finished_run, german_spec, loan_amount_run
):
    from tests.conftest import train_and_log

    strong = train_and_log(german_spec("logreg", C=1.0))  # named as finml names a run
    weak = train_and_log(german_spec("logreg", C=0.01))
    at = open_app("runs")
    assert not at.exception, at.exception
    groups = at.selectbox(key="board_group")
    assert groups.value == ("binary", "German Credit (Statlog)")  # the newest run's
    board = at.dataframe[0].value
    assert board.columns[:3].tolist() == ["run", "ROC-AUC", "95% CI"]
    assert set(board["run id"]) == {finished_run, strong, weak}  # not the regression run
    names = board.set_index("run id")["run"]
    assert names[strong] == f"logreg · C=1 · {strong[:8]}"
    assert names[weak] == f"logreg · C=0.01 · {weak[:8]}"
    low, high = (float(v) for v in board.set_index("run id").loc[weak, "95% CI"].split(" – "))
    assert low < board.set_index("run id").loc[weak, "ROC-AUC"] < high
    assert sorted(board["rank"]) == [1, 2, 3]
    groups.set_value(("regression", "German Credit: loan amount (regression)")).run()
    assert not at.exception, at.exception
    board = at.dataframe[0].value
    assert board["run id"].tolist() == [loan_amount_run] and board["rank"].tolist() == [1]
    assert board.columns[:3].tolist() == ["run", "RMSE", "95% CI"]
    assert "test ROC-AUC" not in board  # no empty columns of the other task
    at.session_state["leaderboard"] = {"selection": {"rows": [0], "columns": []}}
    at.run()
    assert at.selectbox(key="run").value == loan_amount_run
