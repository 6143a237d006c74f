"""The checks of a run export's contents, field by field, against what finml itself writes,
before an import creates anything (:func:`finml.reporting.exchange.import_run`).

Everything in an export came from someone else, so nothing is copied as it is:

- ``run.json`` is parsed with a bound on its size and nesting depth; its parameters must be
  names finml writes (:data:`finml.models.registry.RUN_PARAMS` and the model's own
  hyperparameters), each of the type finml writes; the task, the classes and the positive
  class are taken from the bundle, never from the record; ``dataset_id`` and file paths
  are dropped (an import points at no data it did not bring); metrics and learning curves
  must have the names finml logs, finite values and at most :data:`MAX_STEPS` steps.
- every table (predictions, cross-validation folds, trials, explanations, the split) must
  be readable Parquet of bounded size, with the columns finml writes for the run's task,
  plain types, finite numbers, and values in range (class indices below the class count,
  probabilities in [0, 1], forecast steps from 1 to the model's horizon, folds from 1 to
  the run's fold count).
- every other JSON member has the shape finml writes.

Each refusal is a :class:`finml.errors.BundleError` that names the member, the field and
what finml expects.
"""

from __future__ import annotations

import io
import math
import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from finml.data.spec import format_list
from finml.errors import BundleError, SpecError, listing
from finml.models.registry import RUN_PARAMS, check_run_param, get_model, model_names
from finml.models.safe_load import load_json_bounded
from finml.store import BACKTEST_METRICS, FOLD_METRICS, HISTORY_METRICS
from finml.tasks import task_of_bundle

#: Most learning-curve steps an import may carry: the most epochs finml trains (10,000).
MAX_STEPS = 10_000
#: Most cross-validation or backtest folds (the Train page allows 20).
MAX_FOLDS = 20
#: Most bytes of ``run.json`` and of any other JSON member.
MAX_JSON_BYTES = 16 << 20
#: Most nesting levels of a JSON member (finml writes at most 4).
MAX_JSON_DEPTH = 32
#: Most rows of one stored table (predictions of a 1M-row table's test split, a panel's
#: forecasts).
MAX_TABLE_ROWS = 2_000_000
#: Most columns of one stored table (a class probability each, up to 1,000 classes).
MAX_TABLE_COLUMNS = 1_100
#: Longest text cell of a stored table.
MAX_CELL_CHARS = 1_000
#: Most metrics of one run.
MAX_METRICS = 500
#: What a metric, a curve or a stored column may be called.
NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.]{0,99}$")
#: Learning curves finml logs per step, and per fold.
CURVES = HISTORY_METRICS
FOLD_CURVES = tuple(dict.fromkeys(FOLD_METRICS + BACKTEST_METRICS))
#: Prefixes of the metrics finml logs for a run.
METRIC_PREFIXES = ("test_", "validation_", "cv_", "tune_", "backtest_")


@dataclass(frozen=True)
class RunRecord:
    """A checked ``run.json``: every field of the right type.

    Attributes:
        name: the run's name (at most 200 characters).
        model: a registry model name.
        dataset: the dataset's display name.
        params: the checked parameters (text), ``dataset_id`` and paths left out.
        metrics: the run's final metrics (finite numbers; the last value of each learning
            curve comes back with the curve).
        threshold: the saved decision threshold, in [0, 1], or None.
        history: learning curves: ``step`` and each of :data:`CURVES`, of one length.
        folds: per-fold metrics: ``step`` (the fold) and each of :data:`FOLD_CURVES`.
    """

    name: str
    model: str
    dataset: str
    params: dict[str, str]
    metrics: dict[str, float]
    threshold: float | None
    history: dict[str, list[float]]
    folds: dict[str, list[float]]


def parse_json(data: bytes, label: str) -> object:
    """A JSON member of an export, bounded in size and depth before it is parsed.

    Raises:
        BundleError: too large, too deep, not UTF-8 or not JSON.
    """
    return load_json_bounded(data, label, max_depth=MAX_JSON_DEPTH, max_bytes=MAX_JSON_BYTES)


def _number(value, where: str, missing_ok: bool = False) -> float:
    """A finite number (or NaN where ``missing_ok``: a metric an epoch did not log)."""
    if missing_ok and value is None:
        return math.nan
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise BundleError(f"run.json: {where} is not a number.")
    try:
        out = float(value)
    except ValueError:
        raise BundleError(f"run.json: {where} is not a number ({str(value)[:40]!r}).") from None
    if not (math.isfinite(out) or (missing_ok and math.isnan(out))):
        raise BundleError(f"run.json: {where} is not a finite number ({str(value)[:40]!r}).")
    return out


def _text(raw: dict, key: str, limit: int = 200) -> str:
    value = raw.get(key, "")
    if not isinstance(value, str):
        raise BundleError("run.json: name, model and dataset must be text.")
    if len(value) > limit or any(c in value for c in "\r\n\x00"):
        raise BundleError(
            f"run.json: {key} is over {limit} characters or holds line breaks; finml writes "
            "one short line."
        )
    return value


def _curves(raw, keys: tuple[str, ...], what: str) -> dict[str, list[float]]:
    """Learning curves (or per-fold metrics): ``step`` plus some of ``keys``, lists of one
    length, at most :data:`MAX_STEPS`, whole steps >= 0."""
    if raw in (None, {}):
        return {}
    if not isinstance(raw, dict) or not all(isinstance(v, list) for v in raw.values()):
        raise BundleError(f"run.json: the {what} must be lists.")
    unknown = sorted(set(raw) - {"step", *keys})
    if unknown:
        raise BundleError(
            f"run.json: the {what} hold {listing([k[:60] for k in unknown], 3)}, which finml "
            f"never logs (it logs {', '.join(keys)})."
        )
    lengths = {len(v) for v in raw.values()}
    if len(lengths) > 1:
        raise BundleError(
            f"run.json: the {what} have different lengths "
            f"({', '.join(f'{k}: {len(v)}' for k, v in raw.items())})."
        )
    if max(lengths, default=0) > MAX_STEPS:
        raise BundleError(
            f"run.json: {max(lengths):,} {what} steps; finml trains at most {MAX_STEPS:,} "
            "epochs, so it never writes more. finml refuses the file."
        )
    out = {
        k: [_number(v, f"{what} {k!r} step {i + 1}", missing_ok=True) for i, v in enumerate(vs)]
        for k, vs in raw.items()
    }
    if "step" in out and not all(s >= 0 and s == int(s) for s in out["step"]):
        raise BundleError("run.json: learning-curve steps must be whole numbers >= 0.")
    return out


def parse_record(text: bytes, name: str, meta: dict) -> RunRecord:
    """Check ``run.json`` of an export against its (already checked) bundle metadata.

    Args:
        text: the member's bytes.
        name: the file's display name, for messages.
        meta: the bundle's checked ``meta.json`` (:func:`finml.models.bundle.read_meta`).

    Raises:
        BundleError: too large or deep, not JSON, not an object, a field of the wrong type,
            a parameter or metric finml never writes, learning curves of different lengths
            or too many steps, a non-numeric metric, or a threshold outside [0, 1].
    """
    raw = parse_json(text, f"{name}: run.json")
    if not isinstance(raw, dict):
        raise BundleError(f"{name}: run.json does not hold an object.")
    try:
        texts = {k: _text(raw, k) for k in ("name", "model", "dataset")}
        model = texts["model"] or str(raw.get("params", {}).get("model", ""))
        if model not in model_names():
            raise BundleError(f"run.json: the model {model[:60]!r} is not one finml offers.")
        params, metrics = raw.get("params", {}), raw.get("metrics", {})
        if not isinstance(params, dict) or not isinstance(metrics, dict):
            raise BundleError("run.json: params and metrics must be objects.")
        checked = check_params(params, model, meta)
        if len(metrics) > MAX_METRICS:
            raise BundleError(f"run.json: {len(metrics):,} metrics; finml logs far fewer.")
        metrics = {k: v for k, v in metrics.items() if k not in CURVES + FOLD_CURVES}
        bad = [k for k in metrics if not NAME.match(str(k)) or not k.startswith(METRIC_PREFIXES)]
        if bad:
            raise BundleError(
                f"run.json: the metric(s) {listing([str(k)[:60] for k in bad], 3)} are not "
                f"ones finml logs (names start with {', '.join(METRIC_PREFIXES)})."
            )
        metrics = {str(k): _number(v, f"metric {k!r}") for k, v in metrics.items()}
        threshold = raw.get("threshold")
        if threshold is not None:
            threshold = _number(threshold, "the threshold")
            if not 0.0 <= threshold <= 1.0:
                raise BundleError(f"run.json: the threshold {threshold} is not in [0, 1].")
        history = _curves(raw.get("history"), CURVES, "learning curves")
        folds = _curves(raw.get("folds"), FOLD_CURVES, "fold metrics")
    except BundleError as exc:
        raise BundleError(f"{name}: {exc}") from None
    return RunRecord(
        name=texts["name"] or "imported",
        model=model,
        dataset=texts["dataset"],
        params=checked,
        metrics=metrics,
        threshold=threshold,
        history=history,
        folds=folds,
    )


def check_params(params: dict, model: str, meta: dict) -> dict[str, str]:
    """The parameters of an imported run, as finml writes them.

    Every key must be one of :data:`finml.models.registry.RUN_PARAMS` or ``hp.<name>`` of
    the model's own hyperparameters, and every value of the type finml writes
    (:func:`finml.models.registry.check_run_param`). ``dataset_id`` and hyperparameters
    that name a local file are dropped. The task, classes and positive class come from
    the bundle (``meta``), whatever the record says.

    Returns:
        dict: parameter name -> text.

    Raises:
        BundleError: an unknown name, or a value finml would not write.
    """
    info = get_model(model)
    hps = {f"hp.{p.name}": p for p in info.params}
    unknown = [str(k) for k in params if k not in RUN_PARAMS and k not in hps]
    if unknown:
        raise BundleError(
            f"run.json: parameter(s) {listing([k[:60] for k in unknown], 3)} are not ones "
            f"finml writes for a {info.label} run."
        )
    out = {}
    for key, value in params.items():
        if key == "dataset_id" or (key in hps and hps[key].kind == "text"):
            continue  # a pointer to data or a file on someone else's machine
        text = check_run_param(key, value, hps.get(key))
        if text is not None:
            out[key] = text
    task = task_of_bundle(meta)
    out["task"], out["model"] = task.name, model
    if task.name not in info.tasks:
        raise BundleError(f"run.json: a {info.label} model does not make {task.label} runs.")
    for key in ("classes", "positive_class", "negative_class"):
        out.pop(key, None)  # what the model predicts is the bundle's to say
    names = [str(c) for c in meta.get("class_names", ())]
    if names:
        out["positive_class"] = names[meta["positive"]]
        if task.probability_columns:
            out["classes"] = format_list(names)
        else:
            out["negative_class"] = names[1 - meta["positive"]]
    folds = int(out.get("cv_folds", "0") or 0)
    if folds and not 2 <= folds <= MAX_FOLDS:
        raise BundleError(f"run.json: cv_folds is {folds}; finml runs 2 to {MAX_FOLDS} folds.")
    return out


@dataclass(frozen=True)
class TableRules:
    """What finml writes in one stored table of a run.

    Attributes:
        required: columns it always has.
        ints: whole-number columns: name -> (lowest, highest) (None: unbounded).
        probabilities: columns of probabilities in [0, 1].
        nan_ok: float columns that may hold NaN (beyond a series' end, a missing metric).
        texts: text columns: name -> allowed values (empty: any short text).
        max_rows: most rows.
    """

    required: tuple[str, ...] = ()
    ints: dict | None = None
    probabilities: tuple[str, ...] = ()
    nan_ok: bool = True
    texts: dict | None = None
    max_rows: int = MAX_TABLE_ROWS


def prediction_rules(task, meta: dict, folds: int) -> TableRules:
    """The columns and ranges of the stored predictions of a run of ``task`` (a
    :class:`finml.tasks.base.Task`)."""
    fold = {"fold": (1, max(folds, 1))}
    if task.evaluation == "forecasts":
        fc = meta["forecaster"]
        entities = {*fc.get("entities", [""]), ""}
        return TableRules(
            required=("entity", "origin", "step", "row", "y_true", "y_pred", "scale"),
            ints={"origin": (0, None), "step": (1, fc["horizon"]), "row": (0, None), **fold},
            texts={"entity": entities},
        )
    if task.evaluation == "values":
        return TableRules(required=("row", "y_true", "y_pred"), ints={"row": (0, None), **fold})
    k = len(meta.get("class_names", ())) or 2
    probs = tuple(f"p_{i}" for i in range(k)) if task.probability_columns else ()
    return TableRules(
        required=("row", "y_true", "score", *probs),
        ints={"row": (0, None), "y_true": (0, k - 1 if probs else 1), **fold},
        probabilities=("score", *probs),
        nan_ok=False,
    )


def table_rules(member: str, task, meta: dict, folds: int) -> TableRules:
    """What finml writes in the stored table ``member`` of a run of ``task`` with ``folds``
    cross-validation (or backtest) folds and the bundle metadata ``meta``.

    Raises:
        BundleError: a member that is not a table of such a run.
    """
    fold = {"fold": (1, max(folds, 1))}
    if member.startswith("predictions/"):
        return prediction_rules(task, meta, folds)
    if member == "cv/folds.parquet":
        scores = task.tags.fold_metrics[:1]
        return TableRules(required=("fold", *scores), ints=fold, max_rows=MAX_FOLDS)
    if member == "cv/forecasts.parquet" and task.evaluation == "forecasts":
        steps = {"step": (1, meta["forecaster"]["horizon"])}
        return TableRules(required=("fold", "step", "y_pred"), ints={**fold, **steps})
    if member == "tuning/trials.parquet":
        return TableRules(
            required=("trial", "state"),
            ints={"trial": (0, 10_000)},
            texts={"state": {"complete", "pruned", "fail", "running", "waiting"}},
            max_rows=1_000,
        )
    if member == "explain/permutation_importance.parquet":
        return TableRules(max_rows=100_000)
    if member == "explain/shap_values.parquet":
        return TableRules(required=("row",), ints={"row": (0, None)}, max_rows=100_000)
    if member == "split.parquet":
        return TableRules(
            required=("row", "split"),
            ints={"row": (0, None)},
            texts={"split": {"train", "validation", "test"}},
        )
    raise BundleError(f"{member} is not a table a {task.label} run stores.")


def read_table(data: bytes, member: str, name: str, rules: TableRules) -> pd.DataFrame:
    """Read one stored table of an export and check it against ``rules`` and the plain
    types finml writes (whole numbers, floats, booleans, short text, dates).

    Raises:
        BundleError: not Parquet, too large, a column missing or of another type, a text
            cell too long, an infinite number, or a value out of range; the message names
            the member and the column.
    """
    import pyarrow.parquet as pq

    where = f"{name}: {member}"
    try:
        meta = pq.ParquetFile(io.BytesIO(data)).metadata
    except Exception as exc:  # pyarrow raises several types for a damaged file
        raise BundleError(f"{where} is not a readable Parquet file.") from exc
    if meta.num_rows > rules.max_rows or meta.num_columns > MAX_TABLE_COLUMNS:
        raise BundleError(
            f"{where} has {meta.num_rows:,} rows and {meta.num_columns:,} columns; finml "
            f"writes at most {rules.max_rows:,} rows and {MAX_TABLE_COLUMNS:,} columns."
        )
    try:
        frame = pd.read_parquet(io.BytesIO(data))
    except Exception as exc:
        raise BundleError(f"{where} is not a readable Parquet file.") from exc
    missing = [c for c in rules.required if c not in frame.columns]
    if missing:
        raise BundleError(f"{where} lacks the column(s) {', '.join(missing)}.")
    for column in frame.columns:
        _check_column(frame[column], str(column), where, rules)
    return frame


def _check_column(values: pd.Series, column: str, where: str, rules: TableRules) -> None:
    if not NAME.match(column) and not column.startswith("p_"):
        raise BundleError(f"{where}: the column {column[:60]!r} is not one finml writes.")
    kind = values.dtype.kind
    ints = (rules.ints or {}).get(column)
    texts = (rules.texts or {}).get(column)
    if kind in "iub":
        numbers = values.to_numpy()
    elif kind == "f":
        numbers = values.to_numpy()
        if np.isinf(numbers).any() or (not rules.nan_ok and np.isnan(numbers).any()):
            raise BundleError(f"{where}: the column {column!r} holds infinite or missing numbers.")
        present = numbers[~np.isnan(numbers)]
        if ints and not np.array_equal(present, np.round(present)):
            raise BundleError(f"{where}: the column {column!r} must hold whole numbers.")
    elif kind == "M":
        return
    elif kind in "OTU" or isinstance(values.dtype, pd.StringDtype):
        cells = values.dropna()
        if not cells.map(lambda v: isinstance(v, str)).all():
            raise BundleError(f"{where}: the column {column!r} mixes text with other values.")
        if len(cells) and int(cells.str.len().max()) > MAX_CELL_CHARS:
            raise BundleError(
                f"{where}: the column {column!r} has text over {MAX_CELL_CHARS:,} characters."
            )
        if texts and not set(cells.unique()) <= set(texts):
            odd = sorted(set(cells.unique()) - set(texts))
            raise BundleError(
                f"{where}: the column {column!r} holds {listing([o[:40] for o in odd], 3)}, "
                "which this run's model does not know."
            )
        if ints or column in rules.probabilities:
            raise BundleError(f"{where}: the column {column!r} must hold numbers.")
        return
    else:
        raise BundleError(f"{where}: the column {column!r} has a type finml never writes.")
    if ints:
        low, high = ints
        present = numbers[~np.isnan(numbers)] if kind == "f" else numbers
        if len(present) and (
            (low is not None and present.min() < low) or (high is not None and present.max() > high)
        ):
            raise BundleError(
                f"{where}: the column {column!r} has values from {present.min():,.0f} to "
                f"{present.max():,.0f}; this run allows {low} to "
                f"{'any' if high is None else high}."
            )
    if column in rules.probabilities and len(numbers) and (numbers.min() < 0 or numbers.max() > 1):
        raise BundleError(f"{where}: the column {column!r} holds probabilities outside [0, 1].")


#: Auto's decisions on its estimator that its record may hold (absent before them): key ->
#: the two ways compared (:func:`finml.tasks.forecast.resolve_log`,
#: :func:`~finml.tasks.forecast.resolve_strategy`,
#: :func:`~finml.tasks.forecast.resolve_seasonal_difference`).
_DECISIONS = {
    "log": {"series", "log"},
    "recursive": {"direct", "recursive"},
    "seasonal_difference": {"changes", "seasonal difference"},
}


def _decision_shape(raw, ways: set) -> bool:
    """One optional decision of Auto's record (:data:`_DECISIONS`): ``chosen``, a short
    ``rule`` and, when it was measured, the two ways' finite validation MASEs and the
    standard error of their difference."""
    measured = {"validation_mase", "standard_error"}
    if raw == {}:
        return True
    if not isinstance(raw, dict) or set(raw) - measured != {"chosen", "rule"}:
        return False
    if bool(measured & set(raw)) and not measured <= set(raw):
        return False
    mase = raw.get("validation_mase", dict.fromkeys(ways, 0.0))
    se = raw.get("standard_error", 0.0)
    return (
        isinstance(se, int | float)
        and not isinstance(se, bool)
        and 0 <= se < math.inf
        and isinstance(raw["chosen"], bool)
        and isinstance(raw["rule"], str)
        and len(raw["rule"]) <= MAX_CELL_CHARS
        and isinstance(mase, dict)
        and set(mase) == ways
        and all(
            isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
            for v in mase.values()
        )
    )


def _choice_shape(raw) -> bool:
    """Auto's record of its choice (:func:`finml.tasks.forecast.choose_members`)."""
    from finml.models.forecaster import MEMBERS

    def members(value) -> bool:
        return (
            isinstance(value, list)
            and 1 <= len(value) <= len(MEMBERS)
            and all(isinstance(m, str) and m in MEMBERS for m in value)
        )

    if not isinstance(raw, dict) or set(raw) - set(_DECISIONS) != {"rule", "chosen", "candidates"}:
        return False
    candidates = raw["candidates"]
    return (
        all(_decision_shape(raw.get(key, {}), ways) for key, ways in _DECISIONS.items())
        and isinstance(raw["rule"], str)
        and len(raw["rule"]) <= MAX_CELL_CHARS
        and members(raw["chosen"])
        and isinstance(candidates, list)
        and 1 <= len(candidates) <= 2 * len(MEMBERS)
        and all(
            isinstance(c, dict)
            and set(c) == {"members", "validation_mase", "chosen"}
            and members(c["members"])
            and isinstance(c["chosen"], bool)
            and isinstance(c["validation_mase"], int | float)
            and math.isfinite(c["validation_mase"])
            for c in candidates
        )
        and [c["members"] for c in candidates if c["chosen"]] == [raw["chosen"]]
    )


def check_json_member(data: bytes, member: str, name: str) -> None:
    """A JSON member beside the tables: ``tuning/best_params.json`` (name -> a number, a
    bool or short text), ``explain/shap.json`` (a finite base value, the explainer's
    name), ``split_report.json`` (rows of short text and numbers), ``forecast_choice.json``
    (Auto's candidates: known member names, a finite validation MASE, one chosen),
    ``documentation.json`` (the analyst's sections, :mod:`finml.reporting.documentation`).

    Raises:
        BundleError: too large, too deep, not JSON, or not of that shape.
    """
    where = f"{name}: {member}"
    raw = parse_json(data, where)

    def scalar(value) -> bool:
        if isinstance(value, str):
            return len(value) <= MAX_CELL_CHARS
        return (
            value is None
            or isinstance(value, bool | int)
            or (isinstance(value, float) and math.isfinite(value))
        )

    def flat(obj, most: int) -> bool:
        return (
            isinstance(obj, dict)
            and len(obj) <= most
            and all(isinstance(k, str) and len(k) <= 200 and scalar(v) for k, v in obj.items())
        )

    if member == "tuning/best_params.json":
        ok = flat(raw, 100) and all(NAME.match(k) for k in raw)
    elif member == "explain/shap.json":  # a multi-class run: a base value and name per class
        lists = {
            k: raw.pop(k)
            for k in ("base_value", "classes")
            if isinstance(raw, dict) and isinstance(raw.get(k), list)
        }
        ok = flat(raw, 10) and all(
            len(v) <= MAX_TABLE_COLUMNS and all(scalar(x) for x in v) for v in lists.values()
        )
        base = lists.get("base_value", [raw.get("base_value")])
        ok = ok and all(isinstance(b, int | float) and not isinstance(b, bool) for b in base)
        ok = ok and isinstance(raw.get("method"), str)
    elif member == "split_report.json":
        ok = isinstance(raw, list) and len(raw) <= 100 and all(flat(row, 50) for row in raw)
    elif member == "forecast_choice.json":
        ok = _choice_shape(raw)
    elif member == "documentation.json":
        from finml.reporting.documentation import check_documentation

        try:
            ok = bool(check_documentation(raw))
        except SpecError:
            ok = False
    else:
        ok = False
    if not ok:
        raise BundleError(f"{where} does not have the shape finml writes.")
