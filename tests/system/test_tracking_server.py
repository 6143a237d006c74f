"""A shared MLflow tracking server on PostgreSQL (both started here, on 127.0.0.1): a run
trained by one app server's worker is seen, evaluated and scored from a second app server
with its own data folder, by the same user only; a dataset staged on the first trains on
the second (it travels through the server, no shared folder); the run's training table is
logged as an MLflow dataset input with its digest."""

from __future__ import annotations

import shutil

import pytest

from finml.access import ScopedStore, principal_from_claims
from finml.config import get_settings
from finml.data.staging import stage_frame
from finml.models.bundle import load_run_bundle
from finml.store import RunStore
from finml.training import jobs
from tests.app.conftest import open_app
from tests.conftest import GERMAN, table_spec, wait_for

pytestmark = pytest.mark.system

ISS = "http://127.0.0.1:9400"
ALICE_CLAIMS = {"iss": ISS, "sub": "alice-sub", "email": "alice@bank.test", "name": "Alice"}
ALICE = principal_from_claims(ALICE_CLAIMS)
BOB = principal_from_claims({"iss": ISS, "sub": "bob-sub", "email": "bob@bank.test"})


def test_a_run_from_one_app_server_is_read_from_another(
    tracking_server, tmp_path, monkeypatch, german, reap
):
    from dataclasses import replace

    monkeypatch.setenv("MLFLOW_TRACKING_URI", tracking_server)
    monkeypatch.setenv("FINML_DATA_DIR", str(tmp_path / "server-a"))
    server_a = get_settings()
    assert server_a.tracking_uri == tracking_server
    spec = table_spec(german, "logreg")
    dataset = replace(spec.dataset, dataset_id=stage_frame(german, server_a, ALICE.user_id))
    spec = replace(spec, dataset=replace(dataset, name=GERMAN))
    store_a = ScopedStore(RunStore(server_a), ALICE)
    run_id = jobs.submit(spec, store_a)
    assert wait_for(lambda: store_a.get_run(run_id).status == "finished", timeout=180)

    monkeypatch.setenv("FINML_DATA_DIR", str(tmp_path / "server-b"))
    server_b = get_settings()
    store_b = ScopedStore(RunStore(server_b), ALICE)
    run = store_b.get_run(run_id)
    assert run.has_results and run.metrics["test_roc_auc"] > 0.7
    model = load_run_bundle(store_b, run_id)  # through the server: no shared folder
    scores = model.predict_proba(german.drop(columns="creditability").head(5))
    assert scores.shape == (5, 2)
    assert not (tmp_path / "server-b" / "artifacts").exists()
    assert not (tmp_path / "server-b" / "datasets").exists()
    assert ScopedStore(RunStore(server_b), BOB).list_runs() == []

    inputs = RunStore(server_b).client.get_run(run_id).inputs.dataset_inputs
    assert [d.dataset.name for d in inputs] == [GERMAN] and len(inputs[0].dataset.digest) >= 8

    at = open_app("evaluate", {"run": run_id}, user=ALICE_CLAIMS)
    assert not at.exception and at.selectbox(key="eval_run").value == run_id

    # the dataset staged on server A trains from server B: its worker fetches it
    shutil.rmtree(tmp_path / "server-b" / "datasets", ignore_errors=True)  # (a page's cache)
    second = jobs.submit(spec, store_b)
    assert wait_for(lambda: store_b.get_run(second).status == "finished", timeout=180)
    cached = list((tmp_path / "server-b" / "datasets").rglob("*.parquet"))
    assert [p.name for p in cached] == [dataset.dataset_id.split("-")[1] + ".parquet"]
    assert store_b.get_run(second).metrics["test_roc_auc"] == run.metrics["test_roc_auc"]


def test_every_app_servers_audit_trail_is_read_from_any_of_them(
    tracking_server, tmp_path, monkeypatch
):
    from finml import audit

    monkeypatch.setenv("MLFLOW_TRACKING_URI", tracking_server)
    servers = []
    for name, who in (("server-a", ALICE), ("server-b", BOB)):
        monkeypatch.setenv("FINML_DATA_DIR", str(tmp_path / name))
        settings = get_settings()
        audit.record(who, "sign_in", settings=settings)
        audit.record(who, "train", f"run-of-{who.user_id}", settings=settings, model="logreg")
        servers.append(settings)
    ids = [audit.server_id(settings) for settings in servers]
    for settings in servers:  # an admin on either server sees all four events
        trail = audit.read(settings)  # (other tests' servers share the tracking server)
        assert trail["time"].is_monotonic_increasing
        ours = trail[trail["server"].isin(ids)]
        assert sorted(ours["user"]) == sorted([ALICE.user_id] * 2 + [BOB.user_id] * 2)
        assert sorted(set(ours["server"])) == sorted(ids)
        trails = audit.trails(settings)
        assert [audit.verify(path=trails[sid]) for sid in ids] == [None, None]
    # an edit in server A's trail shows from server B once A uploads again
    path = audit.trail_path(servers[0])
    lines = path.read_bytes().splitlines(keepends=True)
    path.write_bytes(lines[0].replace(b"alice-sub", b"mallory") + lines[1])
    audit.record(ALICE, "stop", "run-of-alice-sub", settings=servers[0])
    assert audit.verify(path=audit.trails(servers[1])[ids[0]]) == 2
