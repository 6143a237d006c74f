"""Regression metrics, their bootstrap intervals, split-conformal prediction intervals and
the data behind the regression charts, all from stored predictions (nothing retrains).

Conventions: ``y_true`` and ``y_pred`` are float arrays of shape (n,) in the target's own
units; a residual is ``y_true - y_pred``.

Formulas: MSE, RMSE, MAE, R² and MAPE as ``sklearn.metrics`` computes them; sMAPE as in the
M4 competition (Makridakis et al., Int. J. Forecasting 36, 2020): the mean of
``2 |y - ŷ| / (|y| + |ŷ|)``, in percent; MASE (Hyndman & Koehler, Int. J. Forecasting 22,
2006): the MAE divided by the in-sample MAE of the naive forecast.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

#: Display names of the regression metrics, in table order.
REGRESSION_LABELS = {
    "rmse": "RMSE",
    "mse": "MSE",
    "mae": "MAE",
    "mape": "MAPE (%)",
    "smape": "sMAPE (%)",
    "r2": "R²",
    "mase": "MASE",
}

#: MAPE is refused when more than this share of the actual values are near zero.
NEAR_ZERO_SHARE = 0.01

#: Nominal levels of the prediction intervals a regression model carries.
INTERVAL_LEVELS = (0.8, 0.9, 0.95)


def near_zero(y_true: np.ndarray) -> np.ndarray:
    """Which actual values are too close to zero for a percentage error: ``|y|`` below
    1e-3 of the median ``|y|`` (or exactly 0). Bool array of shape (n,)."""
    a = np.abs(np.asarray(y_true, dtype=np.float64))
    scale = float(np.median(a)) if len(a) else 0.0
    return a <= 1e-3 * scale


def mape_note(y_true: np.ndarray) -> str:
    """Why MAPE is not shown for these actual values, or ``""`` when it is.

    MAPE divides by the actual value, so values near zero make it explode (Hyndman &
    Koehler 2006, section 3.2).
    """
    share = float(near_zero(y_true).mean()) if len(y_true) else 0.0
    if share > NEAR_ZERO_SHARE:
        return (
            f"MAPE is not shown: {share:.1%} of the actual values are zero or near zero, and "
            "a percentage error divides by them. Read MAE, sMAPE or MASE instead."
        )
    return ""


def regression_statistics(y_true, y_pred, naive_mae: float | None = None, axis: int = -1):
    """Every metric of :data:`REGRESSION_LABELS`, vectorised over resamples.

    Args:
        y_true: actual values, shape (..., n) along ``axis``.
        y_pred: predictions, same shape.
        naive_mae: the naive forecast's in-sample MAE (MASE's scale), or ``None`` (MASE NaN);
            or one scale per case, same shape as ``y_true`` (a panel: each entity's own
            scale, so MASE is the mean of the entities' MASEs when each has as many cases).
        axis: the axis of the cases.

    Returns:
        float array of shape (len(REGRESSION_LABELS), ...); MAPE is NaN where
        :func:`mape_note` refuses it.
    """
    y = np.moveaxis(np.asarray(y_true, dtype=np.float64), axis, -1)
    p = np.moveaxis(np.asarray(y_pred, dtype=np.float64), axis, -1)
    err = y - p
    mse = np.mean(err**2, axis=-1)
    mae = np.mean(np.abs(err), axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        ape = np.abs(err) / np.abs(y)
        mape = 100 * np.mean(ape, axis=-1)
        denom = np.abs(y) + np.abs(p)
        smape = 100 * np.mean(np.where(denom > 0, 2 * np.abs(err) / denom, 0.0), axis=-1)
        ss_tot = np.sum((y - y.mean(axis=-1, keepdims=True)) ** 2, axis=-1)
        r2 = 1 - np.sum(err**2, axis=-1) / ss_tot
    if mape_note(np.asarray(y_true).ravel()):
        mape = np.full_like(mse, np.nan)
    if np.ndim(naive_mae):
        s = np.moveaxis(np.asarray(naive_mae, dtype=np.float64), axis, -1)
        mase = np.mean(np.abs(err) / s, axis=-1)
    else:
        mase = mae / naive_mae if naive_mae else np.full_like(mae, np.nan)
    values = {"rmse": np.sqrt(mse), "mse": mse, "mae": mae, "mape": mape}
    values |= {"smape": smape, "r2": r2, "mase": mase}
    return np.stack([np.broadcast_to(values[m], mse.shape) for m in REGRESSION_LABELS])


def regression_metrics(
    y_true: np.ndarray, y_pred: np.ndarray, naive_mae: float | np.ndarray | None = None
) -> dict[str, float]:
    """The regression metrics of :data:`REGRESSION_LABELS` on one set of predictions.

    Args:
        y_true: actual values, float (n,), n >= 2.
        y_pred: predictions, float (n,).
        naive_mae: MASE's scale (:func:`naive_mae`), one per case (float (n,)), or ``None``
            to leave MASE out.

    Returns:
        metric key -> value; ``mape`` is left out where :func:`mape_note` refuses it.

    Raises:
        ValueError: arrays of different lengths or fewer than two cases.
    """
    y, p = np.asarray(y_true, dtype=np.float64), np.asarray(y_pred, dtype=np.float64)
    if y.shape != p.shape or y.ndim != 1 or len(y) < 2:
        raise ValueError("Regression metrics need two equal-length 1-D arrays of 2+ values.")
    values = regression_statistics(y, p, naive_mae)
    out = {k: float(v) for k, v in zip(REGRESSION_LABELS, values, strict=True)}
    return {k: v for k, v in out.items() if np.isfinite(v)}


def naive_mae(y_train: np.ndarray, lag: int = 1) -> float:
    """In-sample MAE of the naive forecast ``y[t - lag]`` on the training values in time
    order (``lag`` = the season length gives the seasonal naive scale): MASE's denominator.

    Args:
        y_train: training values in time order, float (n,), n > lag.
        lag: the naive forecast's lag, >= 1.

    Raises:
        ValueError: too few values for the lag.
    """
    y = np.asarray(y_train, dtype=np.float64)
    if len(y) <= lag:
        raise ValueError(f"The naive scale needs more than {lag} training values.")
    return float(np.mean(np.abs(y[lag:] - y[:-lag])))


def mase_scale(run_metrics: dict[str, float]) -> float | None:
    """MASE's scale of a finished run, from its logged test metrics (MAE / MASE), or
    ``None`` when the run has no MASE (no time order)."""
    mase = run_metrics.get("test_mase")
    return run_metrics["test_mae"] / mase if mase else None


def regression_cis(
    y_true: np.ndarray,
    y_pred: np.ndarray,
    naive_mae_: float | np.ndarray | None = None,
    n_resamples: int | None = None,
    seed: int | None = None,
) -> pd.DataFrame:
    """Bootstrap 95% intervals of the regression metrics (``scipy.stats.bootstrap``, cases
    resampled in pairs, percentile intervals; the same resamples and level as the binary
    metrics' intervals, :mod:`finml.evaluation.bootstrap`).

    Args:
        y_true: actual values, float (n,), n >= 2.
        y_pred: predictions, float (n,).
        naive_mae_: MASE's scale, one per case (resampled with its case), or ``None``.
        n_resamples: resamples (default ``bootstrap.N_RESAMPLES``).
        seed: random seed (default ``bootstrap.SEED``).

    Returns:
        DataFrame indexed by metric key with ``value``, ``lower``, ``upper``; the metrics
        :func:`regression_metrics` leaves out are absent.
    """
    from scipy.stats import bootstrap

    from finml.evaluation import bootstrap as bs

    y, p = np.asarray(y_true, dtype=np.float64), np.asarray(y_pred, dtype=np.float64)
    point = regression_metrics(y, p, naive_mae_)

    per_case = bool(np.ndim(naive_mae_))
    data = (y, p, np.asarray(naive_mae_, dtype=np.float64)) if per_case else (y, p)

    def statistic(a, b, *s, axis=-1):
        return regression_statistics(a, b, s[0] if per_case else naive_mae_, axis)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a metric left out (NaN) is dropped below
        res = bootstrap(
            data,
            statistic,
            paired=True,
            vectorized=True,
            n_resamples=n_resamples or bs.N_RESAMPLES,
            confidence_level=bs.LEVEL,
            method="percentile",
            random_state=np.random.default_rng(bs.SEED if seed is None else seed),
        )
    keys = list(REGRESSION_LABELS)
    table = pd.DataFrame(
        {
            "value": [point.get(k, np.nan) for k in keys],
            "lower": np.asarray(res.confidence_interval.low, dtype=float),
            "upper": np.asarray(res.confidence_interval.high, dtype=float),
        },
        index=pd.Index(keys, name="metric"),
    )
    return table.loc[[k for k in keys if k in point]]


def conformal_half_widths(model, x_cal: pd.DataFrame, y_cal: np.ndarray) -> dict[str, float]:
    """Split-conformal half-widths of the prediction intervals at :data:`INTERVAL_LEVELS`,
    calibrated on held-out rows with MAPIE (``mapie.regression.SplitConformalRegressor``,
    absolute-residual conformity score, ``prefit=True``; Lei et al., "Distribution-free
    predictive inference for regression", JASA 2018).

    With the absolute-residual score the interval is ``prediction ± q``, the same width on
    every row, so the model keeps only ``q`` per level (plain numbers in its bundle).

    Args:
        model: a fitted regressor with ``predict`` (:class:`finml.models.pipeline
            .FittedRegressor`).
        x_cal: the calibration rows (the validation split), with the feature columns.
        y_cal: their actual values, float (n,), n >= 2.

    Returns:
        ``{"0.8": q, "0.9": q, "0.95": q}``, in the target's units.
    """
    from mapie.regression import SplitConformalRegressor

    mapie = SplitConformalRegressor(model, confidence_level=list(INTERVAL_LEVELS), prefit=True)
    mapie.conformalize(x_cal, np.asarray(y_cal, dtype=np.float64))
    _, bounds = mapie.predict_interval(x_cal.iloc[:1])
    half = (bounds[0, 1, :] - bounds[0, 0, :]) / 2  # (levels,)
    return {str(level): float(q) for level, q in zip(INTERVAL_LEVELS, half, strict=True)}


def conformal_quantiles(abs_errors: np.ndarray) -> dict[str, np.ndarray]:
    """Split-conformal half-widths from held-out absolute errors: for level 1 - a, the
    ceil((n + 1)(1 - a))-th smallest of the n errors (Lei et al., JASA 2018; the
    finite-sample quantile MAPIE uses), at each of :data:`INTERVAL_LEVELS`. Where a level
    needs more errors than there are (n < 1 / a - 1), the largest error is used and the
    interval may cover less than nominal.

    Args:
        abs_errors: absolute errors of held-out cases, float (n,) or (n, h) (one column per
            step ahead of a forecast), n >= 1.

    Returns:
        ``{"0.8": q, "0.9": q, "0.95": q}``: q of shape () or (h,).
    """
    errors = np.sort(np.asarray(abs_errors, dtype=np.float64), axis=0)
    n = len(errors)
    out = {}
    for level in INTERVAL_LEVELS:
        rank = min(int(np.ceil((n + 1) * level)), n)
        out[str(level)] = errors[rank - 1]
    return out


def interval_coverage(y_true, lower, upper) -> float:
    """Share of actual values inside ``[lower, upper]`` (the empirical coverage)."""
    y = np.asarray(y_true, dtype=np.float64)
    return float(np.mean((y >= np.asarray(lower)) & (y <= np.asarray(upper))))


def coverage_table(y_true: np.ndarray, y_pred: np.ndarray, half_widths: dict) -> pd.DataFrame:
    """Empirical coverage of each stored interval on the given (test) rows beside its
    nominal level.

    Returns:
        DataFrame with ``nominal``, ``half-width``, ``covered`` (share of rows inside).
    """
    rows = []
    for level, q in sorted(half_widths.items(), key=lambda kv: float(kv[0])):
        cov = interval_coverage(y_true, y_pred - q, y_pred + q)
        rows.append({"nominal": float(level), "half-width": float(q), "covered": cov})
    return pd.DataFrame(rows, columns=["nominal", "half-width", "covered"])


def error_by_decile(y_true: np.ndarray, y_pred: np.ndarray, n_bins: int = 10) -> pd.DataFrame:
    """MAE, bias and row count per decile of the prediction (ties share a bin).

    Returns:
        DataFrame with ``decile`` (1 = lowest predictions), ``predicted`` (mean), ``actual``
        (mean), ``mae``, ``bias`` (mean of actual - predicted) and ``rows``.
    """
    y, p = np.asarray(y_true, dtype=np.float64), np.asarray(y_pred, dtype=np.float64)
    bins = pd.qcut(pd.Series(p).rank(method="first"), min(n_bins, len(p)), labels=False)
    frame = pd.DataFrame({"decile": bins + 1, "predicted": p, "actual": y, "err": y - p})
    frame["abs"] = frame["err"].abs()
    out = frame.groupby("decile").agg(
        predicted=("predicted", "mean"),
        actual=("actual", "mean"),
        mae=("abs", "mean"),
        bias=("err", "mean"),
        rows=("err", "size"),
    )
    return out.reset_index()


def qq_points(residuals: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Normal QQ plot of the residuals (``scipy.stats.probplot``): theoretical quantiles and
    the sorted standardised residuals, float arrays of shape (n,)."""
    from scipy.stats import probplot

    r = np.asarray(residuals, dtype=np.float64)
    sd = r.std(ddof=1) if len(r) > 1 else 1.0
    (theoretical, ordered), _ = probplot((r - r.mean()) / (sd or 1.0), dist="norm")
    return theoretical, ordered


def largest_errors(
    predictions: pd.DataFrame, frame: pd.DataFrame, n: int = 20, columns: list[str] | None = None
) -> pd.DataFrame:
    """The rows with the largest absolute errors joined with their input columns.

    Args:
        predictions: ``row`` (position in ``frame``), ``y_true``, ``y_pred``.
        frame: the table the run was trained on.
        n: rows to return.
        columns: input columns to show (default: all).

    Returns:
        DataFrame with ``row``, ``actual``, ``predicted``, ``error`` and the input columns,
        largest absolute error first.
    """
    err = predictions["y_true"] - predictions["y_pred"]
    top = predictions.assign(error=err).reindex(err.abs().sort_values(ascending=False).index)
    top = top.head(n)
    inputs = frame.iloc[top["row"].to_numpy()]
    if columns is not None:
        inputs = inputs[[c for c in columns if c in inputs.columns]]
    head = pd.DataFrame(
        {
            "row": top["row"].to_numpy(),
            "actual": top["y_true"].to_numpy(),
            "predicted": top["y_pred"].to_numpy(),
            "error": top["error"].to_numpy(),
        }
    )
    return pd.concat([head, inputs.reset_index(drop=True)], axis=1)
