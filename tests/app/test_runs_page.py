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
