"""A run reaches only data in its own owner's folder (finml.run_data), reading another
user's rows through a shared run is audited, and deleting a run never deletes another
user's dataset (finml.training.jobs.delete_run) — each on a real run store with runs
trained for real."""

from __future__ import annotations

import io
import json
import zipfile
from dataclasses import replace

import pytest

from finml import audit, run_data
from finml.access import Principal, ScopedStore
from finml.config import get_settings
from finml.data.staging import load_staged, stage_frame
from finml.errors import StoreError
from finml.reporting.exchange import export_run, import_run
from finml.store import RunStore
from finml.training import jobs
from tests.conftest import train_and_log

ISS = "http://127.0.0.1:9400"
ALICE = Principal(f"{ISS}|alice", "Alice", "alice@bank.test", email_verified=True)
BOB = Principal(f"{ISS}|bob", "Bob", "bob@bank.test", email_verified=True)
ADMIN = Principal(f"{ISS}|carol", "Carol", "carol@bank.test", admin=True, email_verified=True)


def _events(action: str) -> list[dict]:
    trail = audit.read(get_settings())
    rows = trail[trail["action"] == action] if len(trail) else trail
    return [{**r, "details": json.loads(r["details"])} for r in rows.to_dict("records")]


@pytest.fixture
def alices_run(german, german_spec):
    """A logistic regression Alice trained on her own staged copy of German Credit."""
    spec = german_spec("logreg")
    own = stage_frame(german, owner=ALICE.user_id)
    spec = replace(spec, dataset=replace(spec.dataset, dataset_id=own))
    return train_and_log(spec, "alice's model", owner=ALICE.user_id), own


def test_a_run_reaches_its_owners_rows_and_others_only_when_shared(alices_run, german):
    run_id, dataset_id = alices_run
    raw = RunStore()
    alice, bob, admin = (ScopedStore(raw, w) for w in (ALICE, BOB, ADMIN))
    assert len(run_data.run_table(alice, run_id)) == len(german)
    assert _events("read_rows") == []  # her own rows: nothing to record
    with pytest.raises(StoreError, match="is not in the run store"):
        run_data.run_table(bob, run_id)
    alice.set_shared(run_id, True)
    assert run_data.run_table(bob, run_id).shape == german.shape
    assert run_data.run_table(admin, run_id) is not None
    read = _events("read_rows")
    assert [(e["user"], e["target"]) for e in read] == [
        (BOB.user_id, run_id),
        (ADMIN.user_id, run_id),
    ]
    assert read[0]["details"] == {"owner": ALICE.user_id, "dataset": dataset_id}
    alice.set_shared(run_id, False)
    with pytest.raises(StoreError, match="is not in the run store"):
        run_data.run_images(bob, run_id)


def test_a_pointer_to_another_users_dataset_reaches_nothing(alices_run):
    _, alices_data = alices_run
    raw = RunStore()
    bob = ScopedStore(raw, BOB)
    forged = bob.create_run("bob's", {"dataset_id": alices_data, "task": "table"}, {})
    assert run_data.dataset_of(bob, forged) is None
    assert run_data.run_table(bob, forged) is None
    bob.set_shared(forged, True)
    assert run_data.run_table(ScopedStore(raw, ALICE), forged) is None  # not even for her
    for bad in ("../../etc/passwd", "0" * 32, "f" * 16 + "-" + "0" * 32, ""):
        other = bob.create_run("odd", {"dataset_id": bad}, {})
        assert run_data.run_table(bob, other) is None
    assert _events("read_rows") == []


def test_an_import_brings_no_pointer_to_data(alices_run):
    run_id, alices_data = alices_run
    raw = RunStore()
    alice, bob = ScopedStore(raw, ALICE), ScopedStore(raw, BOB)
    exported = export_run(alice, run_id)
    assert alices_data.encode() not in exported
    imported = import_run(exported, bob, "alice.zip", owner=BOB.user_id)
    assert "dataset_id" not in raw.get_run(imported).params
    assert run_data.run_table(bob, imported) is None


def test_an_import_that_names_another_users_dataset_drops_it(alices_run):
    from tests.hostile.test_imports import _hostile, _run_json

    run_id, alices_data = alices_run
    raw = RunStore()
    exported = export_run(ScopedStore(raw, ALICE), run_id)
    record = json.loads(zipfile.ZipFile(io.BytesIO(exported)).read("run.json"))
    forged = _hostile(exported, _run_json(params={**record["params"], "dataset_id": alices_data}))
    bob = ScopedStore(raw, BOB)
    imported = import_run(forged, bob, "forged.zip", owner=BOB.user_id)
    run = raw.get_run(imported)
    assert "dataset_id" not in run.params and run.tags["finml.imported"] == "1"
    assert run_data.run_table(bob, imported) is None


def test_deleting_a_run_never_deletes_another_users_dataset(alices_run, german):
    run_id, alices_data = alices_run
    raw = RunStore()
    bob = ScopedStore(raw, BOB)
    forged = bob.create_run("bob's", {"dataset_id": alices_data}, {})
    raw.set_status(forged, "finished")
    jobs.delete_run(forged, bob)
    assert len(load_staged(alices_data)) == len(german)  # still there
    assert _events("delete_dataset") == []
    alice = ScopedStore(raw, ALICE)
    assert run_data.run_table(alice, run_id) is not None
    jobs.delete_run(run_id, alice)  # her own run, her own data, no other run of hers
    with pytest.raises(StoreError):
        load_staged(alices_data)
    (event,) = _events("delete_dataset")
    assert (event["user"], event["target"]) == (ALICE.user_id, alices_data)
    assert event["details"] == {"owner": ALICE.user_id, "run": run_id}


def test_a_dataset_another_run_of_its_owner_uses_stays(alices_run, german_spec):
    run_id, alices_data = alices_run
    spec = german_spec("logreg")
    second = train_and_log(
        replace(spec, dataset=replace(spec.dataset, dataset_id=alices_data)),
        owner=ALICE.user_id,
    )
    alice = ScopedStore(RunStore(), ALICE)
    jobs.delete_run(run_id, alice)
    assert run_data.run_table(alice, second) is not None
    assert _events("delete_dataset") == []


def test_a_user_trains_only_on_their_own_staged_data(alices_run, german_spec):
    _, alices_data = alices_run
    spec = german_spec("logreg")
    theirs = replace(spec, dataset=replace(spec.dataset, dataset_id=alices_data))
    for who in (BOB, ADMIN):
        with pytest.raises(StoreError, match="no longer in the workspace"):
            jobs.submit(theirs, ScopedStore(RunStore(), who))
    assert [r for r in RunStore().list_runs() if r.name.startswith("logreg ·")] == []
