"""The run store over a real MLflow SQLite file, and its display helpers."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pandas as pd
import pytest

from finml.errors import StoreError
from finml.reporting.runs import runs_frame
from finml.store import RunStore


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


def test_listing_pages_through_every_run_and_recovers_the_oldest(monkeypatch):
    """Listing once stopped at 500 runs, so older runs were never shown nor recovered."""
    import time

    from finml import store as store_module
    from finml.training import jobs

    monkeypatch.setattr(store_module, "PAGE_SIZE", 250)  # three pages
    store = RunStore()
    start = int((time.time() - 3600) * 1000)  # an hour ago: long past the start grace
    for i in range(600):
        status = "running" if i < 100 else "finished"  # the oldest 100 were left running
        store.client.create_run(
            store.experiment_id, start_time=start + i, tags={"finml.status": status}
        )
    runs = jobs.list_runs(store)
    assert len(runs) == 600
    assert [r.submitted for r in runs] == sorted((r.submitted for r in runs), reverse=True)
    assert {r.status for r in runs[-100:]} == {"interrupted"}
    assert {r.status for r in runs[:500]} == {"finished"}


@pytest.mark.slow  # MLflow itself waits 20 s on a locked SQLite file before it gives up
def test_a_locked_store_is_retried_then_reported_plainly(monkeypatch, data_dir):
    import sqlite3
    import threading
    import time

    from finml import store as store_module

    store = RunStore()
    run_id = store.create_run("r", {}, {})
    holder = sqlite3.connect(data_dir / "mlflow.db", check_same_thread=False)
    holder.execute("BEGIN EXCLUSIVE")  # another process holds the SQLite lock
    monkeypatch.setattr(store_module, "LOCK_WAIT_S", 1.0)
    started = time.monotonic()
    with pytest.raises(StoreError, match="The run store is busy"):
        RunStore().get_run(run_id)
    assert time.monotonic() - started < 60
    monkeypatch.setattr(store_module, "LOCK_WAIT_S", 30.0)
    threading.Timer(1.0, holder.rollback).start()  # released while a read is retrying
    assert RunStore().get_run(run_id).run_id == run_id
    holder.close()


def test_many_steps_are_logged_in_batches_of_at_most_1000_values():
    store = RunStore()
    run_id = store.create_run("r", {"model": "hgb"}, {"finml.model": "hgb"})
    steps = [(s, {"loss": 1 / s, "val_loss": 2 / s, "val_auc": 0.5}) for s in range(1, 601)]
    store.log_steps(run_id, steps)  # 1,800 values: two MLflow batches
    history = store.history(run_id)
    assert history["step"].tolist() == list(range(1, 601))
    assert history["val_loss"].iloc[-1] == pytest.approx(2 / 600)
    store.log_steps(run_id, [(5, {"val_auc": 0.9})])  # a step again, with one more value
    assert store.history(run_id).set_index("step").loc[5, "val_auc"] == 0.9
