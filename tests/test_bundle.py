"""Run export / import as one bundle file, and refusals of hostile files."""

from __future__ import annotations

import io
import json
import pickle
import re
import zipfile

import numpy as np
import pytest

from finml.bundle import export_run, import_run
from finml.errors import BundleError
from finml.predict import load_run_bundle
from finml.store import RunStore
from tests.hostile_images import zip_of


def _members(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return {n: zf.read(n) for n in zf.namelist()}


@pytest.fixture
def exported(german_spec, reap):
    from finml import jobs
    from tests.conftest import wait_for

    store = RunStore()
    run_id = jobs.submit(german_spec("mlp", epochs=5), store)
    wait_for(lambda: store.get_run(run_id).status == "finished", timeout=120)
    store.set_threshold(run_id, 0.3, "Manual")
    return store, run_id, export_run(store, run_id)


def test_export_then_import_gives_the_same_model_metrics_and_curves(exported):
    store, run_id, data = exported
    assert set(_members(data)) >= {
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
    x = np.random.default_rng(0).normal(size=(4, len(a.meta["feature_names"]))).astype("float32")
    np.testing.assert_allclose(a.model(x), b.model(x), rtol=1e-6)


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
    members = _members(data)
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
    members = _members(data)
    members["bundle/preprocessor.skops"] = sio.dumps(FunctionTransformer(func=os.system))
    with pytest.raises(BundleError, match="types finml does not load"):
        import_run(zip_of(members), store, name="evil.zip")
    meta = json.loads(members["bundle/meta.json"])
    assert meta["family"] == "keras"


def test_an_image_run_exports_and_imports(tmp_path):
    from finml.data import images
    from finml.data.staging import load_staged_images, stage_images
    from finml.models.registry import resolve_params
    from finml.spec import ImageDatasetSpec, RunSpec
    from finml.split import SplitSpec
    from finml.train import ListSink
    from finml.train_images import run_image_training
    from finml.worker import log_result
    from tests import hostile_images as h

    image_set = images.read_zip(h.zip_of(h.class_folders(20)), size=32, mode="L")
    groups = images.split_groups(
        image_set, images.near_duplicate_groups(images.perceptual_hashes(image_set.images))
    )
    dataset_id = stage_images(image_set.images, image_set.labels, groups, image_set.names)
    ds = ImageDatasetSpec(dataset_id, "discs", ("no", "yes"), "yes", 32, "L", SplitSpec())
    spec = RunSpec(ds, "small_cnn", resolve_params("small_cnn", {"epochs": 1, "width": 8}))
    store = RunStore()
    run_id = store.create_run(
        "cnn", {"task": "images", "classes": "no,yes", "positive_class": "yes"}, {}
    )
    log_result(
        store, run_id, spec, run_image_training(spec, load_staged_images(dataset_id), ListSink())
    )
    store.set_status(run_id, "finished")
    data = export_run(store, run_id)
    assert "bundle/preprocessor.skops" not in _members(data)  # images scale inside the model
    new_id = import_run(data, store)
    bundle = load_run_bundle(store, new_id)
    assert bundle.meta["classes"] == ["no", "yes"] and bundle.preprocessor is None
    assert store.get_run(new_id).params["task"] == "images"
