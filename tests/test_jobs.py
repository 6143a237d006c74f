"""The job runner with real worker processes and a real MLflow SQLite store."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import numpy as np
import pytest

from finml import jobs
from finml.config import get_settings
from finml.data.staging import load_staged, stage_frame
from finml.predict import load_run_bundle
from finml.preprocess import prepare_features
from finml.spec import RunSpec
from finml.store import RunStore
from finml.train import predict_scores
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
    assert history["step"].tolist() == [10, 20, 30, 40, 50]
    test = store.read_frame(run_id, "predictions/test.parquet")
    assert len(test) == 200
    # the bundle reloads safely and reproduces the stored test scores
    bundle = load_run_bundle(store, run_id)
    frame = load_staged(spec.dataset.dataset_id).iloc[test["row"]]
    x = bundle.preprocessor.transform(prepare_features(frame, *_features(spec)))
    np.testing.assert_allclose(predict_scores(bundle.model, x), test["score"], rtol=1e-6)
    wait_for(lambda: not jobs.is_alive(run_id), timeout=15)  # the processes exit after reporting


def _features(spec: RunSpec):
    return list(spec.dataset.numeric), list(spec.dataset.categorical)


def test_stop_ends_a_running_mlp_and_keeps_what_it_has(german_spec, reap):
    store = RunStore()
    run_id = jobs.submit(german_spec("mlp", epochs=2000, patience=1000), store)
    wait_for(lambda: len(store.history(run_id)) >= 2)
    jobs.request_stop(run_id)
    assert wait_for(lambda: _ended(store, run_id)) == "stopped"
    run = store.get_run(run_id)
    assert len(store.history(run_id)) < 2000
    assert "test_roc_auc" in run.metrics  # the partial model was evaluated and kept
    with store.artifact(run_id, "bundle/model.keras") as path:
        assert path.stat().st_size > 0
    assert not path.exists()  # the local copy is gone after the block


def test_a_killed_worker_leaves_the_run_failed_with_the_reason(german_spec, reap):
    store = RunStore()
    run_id = jobs.submit(german_spec("mlp", epochs=2000, patience=1000), store)
    wait_for(lambda: len(store.history(run_id)) >= 1)
    (worker,) = _pids(f"finml.worker\0{run_id}")
    os.kill(worker, signal.SIGKILL)
    assert wait_for(lambda: _ended(store, run_id)) == "failed"
    assert "killed by signal SIGKILL" in store.get_run(run_id).reason


def test_runs_of_a_dead_server_are_marked_interrupted(german_spec, reap):
    store = RunStore()
    run_id = jobs.submit(german_spec("mlp", epochs=2000, patience=1000), store)
    wait_for(lambda: _status(store, run_id) == "running")
    (supervisor,) = _pids(f"finml.jobs\0run\0{run_id}")
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
    jobs.ensure_spare(settings)
    wait_for(lambda: (spares / "ready").exists(), timeout=90)
    store = RunStore()
    run_id = jobs.submit(german_spec("logreg"), store)
    assert not (spares / "ready").exists()  # claimed by this run
    assert wait_for(lambda: _ended(store, run_id)) == "finished"
    assert "test_roc_auc" in store.get_run(run_id).metrics
    wait_for(lambda: (spares / "ready").exists(), timeout=90)  # a replacement warmed up
    assert jobs.stop_spare(settings)
    wait_for(lambda: not reap(), timeout=30)  # the spare and its worker exited


@pytest.mark.parametrize("bad", ["../etc", "ABC", ""])
def test_job_files_refuse_anything_but_a_run_id(bad):
    from finml.errors import StoreError

    with pytest.raises(StoreError):
        jobs.JobFiles(get_settings(), bad)


def test_an_image_job_trains_logs_and_its_bundle_scores_new_files(reap):
    from finml.data import images
    from finml.data.staging import stage_images
    from finml.models.registry import resolve_params
    from finml.predict import load_run_bundle, predict_image_files
    from finml.spec import ImageDatasetSpec
    from finml.split import SplitSpec
    from tests import hostile_images as h

    image_set = images.read_zip(h.zip_of(h.class_folders(30)), size=32, mode="L")
    dup = images.near_duplicate_groups(images.perceptual_hashes(image_set.images))
    groups = images.split_groups(image_set, dup)
    dataset_id = stage_images(image_set.images, image_set.labels, groups, image_set.names)
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
    bundle = load_run_bundle(store, run_id)
    files = [("new.png", h.png(h.pattern(5, 48, bright=True))), ("bad.png", b"not an image")]
    table, batch, skipped = predict_image_files(bundle, files)
    assert table["file"].tolist() == ["new.png"] and batch.shape == (1, 32, 32, 1)
    assert table[["p(no)", "p(yes)"]].sum(axis=1).round(3).tolist() == [1.0]
    assert skipped[0][0] == "bad.png"


def test_a_spare_never_outlives_its_workspace(reap, monkeypatch):
    import shutil

    monkeypatch.setenv("FINML_WARM_WORKER", "1")
    settings = get_settings()
    spares = settings.jobs_dir / "spares"
    jobs.ensure_spare(settings)
    wait_for(lambda: (spares / "ready").exists(), timeout=90)
    assert reap()  # the spare supervisor and its warm worker are alive
    shutil.rmtree(settings.jobs_dir)  # e.g. a temporary data folder removed under it
    wait_for(lambda: not reap(), timeout=30)
