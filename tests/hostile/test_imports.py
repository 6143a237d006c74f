"""Hostile run imports: each is a real export changed in one way. Every one is refused with
its specific message, creates no run, and stays under the memory bound; a harmless oddity
(a Markdown run name) imports."""

from __future__ import annotations

import json
import pickle

import pandas as pd
import pytest

from finml.config import get_settings
from finml.errors import BundleError
from finml.reporting.exchange import export_run, import_run
from finml.store import RunStore
from tests.hostile import builders as b
from tests.hostile.test_inputs import MEMORY_BOUND_MIB, measured
from tests.hostile_images import members_of, zip_of


def _json_member(member, /, **changes):
    """An edit that updates keys of the JSON member ``member``."""

    def edit(members):
        record = json.loads(members[member])
        record.update(changes)
        members[member] = json.dumps(record).encode()

    return edit


def _run_json(**changes):
    return _json_member("run.json", **changes)


def _member(name, data):
    def edit(members):
        members[name] = data

    return edit


def _meta(**changes):
    return _json_member("bundle/meta.json", **changes)


def _archive(transform):
    """A change of the whole archive rather than of one member."""
    return ("archive", transform)


def _bad_crc(data: bytes) -> bytes:
    members = members_of(data)
    return b.zip_bad_crc(members, "bundle/model.skops")


def _bomb(data: bytes) -> bytes:
    def zeros(fh):
        for _ in range(500):
            fh.write(bytes(b.MIB))

    return b.deflated(data, {"predictions/test.parquet": zeros})


IMPORT_CASES = {
    "a pickle": (_archive(lambda d: pickle.dumps({"model": 1})), "Python pickle"),
    "not a ZIP": (_archive(lambda d: b"plain text"), "not a ZIP archive"),
    "an unknown member": (_member("bundle/extra.sh", b"rm -rf /"), "'bundle/extra.sh'"),
    "run.json not JSON": (_member("run.json", b"{not json"), "run.json is not valid JSON"),
    "run.json a list": (_member("run.json", b"[1, 2]"), "does not hold an object"),
    "curves of different lengths": (
        _run_json(history={"step": [1, 2, 3], "val_loss": [0.5, 0.4]}),
        "different lengths",
    ),
    "a text metric": (_run_json(metrics={"test_roc_auc": "high"}), "is not a number ('high')"),
    "an infinite metric": (_run_json(metrics={"test_roc_auc": "1e999"}), "not a finite number"),
    "a threshold of 7": (_run_json(threshold=7), "the threshold 7.0 is not in [0, 1]"),
    "a negative step": (_run_json(history={"step": [-1], "loss": [0.1]}), "whole numbers"),
    "a name that is not text": (_run_json(name=["x"]), "must be text"),
    "a member with a bad CRC": (_archive(_bad_crc), "is damaged"),
    "500 MiB from a small file": (_archive(_bomb), "ratio 200"),
    "an unknown bundle format": (_meta(format=0), "format 0"),
    "metadata without classes": (_meta(class_names=[]), "'class_names'"),
    "predictions without scores": (
        _member("predictions/test.parquet", b.parquet({"row": [1]})),
        "lacks the column(s) y_true, score",
    ),
    "predictions that are not Parquet": (
        _member("predictions/validation.parquet", b"not parquet"),
        "not a readable Parquet file",
    ),
    "a model file that is text": (_member("bundle/model.skops", b"text"), "model.skops is damaged"),
    "run.json missing": (_member("run.json", None), "run.json or bundle/meta.json is missing"),
}


@pytest.fixture(scope="module")
def export(tmp_path_factory, german):
    """A real export of a logistic-regression run (its own data folder)."""
    from tests.conftest import GERMAN

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("FINML_DATA_DIR", str(tmp_path_factory.mktemp("export")))
        from finml.data.schema import default_features, infer_schema
        from finml.data.spec import DatasetSpec
        from finml.data.staging import stage_frame
        from finml.models.registry import resolve_params
        from finml.tasks.spec import RunSpec
        from tests.conftest import train_and_log

        numeric, categorical = default_features(infer_schema(german), "creditability")
        ds = DatasetSpec(
            stage_frame(german), GERMAN, "creditability", "bad", tuple(numeric), tuple(categorical)
        )
        run_id = train_and_log(RunSpec(ds, "logreg", resolve_params("logreg")), "lr")
        return export_run(RunStore(), run_id)


def _hostile(export: bytes, change) -> bytes:
    if isinstance(change, tuple) and change[0] == "archive":
        return change[1](export)
    members = members_of(export)
    change(members)
    return zip_of({k: v for k, v in members.items() if v is not None})


@pytest.mark.parametrize("name", list(IMPORT_CASES))
def test_a_hostile_import_is_refused_creates_nothing_and_stays_small(name, export):
    change, phrase = IMPORT_CASES[name]
    data = _hostile(export, change)
    store = RunStore()
    before = len(store.list_runs())
    out, peak = measured(lambda: import_run(data, store, name="run.zip"))
    assert isinstance(out, BundleError), f"expected a refusal, got {out!r}"
    assert phrase in str(out), str(out)
    assert len(store.list_runs()) == before  # nothing was created, not even an orphan
    assert peak < MEMORY_BOUND_MIB, f"{name} took {peak} MiB"


def test_a_markdown_run_name_imports_as_plain_data(export):
    data = _hostile(export, _run_json(name=b.PAYLOADS[0]))
    store = RunStore()
    run_id = import_run(data, store, name="run.zip")
    assert store.get_run(run_id).name == f"{b.PAYLOADS[0]} (imported)"


def test_imports_count_against_the_owners_quota(export, monkeypatch):
    monkeypatch.setenv("FINML_IMPORT_QUOTA_MB", "1")
    store = RunStore()
    size = sum(len(v) for v in members_of(export).values())
    fits = store.settings.import_quota_bytes // size
    assert fits >= 1, size
    for i in range(fits):
        import_run(export, store, name=f"{i}.zip", owner="ann")
    with pytest.raises(BundleError, match=r"of your 1 MiB\. Delete imported runs"):
        import_run(export, store, name="one-too-many.zip", owner="ann")
    import_run(export, store, name="c.zip", owner="bob")  # another owner has their own quota


def test_delete_means_gone_and_an_unused_dataset_goes_with_it(export, data_dir):
    from finml.data.staging import stage_frame
    from finml.training import jobs

    store = RunStore()
    imported = import_run(export, store, name="r.zip")
    dataset_id = stage_frame(pd.DataFrame({"a": [1, 2]}))
    trained = store.create_run("r", {"dataset_id": dataset_id}, {})
    store.log_frame(trained, pd.DataFrame({"x": [1]}), "predictions/test.parquet")
    (data_dir / "jobs" / trained).mkdir(parents=True)
    (data_dir / "jobs" / trained / "job.log").write_text("log")
    files = {p for p in data_dir.rglob("*") if p.is_file()}
    assert any(imported in str(p) for p in files) and any(trained in str(p) for p in files)
    for run_id in (imported, trained):
        jobs.delete_run(run_id, store)
    left = [p for p in data_dir.rglob("*") if p.is_file()]
    assert not [p for p in left if imported in str(p) or trained in str(p)], left
    assert not [p for p in left if dataset_id in p.name], left
    for run_id in (imported, trained):
        with pytest.raises(Exception, match="not in the run store"):
            store.get_run(run_id)


def test_staged_datasets_no_run_uses_expire_after_the_retention(data_dir, monkeypatch):
    import os
    import time

    from finml.data.staging import _path, stage_frame
    from finml.training import jobs

    old, fresh = stage_frame(pd.DataFrame({"a": [1]})), stage_frame(pd.DataFrame({"a": [2]}))
    used = stage_frame(pd.DataFrame({"a": [3]}))
    legacy = "c" * 32  # staged before owner folders: at the top of the datasets folder
    pd.DataFrame({"a": [4]}).to_parquet(data_dir / "datasets" / f"{legacy}.parquet")
    store = RunStore()
    run_id = store.create_run("r", {"dataset_id": used}, {})
    month_ago = time.time() - 31 * 86400
    settings = get_settings()
    for dataset_id in (old, used, legacy):
        os.utime(_path(dataset_id, settings), (month_ago, month_ago))
    (data_dir / "datasets" / "stray.tmp").write_bytes(b"half")
    os.utime(data_dir / "datasets" / "stray.tmp", (month_ago, month_ago))
    assert jobs.housekeeping(store) == sorted([old, legacy])
    left = sorted(p.name for p in (data_dir / "datasets").rglob("*") if p.is_file())
    assert left == sorted([_path(fresh, settings).name, _path(used, settings).name])
    assert store.get_run(run_id).params["dataset_id"] == used
