"""One formatter per kind of number, so that a page never shows ``2178.5186`` beside
``1737 – 2672`` or ``3.017e+06``:

- an **amount** in the target's units (a loan amount, a price; an error such as RMSE or
  MAE, a prediction, an interval bound): thousands separators, whole units from 100 up,
  then the ``unit`` where one is known (:func:`amount`);
- a **rate** (a share, a coverage, a nominal level, MAPE): a percentage (:func:`rate`);
- a **metric** without units (R², MASE, ROC-AUC, Gini, Brier): 3 decimals (:func:`metric`);
- a **count**: thousands separators (:func:`count`).

Tables for display are built from them (:func:`regression_metric_table`,
:func:`coverage_display`); the numbers themselves (CSV downloads, stored metrics) stay
unrounded.
"""

from __future__ import annotations

import math
import re

import numpy as np
import pandas as pd

#: Kinds of number.
AMOUNT, RATE, METRIC, COUNT = "amount", "rate", "metric", "count"

#: The kind of each regression metric key (:data:`finml.evaluation.regression
#: .REGRESSION_LABELS`): errors in the target's units (MSE in its square), percentages,
#: unitless ratios.
REGRESSION_KINDS = {
    "rmse": AMOUNT,
    "mse": AMOUNT,
    "mae": AMOUNT,
    "mape": RATE,
    "smape": RATE,
    "r2": METRIC,
    "mase": METRIC,
}
#: Regression metrics given in percent (100 = 100%), not as a share.
PERCENT_METRICS = frozenset({"mape", "smape"})

_MISSING = "–"


def _bad(x) -> bool:
    return x is None or not math.isfinite(float(x))


def amount_decimals(x: float) -> int:
    """Decimals of an amount: 0 from 100 up (2,179) and for 0, 2 from 1 (12.35), else 3
    significant digits (0.0123)."""
    a = abs(float(x))
    if a >= 100 or a == 0:
        return 0
    if a >= 1:
        return 2
    return max(2, 2 - math.floor(math.log10(a)))


def amount(x, unit: str = "", signed: bool = False) -> str:
    """An amount: ``2,179``, ``-758``, ``12.35``, with `` unit`` after it where given
    (``2,179 DM``); ``+`` before a positive one when ``signed`` (a difference). ``–`` for a
    missing or infinite value."""
    if _bad(x):
        return _MISSING
    text = f"{float(x):{'+' if signed else ''},.{amount_decimals(x)}f}"
    if text.lstrip("+-").strip("0.,") == "":  # -0 or +0 after rounding
        text = text.lstrip("+-")
    return f"{text} {unit}" if unit else text


def rate(x, decimals: int = 1) -> str:
    """A share as a percentage: 0.905 -> ``90.5%``; whole levels without decimals
    (0.9 -> ``90%``) when ``decimals`` is 0."""
    if _bad(x):
        return _MISSING
    return f"{float(x):.{decimals}%}"


def metric(x, signed: bool = False, decimals: int = 3) -> str:
    """A unitless metric to 3 decimals (or ``decimals``): ``0.812``, ``-0.045``."""
    if _bad(x):
        return _MISSING
    return f"{float(x):{'+' if signed else ''}.{decimals}f}"


def count(x) -> str:
    """A count with thousands separators: ``1,234``."""
    return _MISSING if _bad(x) else f"{int(x):,}"


def number(x, kind: str, unit: str = "", signed: bool = False) -> str:
    """``x`` formatted by its ``kind`` (:data:`AMOUNT`, :data:`RATE`, :data:`METRIC` or
    :data:`COUNT`)."""
    if kind == AMOUNT:
        return amount(x, unit, signed)
    if kind == RATE:
        return rate(x)
    if kind == COUNT:
        return count(x)
    return metric(x, signed)


def regression_number(key: str, x, unit: str = "", signed: bool = False) -> str:
    """A regression metric (``rmse``, ``mape``, ``r2``, ...) by its kind: RMSE and MAE in
    the target's unit, MSE in its square, MAPE and sMAPE (given in percent) as
    percentages, R² and MASE to 3 decimals."""
    kind = REGRESSION_KINDS.get(key, METRIC)
    if key in PERCENT_METRICS and not _bad(x):
        x = float(x) / 100
    if key == "mse" and unit:
        unit = f"{unit}²"
    return number(x, kind, unit, signed)


def regression_metric_table(
    metrics: dict[str, float], cis: pd.DataFrame | None = None, unit: str = ""
) -> pd.DataFrame:
    """The regression metrics for display: ``metric``, ``value`` and ``95% CI`` as text,
    each by its kind (:func:`regression_number`), in :data:`finml.evaluation.regression
    .REGRESSION_LABELS` order.

    Args:
        metrics: metric key -> value (:func:`finml.evaluation.regression.regression_metrics`).
        cis: bootstrap intervals indexed by metric key with ``lower`` and ``upper``
            (:func:`finml.evaluation.regression.regression_cis`), or ``None``.
        unit: the target's unit (e.g. ``"DM"``), or "".
    """
    from finml.evaluation.regression import REGRESSION_LABELS

    keys = [k for k in REGRESSION_LABELS if k in metrics]
    table = pd.DataFrame(
        {
            "metric": [REGRESSION_LABELS[k].removesuffix(" (%)") for k in keys],
            "value": [regression_number(k, metrics[k], unit) for k in keys],
        }
    )
    if cis is not None:
        table["95% CI"] = [
            f"{regression_number(k, cis.loc[k, 'lower'])} – "
            f"{regression_number(k, cis.loc[k, 'upper'], unit)}"
            if k in cis.index
            else ""
            for k in keys
        ]
    return table


def coverage_display(coverage: pd.DataFrame, unit: str = "") -> pd.DataFrame:
    """The prediction intervals' coverage table for display: ``nominal`` and ``covered
    (test)`` as percentages, ``half-width`` as an amount.

    Args:
        coverage: :func:`finml.evaluation.regression.coverage_table` (``nominal``,
            ``half-width``, ``covered``; shares and target units).
        unit: the target's unit, or "".
    """
    return pd.DataFrame(
        {
            "nominal": [rate(v, 0) for v in coverage["nominal"]],
            "half-width": [amount(v, unit) for v in coverage["half-width"]],
            "covered (test)": [rate(v) for v in coverage["covered"]],
        }
    )


def round_amounts(values, reference=None) -> np.ndarray:
    """Amounts rounded for display to the decimals of :func:`amount_decimals` of a typical
    value (the median magnitude of ``reference``, default ``values``), so that a column of
    them shows one precision; float (n,), NaN kept.

    Args:
        values: the amounts, float (n,).
        reference: values whose typical magnitude sets the decimals, or ``None``.
    """
    values = np.asarray(values, dtype=np.float64)
    ref = np.abs(np.asarray(values if reference is None else reference, dtype=np.float64))
    ref = ref[np.isfinite(ref) & (ref > 0)]
    typical = float(np.median(ref)) if len(ref) else 1.0
    return np.round(values, amount_decimals(typical))


def metric_text(key: str, value, unit: str = "") -> str:
    """A stored metric (``test_rmse``, ``val_roc_auc``, ``cv_r2_mean``, ...) by its kind:
    the regression errors and MSE as amounts, MAPE as a percentage
    (:func:`regression_number`), every other metric to 3 decimals."""
    name = key
    for prefix in ("test_", "val_", "cv_", "fold_"):
        name = name.removeprefix(prefix)
    name = name.removesuffix("_mean").removesuffix("_sd")
    if name in REGRESSION_KINDS:
        return regression_number(name, value, unit)
    return metric(value)


#: Column headers of the forecasting tables in the field's words.
FORECAST_HEADERS = {
    "mase": "MASE",
    "naive_mase": "naive MASE",
    "mae": "MAE",
    "rmse": "RMSE",
    "y_pred": "forecast",
    "y_true": "actual",
    "date": "period",
}


def forecast_table(
    table: pd.DataFrame, freq: str = "", decimals: int | None = None
) -> pd.DataFrame:
    """A forecasting table (by step, by entity, backtest folds) as shown on Evaluate and in
    the report: numbers rounded to ``decimals`` (``None``: as they are), headers in the
    field's words (:data:`FORECAST_HEADERS`) and dates (``date``, ``from``, ``to``) as the
    periods they stand for (``2009 Q4``, :func:`finml.data.series.period_labels`), by the series'
    frequency ``freq`` (a pandas alias; inferred from the dates when "")."""
    from finml.data.series import infer_frequency, period_labels

    shown = table.copy() if decimals is None else table.round(decimals)
    for col in ("date", "from", "to"):
        if col in shown:
            dates = pd.to_datetime(shown[col])
            shown[col] = period_labels(dates, freq or infer_frequency(dates))
    return shown.rename(columns=FORECAST_HEADERS)


#: The cells of a 2 x 2 confusion matrix ``[[TN, FP], [FN, TP]]`` by the field's names.
CELL_NAMES = (("TN", "FP"), ("FN", "TP"))
#: A ``|`` not already escaped, i.e. after an even number of backslashes (it would end a
#: Markdown table's cell).
_BARE_PIPE = re.compile(r"(?<!\\)((?:\\\\)*)\|")


def confusion_table(cm: np.ndarray, labels) -> pd.DataFrame:
    """A confusion matrix as a table to read: rows the true class, columns the predicted
    one, each cell its name (TN, FP, FN, TP for two classes), count and row rate, e.g.
    ``"TN 412 · 88.2%"`` (a row without cases has no rate).

    Args:
        cm: int array of shape (k, k), rows true and columns predicted, as
            :func:`finml.evaluation.metrics.confusion` (``[[TN, FP], [FN, TP]]``).
        labels: the k class names as they are to be shown (escaped by the caller for an
            element that renders Markdown).

    Returns:
        DataFrame of str (k, k), index ``true <label>``, columns ``predicted <label>``.
    """
    cm = np.asarray(cm, dtype=np.int64)
    rates = row_rates(cm)
    k = len(cm)

    def cell(i: int, j: int) -> str:
        parts = [CELL_NAMES[i][j]] if k == 2 else []
        parts.append(count(cm[i, j]))
        if np.isfinite(rates[i, j]):
            parts.append(f"· {rate(rates[i, j])}")
        return " ".join(parts)

    return pd.DataFrame(
        [[cell(i, j) for j in range(k)] for i in range(k)],
        index=[f"true {label}" for label in labels],
        columns=[f"predicted {label}" for label in labels],
    )


def row_rates(cm: np.ndarray) -> np.ndarray:
    """Each cell's share of its row (of the cases of that true class), float64 (k, k);
    ``NaN`` in a row without cases."""
    cm = np.asarray(cm, dtype=np.float64)
    totals = cm.sum(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(totals > 0, cm / totals, np.nan)


def markdown_table(frame: pd.DataFrame, index: bool = True) -> str:
    """A small table as GitHub-flavoured Markdown, for an element the browser draws at
    once: Streamlit's ``st.table`` loads a script of its own on a page's first visit,
    and on Evaluate it came after plotly's (bench/bench_startup.py), while Markdown is
    drawn by the page's own.

    Cells are written as ``str`` of their values, with line breaks turned into spaces
    and a ``|`` not already escaped escaped; any other Markdown in them stays Markdown,
    so untrusted text (class names, column names) must be escaped by the caller first.

    Args:
        frame: the table, at most a few dozen rows (every cell is text).
        index: write the index as the first column (headed by its name, or blank).
    """

    def cell(value) -> str:
        text = " ".join(str(value).splitlines())
        return _BARE_PIPE.sub(r"\1\\|", text)

    table = frame.reset_index() if index else frame
    if index and frame.index.name is None:
        table = table.rename(columns={table.columns[0]: ""})
    head = [cell(c) for c in table.columns]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in table.itertuples(False)]
    return "\n".join(lines)
