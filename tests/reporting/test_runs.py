"""Runs for display: progress labels, headline tiles, the leaderboard with queue places."""

from __future__ import annotations

import pandas as pd

from finml.reporting.runs import headline_metrics, progress, runs_frame
from finml.store import RunInfo


def _info(**kw) -> RunInfo:
    base = {
        "run_id": "a" * 32,
        "name": "r",
        "model": "mlp",
        "dataset": "d",
        "status": "running",
        "reason": "",
        "submitted": 0.0,
        "started": 1.0,
        "ended": None,
        "total_steps": 100,
    }
    return RunInfo(**{**base, **kw})


def test_progress_label_and_fraction():
    history = pd.DataFrame({"step": [1, 2, 3]})
    assert progress(_info(), history) == (0.03, "running · epoch 3 of 100")
    assert progress(_info(status="finished"), history)[0] == 1.0  # early stopping = complete
    assert progress(_info(model="hgb", total_steps=200), pd.DataFrame({"step": [50]})) == (
        0.25,
        "running · iteration 50 of 200",
    )
    assert progress(_info(total_steps=None), pd.DataFrame({"step": []})) == (0.0, "running")


def test_headline_tiles_follow_what_the_run_logged():
    table = _info(
        metrics={
            "test_roc_auc": 0.8,
            "test_gini": 0.6,
            "test_ks": 0.5,
            "test_brier": 0.2,
            "test_accuracy": 0.7,
        }
    )
    assert [k for k, _ in headline_metrics(table)] == [
        "Test ROC-AUC",
        "Gini",
        "KS statistic",
        "Brier score",
    ]
    three_classes = _info(
        params={"task": "images"},
        metrics={"test_roc_auc": 0.9, "test_accuracy": 0.8, "test_macro_f1": 0.7},
    )
    assert headline_metrics(three_classes) == [
        ("Test ROC-AUC", 0.9),
        ("Accuracy", 0.8),
        ("Macro F1", 0.7),
    ]


def test_the_leaderboard_shows_the_place_of_queued_runs():
    runs = [_info(run_id="b" * 32, status="queued"), _info(status="finished")]
    table = runs_frame(runs, {"b" * 32: 2})
    assert table["status"].tolist() == ["queued (place 2)", "finished"]
    assert table["run id"].tolist() == ["b" * 32, "a" * 32]
