"""Remote code execution through model import: gadget bundles are refused, and the
allow-lists are exact (derived from real bundles of every model kind, no prefixes, no
callables)."""

from __future__ import annotations

import contextlib
import importlib
import inspect
import io
import json
import zipfile

import numpy as np
import pytest
import skops.io as sio

from finml.errors import BundleError
from finml.models import safe_load
from finml.models.bundle import load_bundle, save_bundle
from finml.reporting.exchange import export_run, import_run
from tests.hostile import gadgets
from tests.hostile_images import members_of, zip_of

FORBIDDEN_MODULES = ("builtins", "operator", "functools", "os", "subprocess", "importlib")


@pytest.fixture(scope="module")
def fitted(german):
    """Real fitted models of every tabular kind, trained in-process."""
    from finml.data.schema import default_features, infer_schema
    from finml.data.spec import DatasetSpec
    from finml.fitters.base import ListSink
    from finml.models.registry import resolve_params
    from finml.tasks import train_spec
    from finml.tasks.spec import RunSpec

    frame = german.copy()
    frame.loc[::7, "age_in_years"] = np.nan  # missing values: the imputer's indicator
    numeric, categorical = default_features(infer_schema(frame), "creditability")
    out = {}
    for model, cw, cols in (
        ("logreg", False, (numeric, categorical)),
        ("logreg", True, (numeric, ())),
        ("hgb", False, (numeric, categorical)),
        ("hgb", True, ((), categorical)),
    ):
        ds = DatasetSpec("0" * 32, "g", "creditability", "bad", tuple(cols[0]), tuple(cols[1]))
        params = resolve_params(model, {"max_iter": 20} if model == "hgb" else {})
        result = train_spec(RunSpec(ds, model, params, cw, 1), frame, ListSink())
        out[(model, cw, bool(cols[0]), bool(cols[1]))] = result.model
    ds = DatasetSpec("0" * 32, "g", "creditability", "bad", tuple(numeric), tuple(categorical))
    params = resolve_params("hgb", {"max_iter": 20, "categories": "native"})
    out["hgb-native"] = train_spec(RunSpec(ds, "hgb", params), frame, ListSink()).model
    from finml.tasks import train_spec

    reg = DatasetSpec(
        "0" * 32, "g", "credit_amount", "", ("duration_in_month",), ("purpose",), task="regression"
    )
    for model, extra in (("ridge", {}), ("hgb_reg", {"loss": "MSE"}), ("hgb_reg", {"loss": "MAE"})):
        params = resolve_params(model, {**extra, **({"max_iter": 20} if model != "ridge" else {})})
        result = train_spec(RunSpec(reg, model, params), frame, ListSink(), explain=False)
        out[(model, str(extra))] = result.model
    from dataclasses import replace

    from finml.tasks import train_spec

    housing = replace(
        DatasetSpec("0" * 32, "g", "housing", "own", tuple(numeric), ()),
        task="multiclass",
        classes=("for free", "own", "rent"),
    )
    for model in ("logreg", "hgb"):
        params = resolve_params(model, {"max_iter": 20} if model == "hgb" else {})
        result = train_spec(RunSpec(housing, model, params), frame, ListSink(), explain=False)
        out[(model, "multiclass")] = result.model
    return out


def _bundle(folder, model):
    return save_bundle(folder, model)


def _write_skops(folder, name, obj):
    (folder / name).write_bytes(sio.dumps(obj))


# -- the allow-lists --------------------------------------------------------------------
def test_the_skops_allow_lists_are_exactly_what_real_bundles_hold(fitted):
    untrusted, classes = set(), set()
    for model in fitted.values():
        for obj in (model.preprocessor, model.estimator):
            data = sio.dumps(obj)
            untrusted |= set(sio.get_untrusted_types(data=data))
            classes |= _classes(sio.loads(data, trusted=sio.get_untrusted_types(data=data)))
    assert untrusted == safe_load.SKOPS_TRUSTED_TYPES
    assert classes == safe_load.SKLEARN_CLASSES


def _classes(root) -> set[str]:
    seen, stack, out = set(), [root], set()
    while stack:
        obj = stack.pop()
        if id(obj) in seen or isinstance(obj, str | int | float | np.generic | np.dtype | type):
            continue
        seen.add(id(obj))
        if isinstance(obj, list | tuple):
            stack.extend(obj)
        elif isinstance(obj, dict):
            stack.extend(obj.values())
        elif obj is not None and not isinstance(obj, slice):
            out.add(f"{type(obj).__module__}.{type(obj).__qualname__}")
            if isinstance(obj, np.ndarray):
                stack.extend(obj.ravel() if obj.dtype.kind == "O" else ())
            elif hasattr(obj, "__dict__"):
                stack.extend(vars(obj).values())
    return out


@pytest.mark.slow
def test_the_keras_allow_list_is_exactly_what_real_models_name(tmp_path):
    from finml.models.forecaster import build_sequence_net
    from finml.models.registry import model_names_for, resolve_params
    from finml.models.tabular import build_mlp
    from finml.models.vision import build_vision_model

    models = [build_mlp(5, resolve_params("mlp"), seed=1)]
    models.append(build_mlp(5, resolve_params("mlp_reg"), seed=1, regression=True))
    for kind in ("mlp", "cnn", "lstm", "gru"):
        models.append(build_sequence_net(kind, 8, 2, resolve_params("lstm_seq"), seed=1))
    for name in model_names_for("images"):
        for channels in (1, 3):
            params = {**resolve_params(name), "contrast": True}
            models.append(build_vision_model(name, (32, 32, channels), 3, params, seed=1))
    named = set()
    for model in models:
        model.save(tmp_path / "m.keras")  # what a bundle holds: the archive's config.json
        stack = [json.loads(zipfile.ZipFile(tmp_path / "m.keras").read("config.json"))]
        while stack:
            node = stack.pop()
            if isinstance(node, dict):
                if "class_name" in node:
                    named.add((node.get("module"), node["class_name"]))
                stack.extend(node.values())
            elif isinstance(node, list):
                stack.extend(node)
    assert named == safe_load.KERAS_CLASSES


@pytest.mark.parametrize(
    "entries", [safe_load.SKOPS_TRUSTED_TYPES, safe_load.SKLEARN_CLASSES, safe_load.TYPE_VALUES]
)
def test_allow_lists_have_no_prefixes_and_no_callables_from_dangerous_modules(entries):
    for entry in entries:
        assert not entry.endswith(".") and "*" not in entry, entry
        module, _, name = entry.rpartition(".")
        assert module.split(".")[0] not in FORBIDDEN_MODULES, entry
        obj = importlib.import_module(module)
        for part in name.split("."):
            obj = getattr(obj, part)
        assert inspect.isclass(obj), f"{entry} is not a class"
    for module, name in safe_load.KERAS_CLASSES:
        assert module is None or module.split(".")[0] == "keras"
        assert name not in ("function", "Lambda", "TFSMLayer")


def test_real_bundles_of_every_tabular_kind_load(fitted, german, tmp_path):
    for i, model in enumerate(fitted.values()):
        bundle = load_bundle(_bundle(tmp_path / str(i), model))
        rows = german.head(30)
        score = "predict" if hasattr(model, "predict_interval") else "predict_proba"
        np.testing.assert_allclose(getattr(bundle, score)(rows), getattr(model, score)(rows))


# -- skops gadgets ----------------------------------------------------------------------
GADGETS = list(gadgets.skops_gadgets("unused"))


@pytest.mark.parametrize("name", GADGETS)
def test_a_gadget_preprocessor_is_refused_and_never_runs(name, fitted, tmp_path):
    marker = tmp_path / "pwned"
    gadget = gadgets.skops_gadgets(marker)[name]
    folder = _bundle(tmp_path / "b", fitted[("logreg", False, True, True)])
    _write_skops(folder, "preprocessor.skops", gadget)
    with pytest.raises(BundleError, match="types finml does not load") as err:
        load_bundle(folder)
    assert "may try to run code" in str(err.value)
    assert not marker.exists()
    # The gadget is real: loaded the way a prefix allow-list did, it runs its payload.
    data = (folder / "preprocessor.skops").read_bytes()
    naive = sio.loads(data, trusted=sio.get_untrusted_types(data=data))
    import pandas as pd

    with contextlib.suppress(Exception):  # the chain may fail after the payload ran
        naive.fit_transform(pd.DataFrame({"a": [1.0, 2.0]}))
    assert marker.exists(), f"{name} is not a live gadget"


def test_the_reported_attack_through_run_import_is_refused_and_creates_no_run(
    german, german_spec, tmp_path
):
    from finml.fitters.base import ListSink
    from finml.store import RunStore
    from finml.tasks import train_spec
    from finml.training.worker import log_result

    store = RunStore()
    spec = german_spec("logreg")
    run_id = store.create_run("lr", {"task": "table"}, {})
    log_result(store, run_id, spec, train_spec(spec, german, ListSink()))
    store.set_status(run_id, "finished")
    members = members_of(export_run(store, run_id))
    marker = tmp_path / "pwned"
    members["bundle/preprocessor.skops"] = sio.dumps(
        gadgets.skops_gadgets(marker)["sorted key=eval"]
    )
    before = len(store.list_runs())
    with pytest.raises(BundleError, match=r"builtins\.eval.*builtins\.sorted"):
        import_run(zip_of(members), store, name="evil.zip")
    assert len(store.list_runs()) == before and not marker.exists()


def test_only_default_trusted_types_still_cannot_smuggle_a_callable(fitted, tmp_path):
    from sklearn.preprocessing import FunctionTransformer

    folder = _bundle(tmp_path / "b", fitted[("logreg", False, True, True)])
    # skops trusts every scikit-learn estimator and numpy ufunc by default.
    _write_skops(folder, "preprocessor.skops", FunctionTransformer(np.negative))
    assert sio.get_untrusted_types(file=folder / "preprocessor.skops") == []
    with pytest.raises(BundleError, match="FunctionTransformer that calls a function"):
        load_bundle(folder)


def test_an_attribute_that_replaces_a_method_is_refused(fitted, tmp_path):
    model = fitted[("logreg", False, True, True)]
    folder = _bundle(tmp_path / "b", model)
    shadowed = sio.loads(sio.dumps(model.estimator), trusted=[])
    shadowed.predict_proba = np.negative  # an instance attribute wins over the method
    _write_skops(folder, "model.skops", shadowed)
    with pytest.raises(BundleError, match="replaces its method 'predict_proba'"):
        load_bundle(folder)


# -- malformed boosting trees (scikit-learn's Cython code does not bounds-check them) ----
def _tree_bundle(fitted, tmp_path, edit, kind=("hgb", False, True, True)):
    model = fitted[kind]
    data = sio.dumps(model.estimator)
    broken = sio.loads(data, trusted=sio.get_untrusted_types(data=data))
    edit(broken)
    folder = _bundle(tmp_path / "b", model)
    _write_skops(folder, "model.skops", broken)
    return folder


def _first_split(model):
    tree = model._predictors[0][0]
    return tree.nodes, int(np.flatnonzero(tree.nodes["is_leaf"] == 0)[0])


@pytest.mark.parametrize(
    ("what", "field", "value"),
    [
        ("a child outside the tree", "left", 10_000_000),
        ("a child pointing back (an endless loop)", "right", 0),
        ("a feature the model does not have", "feature_idx", 9_999),
    ],
)
def test_a_malformed_boosting_tree_is_refused(fitted, tmp_path, what, field, value):
    def edit(model):
        nodes, i = _first_split(model)
        nodes[field][i] = value

    with pytest.raises(BundleError, match="could crash the server"):
        load_bundle(_tree_bundle(fitted, tmp_path, edit))


def _split_node(model, on_category: bool):
    """(nodes, index) of the first split on a categorical (or a numeric) feature."""
    flags = model._bin_mapper.is_categorical_
    for row in model._predictors:
        nodes = row[0].nodes
        inner = np.flatnonzero(nodes["is_leaf"] == 0)
        hits = [i for i in inner if bool(flags[nodes["feature_idx"][i]]) == on_category]
        if hits and (not on_category or nodes["is_categorical"][hits[0]]):
            return nodes, hits[0]
    raise AssertionError("no such split in the fitted model")


@pytest.mark.parametrize(
    "what",
    [
        "a categorical split on a numeric feature",
        "a categorical split whose bitset the tree does not hold",
        "known categories outside 0..255 (bits set outside the bitset)",
        "a categorical-feature mask of the wrong length",
    ],
)
def test_malformed_native_categorical_splits_are_refused(fitted, tmp_path, what):
    model = fitted["hgb-native"]
    assert model.estimator._bin_mapper.is_categorical_.any()  # native categorical splits

    def edit(est):
        mapper = est._bin_mapper
        if what.startswith("a categorical split on a numeric"):
            nodes, i = _split_node(est, on_category=False)
            nodes["is_categorical"][i] = 1
        elif what.startswith("a categorical split whose"):
            nodes, i = _split_node(est, on_category=True)
            nodes["bitset_idx"][i] = 10_000
        elif what.startswith("known categories"):
            f = int(np.flatnonzero(mapper.is_categorical_)[0])
            mapper.bin_thresholds_[f] = np.array([0.0, 3000.0])
        else:
            mapper.is_categorical_ = np.ones(est.n_features_in_ + 5, dtype=np.uint8)

    with pytest.raises(BundleError, match=r"could crash the server|categorical features"):
        load_bundle(_tree_bundle(fitted, tmp_path, edit, "hgb-native"))


def test_a_function_transformer_that_calls_a_function_is_refused(fitted, tmp_path):
    import functools

    from sklearn.utils.validation import check_array

    def edit(est):  # what scikit-learn itself stores, before finml strips it
        for _, part, _ in est._preprocessor.transformers_:
            if type(part).__name__ == "FunctionTransformer":
                part.func = functools.partial(check_array, ensure_all_finite=False)

    with pytest.raises(BundleError, match=r"functools\.partial"):
        load_bundle(_tree_bundle(fitted, tmp_path, edit, "hgb-native"))


def test_damaged_and_bomb_skops_files_are_refused(fitted, tmp_path):
    folder = _bundle(tmp_path / "b", fitted[("logreg", False, True, True)])
    (folder / "model.skops").write_bytes(b"not a zip at all")
    with pytest.raises(BundleError, match=r"model\.skops is damaged"):
        load_bundle(folder)
    bomb = io.BytesIO()
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("schema.json", b" " * (300 << 20))  # 300 MiB of spaces: ~300 KiB zipped
    (folder / "model.skops").write_bytes(bomb.getvalue())
    with pytest.raises(BundleError, match="ratio 200"):
        load_bundle(folder)


# -- Keras archives -----------------------------------------------------------------------
KERAS_GADGETS = {
    "a custom layer with a get_config payload": (
        gadgets.sequential(
            [
                {
                    "module": "__main__",
                    "class_name": "Evil",
                    "config": {"cmd": "touch /tmp/pwned", "name": "evil"},
                    "registered_name": "Custom>Evil",
                }
            ]
        ),
        "'__main__.Evil' (registered as 'Custom>Evil')",
    ),
    "a function as activation": (
        gadgets.sequential(
            [gadgets.dense({"module": "builtins", "class_name": "function", "config": "eval"})]
        ),
        "'builtins.function'",
    ),
    "a keras utility as a class (CVE-2025-1550 shape)": (
        gadgets.sequential(
            [
                {
                    "module": "keras.utils",
                    "class_name": "get_file",
                    "config": {"origin": "http://127.0.0.1:1/x", "fname": "/tmp/x"},
                    "registered_name": None,
                }
            ]
        ),
        "'keras.utils.get_file'",
    ),
    "a lookup layer reading a local file (CVE-2025-12058 shape)": (
        gadgets.sequential(
            [
                {
                    "module": "keras.layers",
                    "class_name": "StringLookup",
                    "config": {"vocabulary": "/etc/passwd", "name": "s"},
                    "registered_name": None,
                }
            ]
        ),
        "'keras.layers.StringLookup'",
    ),
    "a Lambda layer": (
        gadgets.sequential(
            [
                {
                    "module": "keras.layers",
                    "class_name": "Lambda",
                    "config": {"function": {"class_name": "__lambda__", "config": {}}},
                    "registered_name": None,
                }
            ]
        ),
        "'keras.layers.Lambda'",
    ),
    "an activation by unknown name": (
        gadgets.sequential([gadgets.dense("keras.src.ops.eval")]),
        "activation 'keras.src.ops.eval'",
    ),
}


@pytest.mark.parametrize("name", list(KERAS_GADGETS))
def test_a_hostile_keras_config_is_refused_before_keras_reads_it(name, tmp_path):
    config, message = KERAS_GADGETS[name]
    path = tmp_path / "model.keras"
    path.write_bytes(gadgets.keras_archive(config))
    with pytest.raises(BundleError, match=message.replace("(", r"\(").replace(")", r"\)")):
        safe_load.load_keras(path, "model.keras")


def test_a_keras_archive_with_extra_members_is_refused(tmp_path):
    path = tmp_path / "model.keras"
    path.write_bytes(gadgets.keras_archive(gadgets.sequential([]), {"assets/run.sh": b"rm -rf /"}))
    with pytest.raises(BundleError, match=r"assets/run\.sh"):
        safe_load.load_keras(path, "model.keras")


def test_a_real_keras_model_passes_the_checks_and_loads(tmp_path):
    from finml.models.registry import resolve_params
    from finml.models.tabular import build_mlp

    model = build_mlp(4, resolve_params("mlp"), seed=3)
    model.save(tmp_path / "model.keras")
    loaded = safe_load.load_keras(tmp_path / "model.keras", "model.keras")
    x = np.ones((2, 4), dtype=np.float32)
    np.testing.assert_allclose(loaded(x), model(x), rtol=1e-6)
    cfg = json.loads(zipfile.ZipFile(tmp_path / "model.keras").read("config.json"))
    assert cfg["class_name"] == "Sequential"
