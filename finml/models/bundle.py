"""A fitted model on disk (a *bundle*), in safe formats only.

A bundle is a folder with ``meta.json`` (what the model is: task, classes, features, the
training profile, provenance, library versions), ``preprocessor.skops`` (tables: the fitted
ColumnTransformer) and either ``model.skops`` (scikit-learn), ``model.keras`` (Keras) or
``scorecard.json`` (a points scorecard: its bins, WoE values, coefficients and points as
data, :meth:`finml.models.scorecard.ScorecardClassifier.from_dict`) or ``head.npz`` (a
pretrained image model: the softmax layer on the ImageNet backbone's features; the
network is rebuilt from finml's code and the checksummed weights package,
:mod:`finml.fitters.pretrained`).
Nothing is pickled: every model file goes through :mod:`finml.models.safe_load` (exact
allow-lists, an audit of what was loaded, Keras with ``safe_mode=True``), the metadata is
checked field by field, and a loaded model must score one synthetic row before it is
accepted.

Formats: 2 (this version). Format 1 (finml before the fitted pipeline) still loads.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from finml.data.series import MAX_ENTITIES
from finml.errors import BundleError
from finml.models.forecaster import MEMBERS, FittedForecaster, window_inputs
from finml.models.pipeline import FittedModel, FittedRegressor
from finml.models.safe_load import load_json_bounded, load_keras, load_skops

FORMAT_VERSION = 2
#: The ``task`` words of ``meta.json`` (the format's vocabulary; a task object knows its
#: own, :attr:`finml.tasks.base.Task.bundle_task`).
_TABLE, _IMAGES, _REGRESSION, _FORECAST = "table", "images", "regression", "forecast"
#: Formats this version reads.
READABLE_FORMATS = (1, 2)
#: The file of a scorecard's table (:mod:`finml.models.scorecard`).
SCORECARD_FILE = "scorecard.json"
#: The file of a pretrained image model's head (:mod:`finml.fitters.pretrained`).
HEAD_FILE = "head.npz"
#: Largest ``head.npz`` accepted, bytes (1280 x 1000 float32 is 5 MB).
MAX_HEAD_BYTES = 8 << 20
#: The file of a fine-tuned pretrained model's top layers, and its largest size (the whole
#: backbone is 19 MB of float32).
FINETUNED_FILE = "finetuned.npz"
MAX_FINETUNED_BYTES = 24 << 20
#: Largest ``scorecard.json`` accepted, bytes.
MAX_SCORECARD_BYTES = 32 << 20
#: Largest ``meta.json`` accepted (it holds the training profile), bytes.
MAX_META_BYTES = 16 << 20
#: Most nesting levels of ``meta.json`` (finml writes 4).
MAX_META_DEPTH = 32
#: The interval levels a regression or forecasting bundle carries, exactly
#: (:data:`finml.evaluation.regression.INTERVAL_LEVELS`; pages offer each of them).
INTERVAL_KEYS = ("0.8", "0.9", "0.95")


def library_versions() -> dict[str, str]:
    """Versions of the libraries a bundle depends on."""
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for pkg in ("finml", "scikit-learn", "keras", "tensorflow-cpu", "tensorflow", "skops", "numpy"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            continue
    return out


def save_bundle(out_dir: Path, model: FittedModel | FittedRegressor | FittedForecaster) -> Path:
    """Write a fitted model as a bundle folder.

    Args:
        out_dir: folder to create (it must not hold another bundle).
        model: the fitted model; ``model.meta`` (provenance) is stored beside its parts.

    Returns:
        Path: ``out_dir``.
    """
    import skops.io as sio

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    if isinstance(model, FittedForecaster):
        return _save_forecaster(out_dir, model)
    if not model.is_image_model:  # image models scale their inputs themselves
        sio.dump(model.preprocessor, out_dir / "preprocessor.skops")
    meta = {
        **_dump_estimator(out_dir, model),
        "task": _IMAGES if model.is_image_model else _TABLE,
        "numeric": list(model.numeric),
        "categorical": list(model.categorical),
        "profile": model.profile,
        "versions": library_versions(),
    }
    if isinstance(model, FittedRegressor):
        meta["task"] = _REGRESSION
        meta["target_transform"] = {
            "log1p": bool(model.log_target),
            "mean": float(model.target_mean),
            "scale": float(model.target_scale),
        }
        meta["intervals"] = {str(k): float(v) for k, v in (model.intervals or {}).items()}
    else:
        meta["class_names"] = [str(c) for c in model.class_names]
        meta["positive"] = int(model.positive)
    if model.background is not None:
        meta["shap_background"] = np.asarray(model.background, dtype=np.float64).tolist()
    (out_dir / "meta.json").write_text(json.dumps(meta, indent=2, default=str))
    return out_dir


#: The numbers a forecaster's ``meta.json`` holds: name -> length (``"p"`` the inputs per
#: window, ``"h"`` the horizon).
_FORECASTER_LISTS = {"x_mean": "p", "x_scale": "p", "t_mean": "h", "t_scale": "h"}

#: Most exogenous columns a forecaster may name.
_MAX_EXOG = 100


def _dump_estimator(out_dir: Path, model) -> dict:
    """Write the estimator (``model.keras`` or ``model.skops``) and return the head of
    ``meta.json``: the model's provenance, the format and the family."""
    import skops.io as sio

    from finml.models.efficientnet import PRETRAINED_NAME, finetuned_blocks, head_of, top_layers
    from finml.models.scorecard import ScorecardClassifier

    head = {**(model.meta or {}), "format": FORMAT_VERSION, "family": model.family}
    if str(getattr(model.estimator, "name", "")).startswith(PRETRAINED_NAME):
        kernel, bias = head_of(model.estimator)
        np.savez(out_dir / HEAD_FILE, kernel=kernel, bias=bias)
        head["estimator"] = "pretrained"
        head["input_shape"] = list(model.image_shape)
        blocks = finetuned_blocks(model.estimator)
        if blocks is not None:  # the fine-tuned layers' weights, by layer name and index
            net = model.estimator
            arrays = {
                f"{name}.{i}": np.asarray(w)
                for name in top_layers(net, blocks)
                if name != "classifier"
                for i, w in enumerate(net.get_layer(name).get_weights())
            }
            np.savez(out_dir / FINETUNED_FILE, **arrays)
            head["finetuned_blocks"] = blocks
    elif model.family == "keras":
        model.estimator.save(out_dir / "model.keras")
    elif isinstance(model.estimator, ScorecardClassifier):
        (out_dir / SCORECARD_FILE).write_text(json.dumps(model.estimator.to_dict()))
        head["estimator"] = "scorecard"
    else:
        sio.dump(model.estimator, out_dir / "model.skops")
    return head


def _save_forecaster(out_dir: Path, model: FittedForecaster) -> Path:
    """A forecaster's bundle: the estimator (``model.skops``: a Ridge or a list of boosted
    models; ``model.keras``: a network) and ``meta.json`` with its windows' standardisation,
    season, frequency and per-step intervals."""
    meta = {
        **_dump_estimator(out_dir, model),
        "task": _FORECAST,
        "forecaster": {
            "lags": int(model.lags),
            "horizon": int(model.horizon),
            **{k: [float(v) for v in getattr(model, k)] for k in _FORECASTER_LISTS},
            "season": int(model.season),
            "freq": str(model.freq),
            "exog": [str(c) for c in model.exog or ()],
            "rolling": bool(model.rolling),
            "entities": [str(e) for e in model.entities or ("",)],
            "entity_scales": [float(v) for v in model.entity_scales or [1.0]],
            **({"members": model.members} if model.members else {}),
            **({"interval_window": int(model.interval_window)} if model.interval_window else {}),
            **({"fourier": int(model.fourier)} if model.fourier else {}),
            **({"log": True} if model.log else {}),
            **({"recursive": True} if model.recursive else {}),
            **({"entity_feature": True} if model.entity_feature else {}),
            **({"seasonal_difference": True} if model.seasonal_difference else {}),
            **({"known": [str(c) for c in model.known]} if model.known else {}),
            **(
                {
                    "boxcox": [float(v) for v in model.boxcox],
                    "boxcox_scales": [float(v) for v in model.boxcox_scales],
                }
                if model.boxcox
                else {}
            ),
        },
        "intervals": {k: [float(v) for v in q] for k, q in (model.intervals or {}).items()},
        "versions": library_versions(),
    }
    (out_dir / "meta.json").write_text(json.dumps(meta, indent=2, default=str))
    return out_dir


def _check_forecaster(meta: dict) -> None:
    """A forecasting bundle: whole lags and horizon from 1 up, standardisation lists of
    finite numbers of their lengths (scales > 0), and per-step interval half-widths."""
    fc = meta.get("forecaster")
    sizes = {}
    ok = isinstance(fc, dict)
    for key in ("lags", "horizon", "season") if ok else ():
        value = fc.get(key)
        ok = ok and isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 10_000
    window = fc.get("interval_window", 0) if ok else None
    fourier = fc.get("fourier", 0) if ok else None
    ok = ok and _panel_fields(fc) and _members(fc)
    ok = ok and type(window) is int and 0 <= window <= 10_000
    ok = ok and type(fourier) is int and 0 <= fourier <= fc["season"] // 2
    ok = ok and type(fc.get("log", False)) is bool
    ok = ok and type(fc.get("recursive", False)) is bool
    ok = ok and type(fc.get("entity_feature", False)) is bool
    ok = ok and type(fc.get("seasonal_difference", False)) is bool
    ok = ok and not (fc.get("seasonal_difference") and fc["season"] < 2)
    ok = ok and not (fc.get("recursive") and fc.get("exog"))  # their future is unknown
    known = fc.get("known", []) if ok else None
    ok = ok and isinstance(known, list) and len(set(map(str, known))) == len(known)
    ok = ok and all(isinstance(c, str) and c in fc.get("exog", []) for c in known)
    ok = ok and _boxcox_fields(fc)
    if ok:
        exog, rolling = len(fc.get("exog", [])), fc.get("rolling", False)
        entity, ahead = fc.get("entity_feature", False), fc["horizon"] * len(known)
        inputs = window_inputs(fc["lags"], exog, rolling, fc["season"], fourier, entity, ahead)
        # the estimator's outputs: h (direct) or 1 (recursive); the intervals': h
        sizes = {"p": inputs, "h": 1 if fc.get("recursive") else fc["horizon"]}
        sizes["steps"] = fc["horizon"]
        for key, size in _FORECASTER_LISTS.items():
            values = fc.get(key)
            ok = ok and _numbers(values) and len(values) == sizes[size]
        ok = ok and min(fc["x_scale"] + fc["t_scale"]) > 0 and isinstance(fc.get("freq"), str)
    if not ok:
        raise BundleError(
            "meta.json: 'forecaster' must hold whole lags, horizon and season, short text "
            "lists of exogenous columns and entities with one scale > 0 per entity, "
            "standardisation lists of finite numbers (inputs or horizon long, scales > 0), "
            "members (if any) of the known forecasters, each once, ETS with one form "
            "per entity, a whole interval window from 0 to 10,000, whole Fourier pairs "
            "from 0 to half the season, and log, recursive, entity_feature and "
            "seasonal_difference true or false (recursive only without exogenous columns, "
            "a seasonal difference only with a season), known columns (if any) among "
            "the exogenous ones, each once, and Box-Cox lambdas (if any) from 0 to 1 with "
            "a scale > 0, one each per entity, not with log."
        )
    intervals = meta.get("intervals")
    good = isinstance(intervals, dict) and sorted(intervals) == sorted(INTERVAL_KEYS)
    good = good and all(
        _numbers(q) and len(q) == sizes["steps"] and min(q) >= 0 for q in intervals.values()
    )
    if not good:
        raise BundleError(
            "meta.json: 'intervals' must give each of the levels "
            f"{', '.join(INTERVAL_KEYS)} one half-width per step."
        )


#: The values each place of an ETS form may take: error, trend, damped, season.
_ETS_FORM = (("add", "mul"), (None, "add"), (False, True), (None, "add", "mul"))


#: The largest value of each place of AutoARIMA's orders: p, d, q, P, D, Q, m, intercept.
_ARIMA_ORDER = (5, 2, 5, 2, 1, 2, 366, 1)


def _members(fc: dict) -> bool:
    """The optional members of a forecaster (absent before Auto): a list of 1 to 4 of
    :data:`finml.models.forecaster.MEMBERS`, each once; ETS's and ARIMA's ``forms`` map
    each of the model's entities to a form of :data:`_ETS_FORM` / orders within
    :data:`_ARIMA_ORDER` (or ``null``: AutoETS / AutoARIMA chooses again)."""
    members = fc.get("members")
    if members is None:
        return True
    if not isinstance(members, list) or not 1 <= len(members) <= len(MEMBERS):
        return False
    names = [m.get("name") if isinstance(m, dict) else None for m in members]
    if len(set(names)) != len(names) or not set(names) <= set(MEMBERS):
        return False
    valid = {"ets": _ets_form, "arima": _arima_order}
    for m in members:
        check = valid.get(m["name"])
        if set(m) != ({"name", "forms"} if check else {"name"}):
            return False
        forms = m.get("forms", {})
        if check and (
            not isinstance(forms, dict)
            or set(forms) != set(fc.get("entities", [""]))
            or not all(f is None or check(f) for f in forms.values())
        ):
            return False
    return True


def _arima_order(order) -> bool:
    return (
        isinstance(order, list)
        and len(order) == len(_ARIMA_ORDER)
        and all(
            type(v) is int and 0 <= v <= top for v, top in zip(order, _ARIMA_ORDER, strict=True)
        )
        and order[6] >= 1
    )


def _ets_form(form) -> bool:
    return (
        isinstance(form, list)
        and len(form) == len(_ETS_FORM)
        and all(
            any(v == a and type(v) is type(a) for a in allowed)
            for v, allowed in zip(form, _ETS_FORM, strict=True)
        )
    )


def _boxcox_fields(fc: dict) -> bool:
    """The optional Box-Cox fields of a forecaster (absent before them and without the
    transform): one lambda in [0, 1] and one scale > 0 per entity, and no log beside."""
    if "boxcox" not in fc and "boxcox_scales" not in fc:
        return True
    lam, scales = fc.get("boxcox"), fc.get("boxcox_scales")
    n = len(fc.get("entities", [""]))
    return (
        _numbers(lam)
        and _numbers(scales)
        and len(lam) == len(scales) == n
        and min(lam) >= 0
        and max(lam) <= 1
        and min(scales) > 0
        and not fc.get("log")
    )


def _panel_fields(fc: dict) -> bool:
    """The optional panel and exogenous fields of a forecaster (absent before them): text
    lists of bounded size, a bool, and one finite scale > 0 per entity."""
    exog = fc.get("exog", [])
    entities = fc.get("entities", [""])
    scales = fc.get("entity_scales", [1.0])
    texts = all(
        isinstance(v, list) and all(isinstance(t, str) and len(t) <= 200 for t in v)
        for v in (exog, entities)
    )
    return (
        texts
        and len(exog) <= _MAX_EXOG
        and 1 <= len(entities) <= MAX_ENTITIES
        and isinstance(fc.get("rolling", False), bool)
        and _numbers(scales)
        and len(scales) == len(entities)
        and min(scales) > 0
    )


def read_meta(bundle_dir: Path) -> dict:
    """Read and check ``meta.json`` of a bundle, of any readable format, and return it in
    format 2's terms (``class_names``, ``positive`` index, feature lists, profile).

    Raises:
        BundleError: missing, unreadable, too large, an unknown format, or a field of the
            wrong type.
    """
    path = Path(bundle_dir) / "meta.json"
    try:
        if path.stat().st_size > MAX_META_BYTES:
            raise BundleError(f"meta.json is over {MAX_META_BYTES >> 20} MiB; finml refuses it.")
        data = path.read_bytes()
    except OSError as exc:
        raise BundleError("This is not a finml bundle: meta.json is missing.") from exc
    try:
        meta = load_json_bounded(data, "meta.json", MAX_META_DEPTH, MAX_META_BYTES)
    except BundleError as exc:
        raise BundleError(f"This is not a finml bundle: {exc}") from exc
    if not isinstance(meta, dict):
        raise BundleError("This is not a finml bundle: meta.json does not hold an object.")
    fmt = meta.get("format")
    if fmt not in READABLE_FORMATS:
        raise BundleError(
            f"This bundle has format {fmt!r}; this finml reads formats "
            f"{', '.join(map(str, READABLE_FORMATS))}. Export it again from the finml that "
            "trained it, or train the model again."
        )
    if meta.get("task") not in _FIELD_CHECKS or meta.get("family") not in ("sklearn", "keras"):
        raise BundleError("meta.json: 'task' or 'family' is not one finml writes.")
    if fmt == 1:
        meta = _from_format_1(meta)
    _check_fields(meta)
    return meta


def _from_format_1(meta: dict) -> dict:
    """Format 1 kept the positive class by name, and table classes not at all."""
    positive = str(meta.get("positive_class", ""))
    if meta.get("classes"):  # an image model named its classes
        names = [str(c) for c in meta.get("classes") or []]
        index = names.index(positive) if positive in names else -1
    else:
        names, index = [f"not {positive}", positive], 1
    return {**meta, "class_names": names, "positive": index}


def _strings(meta: dict, key: str) -> list[str]:
    value = meta.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise BundleError(f"meta.json: {key!r} must be a list of names.")
    return value


def _check_features(meta: dict) -> None:
    numeric, categorical = _strings(meta, "numeric"), _strings(meta, "categorical")
    if not numeric and not categorical:
        raise BundleError("meta.json: a table model must name its feature columns.")
    _check_profile(meta.get("profile"), numeric, categorical)


def _check_regression(meta: dict) -> None:
    """A regression bundle: features and profile, the target transform (finite numbers,
    a positive scale) and the interval half-widths (levels in (0, 1), widths >= 0)."""
    _check_features(meta)
    tt = meta.get("target_transform")
    ok = isinstance(tt, dict) and isinstance(tt.get("log1p"), bool)
    ok = ok and _numbers([tt.get("mean"), tt.get("scale")]) and tt["scale"] > 0
    if not ok:
        raise BundleError(
            "meta.json: 'target_transform' must hold log1p (true/false), a finite mean and "
            "a positive scale."
        )
    intervals = meta.get("intervals")
    ok = isinstance(intervals, dict) and sorted(intervals) == sorted(INTERVAL_KEYS)
    ok = ok and _numbers(list(intervals.values())) and min(intervals.values()) >= 0
    if not ok:
        raise BundleError(
            f"meta.json: 'intervals' must map each of the levels {', '.join(INTERVAL_KEYS)} "
            "to a half-width >= 0."
        )


def _check_classes(meta: dict) -> None:
    """Two or more distinct class names and the index of the positive one."""
    names = _strings(meta, "class_names")
    if len(names) < 2 or len(set(names)) != len(names):
        raise BundleError("meta.json: 'class_names' must name two or more distinct classes.")
    positive = meta.get("positive")
    if (
        not isinstance(positive, int)
        or isinstance(positive, bool)
        or not 0 <= positive < len(names)
    ):
        raise BundleError("meta.json: 'positive' is not the index of one of the classes.")


def _check_table_classifier(meta: dict) -> None:
    _check_classes(meta)
    _check_features(meta)


#: The checks of each kind of bundle, by the ``task`` field of its ``meta.json`` (the
#: bundle format's own words: a table classifier of two or more classes is ``"table"``).
_FIELD_CHECKS = {
    _TABLE: _check_table_classifier,
    _IMAGES: _check_classes,
    _REGRESSION: _check_regression,
    _FORECAST: _check_forecaster,
}


def _check_fields(meta: dict) -> None:
    _FIELD_CHECKS[meta["task"]](meta)


def _check_profile(profile, numeric: list[str], categorical: list[str]) -> None:
    def bins(ref) -> bool:
        return (
            isinstance(ref, dict)
            and _numbers(ref.get("edges"))
            and _numbers(ref.get("shares"))
            and len(ref["shares"]) == len(ref["edges"]) + 1
        )

    ok = isinstance(profile, dict) and bins(profile.get("score"))
    num, cat = (profile or {}).get("numeric"), (profile or {}).get("categorical")
    ok = ok and isinstance(num, dict) and set(num) == set(numeric)
    ok = ok and isinstance(cat, dict) and set(cat) == set(categorical)
    for ref in (num or {}).values() if ok else ():
        keys = ("min", "max", "median")
        ok = ok and bins(ref) and all(_numbers([ref.get(k)]) for k in keys)
    for ref in (cat or {}).values() if ok else ():
        shares = ref.get("shares") if isinstance(ref, dict) else None
        ok = ok and isinstance(ref.get("mode"), str) and isinstance(shares, dict)
        ok = ok and _numbers(list(shares.values()))
    if not ok:
        raise BundleError(
            "meta.json: the training profile (ranges, categories, score bins) is missing or "
            "malformed, so new data cannot be checked against it."
        )


def _numbers(values) -> bool:
    return isinstance(values, list) and all(
        isinstance(v, int | float) and not isinstance(v, bool) and np.isfinite(v) for v in values
    )


def _member(bundle_dir: Path, name: str) -> Path:
    path = bundle_dir / name
    if not path.is_file():
        raise BundleError(f"This finml bundle is incomplete: {name} is missing.")
    return path


def load_bundle(bundle_dir: Path) -> FittedModel | FittedRegressor | FittedForecaster:
    """Load a bundle folder written by :func:`save_bundle` (format 1 or 2), safely.

    Returns:
        FittedModel (a :class:`FittedRegressor` for a regression bundle): with ``meta``
        holding the bundle's metadata.

    Raises:
        BundleError: files missing, an unknown format, malformed metadata, a model file that
            :mod:`finml.models.safe_load` refuses (a type or class outside its allow-lists,
            an attribute replacing a method, a malformed tree, a Lambda or custom layer), or
            parts that do not fit together.
    """
    bundle_dir = Path(bundle_dir)
    meta = read_meta(bundle_dir)
    if "forecaster" in meta:
        return _load_forecaster(bundle_dir, meta)
    pre = None
    if meta.get("numeric") or meta.get("categorical"):  # a table model: its preprocessing
        pre = load_skops(_member(bundle_dir, "preprocessor.skops"), "preprocessor.skops")
    if meta.get("estimator") == "pretrained":
        estimator = _load_pretrained(bundle_dir, meta)
    elif meta["family"] == "keras":
        estimator = load_keras(_member(bundle_dir, "model.keras"), "model.keras")
    elif meta.get("estimator") == "scorecard":
        estimator = _load_scorecard(bundle_dir, meta)
    else:
        estimator = load_skops(_member(bundle_dir, "model.skops"), "model.skops")
    parts = {
        "estimator": estimator,
        "preprocessor": pre,
        "numeric": tuple(meta.get("numeric", ())),
        "categorical": tuple(meta.get("categorical", ())),
        "profile": meta.get("profile"),
        "meta": meta,
    }
    if "target_transform" in meta:  # a regression model
        tt = meta["target_transform"]
        model = FittedRegressor(
            **parts,
            log_target=tt["log1p"],
            target_mean=tt["mean"],
            target_scale=tt["scale"],
            intervals=meta["intervals"],
        )
    else:
        model = FittedModel(
            **parts, class_names=tuple(meta["class_names"]), positive=meta["positive"]
        )
    _smoke_test(model)
    model.set_params(background=_background(meta, pre))
    return model


def _load_scorecard(bundle_dir: Path, meta: dict):
    """A scorecard rebuilt from its checked table, whose characteristics must be the
    bundle's feature columns, numeric then categorical."""
    from finml.models.scorecard import ScorecardClassifier

    path = _member(bundle_dir, SCORECARD_FILE)
    if path.stat().st_size > MAX_SCORECARD_BYTES:
        raise BundleError(f"{SCORECARD_FILE} is over {MAX_SCORECARD_BYTES >> 20} MiB.")
    data = load_json_bounded(path.read_bytes(), SCORECARD_FILE, 8, MAX_SCORECARD_BYTES)
    model = ScorecardClassifier.from_dict(data)
    numeric, categorical = meta.get("numeric", []), meta.get("categorical", [])
    if list(model.names) != [*numeric, *categorical] or model.n_numeric != len(numeric):
        raise BundleError(f"{SCORECARD_FILE}: its characteristics are not the model's features.")
    if meta.get("class_names") is None or len(meta["class_names"]) != 2:
        raise BundleError(f"{SCORECARD_FILE}: a scorecard scores two classes.")
    return model


def _load_pretrained(bundle_dir: Path, meta: dict):
    """A pretrained image network rebuilt from finml's code, the checksummed weights
    package and the bundle's head (and fine-tuned top layers), whose shapes are checked
    first."""
    from finml.errors import SpecError
    from finml.models.efficientnet import FEATURES, pretrained_network

    path = _member(bundle_dir, HEAD_FILE)
    shape, k = meta.get("input_shape"), len(meta.get("class_names") or [])
    if (
        not isinstance(shape, list)
        or len(shape) != 3
        or not all(isinstance(d, int) and not isinstance(d, bool) for d in shape)
        or shape[0] != shape[1]
        or not 8 <= shape[0] <= 1024
        or shape[2] not in (1, 3)
    ):
        raise BundleError("meta.json: 'input_shape' is not the shape of square images.")
    arrays = _arrays(path, MAX_HEAD_BYTES)
    if sorted(arrays) != ["bias", "kernel"]:
        raise BundleError(f"{HEAD_FILE} holds other arrays than a kernel and a bias.")
    kernel, bias = arrays["kernel"], arrays["bias"]
    if kernel.shape != (FEATURES, k) or bias.shape != (k,) or kernel.dtype != np.float32:
        raise BundleError(
            f"{HEAD_FILE}: a head of shape {kernel.shape} for {k} classes; the backbone gives "
            f"{FEATURES} features."
        )
    if bias.dtype != np.float32 or not (np.isfinite(kernel).all() and np.isfinite(bias).all()):
        raise BundleError(f"{HEAD_FILE}: the head's weights are not finite float32 numbers.")
    try:
        network = pretrained_network(tuple(shape), kernel, bias)
    except SpecError as exc:
        raise BundleError(str(exc)) from exc
    blocks = meta.get("finetuned_blocks")
    if blocks is not None:
        _set_finetuned(network, bundle_dir, blocks)
    return network


def _arrays(path: Path, max_bytes: int) -> dict[str, np.ndarray]:
    """The arrays of an ``.npz`` bundle member: its declared sizes checked before anything
    is inflated, no pickled objects.

    Raises:
        BundleError: over ``max_bytes``, not an array file, or object arrays.
    """
    import zipfile

    label = path.name
    if path.stat().st_size > max_bytes:
        raise BundleError(f"{label} is over {max_bytes >> 20} MiB.")
    try:
        with zipfile.ZipFile(path) as archive:
            if sum(i.file_size for i in archive.infolist()) > max_bytes:
                raise BundleError(f"{label} declares more than {max_bytes >> 20} MiB.")
        with np.load(path, allow_pickle=False) as data:
            return {name: data[name] for name in data.files}
    except (OSError, ValueError, zipfile.BadZipFile) as exc:
        raise BundleError(f"{label} is not a readable array file ({exc}).") from exc


def _set_finetuned(network, bundle_dir: Path, blocks) -> None:
    """Load the fine-tuned top layers: exactly the layers fine-tuning trains, each weight
    of its layer's shape, finite float32."""
    from finml.models.efficientnet import blocks as all_blocks
    from finml.models.efficientnet import top_layers

    if (
        not isinstance(blocks, int)
        or isinstance(blocks, bool)
        or not 0 <= blocks <= len(all_blocks())
    ):
        raise BundleError("meta.json: 'finetuned_blocks' is not a number of blocks.")
    arrays = _arrays(_member(bundle_dir, FINETUNED_FILE), MAX_FINETUNED_BYTES)
    expected = {
        f"{name}.{i}": tuple(w.shape)
        for name in top_layers(network, blocks)
        if name != "classifier"
        for i, w in enumerate(network.get_layer(name).weights)
    }
    if set(arrays) != set(expected):
        raise BundleError(f"{FINETUNED_FILE} does not hold the fine-tuned layers' weights.")
    for key, array in arrays.items():
        if (
            array.shape != expected[key]
            or array.dtype != np.float32
            or not np.isfinite(array).all()
        ):
            raise BundleError(
                f"{FINETUNED_FILE}: {key} is not finite float32 of shape {expected[key]}."
            )
    for name in {key.rpartition(".")[0] for key in arrays}:
        layer = network.get_layer(name)
        layer.set_weights([arrays[f"{name}.{i}"] for i in range(len(layer.weights))])


def _load_forecaster(bundle_dir: Path, meta: dict) -> FittedForecaster:
    """Load a checked forecaster bundle and make it forecast once from a flat history."""
    if meta["family"] == "keras":
        estimator = load_keras(_member(bundle_dir, "model.keras"), "model.keras")
    else:
        estimator = load_skops(_member(bundle_dir, "model.skops"), "model.skops")
    fc = meta["forecaster"]
    model = FittedForecaster(estimator=estimator, intervals=meta["intervals"], meta=meta, **fc)
    try:  # the estimator's part (statistical members are refitted on the history given)
        first = model.first_origin
        history = np.arange(1, first + 2, dtype=np.float64)  # positive: log models
        ahead = int(model.horizon) if model.known else 0  # the known columns' plans
        exog = np.zeros((1, len(history) + ahead, len(model.exog)))
        scale = model.scales_for(model.entities)[:1]
        dates = None
        if model.fourier:  # the season's phase comes from dates in the trained frequency
            import pandas as pd

            dates = pd.date_range("2000-01-01", periods=len(history), freq=model.freq)
        out = model.window_forecasts(history, np.array([first]), exog, scale, dates)[0]
    except Exception as exc:  # any failure here means a bundle finml cannot use
        raise BundleError(
            f"The bundle's parts do not fit together ({type(exc).__name__}: {exc})."
        ) from exc
    if out.shape != (fc["horizon"],) or not np.isfinite(out).all():
        raise BundleError(f"The forecaster gives {out.shape} values for {fc['horizon']} steps.")
    return model


def _background(meta: dict, preprocessor) -> np.ndarray | None:
    """The SHAP background of ``meta.json`` (absent before this version): a list of rows of
    finite numbers, as wide as the preprocessor's output."""
    rows = meta.get("shap_background")
    if rows is None or preprocessor is None:
        return None
    width = len(preprocessor.get_feature_names_out())
    if (
        not isinstance(rows, list)
        or not 0 < len(rows) <= 1000
        or not all(isinstance(r, list) and len(r) == width and _numbers(r) for r in rows)
    ):
        raise BundleError(
            f"meta.json: 'shap_background' must be 1 to 1,000 rows of {width} finite numbers."
        )
    return np.asarray(rows, dtype=np.float32)


def _smoke_test(model: FittedModel | FittedRegressor) -> None:
    """Score one synthetic row (typical training values) or one blank image: the parts must
    fit together and give one probability per class (one finite value for a regressor)."""
    import pandas as pd

    if model.is_image_model:
        shape = model.image_shape
        if len(shape) != 3 or shape[0] != shape[1] or shape[2] not in (1, 3):
            raise BundleError(f"The network takes inputs of shape {shape}, not square images.")
    try:
        if model.is_image_model:
            proba = model.predict_proba(np.zeros((1, *model.image_shape), dtype=np.uint8))
        else:
            profile = model.profile
            row = {c: [profile["numeric"][c]["median"]] for c in model.numeric}
            row |= {c: [profile["categorical"][c]["mode"]] for c in model.categorical}
            if isinstance(model, FittedRegressor):
                value = model.predict(pd.DataFrame(row))
                if value.shape != (1,) or not np.isfinite(value).all():
                    raise ValueError(f"it gives {value!r} for one row")
                return
            proba = model.predict_proba(pd.DataFrame(row))
    except Exception as exc:  # any failure here means a bundle finml cannot use
        raise BundleError(
            f"The bundle's parts do not fit together ({type(exc).__name__}: {exc})."
        ) from exc
    k = len(model.class_names)
    if proba.shape != (1, k) or not np.isfinite(proba).all():
        raise BundleError(f"The model gives {proba.shape[1:]} outputs for {k} classes.")


def load_run_bundle(store, run_id: str) -> FittedModel | FittedRegressor | FittedForecaster:
    """Download and safely load the fitted model of a run.

    Args:
        store: the run store (:class:`finml.store.RunStore`).
        run_id: the run.

    Raises:
        StoreError: the run has no bundle.
        BundleError: the bundle cannot be loaded safely.
    """
    with store.artifact(run_id, "bundle") as folder:
        return load_bundle(folder)  # loads everything into memory before the copy is deleted


def run_target_floor(store, run_id: str) -> float | None:
    """Where a regression run's prediction intervals are clipped
    (:func:`finml.models.pipeline.target_floor` of its bundle's training profile), read
    from the bundle's ``meta.json`` alone (no model is loaded); ``None`` for a target that
    took negative values, or a run without a readable bundle.

    Args:
        store: the run store (:class:`finml.store.RunStore` or a scoped one).
        run_id: the run.
    """
    from finml.errors import FinmlError
    from finml.models.pipeline import target_floor

    try:
        meta = store.read_json(run_id, "bundle/meta.json")
    except FinmlError:
        return None
    return target_floor(meta.get("profile") if isinstance(meta, dict) else None)
