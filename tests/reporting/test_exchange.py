"""Run export / import as one bundle file, and refusals of hostile files."""

from __future__ import annotations

import json
import pickle
import re

import numpy as np
import pytest

from finml.errors import BundleError
from finml.models.bundle import load_run_bundle
from finml.reporting.exchange import export_run, import_run
from finml.store import RunStore
from tests.hostile_images import members_of, zip_of


@pytest.fixture
def exported(german_spec, reap):
    from finml.training import jobs
    from tests.conftest import wait_for

    store = RunStore()
    run_id = jobs.submit(german_spec("mlp", epochs=5), store)
    wait_for(lambda: store.get_run(run_id).status == "finished", timeout=120)
    store.set_threshold(run_id, 0.3, "Manual")
    return store, run_id, export_run(store, run_id)


def test_export_then_import_gives_the_same_model_metrics_and_curves(exported, german):
    store, run_id, data = exported
    assert set(members_of(data)) >= {
        "run.json",
        "bundle/meta.json",
        "bundle/model.keras",
        "bundle/preprocessor.skops",
        "predictions/test.parquet",
    }
    new_id = import_run(data, store, name="x.zip")
    old, new = store.get_run(run_id), store.get_run(new_id)
    assert new.status == "finished" and new.threshold == pytest.approx(0.3)
    assert new.metrics["test_roc_auc"] == pytest.approx(old.metrics["test_roc_auc"])
    assert store.history(new_id)["val_loss"].tolist() == pytest.approx(
        store.history(run_id)["val_loss"].tolist()
    )
    a, b = load_run_bundle(store, run_id), load_run_bundle(store, new_id)
    rows = german.sample(20, random_state=0)
    np.testing.assert_allclose(a.predict_proba(rows), b.predict_proba(rows), rtol=1e-6)


def test_a_pickle_renamed_to_the_bundle_extension_is_refused():
    data = pickle.dumps({"model": "innocent"})
    with pytest.raises(BundleError, match="pickle"):
        import_run(data, RunStore(), name="model.zip")


def test_a_zip_that_is_not_a_bundle_is_refused():
    with pytest.raises(BundleError, match=re.escape("'data.csv'")):
        import_run(zip_of({"data.csv": b"a,b\n1,2\n"}), RunStore(), name="data.zip")
    with pytest.raises(BundleError, match=re.escape("'../evil.sh'")):
        import_run(zip_of({"run.json": b"{}", "../evil.sh": b"rm -rf /"}), RunStore())
    with pytest.raises(BundleError, match="not a ZIP"):
        import_run(b"just text", RunStore())


def test_a_keras_model_with_a_lambda_layer_is_refused(exported, tmp_path):
    import keras

    store, _, data = exported
    inputs = keras.Input(shape=(3,))
    model = keras.Model(inputs, keras.layers.Lambda(lambda t: t * 2)(inputs))
    model.save(tmp_path / "evil.keras")
    members = members_of(data)
    members["bundle/model.keras"] = (tmp_path / "evil.keras").read_bytes()
    before = len(store.list_runs())
    with pytest.raises(BundleError, match=r"'keras\.layers\.Lambda'"):
        import_run(zip_of(members), store, name="evil.zip")
    assert len(store.list_runs()) == before  # nothing was imported


def test_a_skops_file_with_an_untrusted_callable_is_refused(exported):
    import os

    import skops.io as sio
    from sklearn.preprocessing import FunctionTransformer

    store, _, data = exported
    members = members_of(data)
    members["bundle/preprocessor.skops"] = sio.dumps(FunctionTransformer(func=os.system))
    with pytest.raises(BundleError, match="types finml does not load"):
        import_run(zip_of(members), store, name="evil.zip")
    meta = json.loads(members["bundle/meta.json"])
    assert meta["family"] == "keras"


def test_an_image_run_exports_and_imports():
    from finml.data.spec import ImageDatasetSpec
    from finml.data.split import SplitSpec
    from finml.models.registry import resolve_params
    from finml.tasks.spec import RunSpec
    from tests import hostile_images as h
    from tests.conftest import stage_image_folders, train_and_log

    dataset_id = stage_image_folders(h.class_folders(20))
    ds = ImageDatasetSpec(dataset_id, "discs", ("no", "yes"), "yes", 32, "L", SplitSpec())
    spec = RunSpec(ds, "small_cnn", resolve_params("small_cnn", {"epochs": 1, "width": 8}))
    store = RunStore()
    run_id = train_and_log(spec, "cnn")
    data = export_run(store, run_id)
    assert "bundle/preprocessor.skops" not in members_of(data)  # images scale inside the model
    new_id = import_run(data, store)
    model = load_run_bundle(store, new_id)
    assert model.class_names == ("no", "yes") and model.is_image_model
    assert model.image_shape == (32, 32, 1)
    assert store.get_run(new_id).params["task"] == "images"
