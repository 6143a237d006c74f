"""Runs for display: progress labels, headline tiles, the leaderboard with queue places."""

from __future__ import annotations

import pandas as pd

from finml.reporting.runs import (
    CURVE_POLL_S,
    FAST_POLL_S,
    FAST_POLL_WINDOW_S,
    LIVE_CURVES_AFTER_S,
    POLL_S,
    curve_interval,
    headline_metrics,
    live_curves,
    poll_interval,
    progress,
    runs_frame,
)
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
    # started at 1 s, 30 s ago: 3% done at that pace leaves 970 s
    label = "running · epoch 3 of 100 · 0:30 elapsed, about 16:10 left"
    assert progress(_info(), history, now=31.0) == (0.03, label)
    assert progress(_info(status="finished"), history) == (1.0, "finished · epoch 3 of 100")
    hgb = _info(model="hgb", total_steps=200)
    assert progress(hgb, pd.DataFrame({"step": [50]}), now=3601.0) == (
        0.25,
        "running · iteration 50 of 200 · 1:00:00 elapsed, about 3:00:00 left",
    )
    fit = progress(_info(model="logreg", total_steps=1), pd.DataFrame({"step": []}), now=1.0)
    assert fit == (0.0, "running · fit 0 of 1 · 0:00 elapsed")  # no pace yet: no estimate
    queued = _info(status="queued", started=None, total_steps=None)
    assert progress(queued, pd.DataFrame({"step": []})) == (0.0, "queued")
    imported = _info(model="someone_elses_model", status="stopped")
    assert progress(imported, history) == (0.03, "stopped · step 3 of 100")


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
    assert table["status"].tolist() == ["queued (place 2 in the queue)", "finished"]
    assert table["run id"].tolist() == ["b" * 32, "a" * 32]


def test_work_before_the_first_step_shows_as_its_own_progress():
    # the worker records the extraction of image features as a stage: 300 of 1,200 images
    # 20 s after the start, so a quarter done leaves 60 s at that pace
    run = _info(model="efficientnet_lite0", tags={"finml.stage": "extracting features|300/1200"})
    assert run.stage == ("extracting features", 300, 1200)
    label = "running · extracting features: 300 of 1,200 · 0:20 elapsed, about 1:00 left"
    assert progress(run, pd.DataFrame({"step": []}), now=21.0) == (0.25, label)
    # once epochs are logged they are the progress again
    assert progress(run, pd.DataFrame({"step": [2]}), now=21.0)[1].startswith("running · epoch 2")
    assert _info(tags={"finml.stage": "no counts"}).stage is None


def test_the_train_page_polls_fast_right_after_start_then_once_a_second():
    queued = _info(status="queued", submitted=100.0, started=None)
    assert poll_interval(queued, now=101.0) == FAST_POLL_S
    assert poll_interval(_info(submitted=100.0), now=100.0 + FAST_POLL_WINDOW_S - 1) == FAST_POLL_S
    assert poll_interval(_info(submitted=100.0), now=100.0 + FAST_POLL_WINDOW_S + 1) == POLL_S
    assert poll_interval(_info(status="finished", submitted=100.0), now=101.0) is None
    assert FAST_POLL_S < POLL_S


def test_the_learning_curves_redraw_less_often_than_the_monitor_polls():
    for status in ("queued", "running"):
        assert curve_interval(_info(status=status, submitted=100.0)) == CURVE_POLL_S
    assert curve_interval(_info(status="finished", submitted=100.0)) is None
    assert CURVE_POLL_S > POLL_S > FAST_POLL_S


def test_live_learning_curves_wait_15_s_from_the_start_and_ended_runs_show_them():
    young = 100.0 + LIVE_CURVES_AFTER_S - 1
    running = _info(status="running", submitted=50.0, started=100.0)  # queued 50 s first
    assert not live_curves(running, now=young)
    assert live_curves(running, now=young + 2)
    queued = _info(status="queued", submitted=50.0, started=None)
    assert not live_curves(queued, now=young + 100)
    for status in ("finished", "stopped", "failed"):
        assert live_curves(_info(status=status, submitted=100.0), now=100.5)
