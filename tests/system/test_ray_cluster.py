"""Training on a real Ray cluster (a head and one extra worker node on 127.0.0.1, one CPU
each, token authentication on) with a real MLflow tracking server on PostgreSQL: runs are
Ray jobs that take their spec and data from the tracking server (no shared folder), wait
``queued`` while both CPUs are busy, stop through Ray (a queued one never starts, a running
one keeps what it has), and a killed job's run fails with Ray's message and its log's tail.
Every state is read back on the Runs page."""

from __future__ import annotations

import os
import signal
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest

from finml.access import ScopedStore, principal_from_claims
from finml.config import get_settings
from finml.data import duplicates, images
from finml.data.spec import ImageDatasetSpec
from finml.data.split import SplitSpec
from finml.data.staging import stage_frame, stage_images
from finml.models.bundle import load_run_bundle
from finml.models.registry import PRESETS, resolve_params
from finml.reporting.runs import group_of, run_groups
from finml.store import RunStore
from finml.tasks.spec import RunSpec
from finml.training import jobs, ray_jobs
from tests.app.conftest import open_app
from tests.conftest import table_spec, wait_for

pytestmark = pytest.mark.system

CLAIMS = {
    "iss": "http://127.0.0.1:9400",
    "sub": "alice-sub",
    "email": "alice@bank.test",
    "name": "Alice",
}
ALICE = principal_from_claims(CLAIMS)


def _worker_pids(run_id: str) -> list[int]:
    out = []
    for proc in Path("/proc").iterdir():
        try:
            cmd = (proc / "cmdline").read_bytes()
        except OSError:
            continue
        if proc.name.isdigit() and f"finml.training.worker\0{run_id}".encode() in cmd:
            out.append(int(proc.name))
    return out


def _image_spec(settings) -> RunSpec:
    """The Br35H preset on 60 images per class at 64 px (a CI-sized image run)."""
    image_set = images.read_br35h(size=64, mode="L", limit_per_class=60)
    dup = duplicates.near_duplicate_groups(duplicates.perceptual_hashes(image_set.images), 4)
    groups = duplicates.split_groups(image_set, dup)
    dataset_id = stage_images(
        image_set.images, image_set.labels, groups, image_set.names, settings, ALICE.user_id
    )
    model, preset, _ = PRESETS["br35h-64"]
    ds = ImageDatasetSpec(
        dataset_id, "Br35H subset", ("no", "yes"), "yes", 64, "L", SplitSpec(group_col="group")
    )
    return RunSpec(ds, model, resolve_params(model, {**preset, "epochs": 2}), seed=42)


def test_runs_are_ray_jobs_that_queue_stop_fail_and_show_every_state(
    tracking_server, ray_cluster, tmp_path, monkeypatch, german
):
    address, auth = ray_cluster
    monkeypatch.setenv("MLFLOW_TRACKING_URI", tracking_server)
    monkeypatch.setenv("FINML_RAY_ADDRESS", address)
    for name, value in auth.items():
        monkeypatch.setenv(name, value)
    settings = get_settings()
    assert jobs.executor(settings) is ray_jobs
    store = ScopedStore(RunStore(settings), ALICE)
    table_id = stage_frame(german, settings, ALICE.user_id)

    def on_table(model: str, **params) -> RunSpec:
        spec = table_spec(german, model, params=params)
        return replace(spec, dataset=replace(spec.dataset, dataset_id=table_id))

    def status(run_id: str) -> str:
        jobs.list_runs(store)  # what every page does: a job gone quiet gets its final status
        return store.get_run(run_id).status

    def done(run_id: str) -> bool:
        return status(run_id) not in ("queued", "running")

    # two long runs take both CPUs of the cluster
    to_stop = jobs.submit(on_table("mlp", epochs=2000, patience=1000), store)
    to_kill = jobs.submit(on_table("mlp", epochs=2000, patience=1000), store)
    wait_for(lambda: len(store.history(to_stop)) and len(store.history(to_kill)), timeout=240)
    # the next ones wait as Ray jobs PENDING on resources: queued
    image_run = jobs.submit(_image_spec(settings), store)
    table_run = jobs.submit(on_table("logreg"), store)
    never = jobs.submit(on_table("logreg"), store)
    assert [status(r) for r in (image_run, table_run, never)] == ["queued"] * 3
    client = ray_jobs.client(settings)
    assert client.get_job_status(ray_jobs.job_id(table_run)) == "PENDING"

    at = open_app("runs", user=CLAIMS)  # the board of the newest run's task and dataset
    shown = at.dataframe[0].value.set_index("run id")["status"]
    assert shown[to_stop] == shown[to_kill] == "running"
    assert shown[table_run] == "queued (place 2 in the queue)"  # Ray decides: places from 1
    at.selectbox(key="board_group").set_value(group_of(store.get_run(image_run))).run()
    shown = at.dataframe[0].value.set_index("run id")["status"]
    assert shown[image_run] == "queued (place 1 in the queue)"

    jobs.request_stop(never, settings)  # queued: it never starts
    assert status(never) == "stopped" and store.get_run(never).reason == "Stopped while queued."

    (worker,) = _worker_pids(to_kill)  # the job's process dies (OOM killer, a lost node)
    os.kill(worker, signal.SIGKILL)
    assert wait_for(lambda: status(to_kill) == "failed", timeout=120)
    reason = store.get_run(to_kill).reason
    assert reason.startswith("The Ray job failed:") and "Last output:" in reason, reason

    jobs.request_stop(to_stop, settings)  # Stop reaches the job: SIGTERM, the worker saves
    assert wait_for(lambda: status(to_stop) == "stopped", timeout=120)
    assert store.get_run(to_stop).has_results  # it kept what it had
    wait_for(lambda: client.get_job_status(ray_jobs.job_id(to_stop)) == "STOPPED", timeout=90)

    wait_for(lambda: done(image_run) and done(table_run), timeout=400, every=1.0)
    for run_id in (image_run, table_run):
        assert status(run_id) == "finished", store.get_run(run_id).reason
    image = store.get_run(image_run)  # 2 epochs on 120 images: it ran, not how well
    assert image.has_results and 0.0 <= image.metrics["test_roc_auc"] <= 1.0
    assert len(store.read_frame(image_run, "predictions/test.parquet")) > 0
    model = load_run_bundle(store, table_run)  # trained on a node, read through the server
    assert model.predict_proba(german.drop(columns="creditability").head(3)).shape == (3, 2)
    assert not (tmp_path / "finml-data" / "jobs").exists()  # no job files on this server
    # Ray may still start a job stopped while pending (its supervisor runs, then stops it):
    # the worker sees the run stopped and exits without training
    ended_job = lambda: client.get_job_status(ray_jobs.job_id(never)) not in ("PENDING", "RUNNING")  # noqa: E731
    wait_for(ended_job, timeout=120, every=1.0)
    assert status(never) == "stopped" and store.history(never).empty

    # a Keras run may ask for a GPU (the Train page offers it with Ray): none here, it waits
    at = open_app("train", user=CLAIMS)
    at.session_state["dataset"] = on_table("logreg").dataset
    at.run()
    at.selectbox(key="model").set_value("logreg").run()
    assert "gpu" not in {t.key for t in at.toggle}  # no GPU offer for a scikit-learn model
    at.selectbox(key="model").set_value("mlp").run()
    at.toggle(key="gpu").set_value(True)
    at.button(key="start").click().run()
    on_gpu = at.session_state["active_run"]
    assert store.get_run(on_gpu).params["gpus"] == "1"
    after = jobs.submit(on_table("logreg"), store)  # CPUs are free: a CPU run goes past it
    wait_for(lambda: done(after), timeout=300, every=1.0)
    assert status(after) == "finished", store.get_run(after).reason
    assert client.get_job_status(ray_jobs.job_id(on_gpu)) == "PENDING"
    assert status(on_gpu) == "queued"
    jobs.request_stop(on_gpu, settings)

    # a run whose job Ray does not know (a restarted cluster), past the submit grace
    lost = store.create_run("lost", {"task": "table"}, {})
    info = store.get_run(lost)
    assert jobs.recover_interrupted(store, [replace(info, submitted=info.submitted - 60)])

    at = open_app("runs", user=CLAIMS)
    shown = _every_board(at, store)
    ids = [image_run, table_run, to_stop, never, to_kill, on_gpu, lost]
    assert shown.loc[ids].tolist() == [
        "finished",
        "finished",
        "stopped",
        "stopped",
        "failed",
        "stopped",
        "interrupted",
    ]
    assert "no longer knows" in store.get_run(lost).reason


def _every_board(at, store) -> pd.Series:
    """The status of every run as the Runs page shows it, board by board (one per task
    and dataset, chosen in turn), by run id."""
    shown = []
    for group in run_groups(store.list_runs()):
        if len(at.selectbox) and any(b.key == "board_group" for b in at.selectbox):
            at.selectbox(key="board_group").set_value(group).run()
        shown.append(at.dataframe[0].value.set_index("run id")["status"])
    return pd.concat(shown)
