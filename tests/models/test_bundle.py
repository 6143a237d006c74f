"""Bundles: a fitted model on disk and back, format 1 (before the fitted pipeline) still
imports, and malformed bundles are refused with a clear message."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from finml.config import PROJECT_ROOT
from finml.errors import BundleError
from finml.fitters.base import ListSink
from finml.models.bundle import load_bundle, save_bundle
from finml.tasks import train_spec

FIXTURES = PROJECT_ROOT / "tests" / "fixtures"


@pytest.fixture(scope="module")
def trained(german):
    """Real fitted models of each tabular family, trained in-process."""
    from finml.data.schema import default_features, infer_schema
    from finml.data.spec import DatasetSpec
    from finml.models.registry import resolve_params
    from finml.tasks.spec import RunSpec

    numeric, categorical = default_features(infer_schema(german), "creditability")
    ds = DatasetSpec(
        "0" * 32, "g", "creditability", "bad", tuple(numeric), tuple(categorical), negative="good"
    )
    out = {}
    for name, params in (("logreg", {}), ("hgb", {"max_iter": 20}), ("mlp", {"epochs": 2})):
        spec = RunSpec(ds, name, resolve_params(name, params))
        out[name] = train_spec(spec, german, ListSink()).model
    return out


@pytest.mark.parametrize("name", ["logreg", "hgb", "mlp"])
def test_a_bundle_round_trips_to_the_same_scores(name, trained, german, tmp_path):
    model = trained[name]
    loaded = load_bundle(save_bundle(tmp_path / "b", model))
    rows = german.head(50)
    np.testing.assert_allclose(loaded.predict_proba(rows), model.predict_proba(rows), rtol=1e-6)
    assert loaded.class_names == ("good", "bad") and loaded.positive == 1
    assert loaded.profile == json.loads(json.dumps(model.profile))
    assert loaded.meta["format"] == 2 and "scikit-learn" in loaded.meta["versions"]


def test_format_1_exports_made_before_the_fitted_pipeline_still_import(german):
    from finml.models.bundle import load_run_bundle
    from finml.reporting.exchange import import_run
    from finml.store import RunStore

    expected = json.loads((FIXTURES / "format1_scores.json").read_text())
    store = RunStore()
    for name in ("logreg", "mlp"):
        data = (FIXTURES / f"german_{name}_format1.zip").read_bytes()
        run_id = import_run(data, store, name=f"{name}.zip")
        model = load_run_bundle(store, run_id)
        assert model.meta["format"] == 1 and model.class_names == ("not bad", "bad")
        np.testing.assert_allclose(model.positive_score(german.head(5)), expected[name], 1e-6)


def _copy(model, tmp_path):
    return save_bundle(tmp_path / "b", model)


def _edit_meta(folder, **changes):
    meta = json.loads((folder / "meta.json").read_text())
    meta.update(changes)
    (folder / "meta.json").write_text(json.dumps(meta))


@pytest.mark.parametrize(
    ("changes", "phrase"),
    [
        ({"format": 0}, "format 0; this finml reads formats 1, 2"),
        ({"format": 99}, "format 99"),
        ({"task": "audio"}, "'task' or 'family'"),
        ({"class_names": ["only"]}, "two or more distinct classes"),
        ({"class_names": "good,bad"}, "'class_names' must be a list"),
        ({"positive": 5}, "'positive' is not the index"),
        ({"positive": True}, "'positive' is not the index"),
        ({"numeric": [], "categorical": []}, "must name its feature columns"),
        ({"profile": {"score": {}}}, "training profile"),
        ({"profile": None}, "training profile"),
    ],
)
def test_malformed_metadata_is_refused(changes, phrase, trained, tmp_path):
    folder = _copy(trained["logreg"], tmp_path)
    _edit_meta(folder, **changes)
    with pytest.raises(BundleError, match=phrase.replace("(", r"\(")):
        load_bundle(folder)


def test_a_bad_profile_value_and_unreadable_meta_are_refused(trained, tmp_path):
    folder = _copy(trained["logreg"], tmp_path)
    meta = json.loads((folder / "meta.json").read_text())
    meta["profile"]["numeric"]["credit_amount"]["max"] = "a lot"
    (folder / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(BundleError, match="training profile"):
        load_bundle(folder)
    (folder / "meta.json").write_text("{not json")
    with pytest.raises(BundleError, match="not valid JSON"):
        load_bundle(folder)
    (folder / "meta.json").write_text("[1, 2]")
    with pytest.raises(BundleError, match="does not hold an object"):
        load_bundle(folder)


def test_parts_that_do_not_fit_together_are_refused(trained, tmp_path, german):
    folder = _copy(trained["logreg"], tmp_path)
    other = trained["logreg"].preprocessor
    narrow = other.__class__(other.transformers[:1], sparse_threshold=0.0)
    from finml.models.features import prepare_features

    numeric = list(trained["logreg"].numeric)
    narrow.fit(prepare_features(german, numeric, []))  # numeric columns only: fewer features
    import skops.io as sio

    sio.dump(narrow, folder / "preprocessor.skops")
    with pytest.raises(BundleError, match="parts do not fit together"):
        load_bundle(folder)


def test_a_missing_member_is_named(trained, tmp_path):
    folder = _copy(trained["hgb"], tmp_path)
    (folder / "model.skops").unlink()
    with pytest.raises(BundleError, match=r"model\.skops is missing"):
        load_bundle(folder)
    shutil.rmtree(folder)
    folder.mkdir()
    with pytest.raises(BundleError, match=r"meta\.json is missing"):
        load_bundle(folder)
