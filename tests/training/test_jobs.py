"""The job runner with real worker processes and a real MLflow SQLite store."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import numpy as np
import pytest

from finml.config import get_settings
from finml.data.staging import load_staged, stage_frame
from finml.models.bundle import load_run_bundle
from finml.store import RunStore
from finml.tasks.spec import RunSpec
from finml.training import jobs, local
from tests.conftest import wait_for


def _status(store, run_id):
    return store.get_run(run_id).status


def _ended(store, run_id):
    status = _status(store, run_id)
    return status if status not in ("queued", "running") else None


def _pids(pattern: str) -> list[int]:
    out = []
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and pattern.encode() in (proc / "cmdline").read_bytes():
                out.append(int(proc.name))
        except OSError:
            continue
    return out


def test_job_runs_in_a_worker_and_logs_everything(german_spec, reap):
    store = RunStore()
    spec = german_spec("hgb", max_iter=50)
    run_id = jobs.submit(spec, store)
    assert _status(store, run_id) in ("queued", "running")  # submit returned at once
    assert wait_for(lambda: _ended(store, run_id)) == "finished"
    run = store.get_run(run_id)
    assert run.metrics["test_roc_auc"] > 0.7
    assert run.params["hp.max_iter"] == "50" and run.total_steps == 50
    history = store.history(run_id)
    assert history["step"].tolist() == list(range(1, 51))  # every iteration, from one fit
    assert history[["loss", "val_loss"]].notna().all(axis=None)
    assert history["val_auc"].notna().sum() == 20  # ROC-AUC at 20 evenly spread iterations
    test = store.read_frame(run_id, "predictions/test.parquet")
    assert len(test) == 200
    # the bundle reloads safely and reproduces the stored test scores
    model = load_run_bundle(store, run_id)
    frame = load_staged(spec.dataset.dataset_id).iloc[test["row"]]
    np.testing.assert_allclose(model.positive_score(frame), test["score"], rtol=1e-6)
    # the permutation importance follows the result, in the same worker, then it exits
    # (its repeats took over 30 s in a suite run on two loaded cores)
    wait_for(lambda: not jobs.is_alive(run_id), timeout=120)
    assert store.get_run(run_id).followup == ""
    importance = store.read_frame(run_id, "explain/permutation_importance.parquet")
    assert set(importance["feature"]) == set(spec.dataset.numeric + spec.dataset.categorical)
    # then the SHAP summary: validation rows, contributions adding up to the model's log-odds
    shap = store.read_frame(run_id, "explain/shap_values.parquet")
    about = store.read_json(run_id, "explain/shap.json")
    assert about["method"] == "tree" and len(shap) == 200
    sides = store.read_frame(run_id, "split.parquet").set_index("row")["split"]
    assert (sides[shap["row"]] == "validation").all()
    x = model.transform(load_staged(spec.dataset.dataset_id).iloc[shap["row"]])
    total = about["base_value"] + shap.drop(columns="row").sum(axis=1)
    np.testing.assert_allclose(total, model.estimator.decision_function(x), atol=1e-6)


def test_stop_ends_a_running_mlp_and_keeps_what_it_has(german_spec, reap):
    store = RunStore()
    run_id = jobs.submit(german_spec("mlp", epochs=2000, patience=1000), store)
    wait_for(lambda: len(store.history(run_id)) >= 2)
    jobs.request_stop(run_id)
    asked = time.monotonic()
    assert wait_for(lambda: _ended(store, run_id)) == "stopped"
    # the worker ends within the epoch under way (a batch later): well before the 2,000
    # planned epochs, and in the time of evaluating and logging the partial model
    assert time.monotonic() - asked < 20
    assert len(store.history(run_id)) < 1000
    run = store.get_run(run_id)
    assert "test_roc_auc" in run.metrics  # the partial model was evaluated and kept
    with store.artifact(run_id, "bundle/model.keras") as path:
        assert path.stat().st_size > 0
    assert not path.exists()  # the local copy is gone after the block


def test_a_killed_worker_leaves_the_run_failed_with_the_reason(german_spec, reap):
    store = RunStore()
    run_id = jobs.submit(german_spec("mlp", epochs=2000, patience=1000), store)
    wait_for(lambda: len(store.history(run_id)) >= 1)
    (worker,) = _pids(f"finml.training.worker\0{run_id}")
    os.kill(worker, signal.SIGKILL)
    assert wait_for(lambda: _ended(store, run_id)) == "failed"
    assert "killed by signal SIGKILL" in store.get_run(run_id).reason


def test_runs_of_a_dead_server_are_marked_interrupted(german_spec, reap):
    store = RunStore()
    run_id = jobs.submit(german_spec("mlp", epochs=2000, patience=1000), store)
    wait_for(lambda: _status(store, run_id) == "running")
    (supervisor,) = _pids(f"finml.training.local\0run\0{run_id}")
    os.killpg(os.getpgid(supervisor), signal.SIGKILL)  # supervisor and worker die together
    wait_for(lambda: not jobs.is_alive(run_id))
    assert _status(store, run_id) == "running"  # nobody could report
    assert jobs.recover_interrupted(store) == [run_id]
    run = store.get_run(run_id)
    assert run.status == "interrupted" and "without reporting" in run.reason


def test_at_most_max_workers_run_and_the_rest_wait_queued(german_spec, reap, monkeypatch):
    monkeypatch.setenv("FINML_MAX_WORKERS", "1")
    store = RunStore()
    first = jobs.submit(german_spec("mlp", epochs=2000, patience=1000), store)
    second = jobs.submit(german_spec("logreg"), store)
    wait_for(lambda: len(store.history(first)) >= 1)
    assert _status(store, second) == "queued" and jobs.is_alive(second)
    jobs.request_stop(first)
    assert wait_for(lambda: _ended(store, first)) == "stopped"
    assert wait_for(lambda: _ended(store, second)) == "finished"


def test_queued_runs_start_in_the_order_they_were_submitted(german_spec, reap, monkeypatch):
    monkeypatch.setenv("FINML_MAX_WORKERS", "1")
    store = RunStore()
    first = jobs.submit(german_spec("mlp", epochs=2000, patience=1000), store)
    later = [jobs.submit(german_spec("logreg"), store) for _ in range(3)]
    wait_for(lambda: _status(store, first) == "running")
    assert jobs.queue_positions(store.settings) == {r: i for i, r in enumerate(later, 1)}
    jobs.request_stop(first)
    for run_id in later:
        assert wait_for(lambda r=run_id: _ended(store, r)) == "finished"
    starts = [store.get_run(r).started for r in later]
    assert starts == sorted(starts)  # first in, first out
    assert not list((get_settings().jobs_dir / "queue").iterdir())  # every entry cleared


def test_a_queued_run_can_be_stopped_before_it_starts(german_spec, reap, monkeypatch):
    monkeypatch.setenv("FINML_MAX_WORKERS", "1")
    store = RunStore()
    first = jobs.submit(german_spec("mlp", epochs=2000, patience=1000), store)
    second = jobs.submit(german_spec("logreg"), store)
    wait_for(lambda: _status(store, first) == "running")
    jobs.request_stop(second)
    assert wait_for(lambda: _ended(store, second)) == "stopped"
    assert store.history(second).empty
    jobs.request_stop(first)
    wait_for(lambda: _ended(store, first))


def test_an_untrainable_target_fails_with_its_message(german, german_spec, reap):
    frame = german.copy()
    frame["creditability"] = "good"
    spec = german_spec("logreg")
    ds = spec.dataset.__class__(**{**spec.dataset.__dict__, "dataset_id": stage_frame(frame)})
    store = RunStore()
    run_id = jobs.submit(RunSpec(ds, "logreg", spec.params), store)
    assert wait_for(lambda: _ended(store, run_id)) == "failed"
    assert "single value" in store.get_run(run_id).reason


def test_a_warm_spare_takes_the_run_and_is_replaced(german_spec, reap, monkeypatch):
    monkeypatch.setenv("FINML_WARM_WORKER", "1")
    settings = get_settings()
    spares = settings.jobs_dir / "spares"
    jobs.warm_up(settings)
    wait_for(lambda: (spares / "ready").exists(), timeout=90)
    store = RunStore()
    run_id = jobs.submit(german_spec("logreg"), store)
    assert not (spares / "ready").exists()  # claimed by this run
    assert wait_for(lambda: _ended(store, run_id)) == "finished"
    assert "test_roc_auc" in store.get_run(run_id).metrics
    wait_for(lambda: (spares / "ready").exists(), timeout=90)  # a replacement warmed up
    assert local.stop_spare(settings)
    wait_for(lambda: not reap(), timeout=30)  # the spare and its worker exited


@pytest.mark.parametrize("bad", ["../etc", "ABC", ""])
def test_job_files_refuse_anything_but_a_run_id(bad):
    from finml.errors import StoreError

    with pytest.raises(StoreError):
        local.JobFiles(get_settings(), bad)


def test_an_image_job_trains_logs_and_its_bundle_scores_new_files(reap):
    from finml.data.spec import ImageDatasetSpec
    from finml.data.split import SplitSpec
    from finml.models.bundle import load_run_bundle
    from finml.models.registry import resolve_params
    from finml.prediction.images import predict_image_files
    from tests import hostile_images as h
    from tests.conftest import stage_image_folders

    dataset_id = stage_image_folders(h.class_folders(30))
    ds = ImageDatasetSpec(
        dataset_id, "discs", ("no", "yes"), "yes", 32, "L", SplitSpec(group_col="group")
    )
    params = resolve_params("small_cnn", {"epochs": 2, "width": 8, "batch_size": 8})
    store = RunStore()
    run_id = jobs.submit(RunSpec(ds, "small_cnn", params), store)
    assert wait_for(lambda: _ended(store, run_id), timeout=120) == "finished"
    run = store.get_run(run_id)
    assert run.params["task"] == "images" and "test_accuracy" in run.metrics
    assert store.history(run_id)["step"].tolist() == [1, 2]
    test = store.read_frame(run_id, "predictions/test.parquet")
    assert {"row", "y_true", "score", "p_0", "p_1"} <= set(test.columns)
    model = load_run_bundle(store, run_id)
    files = [("new.png", h.png(h.pattern(5, 48, bright=True))), ("bad.png", b"not an image")]
    table, batch, skipped = predict_image_files(model, files)
    assert table["file"].tolist() == ["new.png"] and batch.shape == (1, 32, 32, 1)
    assert table[["p(no)", "p(yes)"]].sum(axis=1).round(3).tolist() == [1.0]
    assert skipped[0][0] == "bad.png"


def test_a_spare_never_outlives_its_workspace(reap, monkeypatch):
    import shutil

    monkeypatch.setenv("FINML_WARM_WORKER", "1")
    settings = get_settings()
    spares = settings.jobs_dir / "spares"
    jobs.warm_up(settings)
    wait_for(lambda: (spares / "ready").exists(), timeout=90)
    assert reap()  # the spare supervisor and its warm worker are alive
    shutil.rmtree(settings.jobs_dir)  # e.g. a temporary data folder removed under it
    wait_for(lambda: not reap(), timeout=30)


def test_an_idle_spare_exits_within_seconds_of_its_web_server(reap, monkeypatch):
    """A stand-in web server (a process that asks for a spare, as the pages do) is killed:
    the idle spare and its warm worker (TensorFlow loaded) exit, well within a minute."""
    import subprocess
    import sys
    import time

    monkeypatch.setenv("FINML_WARM_WORKER", "1")
    settings = get_settings()
    spares = settings.jobs_dir / "spares"
    server = subprocess.Popen(
        [sys.executable, "-c", "from finml.training import jobs; jobs.warm_up(); input()"],
        stdin=subprocess.PIPE,
    )
    wait_for(lambda: (spares / "ready").exists(), timeout=90)
    assert reap()  # the spare and its worker are alive while the server is
    server.kill()
    server.wait()
    gone = time.monotonic()
    assert wait_for(lambda: not reap(), timeout=60)
    assert time.monotonic() - gone < 60
    assert (spares / "retired").exists() and not (spares / "ready").exists()


def _run(run_id: str, status: str, submitted: float):
    from finml.store import RunInfo

    return RunInfo(run_id, run_id, "logreg", "German", status, "", submitted, None, None, None)


def test_a_queued_run_with_a_free_slot_is_starting_not_waiting():
    from finml.reporting.runs import queue_words

    runs = [_run("a", "running", 1.0), _run("b", "queued", 3.0), _run("c", "queued", 2.0)]
    assert jobs.queue_places(runs, slots=2) == {"c": 0, "b": 1}  # c takes the free slot
    assert jobs.queue_places(runs, slots=1) == {"c": 1, "b": 2}
    assert jobs.queue_places(runs, slots=0) == {"c": 1, "b": 2}  # Ray: places from 1
    assert queue_words(0) == "starting a worker"
    assert queue_words(2) == "place 2 in the queue"
    assert queue_words(None) == ""
