"""Real finml models of every kind, trained or built small, and the edits that turn their
bundles into hostile ones: one skops attribute, one key of a Keras ``config.json``, or an
HDF5 weights file that declares more than it stores. Nothing is read from disk but the
bundles the tests write, nothing is downloaded."""

from __future__ import annotations

import io
import json
import tempfile
import zipfile
from dataclasses import replace
from pathlib import Path

import numpy as np
import skops.io as sio

#: Rows of German Credit the table models train on (enough for every split, fast).
TABLE_ROWS = 300


# -- real models ------------------------------------------------------------------------------
def table_models(german) -> dict[str, object]:
    """Fitted scikit-learn models of every table kind (binary, regression, multi-class;
    one-hot and native categories), trained in-process on a few hundred rows."""
    from finml.data.schema import default_features, infer_schema
    from finml.data.spec import DatasetSpec
    from finml.fitters.base import ListSink
    from finml.models.registry import resolve_params
    from finml.tasks import train_spec
    from finml.tasks.spec import RunSpec

    frame = german.head(TABLE_ROWS).copy()
    frame.loc[::7, "age_in_years"] = np.nan  # missing values: the imputer's indicator
    numeric, categorical = default_features(infer_schema(frame), "creditability")
    binary = DatasetSpec("0" * 32, "g", "creditability", "bad", tuple(numeric), tuple(categorical))
    out = {}
    for kind, model, params in (
        ("logreg", "logreg", {}),
        ("hgb", "hgb", {"max_iter": 10}),
        ("hgb-native", "hgb", {"max_iter": 10, "categories": "native"}),
    ):
        spec = RunSpec(binary, model, resolve_params(model, params))
        out[kind] = train_spec(spec, frame, ListSink(), explain=False).model
    reg = DatasetSpec(
        "0" * 32, "g", "credit_amount", "", ("duration_in_month",), ("purpose",), task="regression"
    )
    for kind, model, params in (("ridge", "ridge", {}), ("hgb_reg", "hgb_reg", {"max_iter": 10})):
        spec = RunSpec(reg, model, resolve_params(model, params))
        out[kind] = train_spec(spec, frame, ListSink(), explain=False).model
    housing = replace(
        DatasetSpec("0" * 32, "g", "housing", "own", tuple(numeric), ()),
        task="multiclass",
        classes=("for free", "own", "rent"),
    )
    for kind, model, params in (("logreg-multi", "logreg", {}), ("hgb-multi", "hgb", {})):
        params = resolve_params(model, {"max_iter": 10} if model == "hgb" else params)
        out[kind] = train_spec(
            RunSpec(housing, model, params), frame, ListSink(), explain=False
        ).model
    return out


def sklearn_forecasters(macro) -> dict[str, object]:
    """Fitted forecasters whose ``model.skops`` is a Ridge (2-D coefficients: 2 steps
    ahead) or a list of boosted regressors (one per step), trained on the US macro data."""
    from finml.data.spec import DatasetSpec
    from finml.data.split import SplitSpec
    from finml.fitters.base import ListSink
    from finml.models.registry import resolve_params
    from finml.tasks.forecast import run_forecast
    from finml.tasks.spec import RunSpec

    ds = DatasetSpec(
        "0" * 32,
        "macro",
        "realcons",
        "",
        (),
        (),
        split=SplitSpec(0.7, 0.15, 0.15, time_col="date"),
        task="forecast",
        horizon=2,
    )
    out = {}
    for kind, params in (("ridge_lags", {}), ("hgb_lags", {"max_iter": 10})):
        spec = RunSpec(ds, kind, resolve_params(kind, params), seed=42)
        out[kind] = run_forecast(spec, macro, ListSink()).model
    return out


def networks(widths: dict[str, int]) -> dict[str, object]:
    """Every Keras architecture finml builds, small and untrained: the table MLPs on the
    preprocessed widths of their tables (``widths``: ``mlp`` binary with L2 and dropout,
    ``mlp_reg`` regression, ``mlp_multi`` three classes), the forecasting nets (MLP with
    rolling statistics, 1-D CNN, LSTM and GRU over two channels) and the image nets (the
    small CNN with every augmentation, ResNet-18 and MobileNetV2 on grey images, ResNet50
    on RGB)."""
    from finml.models.forecaster import build_sequence_net
    from finml.models.registry import resolve_params
    from finml.models.tabular import build_mlp
    from finml.models.vision import build_vision_model

    mlp, mlp_reg = resolve_params("mlp"), resolve_params("mlp_reg")
    nets = {
        "mlp": build_mlp(widths["mlp"], mlp, seed=1),
        "mlp_reg": build_mlp(widths["mlp_reg"], mlp_reg, seed=1, regression=True),
        "mlp_multi": build_mlp(widths["mlp_multi"], mlp, seed=1, n_classes=3),
    }
    seq = resolve_params("lstm_seq", {"units": 8})
    nets["mlp_lags"] = build_sequence_net("mlp", 8, 2, seq, seed=1, extra=2)
    for kind in ("cnn", "lstm", "gru"):
        nets[f"{kind}_seq"] = build_sequence_net(kind, 8, 2, seq, seed=1, channels=2)
    every = {"flip": True, "rotation": True, "zoom": True, "contrast": True}
    for name, shape in (
        ("small_cnn", (64, 64, 1)),
        ("resnet18", (32, 32, 1)),
        ("mobilenetv2", (32, 32, 1)),
        ("resnet50", (32, 32, 3)),
    ):
        params = {**resolve_params(name), **every}
        if name in ("small_cnn", "resnet18"):
            params["width"] = 4
        nets[name] = build_vision_model(name, shape, 3, params, seed=1)
    return nets


def wide_image_net():
    """finml's small CNN on the largest images finml takes (1024 px, grey, width 4)."""
    from finml.models.registry import resolve_params
    from finml.models.vision import build_vision_model

    params = {**resolve_params("small_cnn"), "width": 4}
    return build_vision_model("small_cnn", (1024, 1024, 1), 2, params, seed=1)


def with_estimator(model, estimator):
    """The table model ``model`` (its preprocessor, profile and classes) with another
    estimator: a Keras MLP bundle without training one."""
    return model.__class__(**{**model.get_params(deep=False), "estimator": estimator})


def image_model(net):
    """An image classifier bundle's model: ``net`` (3 classes), no preprocessor."""
    from finml.models.pipeline import FittedModel

    classes = tuple(f"class {i}" for i in range(net.output_shape[-1]))
    return FittedModel(estimator=net, class_names=classes, positive=0, meta={"model": "cnn"})


def keras_forecaster(net, rolling: bool = False, channels: int = 1):
    """A forecaster of 8 lags and 2 steps ahead with the network ``net`` (one exogenous
    column when ``channels`` is 2)."""
    from finml.models.forecaster import FittedForecaster

    p = 8 * channels + (2 if rolling else 0)
    return FittedForecaster(
        estimator=net,
        lags=8,
        horizon=2,
        x_mean=[0.0] * p,
        x_scale=[1.0] * p,
        t_mean=[0.0, 0.0],
        t_scale=[1.0, 1.0],
        season=4,
        freq="QS-OCT",
        intervals={level: [1.0, 1.0] for level in ("0.8", "0.9", "0.95")},
        meta={"model": "net"},
        exog=("x",) if channels == 2 else (),
        rolling=rolling,
    )


# -- edits of a bundle folder -----------------------------------------------------------------
def skops_edit(member: str, edit):
    """An edit of a bundle folder: load ``member`` (a skops file), apply ``edit`` to the
    object (in place), write it back."""

    def apply(folder: Path) -> None:
        path = folder / member
        obj = sio.load(path, trusted=sio.get_untrusted_types(file=path))
        edit(obj)
        sio.dump(obj, path)

    return apply


def keras_edit(config=None, *, raw_config=None, metadata=None, weights=None):
    """An edit of a bundle's ``model.keras``: ``config`` edits the parsed ``config.json``
    in place; ``raw_config`` / ``metadata`` replace those members' bytes; ``weights`` maps
    the real ``model.weights.h5`` bytes to new ones."""

    def apply(folder: Path) -> None:
        path = folder / "model.keras"
        with zipfile.ZipFile(path) as zf:
            members = {n: zf.read(n) for n in zf.namelist()}
        if config is not None:
            parsed = json.loads(members["config.json"])
            config(parsed)
            members["config.json"] = json.dumps(parsed).encode()
        if raw_config is not None:
            members["config.json"] = raw_config
        if metadata is not None:
            members["metadata.json"] = metadata
        if weights is not None:
            members["model.weights.h5"] = weights(members["model.weights.h5"])
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as zf:
            for name, data in members.items():
                zf.writestr(name, data)
        path.write_bytes(buf.getvalue())

    return apply


def layer(config: dict, class_name: str, nth: int = 0) -> dict:
    """The ``nth`` layer of ``class_name`` in a model config (its serialised dict)."""
    found = [n for n in config["config"]["layers"] if n["class_name"] == class_name]
    return found[nth]


def set_layer(class_name: str, nth: int = 0, /, **changes):
    """A config edit: set keys of the ``config`` of the ``nth`` layer of ``class_name``."""

    def edit(config: dict) -> None:
        layer(config, class_name, nth)["config"].update(changes)

    return edit


def drop_build_configs(config: dict) -> None:
    """Remove the shapes each layer declares it was built for (Keras builds on call)."""
    for node in config["config"]["layers"]:
        node.pop("build_config", None)


def nested_json(depth: int) -> bytes:
    """A JSON object holding ``depth`` nested lists (no recursion needed to write it)."""
    return b'{"a": ' + b"[" * depth + b"]" * depth + b"}"


def _h5_edit(data: bytes, change) -> bytes:
    """Apply ``change(h5 file)`` to a copy of an HDF5 file's bytes; return the new bytes."""
    import h5py

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "w.h5"
        path.write_bytes(data)
        with h5py.File(path, "r+") as h5:
            change(h5)
        return path.read_bytes()


def first_kernel(h5) -> str:
    """The path of the first layer's kernel in a Keras weights file."""
    names = []
    h5.visit(lambda n: names.append(n) if n.endswith("vars/0") and "layers/" in n else None)
    return sorted(names)[0]


def declared_weights(shape: tuple[int, ...] | None = None):
    """A weights edit: the first kernel is declared with ``shape`` (default: its own) and
    nothing stored (HDF5 allocates a contiguous dataset only when it is written)."""

    def change(h5) -> None:
        path = first_kernel(h5)
        own = h5[path].shape
        del h5[path]
        h5.create_dataset(path, shape=shape or own, dtype="float32")

    return lambda data: _h5_edit(data, change)


def linked_weights(data: bytes) -> bytes:
    """A weights edit: the first kernel becomes a link into another file on the server."""
    import h5py

    def change(h5) -> None:
        path = first_kernel(h5)
        del h5[path]
        h5[path] = h5py.ExternalLink("/etc/hostname", "/kernel")

    return _h5_edit(data, change)


def fitted_step(ct, class_name: str):
    """The fitted step of ``class_name`` inside a fitted column transformer's pipelines (or
    inside such a step: a SimpleImputer's MissingIndicator)."""
    for _, part, _ in ct.transformers_:
        for _, step in getattr(part, "steps", [("", part)]):
            for candidate in (step, getattr(step, "indicator_", None)):
                if type(candidate).__name__ == class_name:
                    return candidate
    raise AssertionError(f"no fitted {class_name} in {ct}")
