"""The run store over a real MLflow SQLite file, and its display helpers."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pandas as pd
import pytest

from finml.errors import StoreError
from finml.store import RunInfo, RunStore, headline_metrics, progress, runs_frame


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


def test_status_steps_params_and_artifacts_round_trip():
    store = RunStore()
    run_id = store.create_run("r", {"model": "mlp", "hp.epochs": 5}, {"finml.model": "mlp"})
    assert store.get_run(run_id).status == "queued"
    store.set_status(run_id, "running")
    store.set_total_steps(run_id, 5)
    for step in (1, 2):
        store.log_step(run_id, step, {"loss": 1 / step, "val_loss": 2 / step, "val_auc": 0.5})
    store.log_frame(run_id, pd.DataFrame({"row": [1, 2], "score": [0.1, 0.9]}), "p/test.parquet")
    store.set_status(run_id, "failed", "boom")
    run = store.get_run(run_id)
    assert (run.status, run.reason, run.total_steps, run.params["hp.epochs"]) == (
        "failed",
        "boom",
        5,
        "5",
    )
    assert run.ended is not None and store.client.get_run(run_id).info.status == "FAILED"
    assert store.history(run_id)[["step", "loss"]].values.tolist() == [[1, 1.0], [2, 0.5]]
    copies = set(Path(tempfile.gettempdir()).glob("finml-artifact-*"))
    assert store.read_frame(run_id, "p/test.parquet")["score"].tolist() == [0.1, 0.9]
    assert set(Path(tempfile.gettempdir()).glob("finml-artifact-*")) == copies  # none left
    with pytest.raises(StoreError):
        store.read_frame(run_id, "missing.parquet")
    with pytest.raises(StoreError):
        store.get_run("f" * 32)
    table = runs_frame(store.list_runs())
    assert table[["run id", "status", "reason"]].values.tolist() == [[run_id, "failed", "boom"]]


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
