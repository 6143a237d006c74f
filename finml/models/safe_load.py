"""Load model files that came from outside (a run import, a bundle in the store) safely.

Two formats carry fitted models: skops files (scikit-learn objects) and Keras ``.keras``
archives. Neither is ever unpickled, and both are checked against **exact** allow-lists
derived from the bundles finml itself writes for every model kind (see
``tests/hostile/test_bundle_gadgets.py``, which rebuilds them and compares):

1. Before anything is deserialised: the archive's declared sizes are capped; a skops
   file's untrusted types (``skops.io.get_untrusted_types``) must all be in
   :data:`SKOPS_TRUSTED_TYPES`; a Keras archive holds exactly the three files Keras
   writes, and every class named in its ``config.json`` is in :data:`KERAS_CLASSES`.
2. After loading: every object in the skops object graph is an instance of a class in
   :data:`SKLEARN_CLASSES` (or a plain value); no instance attribute replaces a method
   (``transform``, ``predict_proba``, ...); gradient-boosting trees are checked node by node,
   because scikit-learn's Cython code follows child and feature indices without bounds
   checks (a crafted tree crashes the process or loops forever).
3. Keras then loads with ``safe_mode=True``.

Why exact lists: a prefix rule (``builtins.``, ``numpy.``, ``sklearn.``) let a pipeline of
``FunctionTransformer(numpy.full_like)``, ``numpy.ravel`` and ``sorted(key=eval)`` run a
shell command on the next Predict upload. Every type a gadget needs (a function, a
``functools.partial``, an ``operator.methodcaller``, ``numpy.vectorize``) is outside these
lists, and the graph audit refuses even skops' own default-trusted types (all scikit-learn
estimators, numpy ufuncs) unless finml's bundles contain them.
"""

from __future__ import annotations

import inspect
import io
import json
import zipfile
from pathlib import Path

import numpy as np

from finml.errors import BundleError, listing

#: Types a finml skops file holds beyond skops' primitives, exactly (no prefixes, no
#: functions): the union of ``skops.io.get_untrusted_types`` over real bundles of every
#: tabular model kind.
SKOPS_TRUSTED_TYPES = frozenset(
    {
        "numpy.dtype",
        "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    }
)
#: Classes whose instances may appear in a loaded skops object graph, exactly.
SKLEARN_CLASSES = frozenset(
    {
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
#: Activation names a finml model uses (a string activation is looked up by Keras).
KERAS_ACTIVATIONS = frozenset(
    {"relu", "gelu", "tanh", "selu", "elu", "sigmoid", "softmax", "linear"}
)
#: The members of a ``.keras`` archive as Keras writes it; anything else is refused.
KERAS_MEMBERS = frozenset({"metadata.json", "config.json", "model.weights.h5"})
#: Most bytes a model archive (skops or Keras) may declare, uncompressed.
MAX_MODEL_BYTES = 1 << 30
#: Most bytes any one archive may declare per byte it occupies (a zip bomb declares many).
MAX_RATIO = 200


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
            object outside :data:`SKLEARN_CLASSES`, an attribute that replaces a method, or
            a gradient-boosting tree whose nodes point outside the tree.
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
    tuples, dicts, numpy arrays (object arrays are walked), type objects in
    :data:`TYPE_VALUES`, and instances of :data:`SKLEARN_CLASSES` whose attributes do not
    replace a method of their class.

    Raises:
        BundleError: the first thing that is not allowed, with where it was found.
    """
    seen: set[int] = set()
    stack: list[tuple[object, str]] = [(root, "the model")]
    while stack:
        obj, where = stack.pop()
        if isinstance(obj, str | bool | int | float | complex | np.generic | np.dtype | slice):
            continue
        if obj is None or id(obj) in seen:
            continue
        seen.add(id(obj))
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
        if type(obj).__name__ == "TreePredictor":  # its splits: by _check_boosting
            _check_tree(obj, label, where, structure_only=True)
        elif type(obj).__name__.startswith("HistGradientBoosting"):
            _check_boosting(obj, label)


def _check_tree(
    tree,
    label: str,
    where: str,
    n_features: int | None = None,
    categorical: np.ndarray | None = None,
    structure_only: bool = False,
) -> None:
    """Refuse a tree whose nodes point outside it, backwards (a loop), at a feature at or
    above ``n_features``, or whose categorical splits name a feature that is not
    categorical (``categorical``: bool per feature) or a bitset the tree does not hold:
    scikit-learn's Cython prediction follows all of them without bounds checks.
    ``structure_only`` checks the nodes alone (the boosting model that holds the tree
    checks its splits against its features, :func:`_check_boosting`)."""
    from sklearn.ensemble._hist_gradient_boosting.common import PREDICTOR_RECORD_DTYPE

    nodes = getattr(tree, "nodes", None)
    if not isinstance(nodes, np.ndarray) or nodes.dtype != PREDICTOR_RECORD_DTYPE:
        raise BundleError(f"{label}: {where} is not a well-formed gradient-boosting tree.")
    n = len(nodes)
    if n == 0 or nodes.ndim != 1:
        raise BundleError(f"{label}: {where} is an empty gradient-boosting tree.")
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


def _check_boosting(model, label: str) -> None:
    """The boosting model's trees must use features below ``n_features_in_``; its bin
    mapper's categorical features (``is_categorical_``, one bool per feature) must have
    known categories that are whole numbers 0..255 (prediction sets bits in fixed-size
    bitsets from them), and its trees' categorical splits must fit their bitsets."""
    n_features = getattr(model, "n_features_in_", None)
    if not isinstance(n_features, int | np.integer) or n_features < 1:
        raise BundleError(f"{label}: the boosting model does not say how many features it takes.")
    categorical = _categorical_features(getattr(model, "_bin_mapper", None), int(n_features))
    if categorical is None:
        raise BundleError(
            f"{label}: the boosting model's categorical features are not stored as finml does."
        )
    predictors = getattr(model, "_predictors", None)
    if not isinstance(predictors, list) or not all(isinstance(r, list) for r in predictors):
        raise BundleError(f"{label}: the boosting model's trees are not stored as finml does.")
    for i, row in enumerate(predictors):
        for tree in row:
            _check_tree(tree, label, f"boosting tree {i + 1}", int(n_features), categorical)


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


def check_keras_archive(path: Path, label: str) -> None:
    """Refuse a ``.keras`` archive unless it holds exactly what Keras writes for finml's
    models: :data:`KERAS_MEMBERS`, and in ``config.json`` only the classes of
    :data:`KERAS_CLASSES` and the activations of :data:`KERAS_ACTIVATIONS`.

    Raises:
        BundleError: damaged, too large, extra members, or a class, module, function or
            activation finml's models never use (a custom layer, a Lambda, a module path).
    """
    check_archive(path, label)
    with zipfile.ZipFile(path) as zf:
        members = {m.filename for m in zf.infolist()}
        if members != KERAS_MEMBERS:
            extra = sorted(members - KERAS_MEMBERS) or sorted(KERAS_MEMBERS - members)
            raise BundleError(
                f"{label} is not a Keras model as finml writes it (unexpected or missing: "
                f"{listing(extra, 5, str)})."
            )
        try:
            config = json.load(io.TextIOWrapper(zf.open("config.json"), encoding="utf-8"))
        except (ValueError, UnicodeDecodeError) as exc:
            raise BundleError(f"{label}: config.json is not valid JSON ({exc}).") from exc
    _audit_keras_config(config, label)


def _audit_keras_config(config: object, label: str) -> None:
    stack = [config]
    while stack:
        node = stack.pop()
        if isinstance(node, list):
            stack.extend(node)
            continue
        if not isinstance(node, dict):
            continue
        if "class_name" in node:
            key = (node.get("module"), node["class_name"])
            registered = node.get("registered_name")
            if key not in KERAS_CLASSES or registered not in (None, node["class_name"]):
                shown = ".".join(str(p) for p in (node.get("module"), node["class_name"]) if p)
                raise BundleError(
                    f"{label} uses {shown!r}"
                    + (f" (registered as {registered!r})" if registered else "")
                    + ", which finml's models never contain (a custom layer, a function or a "
                    "Lambda can run code). finml refuses it."
                )
        activation = node.get("activation")
        if isinstance(activation, str) and activation not in KERAS_ACTIVATIONS:
            raise BundleError(f"{label} uses the activation {activation!r}, which finml refuses.")
        stack.extend(node.values())


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
