"""Small model files that would exhaust memory before they are refused.

Each hostile input is a real finml bundle with one thing changed: a size attribute of a
scikit-learn object (a boosting model declaring 400 million trees per iteration, a one-hot
encoder declaring 400 million output columns), a key of a Keras ``config.json`` (two
20,000-unit layers, a declared build shape, an unknown key, an activation by another
name), ``config.json`` nested 200,000 deep, or a weights file that declares a
20,000 x 20,000 dataset it does not store. Every one is refused with a message naming what
is wrong and its bound, within :data:`MEMORY_BOUND_MIB` of memory and
:data:`SECONDS_BOUND` seconds. Every real model kind still loads, the parameters
``safe_load`` computes from a config equal Keras' ``count_params()``, and the config-key
allow-lists are exactly what real models hold (a Keras upgrade that adds a key fails here).
"""

from __future__ import annotations

import json
import shutil
import time
import zipfile

import numpy as np
import pytest

from finml.errors import BundleError
from finml.models import safe_load
from finml.models.bundle import load_bundle, save_bundle
from tests.hostile import model_builders as mb
from tests.hostile.test_inputs import MEMORY_BOUND_MIB, measured

#: Most seconds one hostile model may take to be refused (the reported ones took 30 s).
SECONDS_BOUND = 5.0
#: The bundle kinds holding a Keras network.
KERAS_KINDS = (
    "mlp",
    "mlp_reg",
    "mlp_multi",
    "mlp_lags",
    "cnn_seq",
    "lstm_seq",
    "gru_seq",
    "small_cnn",
    "resnet18",
    "mobilenetv2",
    "resnet50",
    "wide_cnn",
)


@pytest.fixture(scope="module")
def macro():
    from finml.data import reader
    from finml.data.demo import macro_frame

    return reader.read_table(macro_frame().to_csv(index=False).encode(), "macro.csv").frame


@pytest.fixture(scope="module")
def models(german, macro):
    """A real model of every kind, by bundle kind: scikit-learn ones trained, Keras ones
    built untrained on the same parts (the architecture is what the checks see)."""
    out = mb.table_models(german)
    out.update(mb.sklearn_forecasters(macro))
    bases = {"mlp": "logreg", "mlp_reg": "ridge", "mlp_multi": "logreg-multi"}
    widths = {k: len(out[b].preprocessor.get_feature_names_out()) for k, b in bases.items()}
    nets = mb.networks(widths)
    for kind, base in bases.items():
        out[kind] = mb.with_estimator(out[base], nets[kind])
    out["mlp_lags"] = mb.keras_forecaster(nets["mlp_lags"], rolling=True)
    for kind in ("cnn_seq", "lstm_seq", "gru_seq"):
        out[kind] = mb.keras_forecaster(nets[kind], channels=2)
    for kind in ("small_cnn", "resnet18", "mobilenetv2", "resnet50"):
        out[kind] = mb.image_model(nets[kind])
    out["wide_cnn"] = mb.image_model(mb.wide_image_net())
    return out


@pytest.fixture(scope="module")
def bundles(models, tmp_path_factory):
    """Each model saved as a bundle: kind -> folder."""
    root = tmp_path_factory.mktemp("bundles")
    return {kind: save_bundle(root / kind, model) for kind, model in models.items()}


@pytest.fixture(scope="module")
def warm(bundles):
    """Keras, h5py and scikit-learn imported and used once, outside any measurement."""
    for kind in ("mlp", "lstm_seq", "small_cnn", "hgb", "logreg"):
        load_bundle(bundles[kind])


def _config(folder) -> dict:
    with zipfile.ZipFile(folder / "model.keras") as zf:
        return json.loads(zf.read("config.json"))


# -- every real kind loads -------------------------------------------------------------------
@pytest.mark.parametrize(
    "kind",
    [
        "logreg",
        "hgb",
        "hgb-native",
        "ridge",
        "hgb_reg",
        "logreg-multi",
        "hgb-multi",
        "ridge_lags",
        "hgb_lags",
        *KERAS_KINDS,
    ],
)
def test_every_real_model_kind_round_trips(kind, models, bundles, german):
    model, loaded = models[kind], load_bundle(bundles[kind])
    if kind in ("small_cnn", "resnet18", "mobilenetv2", "resnet50", "wide_cnn"):
        images = np.zeros((2, *model.image_shape), dtype=np.uint8)
        np.testing.assert_allclose(
            loaded.predict_proba(images), model.predict_proba(images), rtol=1e-5
        )
    elif hasattr(model, "horizon"):  # a forecaster
        history = np.linspace(1.0, 3.0, 20)
        exog = np.zeros((20, len(model.exog))) if model.exog else None
        np.testing.assert_allclose(
            loaded.predict(history, exog), model.predict(history, exog), rtol=1e-5
        )
    else:
        rows = german.head(20)
        score = "predict_proba" if hasattr(model, "class_names") else "predict"
        np.testing.assert_allclose(
            getattr(loaded, score)(rows), getattr(model, score)(rows), rtol=1e-5, atol=1e-6
        )


@pytest.mark.parametrize("kind", KERAS_KINDS)
def test_the_parameters_counted_from_the_config_are_keras_own(kind, models, bundles):
    net = models[kind].estimator
    assert safe_load.keras_param_count(_config(bundles[kind]), "m") == net.count_params()
    path = bundles[kind] / "model.keras"
    assert safe_load.check_keras_archive(path, "m") == net.count_params()


def test_the_keras_key_allow_lists_are_exactly_what_real_models_hold(bundles):
    """Keys by class (the object and its ``config``) and by role, over every real
    architecture; ``shared_object_id`` is left out (Keras writes it where an object is
    used twice, which depends on the model)."""
    objects, configs, roles = {}, {}, {}
    for kind in KERAS_KINDS:
        stack = [(_config(bundles[kind]), "object")]
        while stack:
            node, role = stack.pop()
            if isinstance(node, list):
                stack.extend((v, role) for v in node)
            elif isinstance(node, dict) and role in ("object", "value"):
                key = (node.get("module"), node["class_name"])
                objects.setdefault(key, set()).update(set(node) - {"shared_object_id"})
                configs.setdefault(key, set()).update(node["config"])
                stack.extend((v, "value") for v in node["config"].values())
                stack.extend((node[k], k) for k in ("build_config", "compile_config") if k in node)
                stack.append((node.get("inbound_nodes", []), "inbound_node"))
            elif isinstance(node, dict):
                roles.setdefault(role, set()).update(node)
                for k, v in node.items():
                    stack.append((v, "call_kwargs" if k == "kwargs" else "value"))
    assert objects == safe_load.KERAS_OBJECT_KEYS
    assert configs == safe_load.KERAS_CONFIG_KEYS
    assert roles == safe_load.KERAS_STRUCTURE_KEYS
    assert set(objects) == safe_load.KERAS_CLASSES


# -- hostile inputs ----------------------------------------------------------------------------
def _set(**changes):
    """A skops edit: set attributes of the model."""
    return lambda obj: [setattr(obj, k, v) for k, v in changes.items()]


def _step(class_name: str, **changes):
    """A skops edit of a preprocessor: set attributes of its fitted ``class_name`` step."""
    return lambda ct: [setattr(mb.fitted_step(ct, class_name), k, v) for k, v in changes.items()]


def _extra_tree(model) -> None:
    model._predictors[0].append(model._predictors[0][0])


def _huge_tree(model) -> None:
    from sklearn.ensemble._hist_gradient_boosting.common import PREDICTOR_RECORD_DTYPE

    model._predictors[0][0].nodes = np.zeros(100_000, dtype=PREDICTOR_RECORD_DTYPE)


def _bins(model) -> None:
    model._bin_mapper.n_bins_non_missing_[0] = 1_000_000


def _outputs(ct) -> None:
    mb.fitted_step(ct, "OneHotEncoder")._n_features_outs[0] = 400_000_000


def _categories(ct) -> None:
    mb.fitted_step(ct, "OneHotEncoder").categories_[0] = np.arange(1_000_001.0)


def _codes(ct) -> None:
    mb.fitted_step(ct, "CategoryCodes").codes_[0] = np.arange(1_000_000)


def _code_range(ct) -> None:
    codes = mb.fitted_step(ct, "CategoryCodes").codes_
    codes[0] = np.full(len(codes[0]), 1_000_000_000)


def _steps(ct) -> None:
    ct.transformers_ = ct.transformers_ + [("x", "drop", [])] * 1_000


def _model(edit):
    return mb.skops_edit("model.skops", edit)


def _pre(edit):
    return mb.skops_edit("preprocessor.skops", edit)


def _inbound(class_name: str, **changes):
    """A config edit of the first tensor a functional layer is called on."""

    def edit(config):
        mb.layer(config, class_name)["inbound_nodes"][0]["args"][0]["config"].update(changes)

    return edit


def _both(*edits):
    def edit(config):
        for one in edits:
            one(config)

    return edit


_DENSE_OBJECT = {
    "module": "keras.layers",
    "class_name": "Dense",
    "config": {"name": "x", "units": 8},
    "registered_name": None,
}

_MODEL_OBJECT = {
    "module": "keras",
    "class_name": "Sequential",
    "config": {"name": "inner", "layers": []},
    "registered_name": None,
}

#: id -> (bundle kind, edit of the bundle folder, words the refusal must contain).
HOSTILE = {
    # scikit-learn size attributes (the reported file: 400 million trees per iteration)
    "boosting: 400,000,000 trees per iteration": (
        "hgb",
        _model(_set(n_trees_per_iteration_=400_000_000)),
        "n_trees_per_iteration_ = 400,000,000; finml's boosting classifiers grow one tree",
    ),
    "boosting, 3 classes: 2 trees per iteration": (
        "hgb-multi",
        _model(_set(n_trees_per_iteration_=2)),
        "n_trees_per_iteration_ = 2; finml's boosting classifiers grow one tree per iteration "
        "for 2 classes and one per class from 3 up (3 for this model's 3 classes)",
    ),
    "boosting: baseline of 100,000 columns": (
        "hgb",
        _model(_set(_baseline_prediction=np.zeros((1, 100_000)))),
        "_baseline_prediction = an array of shape (1, 100000); it must be an array of shape (1, 1)",
    ),
    "boosting: 1,000,000,000 features": (
        "hgb",
        _model(_set(n_features_in_=1_000_000_000)),
        "n_features_in_ = 1,000,000,000; finml's models take 1 to 100,000 columns",
    ),
    "boosting: two trees in an iteration": (
        "hgb",
        _model(_extra_tree),
        "_predictors[0] = a list of 2 items",
    ),
    "boosting: a tree of 100,000 nodes": (
        "hgb",
        _model(_huge_tree),
        "has 100,000 nodes; finml's boosting trees have at most 8,191",
    ),
    "boosting: missing-value bin 1,000,000,000": (
        "hgb",
        _model(lambda m: setattr(m._bin_mapper, "missing_values_bin_idx_", 1_000_000_000)),
        "missing_values_bin_idx_ = 1,000,000,000; missing values go to the last bin (255)",
    ),
    "boosting: 1,000,000 bins of a feature": (
        "hgb",
        _model(_bins),
        "n_bins_non_missing_ = an array of shape",
    ),
    "boosting: a label encoder of 3 classes for 2": (
        "hgb",
        _model(lambda m: setattr(m._label_encoder, "classes_", np.arange(3))),
        "classes_ = an array of shape (3,); it must list 2 to 2 classes",
    ),
    "forecaster: a step's booster with 400,000,000 trees per iteration": (
        "hgb_lags",
        _model(lambda models: setattr(models[1], "n_trees_per_iteration_", 400_000_000)),
        "n_trees_per_iteration_ = 400,000,000; a boosting regressor grows one tree",
    ),
    "forecaster: ridge with 5,000 intercepts for 2 steps": (
        "ridge_lags",
        _model(_set(intercept_=np.zeros(5_000))),
        "intercept_ = an array of shape (5000,); it must hold one number per output",
    ),
    "logistic regression: coefficients for 5 of its features": (
        "logreg",
        _model(_set(coef_=np.zeros((1, 5)))),
        "coef_ = an array of shape (1, 5); it must be an array of shape (1, ",
    ),
    "logistic regression: 5,000 classes": (
        "logreg",
        _model(_set(classes_=np.arange(5_000))),
        "classes_ = an array of shape (5000,); it must list 2 to 1,000 classes",
    ),
    "ridge: 50,000 features for its coefficients": (
        "ridge",
        _model(_set(n_features_in_=50_000)),
        "coef_ = an array of shape",
    ),
    "one-hot encoder: 400,000,000 output columns": (
        "logreg",
        _pre(_outputs),
        "_n_features_outs making 400,000,",
    ),
    "one-hot encoder: 1,000,001 categories of a column": (
        "logreg",
        _pre(_categories),
        "categories; finml's encoders know at most 1,000,000",
    ),
    "native category codes: 1,000,000 codes for a column's few categories": (
        "hgb-native",
        _pre(_codes),
        "codes_ = an array of shape (1000000,); it must give each known category a code",
    ),
    "native category codes: a code of 1,000,000,000": (
        "hgb-native",
        _pre(_code_range),
        "it must give each known category a code below the number of categories",
    ),
    "scaler: 100,000 means": (
        "logreg",
        _pre(_step("StandardScaler", mean_=np.zeros(100_000))),
        "mean_ = an array of shape (100000,); it must be an array of shape",
    ),
    "imputer: 50,000 statistics": (
        "logreg",
        _pre(_step("SimpleImputer", statistics_=np.zeros(50_000))),
        "statistics_ = an array of shape (50000,)",
    ),
    "missing indicator: 1,000,000,000 features": (
        "logreg",
        _pre(_step("MissingIndicator", _n_features=1_000_000_000)),
        "_n_features = 1,000,000,000; it must equal n_features_in_",
    ),
    "column transformer: 1,000 more steps": (
        "logreg",
        _pre(_steps),
        "transformers_ = a list of 1,00",
    ),
    # Keras configs (the reported file: two 20,000 x 20,000 dense layers)
    "dense: two layers of 20,000 units": (
        "mlp",
        mb.keras_edit(
            _both(mb.set_layer("Dense", 0, units=20_000), mb.set_layer("Dense", 1, units=20_000))
        ),
        "has units = 20,000; finml's networks have 1 to 8,192 units",
    ),
    "dense: 67 million parameters in bounded layers": (
        "mlp",
        mb.keras_edit(
            _both(
                mb.drop_build_configs,
                mb.set_layer("Dense", 0, units=8_192),
                mb.set_layer("Dense", 1, units=8_192),
            )
        ),
        "has over 60,000,000 parameters",
    ),
    "dense: built for 100,000 inputs it is not given": (
        "mlp",
        mb.keras_edit(
            lambda c: mb.layer(c, "Dense")["build_config"].update(input_shape=[None, 100_000])
        ),
        "declares it is built for inputs [null, 100000]",
    ),
    "input: 1,000,000,000 features": (
        "mlp",
        mb.keras_edit(mb.set_layer("InputLayer", batch_shape=[None, 1_000_000_000])),
        "finml's networks take 1 to 100,000 features",
    ),
    "dense: an unknown key lora_rank": (
        "mlp",
        mb.keras_edit(mb.set_layer("Dense", lora_rank=4)),
        "holds 'lora_rank', which finml's saved models never have",
    ),
    "dense: a layer as its activation": (
        "mlp",
        mb.keras_edit(mb.set_layer("Dense", activation=_DENSE_OBJECT)),
        "uses the activation 'Dense' as 'activation'",
    ),
    "dense: a model as its kernel initializer": (
        "mlp",
        mb.keras_edit(mb.set_layer("Dense", kernel_initializer=_MODEL_OBJECT)),
        "Sequential 'inner' sits in Dense 'dense",  # 'dense_8' after other Dense layers
    ),
    "config.json nested 200,000 deep": (
        "mlp",
        mb.keras_edit(raw_config=mb.nested_json(200_000)),
        "config.json nests 200,001 levels deep; finml reads at most 64",
    ),
    "metadata.json nested 20,000 deep": (
        "mlp",
        mb.keras_edit(metadata=mb.nested_json(20_000)),
        "metadata.json nests 20,001 levels deep",
    ),
    "weights: a 20,000 x 20,000 kernel declared, not stored": (
        "mlp",
        mb.keras_edit(weights=mb.declared_weights((20_000, 20_000))),
        "declares at least 400,00",
    ),
    "weights: the right kernel shape, nothing stored": (
        "mlp",
        mb.keras_edit(weights=mb.declared_weights()),
        "but stores 0 bytes; Keras stores weights whole",
    ),
    "weights: a kernel linked to a file on the server": (
        "mlp",
        mb.keras_edit(weights=mb.linked_weights),
        "elsewhere (ExternalLink)",
    ),
    "lstm: recurrent_activation exponential": (
        "lstm_seq",
        mb.keras_edit(mb.set_layer("LSTM", recurrent_activation="exponential")),
        "uses the activation 'exponential' as 'recurrent_activation'",
    ),
    "lstm: 100,000 units": (
        "lstm_seq",
        mb.keras_edit(mb.set_layer("LSTM", units=100_000)),
        "has units = 100,000; finml's networks have 1 to 8,192 units",
    ),
    "lstm: return_state": (
        "lstm_seq",
        mb.keras_edit(mb.set_layer("LSTM", return_state=True)),
        "has return_state = true",
    ),
    "reshape: to 100,000 x 100,000": (
        "lstm_seq",
        mb.keras_edit(mb.set_layer("Reshape", target_shape=[100_000, 100_000])),
        "reshapes 16 values to [100000, 100000]",
    ),
    "functional: a tensor declared 999 wide": (
        "lstm_seq",
        mb.keras_edit(_inbound("Dense", shape=[None, 999])),
        "declares an input of shape [null, 999]",
    ),
    "functional: called on a later layer": (
        "lstm_seq",
        mb.keras_edit(_inbound("Reshape", keras_history=["changes_ahead", 0, 0])),
        "is called on 'changes_ahead', which is not a layer before it",
    ),
    "image input: 100,000 px": (
        "small_cnn",
        mb.keras_edit(mb.set_layer("InputLayer", batch_shape=[None, 100_000, 100_000, 1])),
        "finml's networks take 1 to 1,024 pixels high",
    ),
    "conv: a 1001 x 1001 kernel": (
        "small_cnn",
        mb.keras_edit(mb.set_layer("Conv2D", kernel_size=[1001, 1001])),
        "kernel_size = [1001, 1001]; finml's networks use 2 whole number(s) from 1 to 31",
    ),
    "conv: 1,000,000 filters": (
        "small_cnn",
        mb.keras_edit(mb.set_layer("Conv2D", filters=1_000_000)),
        "has filters = 1,000,000; finml's networks have 1 to 8,192 filters",
    ),
    "pooling: 500 x 500": (
        "small_cnn",
        mb.keras_edit(mb.set_layer("MaxPooling2D", pool_size=[500, 500])),
        "pool_size = [500, 500]",
    ),
    "conv: 8,192 filters over 1024 px images": (
        "wide_cnn",
        mb.keras_edit(mb.set_layer("Conv2D", filters=8_192)),
        "outputs 8,589,934,592 values per sample",
    ),
}


@pytest.mark.parametrize("name", list(HOSTILE))
def test_a_hostile_model_is_refused_small_and_fast(name, bundles, warm, tmp_path):
    kind, edit, words = HOSTILE[name]
    folder = shutil.copytree(bundles[kind], tmp_path / "bundle")
    edit(folder)  # outside the measurement: building the input is not finml's cost
    start = time.perf_counter()
    out, peak = measured(lambda: load_bundle(folder))
    seconds = time.perf_counter() - start
    print(f"\nMEASURED {name}: {peak} MiB, {seconds:.3f} s")
    assert isinstance(out, BundleError), f"expected a refusal, got {out!r}"
    assert words in str(out), str(out)
    assert "finml refuses" in str(out) or "finml reads at most" in str(out), str(out)
    assert peak < MEMORY_BOUND_MIB, f"{name} took {peak} MiB"
    assert seconds < SECONDS_BOUND, f"{name} took {seconds:.1f} s"


def test_the_suite_holds_at_least_twenty_hostile_models():
    assert len(HOSTILE) >= 20


def test_arrays_over_the_byte_bound_are_refused(bundles, tmp_path, monkeypatch):
    folder = shutil.copytree(bundles["hgb"], tmp_path / "bundle")
    monkeypatch.setattr(safe_load, "MAX_ARRAY_BYTES", 1 << 10)  # the trees alone hold more
    with pytest.raises(BundleError, match=r"its arrays hold over 1,024 bytes"):
        load_bundle(folder)


# -- bounded JSON ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "depth"),
    [
        ('{"a": [1, {"b": []}]}', 4),
        ('["[[[[", "]]", "{"]', 1),  # brackets inside strings do not count
        (r'["\"[[[", "\\", [["x"]]]', 3),  # nor after an escaped quote; an escaped backslash
        ("42", 0),
    ],
)
def test_json_depth_ignores_strings_and_escapes(text, depth):
    assert safe_load.json_depth(text.encode()) == depth
    assert safe_load.load_json_bounded(text, "x.json") == json.loads(text)


def test_load_json_bounded_refuses_deep_large_and_broken_documents():
    start = time.perf_counter()
    with pytest.raises(
        BundleError, match=r"x\.json nests 200,000 levels deep; finml reads at most 8"
    ):
        safe_load.load_json_bounded("[" * 200_000 + "]" * 200_000, "x.json", max_depth=8)
    assert time.perf_counter() - start < 2
    with pytest.raises(BundleError, match=r"x\.json is 11 bytes; finml reads at most 10"):
        safe_load.load_json_bounded(b'"abcdefghi"', "x.json", max_bytes=10)
    with pytest.raises(BundleError, match=r"x\.json is not valid JSON"):
        safe_load.load_json_bounded(b"{not json", "x.json")
    with pytest.raises(BundleError, match=r"x\.json is not valid JSON \('utf-8' codec"):
        safe_load.load_json_bounded(b'"\xff"', "x.json")
