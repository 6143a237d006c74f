"""Who may see and do what (finml.access) on a real run store, staged datasets in each
user's own folder, and the audit trail's chain."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from finml import access, audit
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

ISS = "http://127.0.0.1:9400"
ALICE = Principal(f"{ISS}|alice-sub", "Alice", "alice@bank.test", email_verified=True)
BOB = Principal(f"{ISS}|bob-sub", "Bob", "bob@bank.test", email_verified=True)
ADMIN = Principal(f"{ISS}|carol-sub", "Carol", "carol@bank.test", admin=True, email_verified=True)


def test_claims_give_a_stable_principal_namespaced_by_issuer():
    claims = {"iss": ISS, "sub": "x1", "email": "Carol@Bank.test", "email_verified": True}
    who = principal_from_claims(claims, {"carol@bank.test"})
    assert (who.user_id, who.admin, who.name) == (f"{ISS}|x1", True, "Carol@Bank.test")
    other = principal_from_claims({**claims, "iss": "https://login.other.test"})
    assert other.user_id != who.user_id and other.folder != who.folder  # same sub, 2 providers
    assert not principal_from_claims({"sub": "x2", "email": "eve@bank.test"}, set()).admin
    assert not principal_from_claims({"sub": "x3"}, {""}).admin  # no e-mail: never an admin
    with pytest.raises(AccessError, match="'sub' claim is missing"):
        principal_from_claims({"email": "a@b.c"})
    assert user_folder("x1") != user_folder("x2") and len(user_folder("x1")) == 16


def test_a_subject_called_local_is_not_the_local_user():
    who = principal_from_claims({"iss": ISS, "sub": "local", "name": "local"})
    assert who.user_id != LOCAL.user_id and who.folder != LOCAL.folder
    raw = RunStore()
    old = raw.create_run("from before sign-in", {}, {})
    assert ScopedStore(raw, who).list_runs() == []
    with pytest.raises(StoreError, match="is not in the run store"):
        ScopedStore(raw, who).get_run(old)


@pytest.mark.parametrize("verified", [False, "false", None, "yes", 1])
def test_an_unverified_email_never_makes_an_admin(verified, caplog):
    claims = {"iss": ISS, "sub": "mallory", "email": "carol@bank.test", "email_verified": verified}
    if verified is None:
        del claims["email_verified"]
    with caplog.at_level("WARNING", logger="finml.access"):
        who = principal_from_claims(claims, {"carol@bank.test"})
    assert not who.admin
    assert "Admin role refused" in caplog.text and "not mark it verified" in caplog.text
    assert principal_from_claims({**claims, "email_verified": "true"}, {"carol@bank.test"}).admin


def test_a_chosen_name_cannot_pass_for_another_user():
    alice = principal_from_claims(
        {"iss": ISS, "sub": "a", "email": "alice@bank.test", "email_verified": True}
    )
    mallory = principal_from_claims({"iss": ISS, "sub": "m", "name": "alice@bank.test"})
    assert alice.display.startswith("alice@bank.test #")
    assert mallory.display.startswith("alice@bank.test (unverified) #")
    assert alice.display.split("#")[1] != mallory.display.split("#")[1]
    raw = RunStore()
    run_id = ScopedStore(raw, mallory).create_run("m", {}, {"finml.owner_name": "alice@bank.test"})
    run = raw.get_run(run_id)
    assert run.tags["finml.owner_name"] == mallory.display  # the tags passed in do not count
    assert access.owner_display(run) == mallory.display
    forged = raw.create_run(
        "forged", {}, {"finml.owner": alice.user_id, "finml.owner_name": "the CEO"}
    )
    assert access.owner_display(raw.get_run(forged)).endswith(f"#{access.short_id(alice.user_id)}")
    assert "CEO" not in access.owner_display(raw.get_run(forged))


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
    assert raw.get_run(run_id).tags["finml.owner"] == ALICE.user_id
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
    with pytest.raises(StoreError) as other:
        check_dataset(BOB, dataset_id)
    with pytest.raises(StoreError, match="no longer in the workspace"):
        check_dataset(ADMIN, dataset_id)  # admins see every run, not every upload
    with pytest.raises(StoreError) as malformed:
        check_dataset(BOB, "../../etc/passwd")
    assert (
        str(other.value) == str(malformed.value) == "That dataset is no longer in the "
        "workspace; choose the data again."
    )
    # the text comes back as pandas' str (missing as NaN), as an upload's
    pd.testing.assert_frame_equal(load_staged(dataset_id), frame.astype({"b": "str"}))


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


def test_the_scoped_store_declares_every_method_of_the_run_store():
    """Deny by default: each public member of the run store is checked per run, declared
    global or hidden, and the scoped store offers nothing else (no fall-through)."""
    import inspect

    from finml.store import RunStore as Raw

    public = {n for n in dir(Raw) if not n.startswith("_")} | {"settings"}
    declared = set(access.READS) | set(access.CHANGES) | set(access.GLOBALS)
    assert public == declared | set(access.HIDDEN), public ^ (declared | set(access.HIDDEN))
    offered = {n for n in dir(ScopedStore) if not n.startswith("_")} - {"check", "who"}
    assert offered == declared
    assert not hasattr(ScopedStore, "__getattr__")
    scoped = ScopedStore(RunStore(), BOB)
    for name in (*access.HIDDEN, "store", "_store_", "client"):
        with pytest.raises(AttributeError):
            getattr(scoped, name)
    with pytest.raises(AttributeError):
        scoped.anything = 1  # __slots__: nothing can be attached either
    for name in (*access.READS, *access.CHANGES):
        params = list(inspect.signature(getattr(Raw, name)).parameters)
        assert params[1] in ("run_id", "study_run_id"), (name, params)


def test_every_checked_call_on_a_hidden_run_fails_like_a_missing_one():
    raw = RunStore()
    run_id = ScopedStore(raw, ALICE).create_run("alice's", {}, {})
    bob = ScopedStore(raw, BOB)
    for name in (*access.READS, *access.CHANGES):
        with pytest.raises(StoreError) as hidden:
            getattr(bob, name)(run_id)
        assert str(hidden.value) == f"Run {run_id} is not in the run store.", name
    assert raw.get_run(run_id).name == "alice's" and raw.history(run_id).empty
