"""Load model files that came from outside (a run import, a bundle in the store) safely.

Two formats carry fitted models: skops files (scikit-learn objects) and Keras ``.keras``
archives. Neither is ever unpickled, and both are checked against **exact** allow-lists
derived from the bundles finml itself writes for every model kind (see
``tests/hostile/test_bundle_gadgets.py`` and ``tests/hostile/test_model_bounds.py``, which
rebuild them and compare):

1. Before anything is deserialised: the archive's declared sizes are capped; a skops
   file's untrusted types (``skops.io.get_untrusted_types``) must all be in
   :data:`SKOPS_TRUSTED_TYPES`; a Keras archive holds exactly the three files Keras
   writes, its JSON is bounded in size and nesting (:func:`load_json_bounded`, which
   finml uses for every JSON file from outside), every class named in its
   ``config.json`` is in :data:`KERAS_CLASSES` and in its place (a model at the root,
   layers in its layer list, never a model or layer inside a setting), every key is in
   :data:`KERAS_OBJECT_KEYS`, :data:`KERAS_CONFIG_KEYS` or :data:`KERAS_STRUCTURE_KEYS`,
   and every key naming an activation holds one of :data:`KERAS_ACTIVATIONS`.
2. Keras sizes, from the config alone (:func:`keras_param_count`): the shapes are
   propagated from the input layer through every layer (a functional model's layers,
   each called once, through the tensors they are called on), ignoring the shapes the
   config declares, which must agree (Keras builds weights from a declared
   ``build_config``); every dimension is bounded (:data:`MAX_FEATURES` input columns,
   :data:`MAX_IMAGE_SIDE` pixels, :data:`MAX_UNITS` units or filters, :data:`MAX_KERNEL`
   kernel, pool and padding sides, :data:`MAX_ACTIVATION` values per sample out of a
   layer) and the parameters are at most :data:`MAX_KERAS_PARAMS`. The weights file is
   then read for its metadata only: its datasets hold exactly that many weights, all
   stored (an HDF5 file can declare a huge dataset without storing it), with no links to
   other files.
3. After a skops file is loaded and before anything predicts with it: every object in
   the graph is an instance of a class in :data:`SKLEARN_CLASSES` (or a plain value); no
   instance attribute replaces a method (``transform``, ``predict_proba``, ...); the
   arrays hold at most :data:`MAX_ARRAY_BYTES`; every size attribute of every object is
   bounded and consistent with the others (a boosting model's ``n_trees_per_iteration_``
   with its classes and trees, coefficients with ``n_features_in_``, encoders' categories
   with :data:`MAX_CATEGORIES`, ...), because scikit-learn allocates from them when it
   predicts (a 112 KB file declaring 400 million trees per iteration took 6 GB); and
   gradient-boosting trees are checked node by node, because scikit-learn's Cython code
   follows child and feature indices without bounds checks (a crafted tree crashes the
   process or loops forever).
4. Keras then loads with ``safe_mode=True``.

Why exact lists: a prefix rule (``builtins.``, ``numpy.``, ``sklearn.``) let a pipeline of
``FunctionTransformer(numpy.full_like)``, ``numpy.ravel`` and ``sorted(key=eval)`` run a
shell command on the next Predict upload. Every type a gadget needs (a function, a
``functools.partial``, an ``operator.methodcaller``, ``numpy.vectorize``) is outside these
lists, and the graph audit refuses even skops' own default-trusted types (all scikit-learn
estimators, numpy ufuncs) unless finml's bundles contain them. Every check is cheap: none
allocates memory in proportion to a number the file declares.
"""

from __future__ import annotations

import inspect
import json
import math
import re
import shutil
import tempfile
import zipfile
from pathlib import Path
from typing import NoReturn

import numpy as np

from finml.errors import BundleError, listing

#: Types a finml skops file holds beyond skops' primitives, exactly (no prefixes, no
#: functions): the union of ``skops.io.get_untrusted_types`` over real bundles of every
#: tabular model kind.
SKOPS_TRUSTED_TYPES = frozenset(
    {
        "finml.models.category_codes.CategoryCodes",
        "numpy.dtype",
        "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    }
)
#: Classes whose instances may appear in a loaded skops object graph, exactly.
SKLEARN_CLASSES = frozenset(
    {
        "finml.models.category_codes.CategoryCodes",
        "numpy.ndarray",
        "numpy.random._generator.Generator",
        "sklearn._loss._loss.CyAbsoluteError",
        "sklearn._loss._loss.CyHalfBinomialLoss",
        "sklearn._loss._loss.CyHalfMultinomialLoss",
        "sklearn._loss._loss.CyHalfSquaredError",
        "sklearn._loss.link.IdentityLink",
        "sklearn._loss.link.Interval",
        "sklearn._loss.link.LogitLink",
        "sklearn._loss.link.MultinomialLogit",
        "sklearn._loss.loss.AbsoluteError",
        "sklearn._loss.loss.HalfBinomialLoss",
        "sklearn._loss.loss.HalfMultinomialLoss",
        "sklearn._loss.loss.HalfSquaredError",
        "sklearn.compose._column_transformer.ColumnTransformer",
        "sklearn.ensemble._hist_gradient_boosting.binning._BinMapper",
        "sklearn.ensemble._hist_gradient_boosting.gradient_boosting.HistGradientBoostingClassifier",
        "sklearn.ensemble._hist_gradient_boosting.gradient_boosting.HistGradientBoostingRegressor",
        "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
        "sklearn.impute._base.MissingIndicator",
        "sklearn.impute._base.SimpleImputer",
        "sklearn.linear_model._logistic.LogisticRegression",
        "sklearn.linear_model._ridge.Ridge",
        "sklearn.pipeline.Pipeline",
        "sklearn.preprocessing._data.StandardScaler",
        "sklearn.preprocessing._encoders.OneHotEncoder",
        "sklearn.preprocessing._encoders.OrdinalEncoder",
        "sklearn.preprocessing._function_transformer.FunctionTransformer",
        "sklearn.preprocessing._label.LabelEncoder",
    }
)
#: Objects of these classes are leaves: their state lives in C, not in ``__dict__``.
_OPAQUE = frozenset(
    {
        "numpy.random._generator.Generator",
        "sklearn._loss._loss.CyAbsoluteError",
        "sklearn._loss._loss.CyHalfBinomialLoss",
        "sklearn._loss._loss.CyHalfMultinomialLoss",
        "sklearn._loss._loss.CyHalfSquaredError",
    }
)
#: Type objects that may appear as values (the ``dtype`` parameter of an encoder).
TYPE_VALUES = frozenset({"numpy.float64", "numpy.float32"})
#: (module, class_name) of every object a finml ``.keras`` config may name, exactly.
KERAS_CLASSES = frozenset(
    {
        ("keras", "DTypePolicy"),
        ("keras", "Sequential"),
        ("keras.initializers", "GlorotUniform"),
        ("keras.initializers", "Ones"),
        ("keras.initializers", "Orthogonal"),
        ("keras.initializers", "Zeros"),
        ("keras.layers", "Activation"),
        ("keras.layers", "Add"),
        ("keras.layers", "BatchNormalization"),
        ("keras.layers", "Concatenate"),
        ("keras.layers", "Conv1D"),
        ("keras.layers", "Conv2D"),
        ("keras.layers", "Dense"),
        ("keras.layers", "DepthwiseConv2D"),
        ("keras.layers", "Dropout"),
        ("keras.layers", "GRU"),
        ("keras.layers", "GlobalAveragePooling1D"),
        ("keras.layers", "GlobalAveragePooling2D"),
        ("keras.layers", "InputLayer"),
        ("keras.layers", "LSTM"),
        ("keras.layers", "MaxPooling2D"),
        ("keras.layers", "RandomContrast"),
        ("keras.layers", "RandomFlip"),
        ("keras.layers", "RandomRotation"),
        ("keras.layers", "RandomZoom"),
        ("keras.layers", "ReLU"),
        ("keras.layers", "Rescaling"),
        ("keras.layers", "Reshape"),
        ("keras.layers", "ZeroPadding2D"),
        ("keras.metrics", "AUC"),
        ("keras.optimizers", "Adam"),
        ("keras.regularizers", "L2"),
        ("keras.src.models.functional", "Functional"),
        (None, "__keras_tensor__"),
    }
)
#: Activation names a finml model uses, under every key that names an activation
#: (``activation``, ``recurrent_activation``; a string activation is looked up by Keras).
KERAS_ACTIVATIONS = frozenset(
    {"relu", "gelu", "tanh", "selu", "elu", "sigmoid", "softmax", "linear"}
)
#: The members of a ``.keras`` archive as Keras writes it; anything else is refused.
KERAS_MEMBERS = frozenset({"metadata.json", "config.json", "model.weights.h5"})
#: Most bytes a model archive (skops or Keras) may declare, uncompressed.
MAX_MODEL_BYTES = 1 << 30
#: Most bytes any one archive may declare per byte it occupies (a zip bomb declares many).
MAX_RATIO = 200

# -- sizes ---------------------------------------------------------------------------------
#: Most input columns a model may take (the run parameters allow 100,000 features).
MAX_FEATURES = 100_000
#: Most classes a classifier may have (image runs allow 1,000; tables 20).
MAX_CLASSES = 1_000
#: Most outputs of a regressor (a forecaster predicts up to 10,000 steps ahead).
MAX_OUTPUTS = 10_000
#: Most categories an encoder may know, over all its features together.
MAX_CATEGORIES = 1_000_000
#: Most steps of a pipeline and transformers of a column transformer (finml's have <= 3).
MAX_STEPS = 64
#: Most boosting iterations (the registry allows 5,000).
MAX_BOOSTING_ITERATIONS = 10_000
#: Most nodes of one boosting tree (the registry allows 256 leaves: 511 nodes).
MAX_TREE_NODES = 8_191
#: Most bytes of all numpy arrays in a loaded skops object graph together.
MAX_ARRAY_BYTES = 512 << 20
#: Most objects the skops graph audit visits (finml's largest graphs hold ~100,000).
MAX_OBJECTS = 2_000_000
#: Most parameters (weights) of a Keras model. finml's largest default network,
#: keras.applications ResNet50, has about 23.6 million.
MAX_KERAS_PARAMS = 60_000_000
#: Largest side of an image input, pixels (the ``image_size`` run parameter's bound).
MAX_IMAGE_SIDE = 1024
#: Most channels of an image input (finml's are grey or RGB).
MAX_CHANNELS = 4
#: Most units of a dense or recurrent layer, filters of a convolution, channels anywhere.
MAX_UNITS = 8192
#: Largest kernel, pool, stride, dilation or padding side.
MAX_KERNEL = 31
#: Most values one layer may output per sample (a 1024 px image through 256 filters).
MAX_ACTIVATION = 1 << 28
#: Most layers of a Keras model (ResNet50 with augmentation has ~190).
MAX_LAYERS = 1_000
#: Most objects (groups and datasets) the HDF5 weights file may hold (ResNet50: ~1,300).
MAX_H5_OBJECTS = 100_000
#: Most bytes of a Keras ``config.json`` (ResNet50's is about 200 KB).
MAX_KERAS_CONFIG_BYTES = 16 << 20
#: Most bytes of a Keras ``metadata.json`` (Keras writes about 60).
MAX_KERAS_METADATA_BYTES = 64 << 10

# -- the keys of a finml Keras config, exactly --------------------------------------------
_OBJECT = frozenset({"module", "class_name", "config", "registered_name"})
_LAYER = _OBJECT | {"name", "inbound_nodes"}
_BUILT = _LAYER | {"build_config"}
_MODEL = _OBJECT | {"build_config", "compile_config"}
#: Keys of each serialised object (``module``, ``class_name``, ...) by (module, class_name),
#: exactly as finml's saved models hold them. ``shared_object_id`` (Keras marks an object
#: that several others use, e.g. one initializer) is allowed besides on the objects of
#: :data:`_SHAREABLE_MODULES` and ``DTypePolicy``, never on a layer or a model.
KERAS_OBJECT_KEYS: dict[tuple[str | None, str], frozenset[str]] = {
    ("keras", "DTypePolicy"): _OBJECT,
    ("keras", "Sequential"): _MODEL,
    ("keras.initializers", "GlorotUniform"): _OBJECT,
    ("keras.initializers", "Ones"): _OBJECT,
    ("keras.initializers", "Orthogonal"): _OBJECT,
    ("keras.initializers", "Zeros"): _OBJECT,
    ("keras.layers", "Activation"): _LAYER,
    ("keras.layers", "Add"): _BUILT,
    ("keras.layers", "BatchNormalization"): _BUILT,
    ("keras.layers", "Concatenate"): _BUILT,
    ("keras.layers", "Conv1D"): _BUILT,
    ("keras.layers", "Conv2D"): _BUILT,
    ("keras.layers", "Dense"): _BUILT,
    ("keras.layers", "DepthwiseConv2D"): _BUILT,
    ("keras.layers", "Dropout"): _LAYER,
    ("keras.layers", "GRU"): _BUILT,
    ("keras.layers", "GlobalAveragePooling1D"): _LAYER,
    ("keras.layers", "GlobalAveragePooling2D"): _LAYER,
    ("keras.layers", "InputLayer"): _LAYER,
    ("keras.layers", "LSTM"): _BUILT,
    ("keras.layers", "MaxPooling2D"): _LAYER,
    ("keras.layers", "RandomContrast"): _BUILT,
    ("keras.layers", "RandomFlip"): _BUILT,
    ("keras.layers", "RandomRotation"): _BUILT,
    ("keras.layers", "RandomZoom"): _BUILT,
    ("keras.layers", "ReLU"): _LAYER,
    ("keras.layers", "Rescaling"): _BUILT,
    ("keras.layers", "Reshape"): _LAYER,
    ("keras.layers", "ZeroPadding2D"): _BUILT,
    ("keras.metrics", "AUC"): _OBJECT,
    ("keras.optimizers", "Adam"): _OBJECT,
    ("keras.regularizers", "L2"): _OBJECT,
    ("keras.src.models.functional", "Functional"): _MODEL,
    (None, "__keras_tensor__"): frozenset({"class_name", "config"}),
}
#: Modules whose objects may carry ``shared_object_id``.
_SHAREABLE_MODULES = frozenset(
    {"keras.initializers", "keras.regularizers", "keras.optimizers", "keras.metrics"}
)
_BASE = frozenset({"name", "trainable", "dtype"})
_DATA_FORMAT = _BASE | {"data_format"}
_BIAS = frozenset({"use_bias", "bias_initializer", "bias_regularizer", "bias_constraint"})
_CONV = (
    _DATA_FORMAT
    | _BIAS
    | {"activation", "activity_regularizer", "dilation_rate", "kernel_size", "padding"}
    | {"strides"}
)
_RECURRENT = (
    _BASE
    | _BIAS
    | {"units", "activation", "recurrent_activation", "activity_regularizer", "dropout"}
    | {"go_backwards", "kernel_constraint", "kernel_initializer", "kernel_regularizer"}
    | {"recurrent_constraint", "recurrent_dropout", "recurrent_initializer"}
    | {"recurrent_regularizer", "return_sequences", "return_state", "seed", "stateful"}
    | {"unroll", "zero_output_for_mask"}
)
_RANDOM = _DATA_FORMAT | {"seed"}
_FILL = frozenset({"fill_mode", "fill_value", "interpolation"})
#: Keys of the ``config`` object of each class, exactly as finml's saved models hold them
#: (a Keras upgrade that adds a key makes ``tests/hostile/test_model_bounds.py`` fail).
KERAS_CONFIG_KEYS: dict[tuple[str | None, str], frozenset[str]] = {
    ("keras", "DTypePolicy"): frozenset({"name"}),
    ("keras", "Sequential"): frozenset({"build_input_shape", "dtype", "layers", "name"})
    | {"trainable"},
    ("keras.initializers", "GlorotUniform"): frozenset({"input_axes", "output_axes", "seed"}),
    ("keras.initializers", "Ones"): frozenset(),
    ("keras.initializers", "Orthogonal"): frozenset({"gain", "seed"}),
    ("keras.initializers", "Zeros"): frozenset(),
    ("keras.layers", "Activation"): _BASE | {"activation"},
    ("keras.layers", "Add"): _BASE,
    ("keras.layers", "BatchNormalization"): _BASE
    | {"axis", "beta_constraint", "beta_initializer", "beta_regularizer", "center", "epsilon"}
    | {"gamma_constraint", "gamma_initializer", "gamma_regularizer", "momentum"}
    | {"moving_mean_initializer", "moving_variance_initializer", "renorm", "renorm_clipping"}
    | {"renorm_momentum", "scale", "synchronized"},
    ("keras.layers", "Concatenate"): _BASE | {"axis"},
    ("keras.layers", "Conv1D"): _CONV
    | {"filters", "groups", "kernel_constraint", "kernel_initializer", "kernel_regularizer"},
    ("keras.layers", "Conv2D"): _CONV
    | {"filters", "groups", "kernel_constraint", "kernel_initializer", "kernel_regularizer"},
    ("keras.layers", "Dense"): _BASE
    | _BIAS
    | {"activation", "units", "kernel_constraint", "kernel_initializer", "kernel_regularizer"}
    | {"quantization_config"},
    ("keras.layers", "DepthwiseConv2D"): _CONV
    | {"depth_multiplier", "depthwise_constraint", "depthwise_initializer"}
    | {"depthwise_regularizer"},
    ("keras.layers", "Dropout"): _BASE | {"noise_shape", "rate", "seed"},
    ("keras.layers", "GRU"): _RECURRENT | {"reset_after"},
    ("keras.layers", "GlobalAveragePooling1D"): _DATA_FORMAT | {"keepdims"},
    ("keras.layers", "GlobalAveragePooling2D"): _DATA_FORMAT | {"keepdims"},
    ("keras.layers", "InputLayer"): frozenset({"batch_shape", "dtype", "name", "optional"})
    | {"ragged", "sparse"},
    ("keras.layers", "LSTM"): _RECURRENT | {"unit_forget_bias"},
    ("keras.layers", "MaxPooling2D"): _DATA_FORMAT | {"padding", "pool_size", "strides"},
    ("keras.layers", "RandomContrast"): _RANDOM | {"factor", "value_range"},
    ("keras.layers", "RandomFlip"): _RANDOM | {"mode"},
    ("keras.layers", "RandomRotation"): _RANDOM | _FILL | {"factor"},
    ("keras.layers", "RandomZoom"): _RANDOM | _FILL | {"height_factor", "width_factor"},
    ("keras.layers", "ReLU"): _BASE | {"max_value", "negative_slope", "threshold"},
    ("keras.layers", "Rescaling"): _BASE | {"offset", "scale"},
    ("keras.layers", "Reshape"): _BASE | {"target_shape"},
    ("keras.layers", "ZeroPadding2D"): _DATA_FORMAT | {"padding"},
    ("keras.metrics", "AUC"): frozenset({"curve", "dtype", "from_logits", "label_weights"})
    | {"multi_label", "name", "num_labels", "num_thresholds", "summation_method"},
    ("keras.optimizers", "Adam"): frozenset({"amsgrad", "beta_1", "beta_2", "clipnorm"})
    | {"clipvalue", "ema_momentum", "ema_overwrite_frequency", "epsilon", "global_clipnorm"}
    | {"gradient_accumulation_steps", "learning_rate", "loss_scale_factor", "name"}
    | {"use_ema", "weight_decay"},
    ("keras.regularizers", "L2"): frozenset({"l2"}),
    ("keras.src.models.functional", "Functional"): frozenset({"input_layers", "layers"})
    | {"name", "output_layers", "trainable"},
    (None, "__keras_tensor__"): frozenset({"dtype", "keras_history", "shape"}),
}
#: Keys of the config's other objects, by role: a layer's or model's ``build_config``, a
#: model's ``compile_config``, one call of a layer in a functional model
#: (``inbound_node``) and the keyword arguments of that call (``call_kwargs``).
KERAS_STRUCTURE_KEYS: dict[str, frozenset[str]] = {
    "build_config": frozenset({"input_shape"}),
    "compile_config": frozenset({"jit_compile", "loss", "loss_weights", "metrics"})
    | {"optimizer", "run_eagerly", "steps_per_execution", "weighted_metrics"},
    "inbound_node": frozenset({"args", "kwargs"}),
    "call_kwargs": frozenset({"mask", "training"}),
}


#: Most bytes of a JSON document :func:`load_json_bounded` reads by default.
MAX_JSON_BYTES = 16 << 20
#: Most levels of nesting of a JSON document by default (finml's own nest about 12).
MAX_JSON_DEPTH = 64
#: A JSON string (its quotes, and escapes such as ``\\"``), found without backtracking.
_JSON_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
#: +1 for an opening bracket, -1 for a closing one, 0 for any other byte.
_BRACKET_STEP = np.zeros(256, dtype=np.int8)
_BRACKET_STEP[[ord("["), ord("{")]] = 1
_BRACKET_STEP[[ord("]"), ord("}")]] = -1


def json_depth(raw: bytes) -> int:
    """How deeply a JSON document nests, without parsing it and without recursion.

    Strings are removed first (so brackets inside them do not count; escaped quotes do not
    end them), then the brackets left are summed in chunks of 1 MiB. For a document that
    is not valid JSON the result may be larger than the truth, never smaller up to the
    point where a parser would stop.

    Args:
        raw: the document, UTF-8 bytes.

    Returns:
        int: the deepest level of ``[`` / ``{`` (0 for a scalar).
    """
    text = _JSON_STRING.sub(b"", raw)
    depth = peak = 0
    chunk = 1 << 20
    for start in range(0, len(text), chunk):
        piece = np.frombuffer(text, np.uint8, count=min(chunk, len(text) - start), offset=start)
        levels = np.cumsum(_BRACKET_STEP[piece], dtype=np.int64) + depth
        peak = max(peak, int(levels.max()))
        depth = int(levels[-1])
    return peak


def check_network_size(model) -> None:
    """Refuse to train a Keras network that finml could not load back: more than
    :data:`MAX_KERAS_PARAMS` parameters (the bound every imported or stored network is
    held to, :func:`keras_param_count`).

    Args:
        model: a built ``keras.Model``.

    Raises:
        SpecError: the network is too large; the message gives its size and the bound.
    """
    from finml.errors import SpecError

    n = int(model.count_params())
    if n > MAX_KERAS_PARAMS:
        raise SpecError(
            f"This network has {n:,} parameters; finml trains and loads at most "
            f"{MAX_KERAS_PARAMS:,}. Use fewer or narrower layers (fewer units or filters)."
        )


def load_json_bounded(
    data: bytes | str,
    label: str,
    max_depth: int = MAX_JSON_DEPTH,
    max_bytes: int = MAX_JSON_BYTES,
) -> object:
    """Parse JSON from outside after bounding its size and nesting depth.

    ``json.loads`` recurses once per level: a document nested 200,000 deep raises
    ``RecursionError`` (or worse, in a thread with a small stack). The depth is measured
    first by :func:`json_depth`, which does not recurse.

    Args:
        data: the document, UTF-8 bytes or text.
        label: its name in messages (e.g. ``"model.keras: config.json"``).
        max_depth: most levels of ``[`` / ``{`` allowed.
        max_bytes: most bytes (UTF-8) allowed.

    Returns:
        The parsed value (dict, list, str, number, bool or None).

    Raises:
        BundleError: over ``max_bytes``, nested deeper than ``max_depth``, not UTF-8, or
            not valid JSON.
    """
    raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else bytes(data)
    if len(raw) > max_bytes:
        raise BundleError(
            f"{label} is {len(raw):,} bytes; finml reads at most {max_bytes:,} bytes of it "
            "(its own files are far smaller). finml refuses it."
        )
    depth = json_depth(raw)
    if depth > max_depth:
        raise BundleError(
            f"{label} nests {depth:,} levels deep; finml reads at most {max_depth} levels "
            "(its own files nest about a dozen). Such a file is built to crash the JSON "
            "reader; finml refuses it."
        )
    try:
        text = data if isinstance(data, str) else raw.decode("utf-8")
        return json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise BundleError(f"{label} is not valid JSON ({exc}).") from exc


def check_archive(path: Path, label: str, max_bytes: int = MAX_MODEL_BYTES) -> None:
    """Refuse a ZIP-based model file that is not a ZIP, or whose declared sizes are too large.

    Args:
        path: the file.
        label: its name in messages (e.g. ``"bundle/model.skops"``).
        max_bytes: most bytes its members may declare together, uncompressed.

    Raises:
        BundleError: not a valid ZIP, or over ``max_bytes`` or :data:`MAX_RATIO`.
    """
    try:
        with zipfile.ZipFile(path) as zf:
            declared = sum(m.file_size for m in zf.infolist())
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise BundleError(f"{label} is damaged: it is not a readable archive ({exc}).") from exc
    size = max(path.stat().st_size, 1)
    if declared > max_bytes or declared > MAX_RATIO * size + (1 << 20):
        raise BundleError(
            f"{label} declares {declared / 2**20:,.0f} MiB uncompressed from "
            f"{size / 2**20:,.1f} MiB on disk; finml refuses it (limit {max_bytes >> 20} MiB, "
            f"ratio {MAX_RATIO})."
        )


def load_skops(path: Path, label: str) -> object:
    """Load a skops file written by finml, refusing anything a finml bundle never holds.

    Args:
        path: the ``.skops`` file.
        label: its name in messages.

    Returns:
        The fitted scikit-learn object.

    Raises:
        BundleError: damaged, too large, a type outside :data:`SKOPS_TRUSTED_TYPES`, an
            object outside :data:`SKLEARN_CLASSES`, an attribute that replaces a method, a
            size attribute out of its bound or inconsistent with the others (see
            :func:`audit_objects`), or a gradient-boosting tree whose nodes point outside
            the tree.
    """
    import skops.io as sio

    check_archive(path, label)
    try:
        untrusted = sio.get_untrusted_types(file=path)
    except Exception as exc:  # skops raises several types for a damaged schema
        raise BundleError(f"{label} is damaged: its schema cannot be read ({exc}).") from exc
    refused = sorted(set(untrusted) - SKOPS_TRUSTED_TYPES)
    if refused:
        raise BundleError(
            f"{label} contains types finml does not load: {listing(refused, 5, str)}. finml "
            "bundles never hold functions or callables; this file may try to run code. Do not "
            "use it."
        )
    try:
        obj = sio.load(path, trusted=sorted(untrusted))
    except Exception as exc:
        raise BundleError(f"{label} could not be loaded: {type(exc).__name__}: {exc}") from exc
    audit_objects(obj, label)
    return obj


def _type_name(t: type) -> str:
    return f"{t.__module__}.{t.__qualname__}"


def audit_objects(root: object, label: str) -> None:
    """Walk a loaded object graph and refuse anything finml's own bundles never contain.

    Allowed: ``None``, bools, numbers, strings, numpy scalars and dtypes, slices, lists,
    tuples, dicts, numpy arrays (object arrays are walked; all together at most
    :data:`MAX_ARRAY_BYTES`), type objects in :data:`TYPE_VALUES`, and instances of
    :data:`SKLEARN_CLASSES` whose attributes do not replace a method of their class and
    whose size attributes pass :func:`check_sizes`. The root may be a list (a forecaster's
    boosted models, one per step ahead, at most :data:`MAX_OUTPUTS`).

    Raises:
        BundleError: the first thing that is not allowed, with where it was found.
    """
    if isinstance(root, list) and not 1 <= len(root) <= MAX_OUTPUTS:
        raise BundleError(
            f"{label}: the model is a list of {len(root):,} models; a finml forecaster holds "
            f"one per step ahead, 1 to {MAX_OUTPUTS:,}. finml refuses it."
        )
    seen: set[int] = set()
    stack: list[tuple[object, str]] = [(root, "the model")]
    array_bytes = 0
    while stack:
        obj, where = stack.pop()
        if isinstance(obj, str | bool | int | float | complex | np.generic | np.dtype | slice):
            continue
        if obj is None or id(obj) in seen:
            continue
        seen.add(id(obj))
        if len(seen) > MAX_OBJECTS:
            raise BundleError(
                f"{label} holds over {MAX_OBJECTS:,} objects; finml's largest models hold far "
                "fewer. finml refuses it."
            )
        if isinstance(obj, list | tuple):
            stack.extend((v, f"{where}[{i}]") for i, v in enumerate(obj))
            continue
        if isinstance(obj, dict):
            for k, v in obj.items():
                if not isinstance(k, str | int):
                    raise BundleError(f"{label}: {where} has a key of type {type(k).__name__}.")
                stack.append((v, f"{where}[{k!r}]"))
            continue
        if isinstance(obj, type):
            if _type_name(obj) not in TYPE_VALUES:
                raise BundleError(f"{label}: {where} is the type {_type_name(obj)}, not allowed.")
            continue
        name = _type_name(type(obj))
        if name not in SKLEARN_CLASSES:
            raise BundleError(
                f"{label}: {where} is a {name}, which finml bundles never contain. The file "
                "may try to run code; finml refuses it."
            )
        if isinstance(obj, np.ndarray):
            array_bytes += obj.nbytes
            if array_bytes > MAX_ARRAY_BYTES:
                raise BundleError(
                    f"{label}: its arrays hold over {MAX_ARRAY_BYTES:,} bytes (the last "
                    f"counted: {where}, shape {obj.shape}); finml's models hold far less. "
                    "finml refuses it."
                )
            if obj.dtype.kind == "O":
                stack.extend((v, f"{where} element") for v in obj.ravel())
            continue
        if name in _OPAQUE:
            continue
        state = vars(obj)
        for key, value in state.items():
            static = inspect.getattr_static(type(obj), key, None)
            if callable(static) or hasattr(static, "__get__"):
                raise BundleError(
                    f"{label}: {where} ({type(obj).__name__}) replaces its method {key!r} "
                    "with stored data; finml refuses such a file."
                )
            stack.append((value, f"{where}.{key}"))
        if type(obj).__name__ == "FunctionTransformer" and (
            obj.func is not None or obj.inverse_func is not None or obj.kw_args
        ):
            raise BundleError(
                f"{label}: {where} is a FunctionTransformer that calls a function; finml's "
                "bundles hold only the identity (func=None). The file may try to run code."
            )
        check_sizes(obj, label, where)


def check_sizes(obj: object, label: str, where: str) -> None:
    """Refuse a scikit-learn object whose size attributes are out of bounds or disagree.

    scikit-learn allocates from these numbers when it predicts (a boosting model's raw
    predictions are ``rows x n_trees_per_iteration_``, a one-hot encoder's output
    ``rows x sum(_n_features_outs)``), so each is checked against the arrays it describes
    and against a bound (:data:`MAX_FEATURES`, :data:`MAX_CLASSES`, :data:`MAX_OUTPUTS`,
    :data:`MAX_CATEGORIES`, :data:`MAX_STEPS`, :data:`MAX_BOOSTING_ITERATIONS`,
    :data:`MAX_TREE_NODES`). Nothing here allocates in proportion to a checked number.

    Args:
        obj: an instance of a class in :data:`SKLEARN_CLASSES` (others pass unchecked;
            so does an estimator without fitted attributes, as scikit-learn's
            ``check_is_fitted`` sees it: it refuses to predict).
        label: the file's name in messages.
        where: where ``obj`` is in the object graph, for messages.

    Raises:
        BundleError: naming the attribute, its value and the bound it breaks.
    """
    name = type(obj).__name__
    check = _SIZE_CHECKS.get(name)
    if check is None:
        return
    if name not in _ALWAYS_CHECKED and not any(
        k.endswith("_") and not k.startswith("__") for k in vars(obj)
    ):
        return  # not fitted (a column transformer's templates): it cannot predict
    check(obj, label, where)


def _shown(value: object) -> str:
    """A value for a message, short: ``400,000,000``, ``an array of shape (1, 5)``."""
    if isinstance(value, bool | np.bool_):
        return repr(bool(value))
    if isinstance(value, int | np.integer):
        return f"{int(value):,}"
    if isinstance(value, np.ndarray):
        return f"an array of shape {value.shape}"
    if isinstance(value, list | tuple | dict):
        return f"a {type(value).__name__} of {len(value):,} items"
    text = repr(value)
    return text if len(text) <= 60 else text[:59] + "…"


def _refuse_size(label: str, where: str, obj, attr: str, value, expected: str) -> NoReturn:
    raise BundleError(
        f"{label}: {where} ({type(obj).__name__}) has {attr} = {_shown(value)}; {expected}. "
        "finml refuses it."
    )


def _whole(obj, attr: str, low: int, high: int, label: str, where: str, expected: str) -> int:
    """``obj.attr``, a whole number (not a bool) in [low, high]."""
    value = getattr(obj, attr, None)
    if (
        isinstance(value, bool | np.bool_)
        or not isinstance(value, int | np.integer)
        or not low <= value <= high
    ):
        _refuse_size(label, where, obj, attr, value, expected)
    return int(value)


def _n_features(obj, label: str, where: str) -> int:
    """``n_features_in_`` (1 to :data:`MAX_FEATURES`); ``feature_names_in_``, where
    present, names that many columns."""
    n = _whole(
        obj,
        "n_features_in_",
        1,
        MAX_FEATURES,
        label,
        where,
        f"finml's models take 1 to {MAX_FEATURES:,} columns",
    )
    _shaped(obj, "feature_names_in_", (n,), label, where, optional=True)
    return n


def _same_count(obj, attr: str, n: int, label: str, where: str) -> None:
    """``obj.attr``, where present (scikit-learn's private copy), equals ``n_features_in_``."""
    if hasattr(obj, attr):
        _whole(obj, attr, n, n, label, where, f"it must equal n_features_in_ ({n:,})")


def _shaped(obj, attr: str, shape: tuple, label: str, where: str, optional: bool = False):
    """``obj.attr``, an array of exactly ``shape`` (or ``None`` where ``optional``)."""
    value = getattr(obj, attr, None)
    if value is None and optional:
        return None
    if not isinstance(value, np.ndarray) or value.shape != shape:
        _refuse_size(label, where, obj, attr, value, f"it must be an array of shape {shape}")
    return value


def _vector(obj, attr: str, low: int, high: int, label: str, where: str, what: str):
    """``obj.attr``, a 1-D array of ``low`` to ``high`` elements (``what`` they are)."""
    value = getattr(obj, attr, None)
    if not isinstance(value, np.ndarray) or value.ndim != 1 or not low <= len(value) <= high:
        _refuse_size(label, where, obj, attr, value, f"it must list {low:,} to {high:,} {what}")
    return value


def _columns_fit(owner, attr: str, columns, n: int, label: str, where: str) -> None:
    """A column selection of a column transformer: a name, an index, a slice, a bool mask
    of ``n``, or at most ``n`` names or indices."""
    if columns is None or isinstance(columns, str | int | np.integer | slice):
        return
    if isinstance(columns, np.ndarray):
        ok = columns.shape == (n,) if columns.dtype.kind == "b" else columns.ndim == 1
        ok = ok and len(columns) <= n
    else:
        ok = isinstance(columns, list | tuple) and len(columns) <= n
    if not ok:
        _refuse_size(
            label,
            where,
            owner,
            attr,
            columns,
            f"a column selection names at most the {n:,} input columns",
        )


def _check_column_transformer(ct, label: str, where: str) -> None:
    n = _n_features(ct, label, where)
    expected = f"finml's column transformers hold 1 to {MAX_STEPS} (name, step, columns)"
    for attr in ("transformers", "transformers_"):
        items = getattr(ct, attr, None)
        if (
            not isinstance(items, list)
            or not 1 <= len(items) <= MAX_STEPS
            or not all(isinstance(t, tuple) and len(t) == 3 for t in items)
        ):
            _refuse_size(label, where, ct, attr, items, expected)
        for item in items:
            _columns_fit(ct, attr, item[2], n, label, where)
    columns = getattr(ct, "_columns", [])
    if not isinstance(columns, list) or len(columns) > MAX_STEPS:
        _refuse_size(label, where, ct, "_columns", columns, expected)
    for selection in columns:
        _columns_fit(ct, "_columns", selection, n, label, where)
    remainder = getattr(ct, "_remainder", None)
    if remainder is not None:
        if not isinstance(remainder, tuple) or len(remainder) != 3:
            _refuse_size(label, where, ct, "_remainder", remainder, "it must be one step")
        _columns_fit(ct, "_remainder", remainder[2], n, label, where)
    indices = getattr(ct, "_transformer_to_input_indices", {})
    if not isinstance(indices, dict) or len(indices) > MAX_STEPS + 1:
        _refuse_size(label, where, ct, "_transformer_to_input_indices", indices, expected)
    for selection in indices.values():
        _columns_fit(ct, "_transformer_to_input_indices", selection, n, label, where)


def _check_pipeline(pipe, label: str, where: str) -> None:
    steps = getattr(pipe, "steps", None)
    if (
        not isinstance(steps, list)
        or not 1 <= len(steps) <= MAX_STEPS
        or not all(isinstance(s, tuple) and len(s) == 2 for s in steps)
    ):
        _refuse_size(
            label, where, pipe, "steps", steps, f"finml's pipelines have 1 to {MAX_STEPS} steps"
        )


def _check_imputer(imputer, label: str, where: str) -> None:
    n = _n_features(imputer, label, where)
    _shaped(imputer, "statistics_", (n,), label, where)


def _check_indicator(indicator, label: str, where: str) -> None:
    n = _n_features(indicator, label, where)
    _same_count(indicator, "_n_features", n, label, where)
    features = _vector(indicator, "features_", 0, n, label, where, "column indices")
    if len(features) and (
        features.dtype.kind not in "iu" or features.min() < 0 or features.max() >= n
    ):
        _refuse_size(
            label, where, indicator, "features_", features, f"its indices must be below {n:,}"
        )


def _check_scaler(scaler, label: str, where: str) -> None:
    n = _n_features(scaler, label, where)
    for attr in ("mean_", "var_", "scale_"):
        _shaped(scaler, attr, (n,), label, where, optional=True)


def _check_encoder(encoder, label: str, where: str) -> None:
    """One-hot and ordinal encoders: one array of known categories per column, at most
    :data:`MAX_CATEGORIES` together, and (one-hot) one output column per category."""
    n = _n_features(encoder, label, where)
    categories = getattr(encoder, "categories_", None)
    if (
        not isinstance(categories, list)
        or len(categories) != n
        or not all(isinstance(c, np.ndarray) and c.ndim == 1 for c in categories)
    ):
        _refuse_size(
            label,
            where,
            encoder,
            "categories_",
            categories,
            f"it must hold one array of categories per column ({n:,})",
        )
    sizes = [len(c) for c in categories]
    if sum(sizes) > MAX_CATEGORIES:
        raise BundleError(
            f"{label}: {where} ({type(encoder).__name__}) knows {sum(sizes):,} categories; "
            f"finml's encoders know at most {MAX_CATEGORIES:,}. finml refuses it."
        )
    outs = sizes
    if getattr(encoder, "_infrequent_enabled", False):
        outs = _infrequent_outputs(encoder, sizes, label, where)
    if type(encoder).__name__ == "OneHotEncoder":
        declared = getattr(encoder, "_n_features_outs", None)
        if not isinstance(declared, list) or declared != outs:
            total = sum(declared) if isinstance(declared, list) else declared
            raise BundleError(
                f"{label}: {where} (OneHotEncoder) has _n_features_outs making "
                f"{_shown(total)} output columns; its known categories make {sum(outs):,} "
                "(one per category, infrequent ones together count as one). finml refuses it."
            )
        for attr in ("drop_idx_", "_drop_idx_after_grouping"):
            if getattr(encoder, attr, None) is not None:
                _refuse_size(
                    label,
                    where,
                    encoder,
                    attr,
                    getattr(encoder, attr),
                    "finml's one-hot encoders drop no category",
                )
    missing = getattr(encoder, "_missing_indices", {})
    if not isinstance(missing, dict) or not all(
        isinstance(k, int) and 0 <= k < n and isinstance(v, int) and 0 <= v <= sizes[k]
        for k, v in missing.items()
    ):
        _refuse_size(
            label,
            where,
            encoder,
            "_missing_indices",
            missing,
            "it must map columns to positions among their categories",
        )


def _check_category_codes(encoder, label: str, where: str) -> None:
    """finml's native category codes: an encoder's categories (:func:`_check_encoder`) and
    per column one integer code per non-missing category, each below the column's count
    of categories."""
    _check_encoder(encoder, label, where)
    categories = encoder.categories_
    codes = getattr(encoder, "codes_", None)
    if not isinstance(codes, list) or len(codes) != len(categories):
        _refuse_size(
            label, where, encoder, "codes_", codes, "it must hold one array of codes per column"
        )
    for known, coded in zip(categories, codes, strict=True):
        if not _positions(coded, len(known), exact=False) or len(coded) < len(known) - 1:
            _refuse_size(
                label,
                where,
                encoder,
                "codes_",
                coded,
                "it must give each known category a code below the number of categories",
            )


def _infrequent_outputs(encoder, sizes: list[int], label: str, where: str) -> list[int]:
    """An encoder that groups infrequent categories (``max_categories``): per column,
    ``None`` or the positions of its infrequent categories (``_infrequent_indices``), and
    ``None`` or one code per category (``_default_to_infrequent_mappings``). Returns the
    outputs of each column (its infrequent categories together count as one)."""
    outs = []
    for attr in ("_infrequent_indices", "_default_to_infrequent_mappings"):
        values = getattr(encoder, attr, None)
        ok = isinstance(values, list) and len(values) == len(sizes)
        for value, size in zip(values if ok else (), sizes, strict=False):
            exact = attr == "_default_to_infrequent_mappings"
            ok = ok and (value is None or _positions(value, size, exact))
            if ok and not exact:
                outs.append(size if value is None else size - len(value) + 1)
        if not ok:
            _refuse_size(
                label,
                where,
                encoder,
                attr,
                values,
                "it must give each column None or positions among its categories",
            )
    return outs


def _positions(value, size: int, exact: bool) -> bool:
    """A 1-D integer array of values in [0, size), ``size`` long (``exact``) or at most."""
    return (
        isinstance(value, np.ndarray)
        and value.ndim == 1
        and value.dtype.kind in "iu"
        and (len(value) == size if exact else len(value) <= size)
        and (not len(value) or (value.min() >= 0 and value.max() < size))
    )


def _check_function_transformer(ft, label: str, where: str) -> None:
    if getattr(ft, "n_features_in_", None) is not None:
        _n_features(ft, label, where)


def _check_label_encoder(encoder, label: str, where: str) -> None:
    _vector(encoder, "classes_", 1, MAX_CLASSES, label, where, "classes")


def _check_logistic(model, label: str, where: str) -> None:
    """Coefficients ``(1, n)`` for two classes, ``(k, n)`` for k from 3 up."""
    n = _n_features(model, label, where)
    k = len(_vector(model, "classes_", 2, MAX_CLASSES, label, where, "classes"))
    rows = 1 if k == 2 else k
    _shaped(model, "coef_", (rows, n), label, where)
    _shaped(model, "intercept_", (rows,), label, where)


def _check_ridge(model, label: str, where: str) -> None:
    """Coefficients ``(n,)`` with a scalar intercept (or one of shape ``(1,)``: scikit-learn
    fits a one-column 2-D target so, a forecaster one step ahead), or ``(t, n)`` with
    ``(t,)`` (a forecaster's t steps ahead, at most :data:`MAX_OUTPUTS`)."""
    n = _n_features(model, label, where)
    coef = getattr(model, "coef_", None)
    if not isinstance(coef, np.ndarray) or not (
        coef.shape == (n,) or (coef.ndim == 2 and coef.shape[1] == n and len(coef) >= 1)
    ):
        _refuse_size(label, where, model, "coef_", coef, f"it must be ({n:,},) or (outputs, {n:,})")
    if coef.ndim == 2 and len(coef) > MAX_OUTPUTS:
        _refuse_size(
            label, where, model, "coef_", coef, f"finml's models have 1 to {MAX_OUTPUTS:,} outputs"
        )
    intercept = getattr(model, "intercept_", None)
    if coef.ndim == 2:
        ok = isinstance(intercept, np.ndarray) and intercept.shape == (len(coef),)
    else:
        ok = isinstance(intercept, float | np.floating) or (
            isinstance(intercept, np.ndarray) and intercept.shape in ((), (1,))
        )
    if not ok:
        _refuse_size(
            label, where, model, "intercept_", intercept, "it must hold one number per output"
        )


def _check_boosting(model, label: str, where: str) -> None:
    """A boosting model's sizes, then its trees.

    ``n_trees_per_iteration_`` is 1 for a regressor and a binary classifier, else the
    number of classes, and equals the length of every row of ``_predictors`` and of
    ``_baseline_prediction``; ``n_features_in_`` bounds the trees' features, the bin
    mapper (:func:`_check_bin_mapper`) and the categorical masks; the bin mapper's
    categorical features (``is_categorical_``) must have known categories that are whole
    numbers 0..255 (prediction sets bits in fixed-size bitsets from them), and the trees'
    categorical splits must fit their bitsets."""
    n_features = _n_features(model, label, where)
    _same_count(model, "_n_features", n_features, label, where)
    if type(model).__name__.endswith("Classifier"):
        k = len(_vector(model, "classes_", 2, MAX_CLASSES, label, where, "classes"))
        per = 1 if k == 2 else k
        expected = (
            "finml's boosting classifiers grow one tree per iteration for 2 classes and one "
            f"per class from 3 up ({per:,} for this model's {k:,} classes)"
        )
        encoder = getattr(model, "_label_encoder", None)
        if encoder is not None:
            _vector(encoder, "classes_", k, k, label, f"{where}._label_encoder", "classes")
        loss = getattr(model, "_loss", None)
        if getattr(loss, "n_classes", k) != k:
            _refuse_size(
                label, where, loss, "n_classes", loss.n_classes, f"the model has {k:,} classes"
            )
    else:
        per, expected = 1, "a boosting regressor grows one tree per iteration"
    _whole(model, "n_trees_per_iteration_", per, per, label, where, expected)
    predictors = getattr(model, "_predictors", None)
    if not isinstance(predictors, list) or not 1 <= len(predictors) <= MAX_BOOSTING_ITERATIONS:
        _refuse_size(
            label,
            where,
            model,
            "_predictors",
            predictors,
            f"finml's boosting models have 1 to {MAX_BOOSTING_ITERATIONS:,} iterations",
        )
    for i, row in enumerate(predictors):
        if not isinstance(row, list) or len(row) != per:
            _refuse_size(label, where, model, f"_predictors[{i}]", row, expected)
    _shaped(model, "_baseline_prediction", (1, per), label, where)
    for attr in ("is_categorical_", "_is_categorical_remapped"):
        _shaped(model, attr, (n_features,), label, where, optional=True)
    if isinstance(getattr(model, "categorical_features", None), np.ndarray):
        _shaped(model, "categorical_features", (n_features,), label, where)
    mapper = getattr(model, "_bin_mapper", None)
    _check_bin_mapper(mapper, n_features, label, f"{where}._bin_mapper")
    categorical = _categorical_features(mapper, n_features)
    if categorical is None:
        raise BundleError(
            f"{label}: the boosting model's categorical features are not stored as finml does."
        )
    for i, row in enumerate(predictors):
        for tree in row:
            _check_tree(tree, label, f"boosting tree {i + 1}", n_features, categorical)


def _check_bin_mapper(mapper, n: int, label: str, where: str) -> None:
    """At most 256 bins, the last for missing values; per feature (``n``): a count of
    bins below it and at most that many thresholds or known categories."""
    if type(mapper).__name__ != "_BinMapper":
        raise BundleError(f"{label}: the boosting model has no bin mapper as finml's do.")
    n_bins = _whole(
        mapper, "n_bins", 2, 256, label, where, "it is at most 256 (255 values and missing)"
    )
    _whole(
        mapper,
        "missing_values_bin_idx_",
        n_bins - 1,
        n_bins - 1,
        label,
        where,
        f"missing values go to the last bin ({n_bins - 1})",
    )
    counts = _shaped(mapper, "n_bins_non_missing_", (n,), label, where)
    if counts.dtype.kind not in "iu" or (n and (counts.min() < 0 or counts.max() >= n_bins)):
        _refuse_size(
            label,
            where,
            mapper,
            "n_bins_non_missing_",
            counts,
            f"each feature has 0 to {n_bins - 1} bins besides the missing one",
        )
    for attr in ("bin_thresholds_", "known_categories"):
        values = getattr(mapper, attr, None)
        if values is None and attr == "known_categories":
            continue
        if not isinstance(values, list) or len(values) != n:
            _refuse_size(label, where, mapper, attr, values, f"it must hold {n:,} entries")
        for value in values:
            if value is not None and (
                not isinstance(value, np.ndarray) or value.ndim != 1 or len(value) > n_bins
            ):
                _refuse_size(
                    label,
                    where,
                    mapper,
                    attr,
                    value,
                    f"each feature has at most {n_bins} thresholds or categories",
                )
    _shaped(mapper, "is_categorical", (n,), label, where, optional=True)


def _check_tree(
    tree,
    label: str,
    where: str,
    n_features: int | None = None,
    categorical: np.ndarray | None = None,
    structure_only: bool = False,
) -> None:
    """Refuse a tree of more than :data:`MAX_TREE_NODES` nodes, whose nodes point outside
    it, backwards (a loop), at a feature at or above ``n_features``, or whose categorical
    splits name a feature that is not categorical (``categorical``: bool per feature) or a
    bitset the tree does not hold: scikit-learn's Cython prediction follows all of them
    without bounds checks. ``structure_only`` checks the nodes alone (the boosting model
    that holds the tree checks its splits against its features, :func:`_check_boosting`)."""
    from sklearn.ensemble._hist_gradient_boosting.common import PREDICTOR_RECORD_DTYPE

    nodes = getattr(tree, "nodes", None)
    if not isinstance(nodes, np.ndarray) or nodes.dtype != PREDICTOR_RECORD_DTYPE:
        raise BundleError(f"{label}: {where} is not a well-formed gradient-boosting tree.")
    n = len(nodes)
    if n == 0 or nodes.ndim != 1:
        raise BundleError(f"{label}: {where} is an empty gradient-boosting tree.")
    if n > MAX_TREE_NODES:
        raise BundleError(
            f"{label}: {where} has {n:,} nodes; finml's boosting trees have at most "
            f"{MAX_TREE_NODES:,}. finml refuses it."
        )
    for name in ("raw_left_cat_bitsets", "binned_left_cat_bitsets"):
        bits = getattr(tree, name, None)
        if isinstance(bits, np.ndarray) and len(bits) > n:
            raise BundleError(
                f"{label}: {where} has {len(bits):,} rows of {name} for {n:,} nodes; a tree "
                "has at most one per node. finml refuses it."
            )
    index = np.arange(n)
    leaf = nodes["is_leaf"]
    inner = leaf == 0
    ok = np.isin(leaf, (0, 1)).all()
    for side in ("left", "right"):
        child = nodes[side][inner].astype(np.int64)
        ok = ok and bool(((child > index[inner]) & (child < n)).all())
    features = nodes["feature_idx"][inner].astype(np.int64)
    ok = ok and bool((features >= 0).all())
    if n_features is not None:
        ok = ok and bool((features < n_features).all())
    split_on_category = inner & (nodes["is_categorical"] != 0)
    if ok and split_on_category.any() and not structure_only:
        ok = categorical is not None and _bitsets_fit(tree, nodes[split_on_category], categorical)
    if not ok:
        raise BundleError(
            f"{label}: {where} has nodes that point outside the tree, backwards, at a missing "
            "feature, or at a categorical split it cannot hold; such a file could crash the "
            "server."
        )


def _check_tree_alone(tree, label: str, where: str) -> None:
    _check_tree(tree, label, where, structure_only=True)


#: Classes checked even without fitted attributes (names ending in ``_``).
_ALWAYS_CHECKED = frozenset({"Pipeline", "TreePredictor"})
#: Size checks by class name (the class itself is in :data:`SKLEARN_CLASSES`).
_SIZE_CHECKS = {
    "ColumnTransformer": _check_column_transformer,
    "Pipeline": _check_pipeline,
    "SimpleImputer": _check_imputer,
    "MissingIndicator": _check_indicator,
    "StandardScaler": _check_scaler,
    "OneHotEncoder": _check_encoder,
    "OrdinalEncoder": _check_encoder,
    "CategoryCodes": _check_category_codes,
    "FunctionTransformer": _check_function_transformer,
    "LabelEncoder": _check_label_encoder,
    "LogisticRegression": _check_logistic,
    "Ridge": _check_ridge,
    "HistGradientBoostingClassifier": _check_boosting,
    "HistGradientBoostingRegressor": _check_boosting,
    "TreePredictor": _check_tree_alone,  # its splits: by _check_boosting
}


def _bitsets_fit(tree, nodes: np.ndarray, categorical: np.ndarray) -> bool:
    """Categorical split nodes: their feature is categorical, and their bitset index is a
    row of both bitset arrays (uint32, shape (k, 8), C-contiguous)."""
    rows = None
    for name in ("raw_left_cat_bitsets", "binned_left_cat_bitsets"):
        bits = getattr(tree, name, None)
        if not (
            isinstance(bits, np.ndarray)
            and bits.dtype == np.uint32
            and bits.ndim == 2
            and bits.shape[1] == 8
            and bits.flags.c_contiguous
        ):
            return False
        rows = len(bits) if rows is None else min(rows, len(bits))
    features = nodes["feature_idx"].astype(np.int64)
    in_range = bool((features < len(categorical)).all())
    return (
        in_range
        and bool(categorical[features].all())
        and bool((nodes["bitset_idx"].astype(np.int64) < rows).all())
    )


def _categorical_features(mapper, n_features: int) -> np.ndarray | None:
    """``is_categorical_`` of a bin mapper as a bool array of ``n_features``, all False when
    it has none; ``None`` if malformed (wrong length, or a categorical feature whose known
    categories are not whole numbers in 0..255)."""
    flags = getattr(mapper, "is_categorical_", None)
    if flags is None:
        return np.zeros(n_features, dtype=bool)
    flags = np.asarray(flags)
    if flags.shape != (n_features,) or flags.dtype.kind not in "bu":
        return None
    flags = flags.astype(bool)
    known = getattr(mapper, "bin_thresholds_", None)
    if flags.any():
        if not isinstance(known, list) or len(known) != n_features:
            return None
        for f in np.flatnonzero(flags):
            values = known[f]
            if not isinstance(values, np.ndarray) or values.dtype.kind != "f":
                return None
            if not ((values >= 0) & (values <= 255) & (values == np.round(values))).all():
                return None
    return flags


# -- Keras -----------------------------------------------------------------------------------
def check_keras_archive(path: Path, label: str) -> int:
    """Refuse a ``.keras`` archive unless it holds exactly what Keras writes for finml's
    models, at sizes finml's models have, without building anything or reading weights.

    In order: the archive's declared sizes (:func:`check_archive`); its members, exactly
    :data:`KERAS_MEMBERS`; ``config.json`` and ``metadata.json``, bounded in size and
    nesting (:func:`load_json_bounded`); the config's classes, keys and activations
    (:func:`audit_keras_config`); its layers' sizes and parameters
    (:func:`keras_param_count`); the weights file's metadata (:func:`check_keras_weights`).

    Args:
        path: the archive.
        label: its name in messages (e.g. ``"model.keras"``).

    Returns:
        int: the model's parameters, computed from the config (what Keras'
        ``count_params()`` will report).

    Raises:
        BundleError: damaged, too large, extra or missing members, JSON too large or deep;
            a class, module, function, key or activation finml's models never use (a custom
            layer, a Lambda, a module path); a size out of its bound; or a weights file that
            does not match the config.
    """
    check_archive(path, label)
    try:
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
            members = {m.filename for m in infos}
            if members != KERAS_MEMBERS or len(infos) != len(KERAS_MEMBERS):
                extra = sorted(members - KERAS_MEMBERS) or sorted(KERAS_MEMBERS - members)
                raise BundleError(
                    f"{label} is not a Keras model as finml writes it (unexpected, missing or "
                    f"repeated: {listing(extra or sorted(members), 5, str)})."
                )
            config = load_json_bounded(
                _read_member(zf, "config.json", MAX_KERAS_CONFIG_BYTES),
                f"{label}: config.json",
                MAX_JSON_DEPTH,
                MAX_KERAS_CONFIG_BYTES,
            )
            metadata = load_json_bounded(
                _read_member(zf, "metadata.json", MAX_KERAS_METADATA_BYTES),
                f"{label}: metadata.json",
                MAX_JSON_DEPTH,
                MAX_KERAS_METADATA_BYTES,
            )
            if not isinstance(metadata, dict):
                raise BundleError(f"{label}: metadata.json does not hold an object.")
            audit_keras_config(config, label)
            params = keras_param_count(config, label)
            check_keras_weights(zf, params, label)
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise BundleError(f"{label} is damaged: {exc}") from exc
    return params


def _read_member(zf: zipfile.ZipFile, name: str, limit: int) -> bytes:
    """At most ``limit + 1`` bytes of a member (one more than allowed: too large)."""
    with zf.open(name) as fh:
        return fh.read(limit + 1)


def audit_keras_config(config: object, label: str) -> None:
    """Walk a ``.keras`` config and refuse anything finml's saved models never hold.

    Every serialised object (a dict with ``class_name``) must name a class of
    :data:`KERAS_CLASSES` (registered under its own name) in its place: a model at the
    root, a layer in a model's ``layers``, a tensor in a layer call's ``args``, and
    anything else (initializers, regularizers, dtype policies, the optimizer, metrics)
    only inside a setting, never a model, layer or tensor (Keras would build those outside
    every check). Its keys must be those of :data:`KERAS_OBJECT_KEYS`, its ``config``'s
    those of :data:`KERAS_CONFIG_KEYS`; a ``build_config``, ``compile_config``, layer call
    or call's keyword arguments may hold only the keys of :data:`KERAS_STRUCTURE_KEYS`; any
    other dict is refused. Every key whose name contains ``activation`` (``activation``,
    ``recurrent_activation``) must hold a name of :data:`KERAS_ACTIVATIONS`. The walk uses
    a stack, not recursion.

    Args:
        config: the parsed ``config.json``.
        label: the archive's name in messages.

    Raises:
        BundleError: the first class, place, key or activation that is not allowed, with
            where.
    """
    if not isinstance(config, dict):
        raise BundleError(f"{label}: config.json does not describe a model.")
    stack: list[tuple[object, str, str]] = [(config, "model", "config.json")]
    while stack:
        node, role, where = stack.pop()
        if isinstance(node, list):
            stack.extend((v, role, where) for v in node)
            continue
        if not isinstance(node, dict):
            continue
        if role in KERAS_STRUCTURE_KEYS:
            _known_keys(node, KERAS_STRUCTURE_KEYS[role], f"the {role} of {where}", label)
            _check_activations(node, where, label)
            for key, value in node.items():
                inner_role = _INNER_ROLES.get((role, key), "value")
                stack.append((value, inner_role, where))
            continue
        key = _keras_class(node, label)
        inner = node.get("config")
        name = node.get("name", inner.get("name") if isinstance(inner, dict) else None)
        here = f"{key[1]} {name!r}" if isinstance(name, str) else key[1]
        _check_place(key, role, here, where, label)
        allowed = KERAS_OBJECT_KEYS[key]
        if key[0] in _SHAREABLE_MODULES or key == ("keras", "DTypePolicy"):
            allowed = allowed | {"shared_object_id"}
            if not _is_whole(node.get("shared_object_id", 0)):
                raise BundleError(f"{label}: {here} has a shared_object_id that is not a number.")
        _known_keys(node, allowed, here, label)
        if not isinstance(inner, dict):
            raise BundleError(f"{label}: {here} has no config object as Keras writes it.")
        _known_keys(inner, KERAS_CONFIG_KEYS[key], f"the config of {here}", label)
        _check_activations(inner, here, label)
        for part, value in inner.items():
            stack.append((value, "layer" if key in _MODELS and part == "layers" else "value", here))
        for part in ("build_config", "compile_config"):
            if node.get(part) is not None:
                stack.append((node[part], part, here))
        if "inbound_nodes" in node:
            stack.append((node["inbound_nodes"], "inbound_node", here))


#: The models of :data:`KERAS_CLASSES`, and the tensor a functional layer is called on.
_MODELS = frozenset({("keras", "Sequential"), ("keras.src.models.functional", "Functional")})
_TENSOR = (None, "__keras_tensor__")
#: The role of a value by (role of its dict, key): a layer call's tensors and keywords.
_INNER_ROLES = {("inbound_node", "args"): "tensor", ("inbound_node", "kwargs"): "call_kwargs"}


def _check_place(key: tuple[str | None, str], role: str, here: str, where: str, label: str) -> None:
    """A model only at the root, layers only in a model's ``layers``, tensors only in a
    layer call's ``args``, and nothing of these three inside a setting."""
    if role == "model":
        ok = key in _MODELS
    elif role == "layer":
        ok = key[0] == "keras.layers"
    elif role == "tensor":
        ok = key == _TENSOR
    else:
        ok = key not in _MODELS and key != _TENSOR and key[0] != "keras.layers"
    if not ok:
        raise BundleError(
            f"{label}: {here} sits in {where} where finml's models never hold one (a model "
            "or layer inside a setting would be built outside every check). finml refuses it."
        )


def _keras_class(node: dict, label: str) -> tuple[str | None, str]:
    """(module, class_name) of a serialised object, refused unless in :data:`KERAS_CLASSES`
    and registered (if at all) under its own name."""
    module, name = node.get("module"), node.get("class_name")
    if not isinstance(name, str) or not isinstance(module, str | None):
        raise BundleError(
            f"{label}: config.json holds an object without a class name where finml's models "
            f"hold none (keys {listing(sorted(map(str, node)), 5)}). finml refuses it."
        )
    registered = node.get("registered_name")
    if (module, name) not in KERAS_CLASSES or registered not in (None, name):
        shown = ".".join(str(p) for p in (module, name) if p)
        raise BundleError(
            f"{label} uses {shown!r}"
            + (f" (registered as {registered!r})" if registered else "")
            + ", which finml's models never contain (a custom layer, a function or a "
            "Lambda can run code). finml refuses it."
        )
    return module, name


def _known_keys(obj: dict, allowed: frozenset[str], where: str, label: str) -> None:
    unknown = sorted(str(k) for k in obj if k not in allowed)
    if unknown:
        raise BundleError(
            f"{label}: {where} holds {listing(unknown, 5)}, which finml's saved models never "
            "have; finml refuses keys it does not know. (If finml itself saved this model "
            "with a newer Keras, its allow-list KERAS_CONFIG_KEYS needs updating.)"
        )


def _check_activations(obj: dict, where: str, label: str) -> None:
    """Every key naming an activation holds a name of :data:`KERAS_ACTIVATIONS` (an object
    there is refused by class first: a function, a layer)."""
    for key, value in obj.items():
        if "activation" not in str(key):
            continue
        if isinstance(value, dict):
            _keras_class(value, label)
        if not (isinstance(value, str) and value in KERAS_ACTIVATIONS):
            shown = value.get("class_name") if isinstance(value, dict) else value
            raise BundleError(
                f"{label} uses the activation {shown!r} as {key!r} of {where}; finml's models "
                f"use only {', '.join(sorted(KERAS_ACTIVATIONS))}. finml refuses it."
            )


def keras_param_count(config: dict, label: str) -> int:
    """The parameters of the model a ``.keras`` config describes, from the config alone,
    after checking every layer's sizes; nothing is built.

    Shapes are propagated from the input layer: through a Sequential model's layers in
    order, and through a functional model's layers along the tensors each is called on
    (``inbound_nodes``, ``keras_history = [layer, 0, 0]`` naming an earlier layer). The
    shapes the config declares (a layer's ``build_config``, a model's
    ``build_input_shape``, each tensor's ``shape``) are never used; each must equal the
    computed one, because Keras builds a layer's weights from its ``build_config`` before it
    calls the layer. Dimensions are bounded: inputs (batch, <= :data:`MAX_FEATURES`) or
    (batch, <= :data:`MAX_IMAGE_SIDE`, <= :data:`MAX_IMAGE_SIDE`, <= :data:`MAX_CHANNELS`);
    units, filters and channels <= :data:`MAX_UNITS`; kernel, pool, stride, dilation and
    padding sides <= :data:`MAX_KERNEL`; each layer's output <= :data:`MAX_ACTIVATION`
    values per sample; at most :data:`MAX_LAYERS` layers, each called once.

    Args:
        config: the parsed ``config.json`` (its classes checked by
            :func:`audit_keras_config`).
        label: the archive's name in messages.

    Returns:
        int: the parameters, trainable or not (what ``model.count_params()`` reports).

    Raises:
        BundleError: a layer finml's models do not have where it is, a size out of its
            bound, a declared shape that is not the computed one, a graph that does not
            connect, or more than :data:`MAX_KERAS_PARAMS` parameters.
    """
    inner = config.get("config") if isinstance(config, dict) else None
    layers = inner.get("layers") if isinstance(inner, dict) else None
    if not isinstance(layers, list) or not all(isinstance(n, dict) for n in layers):
        raise BundleError(f"{label}: config.json does not list the model's layers.")
    if not 1 <= len(layers) <= MAX_LAYERS:
        raise BundleError(
            f"{label}: the network has {len(layers):,} layers; finml's have 1 to "
            f"{MAX_LAYERS:,}. finml refuses it."
        )
    counter = _ParamCounter(label)
    top_build = config.get("build_config")
    if config.get("class_name") == "Sequential":
        first = _Layer(layers[0], label)
        if (first.module, first.cls) != ("keras.layers", "InputLayer"):
            first.refuse("comes first; finml's Sequential models start with an InputLayer")
        shape = inputs = _input_shape(first)
        _declared_input(inner.get("build_input_shape"), inputs, "build_input_shape", label)
        for node in layers[1:]:
            if node.get("class_name") in _MERGE or "inbound_nodes" in node:
                _Layer(node, label).refuse("is not a layer of finml's Sequential models")
            shape = counter.apply(_Layer(node, label), node, [shape])
    elif config.get("class_name") == "Functional":
        inputs = _functional(inner, layers, counter, label)
    else:
        raise BundleError(f"{label}: config.json holds a {config.get('class_name')!r}.")
    build = top_build.get("input_shape") if isinstance(top_build, dict) else None
    _declared_input(build, inputs, "build_config", label)
    return counter.total


def _declared_input(declared, shape: tuple, key: str, label: str) -> None:
    """A model's declared input shape: absent, or the computed one."""
    if declared is not None and _as_shape(declared) != shape:
        raise BundleError(
            f"{label}: the model's {key} declares inputs of shape {_json_text(declared)}; its "
            f"input layer takes {_json_text(_as_list(shape))}. finml refuses it."
        )


def _as_shape(value):
    """A declared shape as the tuples the computation uses (JSON lists -> tuples)."""
    if isinstance(value, list):
        return tuple(_as_shape(v) for v in value)
    return value


def _functional(inner: dict, layers: list[dict], counter: _ParamCounter, label: str) -> tuple:
    """Propagate shapes through a functional model's layers; return its input's shape."""
    produced: dict[str, tuple] = {}
    kinds: dict[str, str] = {}
    for node in layers:
        layer, name = _Layer(node, label), node.get("name")
        if not isinstance(name, str) or name in produced or name != layer.config.get("name"):
            layer.refuse("repeats a name or names itself twice; finml's layers have one name each")
        calls = node.get("inbound_nodes")
        if (layer.module, layer.cls) == ("keras.layers", "InputLayer"):
            if calls not in (None, []):
                layer.refuse("is called on something; an input layer is called on nothing")
            shape = _input_shape(layer)
        else:
            if not isinstance(calls, list) or len(calls) != 1:
                n = len(calls) if isinstance(calls, list) else 0
                layer.refuse(f"is called {n:,} times; finml's layers are called exactly once")
            shape = counter.apply(layer, node, _call_inputs(layer, calls[0], produced))
        produced[layer.name] = shape
        kinds[layer.name] = layer.cls
    inputs = []
    for key in ("input_layers", "output_layers"):
        refs = inner.get(key)
        refs = [refs] if isinstance(refs, list) and refs and isinstance(refs[0], str) else refs
        ok = isinstance(refs, list) and 1 <= len(refs) <= MAX_STEPS
        for ref in refs if ok else ():
            ok = ok and isinstance(ref, list) and len(ref) == 3 and ref[1:] == [0, 0]
            ok = ok and isinstance(ref[0], str) and ref[0] in produced
            ok = ok and (key == "output_layers" or kinds[ref[0]] == "InputLayer")
            if ok and key == "input_layers":
                inputs.append(produced[ref[0]])
        if not ok:
            raise BundleError(
                f"{label}: the model's {key} do not name its layers as Keras writes them."
            )
    return inputs[0] if len(inputs) == 1 else tuple(inputs)


def _call_inputs(layer: _Layer, call, produced: dict[str, tuple]) -> list[tuple]:
    """The shapes a functional layer is called on: the computed outputs of the earlier
    layers its ``keras_history`` names (each tensor's declared ``shape`` must agree)."""
    args = call.get("args") if isinstance(call, dict) else None
    kwargs = call.get("kwargs", {}) if isinstance(call, dict) else None
    if not isinstance(args, list) or len(args) != 1:
        layer.refuse("is called with other than one argument")
    if not isinstance(kwargs, dict) or not all(
        v is None or isinstance(v, bool) for v in kwargs.values()
    ):
        layer.refuse("is called with keyword arguments finml never passes")
    merge = layer.cls in _MERGE
    tensors = args[0] if merge and isinstance(args[0], list) else [args[0]]
    if merge and not 2 <= len(tensors) <= MAX_STEPS:
        layer.refuse(f"merges {len(tensors):,} tensors; finml merges 2 to {MAX_STEPS}")
    shapes = []
    for tensor in tensors:
        config = tensor.get("config") if isinstance(tensor, dict) else None
        history = config.get("keras_history") if isinstance(config, dict) else None
        if not (
            isinstance(tensor, dict)
            and tensor.get("class_name") == "__keras_tensor__"
            and isinstance(history, list)
            and len(history) == 3
            and history[1:] == [0, 0]
            and isinstance(history[0], str)
        ):
            layer.refuse("is called on something that is not the output of a layer")
        if history[0] not in produced:
            layer.refuse(f"is called on {history[0]!r}, which is not a layer before it")
        shape = produced[history[0]]
        if _as_shape(config.get("shape")) != shape:
            layer.refuse(
                f"declares an input of shape {_json_text(config.get('shape'))}, but "
                f"{history[0]!r} outputs {_json_text(_as_list(shape))}"
            )
        shapes.append(shape)
    return shapes


class _Layer:
    """One layer's config with checked accessors; messages name the layer."""

    def __init__(self, node: dict, label: str):
        self.label = label
        self.module = node.get("module")
        self.cls = str(node.get("class_name"))
        config = node.get("config")
        self.config = config if isinstance(config, dict) else {}
        name = node.get("name", self.config.get("name"))
        self.name = name if isinstance(name, str) else "?"

    def refuse(self, what: str) -> NoReturn:
        raise BundleError(
            f"{self.label}: layer {self.name!r} ({self.cls}) {what}. finml refuses it."
        )

    def whole(self, key: str, low: int, high: int, default=None, what: str = "") -> int:
        value = self.config.get(key, default)
        if not _is_whole(value) or not low <= value <= high:
            self.refuse(
                f"has {key} = {_json_text(value)}; finml's networks have {low:,} to {high:,}"
                + (f" {what}" if what else "")
            )
        return value

    def sides(self, key: str, rank: int, low: int, high: int, default=None) -> tuple[int, ...]:
        """``rank`` whole numbers from ``low`` to ``high`` (one number: all sides alike;
        absent or null: ``default``)."""
        value = self.config.get(key)
        value = default if value is None else value
        value = [value] * rank if _is_whole(value) else value
        if (
            not isinstance(value, list | tuple)
            or len(value) != rank
            or not all(_is_whole(v) and low <= v <= high for v in value)
        ):
            self.refuse(
                f"has {key} = {_json_text(value)}; finml's networks use {rank} whole "
                f"number(s) from {low} to {high}"
            )
        return tuple(value)

    def flag(self, key: str, default: bool) -> bool:
        value = self.config.get(key, default)
        if not isinstance(value, bool):
            self.refuse(f"has {key} = {_json_text(value)}, not true or false")
        return value

    def choice(self, key: str, choices: tuple, default=None):
        value = self.config.get(key, default)
        if not any(value == c and type(value) is type(c) for c in choices):
            self.refuse(
                f"has {key} = {_json_text(value)}; finml's networks use "
                + " or ".join(repr(c) for c in choices)
            )
        return value

    def rank(self, shapes: list[tuple], rank: int) -> tuple:
        if len(shapes[0]) != rank:
            self.refuse(f"takes inputs of rank {rank}, but is given {list(shapes[0])}")
        return shapes[0]


def _is_whole(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _json_text(value) -> str:
    if _is_whole(value):
        return f"{value:,}"
    text = json.dumps(value)
    return text if len(text) <= 60 else text[:59] + "…"


class _ParamCounter:
    """Applies layers to shapes and adds up their parameters, refusing above the bounds."""

    def __init__(self, label: str):
        self.label = label
        self.total = 0

    def apply(self, layer: _Layer, node: dict, shapes: list[tuple]) -> tuple:
        """The output shape of ``layer`` on inputs of ``shapes``; its parameters added."""
        rule = _LAYER_RULES.get(layer.cls) if layer.module == "keras.layers" else None
        if rule is None:
            layer.refuse("is not a layer finml's networks have there")
        if layer.cls not in _MERGE and len(shapes) != 1:
            layer.refuse(f"is called on {len(shapes)} tensors")
        declared = node.get("build_config")
        if declared is not None:
            built = shapes[0] if layer.cls not in _MERGE else tuple(shapes)
            if not isinstance(declared, dict) or _as_shape(declared.get("input_shape")) != built:
                shown = declared.get("input_shape") if isinstance(declared, dict) else declared
                layer.refuse(
                    f"declares it is built for inputs {_json_text(shown)}, but is given "
                    f"{_json_text(_as_list(built))} (Keras builds weights from the declared "
                    "shape)"
                )
        out, params = rule(layer, shapes)
        values = math.prod(out[1:])
        if values > MAX_ACTIVATION or min(out[1:], default=1) < 1:
            layer.refuse(
                f"outputs {values:,} values per sample (shape {_as_list(out)}); finml's "
                f"networks output at most {MAX_ACTIVATION:,}"
            )
        self.total += params
        if self.total > MAX_KERAS_PARAMS:
            raise BundleError(
                f"{self.label}: the network has over {MAX_KERAS_PARAMS:,} parameters "
                f"({self.total:,} up to layer {layer.name!r}); finml's largest network, "
                "ResNet50, has about 24 million. Train a smaller network; finml refuses it."
            )
        return out


def _as_list(shape):
    return [_as_list(v) for v in shape] if isinstance(shape, tuple) else shape


def _input_shape(layer: _Layer) -> tuple:
    """A table row (batch, features) or an image (batch, height, width, channels)."""
    shape = layer.config.get("batch_shape")
    if not isinstance(shape, list) or len(shape) not in (2, 4) or shape[0] is not None:
        layer.refuse(
            f"takes inputs of shape {_json_text(shape)}; finml's networks take rows "
            "(batch, features) or images (batch, height, width, channels) of any batch size"
        )
    if len(shape) == 2:
        bounds = [(MAX_FEATURES, "features")]
    else:
        bounds = [(MAX_IMAGE_SIDE, "pixels high"), (MAX_IMAGE_SIDE, "pixels wide")]
        bounds.append((MAX_CHANNELS, "channels"))
    for size, (high, what) in zip(shape[1:], bounds, strict=True):
        if not _is_whole(size) or not 1 <= size <= high:
            layer.refuse(
                f"takes inputs of shape {_json_text(shape)}; finml's networks take 1 to "
                f"{high:,} {what}"
            )
    layer.choice("dtype", ("float32",), "float32")
    for key in ("sparse", "ragged", "optional"):
        if layer.flag(key, False):
            layer.refuse(f"has {key} = true; finml's inputs are dense and required")
    return tuple(shape)


def _same(layer: _Layer, shapes: list[tuple]) -> tuple[tuple, int]:
    """Activations, dropout, rescaling, augmentation: the shape passes, no parameters."""
    for key in ("scale", "offset"):
        value = layer.config.get(key, 0.0)
        if isinstance(value, bool) or not isinstance(value, int | float):
            layer.refuse(f"has {key} = {_json_text(value)}; finml rescales by single numbers")
    if layer.config.get("noise_shape") is not None:
        layer.refuse("has a noise_shape; finml's dropout has none")
    return shapes[0], 0


def _dense(layer: _Layer, shapes: list[tuple]) -> tuple[tuple, int]:
    """``d * units`` kernel weights (``d`` the input's last axis) and ``units`` biases."""
    shape = shapes[0]
    if len(shape) < 2:
        layer.refuse("is applied to a scalar")
    units = layer.whole("units", 1, MAX_UNITS, what="units")
    bias = layer.flag("use_bias", True)
    if layer.config.get("quantization_config") is not None:
        layer.refuse("is quantized; finml's layers are not")
    return (*shape[:-1], units), shape[-1] * units + (units if bias else 0)


def _spatial(
    layer: _Layer, shape: tuple, rank: int, kernel_key: str, paddings: tuple, strides_default
) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """(output sides, kernel) of a convolution or pooling over ``shape``'s ``rank`` spatial
    axes, as Keras computes them: ``valid``: ``(n - d (k - 1) - 1) // s + 1``; ``same`` and
    ``causal``: ``(n - 1) // s + 1``."""
    layer.choice("data_format", ("channels_last",), "channels_last")
    kernel = layer.sides(kernel_key, rank, 1, MAX_KERNEL)
    strides = layer.sides("strides", rank, 1, MAX_KERNEL, strides_default or kernel)
    dilation = layer.sides("dilation_rate", rank, 1, MAX_KERNEL, 1)
    padding = layer.choice("padding", paddings, "valid")
    out = []
    for size, k, s, d in zip(shape[1:-1], kernel, strides, dilation, strict=True):
        n = (size - d * (k - 1) - 1) // s + 1 if padding == "valid" else (size - 1) // s + 1
        if n < 1:
            layer.refuse(f"leaves no output from {size:,} inputs (kernel {k}, stride {s})")
        out.append(n)
    return tuple(out), kernel


def _conv(rank: int):
    def rule(layer: _Layer, shapes: list[tuple]) -> tuple[tuple, int]:
        """``prod(kernel) * channels / groups * filters`` weights and ``filters`` biases."""
        shape = layer.rank(shapes, rank + 2)
        filters = layer.whole("filters", 1, MAX_UNITS, what="filters")
        groups = layer.whole("groups", 1, MAX_UNITS, 1)
        if shape[-1] % groups or filters % groups:
            layer.refuse(f"splits {shape[-1]:,} channels into {groups:,} groups")
        paddings = ("valid", "same", "causal") if rank == 1 else ("valid", "same")
        sides, kernel = _spatial(layer, shape, rank, "kernel_size", paddings, 1)
        bias = layer.flag("use_bias", True)
        weights = math.prod(kernel) * (shape[-1] // groups) * filters
        return (None, *sides, filters), weights + (filters if bias else 0)

    return rule


def _depthwise(layer: _Layer, shapes: list[tuple]) -> tuple[tuple, int]:
    """``prod(kernel) * channels * depth_multiplier`` weights, one bias per output."""
    shape = layer.rank(shapes, 4)
    channels = shape[-1] * layer.whole("depth_multiplier", 1, MAX_UNITS, 1)
    if channels > MAX_UNITS:
        layer.refuse(f"outputs {channels:,} channels; finml's networks have at most {MAX_UNITS:,}")
    sides, kernel = _spatial(layer, shape, 2, "kernel_size", ("valid", "same"), 1)
    bias = layer.flag("use_bias", True)
    return (None, *sides, channels), math.prod(kernel) * channels + (channels if bias else 0)


def _batch_norm(layer: _Layer, shapes: list[tuple]) -> tuple[tuple, int]:
    """Per channel of ``axis``: gamma (``scale``), beta (``center``), moving mean and
    variance."""
    shape = shapes[0]
    axis = layer.config.get("axis", -1)
    axis = axis[0] if isinstance(axis, list) and len(axis) == 1 else axis
    if not _is_whole(axis) or not -len(shape) <= axis < len(shape) or axis % len(shape) == 0:
        layer.refuse(f"normalises axis {_json_text(axis)} of inputs of rank {len(shape)}")
    if layer.flag("renorm", False):
        layer.refuse("renormalises; finml's batch normalisation does not")
    center, scale = layer.flag("center", True), layer.flag("scale", True)
    return shape, shape[axis] * (2 + center + scale)


def _max_pool(layer: _Layer, shapes: list[tuple]) -> tuple[tuple, int]:
    shape = layer.rank(shapes, 4)
    sides, _ = _spatial(layer, shape, 2, "pool_size", ("valid", "same"), None)
    return (None, *sides, shape[-1]), 0


def _zero_pad(layer: _Layer, shapes: list[tuple]) -> tuple[tuple, int]:
    """Adds ``top + bottom`` rows and ``left + right`` columns."""
    shape = layer.rank(shapes, 4)
    layer.choice("data_format", ("channels_last",), "channels_last")
    pad = layer.config.get("padding", 1)
    if _is_whole(pad):
        pad = [[pad, pad], [pad, pad]]
    elif isinstance(pad, list) and len(pad) == 2 and all(_is_whole(p) for p in pad):
        pad = [[pad[0], pad[0]], [pad[1], pad[1]]]
    flat = [p for side in pad for p in side] if isinstance(pad, list) and len(pad) == 2 else []
    if not (
        all(isinstance(side, list) and len(side) == 2 for side in pad)
        and len(flat) == 4
        and all(_is_whole(p) and 0 <= p <= MAX_KERNEL for p in flat)
    ):
        layer.refuse(f"pads by {_json_text(pad)}; finml pads by 0 to {MAX_KERNEL} per side")
    return (None, shape[1] + flat[0] + flat[1], shape[2] + flat[2] + flat[3], shape[3]), 0


def _global_pool(rank: int):
    def rule(layer: _Layer, shapes: list[tuple]) -> tuple[tuple, int]:
        shape = layer.rank(shapes, rank + 2)
        layer.choice("data_format", ("channels_last",), "channels_last")
        if layer.flag("keepdims", False):
            return (None, *([1] * rank), shape[-1]), 0
        return (None, shape[-1]), 0

    return rule


def _reshape(layer: _Layer, shapes: list[tuple]) -> tuple[tuple, int]:
    """The target shape (one ``-1`` filled in) must hold the input's values exactly."""
    size = math.prod(shapes[0][1:])
    target = layer.config.get("target_shape")
    if (
        not isinstance(target, list)
        or not 1 <= len(target) <= 3
        or not all(_is_whole(v) and (v == -1 or 1 <= v <= MAX_FEATURES) for v in target)
        or target.count(-1) > 1
    ):
        layer.refuse(
            f"reshapes to {_json_text(target)}; finml reshapes to 1 to 3 sides of 1 to "
            f"{MAX_FEATURES:,}"
        )
    known = math.prod(v for v in target if v != -1)
    if -1 in target and size % known == 0:
        target = [size // known if v == -1 else v for v in target]
    if math.prod(target) != size:
        layer.refuse(f"reshapes {size:,} values to {_json_text(target)}")
    return (None, *target), 0


def _recurrent(gates: int):
    def rule(layer: _Layer, shapes: list[tuple]) -> tuple[tuple, int]:
        """``gates * (d * units + units * units)`` weights and ``gates * units`` biases
        (twice that for a GRU with ``reset_after``)."""
        shape = layer.rank(shapes, 3)
        units = layer.whole("units", 1, MAX_UNITS, what="units")
        for key in ("return_state", "stateful", "unroll"):
            if layer.flag(key, False):
                layer.refuse(f"has {key} = true; finml's recurrent layers do not")
        layer.flag("go_backwards", False)
        sequences = layer.flag("return_sequences", False)
        bias = layer.flag("use_bias", True)
        twice = layer.cls == "GRU" and layer.flag("reset_after", True)
        params = gates * (shape[-1] * units + units * units)
        params += gates * units * (2 if twice else 1) if bias else 0
        return ((None, shape[1], units) if sequences else (None, units)), params

    return rule


def _add(layer: _Layer, shapes: list[tuple]) -> tuple[tuple, int]:
    if any(s != shapes[0] for s in shapes):
        layer.refuse(f"adds tensors of shapes {_json_text(_as_list(tuple(shapes)))}")
    return shapes[0], 0


def _concatenate(layer: _Layer, shapes: list[tuple]) -> tuple[tuple, int]:
    rank = len(shapes[0])
    axis = layer.whole("axis", -rank + 1, rank - 1, -1) % rank
    rest = {s[:axis] + s[axis + 1 :] for s in shapes}
    if axis == 0 or any(len(s) != rank for s in shapes) or len(rest) != 1:
        layer.refuse(f"joins tensors of shapes {_json_text(_as_list(tuple(shapes)))}")
    out = list(shapes[0])
    out[axis] = sum(s[axis] for s in shapes)
    return tuple(out), 0


#: Layers that take a list of tensors.
_MERGE = frozenset({"Add", "Concatenate"})
#: Shape and parameter rule of each layer class of :data:`KERAS_CLASSES`:
#: (layer, input shapes) -> (output shape, parameters).
_LAYER_RULES = {
    "Activation": _same,
    "Add": _add,
    "BatchNormalization": _batch_norm,
    "Concatenate": _concatenate,
    "Conv1D": _conv(1),
    "Conv2D": _conv(2),
    "Dense": _dense,
    "DepthwiseConv2D": _depthwise,
    "Dropout": _same,
    "GRU": _recurrent(3),
    "GlobalAveragePooling1D": _global_pool(1),
    "GlobalAveragePooling2D": _global_pool(2),
    "LSTM": _recurrent(4),
    "MaxPooling2D": _max_pool,
    "RandomContrast": _same,
    "RandomFlip": _same,
    "RandomRotation": _same,
    "RandomZoom": _same,
    "ReLU": _same,
    "Rescaling": _same,
    "Reshape": _reshape,
    "ZeroPadding2D": _zero_pad,
}


def check_keras_weights(zf: zipfile.ZipFile, params: int, label: str) -> None:
    """Check ``model.weights.h5`` against the parameters the config describes, reading
    its metadata only (shapes, types, storage sizes; never the data).

    The file may declare at most ``12 * params`` bytes plus 16 MiB (the weights, Adam's two
    moments, HDF5's own overhead). Its datasets under ``layers/`` hold exactly ``params``
    numbers; the others (the optimizer's) at most ``2 * params + 64``. Every dataset is
    numeric (at most 8 bytes a value), stored whole and uncompressed as Keras writes it (an
    HDF5 file can declare a 20000 x 20000 dataset in a few bytes; reading it would fill
    memory), and neither virtual nor stored in other files; no link leads elsewhere.

    Args:
        zf: the open archive.
        params: the parameters :func:`keras_param_count` computed.
        label: the archive's name in messages.

    Raises:
        BundleError: the file is too large, not HDF5, or does not match the config.
    """
    import h5py

    info = zf.getinfo("model.weights.h5")
    limit = 12 * params + (16 << 20)
    if info.file_size > limit:
        raise BundleError(
            f"{label}: model.weights.h5 is {info.file_size:,} bytes; {params:,} weights and "
            f"the optimizer's state take at most {limit:,}. finml refuses it."
        )
    with tempfile.TemporaryDirectory(prefix="finml-weights-") as tmp:
        path = Path(tmp) / "model.weights.h5"
        with zf.open(info) as src, path.open("wb") as dst:
            shutil.copyfileobj(src, dst, 1 << 20)
        try:
            h5 = h5py.File(path, "r")
        except OSError as exc:
            raise BundleError(
                f"{label}: model.weights.h5 is not a readable HDF5 file ({exc})."
            ) from exc
        with h5:
            try:
                layers, _ = _h5_counts(h5, params, label)
            except (OSError, KeyError, RuntimeError, ValueError, TypeError) as exc:
                raise BundleError(f"{label}: model.weights.h5 is damaged ({exc}).") from exc
    if layers != params:
        raise BundleError(
            f"{label}: model.weights.h5 holds {layers:,} layer weights, but the config "
            f"describes {params:,}. finml refuses it."
        )


def _h5_counts(h5, params: int, label: str) -> tuple[int, int]:
    """(numbers under ``layers/``, numbers elsewhere) of an open weights file, walked with
    a stack and refused as soon as either is over its bound."""
    import h5py

    layers = others = objects = 0
    stack = [("", h5)]
    while stack:
        prefix, group = stack.pop()
        for name in group:
            objects += 1
            path = f"{prefix}{name}"
            if objects > MAX_H5_OBJECTS:
                raise BundleError(
                    f"{label}: model.weights.h5 holds over {MAX_H5_OBJECTS:,} objects; "
                    "finml's hold a few thousand at most. finml refuses it."
                )
            link = group.get(name, getlink=True)
            if not isinstance(link, h5py.HardLink):
                raise BundleError(
                    f"{label}: model.weights.h5 links {path!r} elsewhere "
                    f"({type(link).__name__}); Keras writes no links, and a link can reach "
                    "another file. finml refuses it."
                )
            item = group[name]
            if isinstance(item, h5py.Group):
                stack.append((f"{path}/", item))
                continue
            if not isinstance(item, h5py.Dataset):
                raise BundleError(f"{label}: model.weights.h5 holds {path!r}, not weights.")
            count = _h5_dataset_count(item, path, label)
            if path.startswith("layers/"):
                layers += count
            else:
                others += count
            if layers > params or others > 2 * params + 64:
                what = "layer weights" if layers > params else "optimizer values"
                raise BundleError(
                    f"{label}: model.weights.h5 declares at least "
                    f"{max(layers, others):,} {what}; the config describes {params:,} "
                    "weights. finml refuses it."
                )
            _h5_stored(item, count, path, label)
    return layers, others


def _h5_dataset_count(item, path: str, label: str) -> int:
    """The numbers a dataset holds, once its type, storage and location are checked."""
    if item.is_virtual or item.external:
        raise BundleError(
            f"{label}: model.weights.h5 reads {path!r} from other files; finml refuses it."
        )
    shape = item.shape
    if shape is None:
        return 0
    dtype = item.dtype
    if dtype.kind not in "fiub" or dtype.itemsize > 8:
        raise BundleError(
            f"{label}: model.weights.h5 holds {path!r} of type {dtype}; weights are numbers."
        )
    return math.prod(shape)


def _h5_stored(item, count: int, path: str, label: str) -> None:
    """A dataset of ``count`` numbers must store all of them, uncompressed: HDF5 reads an
    unstored or compressed dataset into memory it allocates from the declared shape."""
    size = count * item.dtype.itemsize
    stored = item.id.get_storage_size()
    if count and stored != size:
        raise BundleError(
            f"{label}: model.weights.h5 declares {path!r} of shape {item.shape} ({size:,} "
            f"bytes) but stores {stored:,} bytes; Keras stores weights whole and "
            "uncompressed. finml refuses it."
        )


def load_keras(path: Path, label: str):
    """Check a ``.keras`` archive (:func:`check_keras_archive`), then load it with
    ``safe_mode=True`` and without its training configuration.

    Raises:
        BundleError: refused by the checks, or Keras could not load it safely.
    """
    check_keras_archive(path, label)
    import keras

    try:
        return keras.saving.load_model(path, safe_mode=True, compile=False)
    except Exception as exc:
        raise BundleError(f"{label} could not be loaded safely: {exc}") from exc
