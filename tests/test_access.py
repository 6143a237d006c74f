"""Who may see and do what (finml.access) on a real run store, staged datasets in each
user's own folder, and the audit trail's chain."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from finml import audit
from finml.access import (
    LOCAL,
    AccessError,
    Principal,
    ScopedStore,
    is_loopback,
    principal_from_claims,
    user_folder,
)
from finml.config import get_settings
from finml.data.staging import check_dataset, load_staged, stage_frame
from finml.errors import StoreError
from finml.store import RunStore

ALICE = Principal("alice-sub", "alice@bank.test", "alice@bank.test")
BOB = Principal("bob-sub", "bob@bank.test", "bob@bank.test")
ADMIN = Principal("carol-sub", "carol@bank.test", "carol@bank.test", admin=True)


def test_claims_give_a_stable_principal_and_admins_by_email():
    who = principal_from_claims({"sub": "x1", "email": "Carol@Bank.test"}, {"carol@bank.test"})
    assert (who.user_id, who.admin, who.name) == ("x1", True, "Carol@Bank.test")
    assert not principal_from_claims({"sub": "x2", "email": "eve@bank.test"}, set()).admin
    assert not principal_from_claims({"sub": "x3"}, {""}).admin  # no e-mail: never an admin
    with pytest.raises(AccessError, match="'sub' claim is missing"):
        principal_from_claims({"email": "a@b.c"})
    assert user_folder("x1") != user_folder("x2") and len(user_folder("x1")) == 16


@pytest.mark.parametrize(
    ("address", "loopback"),
    [
        ("127.0.0.1", True),
        ("::1", True),
        ("localhost", True),
        ("0.0.0.0", False),
        ("", False),
        (None, False),
        ("10.1.2.3", False),
        ("example.org", False),
    ],
)
def test_only_loopback_addresses_count_as_this_machine(address, loopback):
    assert is_loopback(address) is loopback


def test_a_run_of_another_user_looks_exactly_like_a_missing_one():
    raw = RunStore()
    alice, bob = ScopedStore(raw, ALICE), ScopedStore(raw, BOB)
    run_id = alice.create_run("alice's model", {"model": "logreg"}, {"finml.model": "logreg"})
    assert raw.get_run(run_id).tags["finml.owner"] == "alice-sub"
    assert [r.run_id for r in alice.list_runs()] == [run_id]
    assert bob.list_runs() == []
    missing = "0" * 32
    for call in (
        lambda s, r: s.get_run(r),
        lambda s, r: s.read_json(r, "spec.json"),
        lambda s, r: s.history(r),
        lambda s, r: s.delete_run(r),
        lambda s, r: s.set_threshold(r, 0.5, "manual"),
        lambda s, r: s.set_shared(r, True),
        lambda s, r: s.rename_run(r, "mine now"),
    ):
        with pytest.raises(StoreError) as hidden:
            call(bob, run_id)
        with pytest.raises(StoreError) as absent:
            call(bob, missing)
        assert str(hidden.value).replace(run_id, "ID") == str(absent.value).replace(missing, "ID")
    assert raw.get_run(run_id).name == "alice's model"  # nothing changed


def test_a_shared_run_is_read_only_to_others_and_admins_see_everything():
    raw = RunStore()
    alice, bob, admin = ScopedStore(raw, ALICE), ScopedStore(raw, BOB), ScopedStore(raw, ADMIN)
    run_id = alice.create_run("shared model", {}, {})
    bobs = bob.create_run("bob's own", {}, {})
    alice.set_shared(run_id, True)
    assert {r.run_id for r in bob.list_runs()} == {run_id, bobs}
    assert bob.get_run(run_id).name == "shared model"
    with pytest.raises(AccessError, match="shared with you read-only"):
        bob.delete_run(run_id)
    with pytest.raises(AccessError, match="only its owner can change it"):
        bob.set_shared(run_id, False)
    alice.set_shared(run_id, False)
    assert [r.run_id for r in bob.list_runs()] == [bobs]
    assert {r.run_id for r in admin.list_runs()} == {run_id, bobs}
    admin.rename_run(bobs, "renamed by the admin")
    assert raw.get_run(bobs).name == "renamed by the admin"
    with pytest.raises(StoreError, match="needs at least one character"):
        alice.rename_run(run_id, "   ")


def test_runs_from_before_sign_in_belong_to_the_local_user():
    raw = RunStore()
    old = raw.create_run("old", {}, {})  # no owner tag
    assert [r.run_id for r in ScopedStore(raw, LOCAL).list_runs()] == [old]
    assert ScopedStore(raw, ALICE).list_runs() == []


def test_staged_data_lives_in_its_owners_folder_and_is_checked():
    settings = get_settings()
    frame = pd.DataFrame({"a": [1, 2], "b": ["x", "y"]})
    dataset_id = stage_frame(frame, settings, owner=ALICE.user_id)
    folder, key = dataset_id.split("-")
    assert folder == ALICE.folder and (settings.datasets_dir / folder / f"{key}.parquet").is_file()
    assert "alice" not in dataset_id
    check_dataset(ALICE, dataset_id)
    check_dataset(ADMIN, dataset_id)
    with pytest.raises(StoreError) as other:
        check_dataset(BOB, dataset_id)
    with pytest.raises(StoreError) as malformed:
        check_dataset(BOB, "../../etc/passwd")
    assert (
        str(other.value) == str(malformed.value) == "That dataset is no longer in the "
        "workspace; choose the data again."
    )
    pd.testing.assert_frame_equal(load_staged(dataset_id), frame.astype({"b": object}))


def test_the_audit_trail_is_a_chain_that_shows_an_edit():
    settings = get_settings()
    audit.record(ALICE, "sign_in", settings=settings)
    audit.record(ALICE, "upload", settings=settings, sha256="ab" * 32, rows=10, columns=3)
    audit.record(BOB, "train", "r1", settings=settings, model="logreg")
    trail = audit.read(settings)
    assert trail["action"].tolist() == ["sign_in", "upload", "train"]
    assert json.loads(trail["details"][1]) == {"columns": 3, "rows": 10, "sha256": "ab" * 32}
    assert audit.verify(settings) is None
    path = audit.trail_path(settings)
    lines = path.read_bytes().splitlines(keepends=True)
    path.write_bytes(lines[0] + lines[1].replace(b'"rows": 10', b'"rows": 11') + lines[2])
    assert audit.verify(settings) == 3  # the line after the edited one no longer follows
    path.write_bytes(lines[0] + lines[2])
    assert audit.verify(settings) == 2  # a removed line
    with pytest.raises(ValueError, match="Unknown audit action"):
        audit.record(ALICE, "read_minds", settings=settings)
