"""Hostile model files, built by the tests themselves: skops gadget chains that reach
``eval``/``exec`` from types a prefix allow-list trusted, malformed boosting trees, and
Keras archives with custom or function payloads."""

from __future__ import annotations

import functools
import io
import json
import operator
import zipfile

import numpy as np
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer as Fn
from sklearn.utils import check_array


def payload(marker) -> str:
    """Python source that creates ``marker``: proof that a gadget ran."""
    return f"__import__('pathlib').Path({str(marker)!r}).touch()"


def _fill(value) -> Fn:
    """A step that fills the input's shape with ``value`` (an object array)."""
    return Fn(np.full_like, kw_args={"fill_value": value, "dtype": object})


def _map(fn) -> Fn:
    return Fn(functools.partial(map, fn))


def skops_gadgets(marker) -> dict[str, object]:
    """name -> a scikit-learn object whose ``fit_transform`` runs :func:`payload`."""
    code = payload(marker)
    return {
        # The attack that was reported: numpy.full_like, numpy.ravel, sorted(key=eval).
        "sorted key=eval": Pipeline(
            [
                ("fill", _fill(code)),
                ("flat", Fn(np.ravel)),
                ("run", Fn(sorted, kw_args={"key": eval})),
            ]
        ),
        "functools.partial(eval)": Fn(functools.partial(eval, code, {})),
        "functools.partial(exec)": Fn(functools.partial(exec, code, {})),
        "map(eval)": Pipeline(
            [("fill", _fill(code)), ("flat", Fn(np.ravel)), ("run", _map(eval)), ("go", Fn(list))]
        ),
        "operator.methodcaller": Pipeline(
            [
                ("fill", _fill(eval)),
                ("flat", Fn(np.ravel)),
                ("run", _map(operator.methodcaller("__call__", code))),
                ("go", Fn(list)),
            ]
        ),
        "numpy.vectorize(eval)": Pipeline(
            [("fill", _fill(code)), ("run", Fn(np.vectorize(eval, otypes=[object])))]
        ),
        "getattr chain to __builtins__": Pipeline(
            [
                ("fill", _fill(check_array)),
                ("flat", Fn(np.ravel)),
                ("globals", _map(operator.attrgetter("__globals__"))),
                ("builtins", _map(operator.itemgetter("__builtins__"))),
                ("eval", _map(operator.itemgetter("eval"))),
                ("run", _map(operator.methodcaller("__call__", code))),
                ("go", Fn(list)),
            ]
        ),
    }


def keras_archive(config: dict, extra: dict[str, bytes] | None = None) -> bytes:
    """A ``.keras`` archive with this ``config.json`` (weights file empty)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("metadata.json", json.dumps({"keras_version": "3.15.1"}))
        zf.writestr("config.json", json.dumps(config))
        zf.writestr("model.weights.h5", b"")
        for name, data in (extra or {}).items():
            zf.writestr(name, data)
    return buf.getvalue()


def sequential(layers: list[dict]) -> dict:
    """The config of a Sequential model made of ``layers`` (serialised layer dicts)."""
    first = {
        "module": "keras.layers",
        "class_name": "InputLayer",
        "config": {"batch_shape": [None, 3], "dtype": "float32", "name": "x"},
        "registered_name": None,
    }
    return {
        "module": "keras",
        "class_name": "Sequential",
        "config": {"name": "m", "layers": [first, *layers]},
        "registered_name": None,
    }


def dense(activation) -> dict:
    return {
        "module": "keras.layers",
        "class_name": "Dense",
        "config": {"name": "d", "units": 1, "activation": activation},
        "registered_name": None,
    }
