"""Fit a forecasting run: check the series, split it in time order with gaps, fit the
windows' standardisation and the model on the training origins only, report live loss,
validation loss and validation RMSE, calibrate per-step split-conformal intervals on the
validation origins, and score the model and the baselines (naive, seasonal naive, ETS) once
on the test origins, with MASE scaled by the naive forecast's in-sample MAE."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from finml.data.series import (
    SeriesSpec,
    chronological_split,
    load_series,
    naive_scales,
    segment_report,
    windows,
)
from finml.data.split import Split
from finml.errors import SpecError, SplitError
from finml.evaluation.regression import INTERVAL_LEVELS, regression_metrics
from finml.models.forecaster import (
    FittedForecaster,
    build_sequence_net,
    ets_forecasts,
    naive_forecasts,
    seasonal_naive_forecasts,
)
from finml.models.registry import get_model, resolve_params
from finml.training.base import PROGRESS_EVERY_S, SampledSink, Sink, TrainResult, never_stop
from finml.training.spec import RunSpec

#: The baselines every forecasting run is scored against, in display order.
BASELINES = ("naive", "seasonal_naive", "ets")

#: Fewest origins the first backtest fold trains on.
MIN_FOLD_ORIGINS = 20

#: The Keras architecture of each sequence model.
_NETS = {"mlp_lags": "mlp", "cnn_seq": "cnn", "lstm_seq": "lstm", "gru_seq": "gru"}


def run_forecast(
    spec: RunSpec,
    frame: pd.DataFrame,
    sink: Sink,
    should_stop: Callable[[], bool] = never_stop,
    *,
    progress_every_s: float = PROGRESS_EVERY_S,
) -> TrainResult:
    """Train the forecasting ``spec`` on ``frame`` and score it once on the test origins.

    Args:
        spec: the run spec: ``dataset.task == "forecast"``, ``dataset.split.time_col`` the
            date column, ``dataset.horizon`` the steps ahead, ``dataset.split.val`` /
            ``.test`` the shares of periods, ``dataset.entity_col`` (a panel: one global
            model over every entity's windows, each entity's changes in units of its own
            training naive MAE) and ``dataset.exog``; a forecasting model with its ``lags``.
        frame: the table, one row per period (per entity and period for a panel).
        sink: receives ``loss`` / ``val_loss`` (standardised changes) and ``val_rmse``
            (target units, over every step ahead) per epoch or per fitted step.
        should_stop: checked after every batch (networks) or fitted step (boosting).
        progress_every_s: seconds between two progress calls.

    Returns:
        TrainResult: ``val_predictions`` / ``test_predictions`` in long form
        (:func:`forecast_table`, and one column per baseline); ``test_metrics`` of the
        model (:func:`finml.evaluation.regression.regression_metrics`, with MASE: for a
        panel the mean of the entities' MASEs) and ``<baseline>_mase`` / ``<baseline>_rmse``
        for each baseline; the model's ``intervals`` hold per-step conformal half-widths in
        units of the entity scale.

    Raises:
        TargetError: the target cannot be forecast (text, inf, constant, horizon < 1).
        SplitError: bad dates (unparseable, duplicate within an entity, irregular), an
            unbalanced panel, a horizon longer than the test window, or too short a series.
        DataError: an exogenous column that is not a finite number on every row.
        SpecError: not a forecasting model, or rolling features asked of a sequence model.
    """
    ds = spec.dataset
    info = get_model(spec.model)
    if info.task != "forecast":
        raise SpecError(f"{info.label} is not a forecasting model; choose one that is.")
    params = resolve_params(spec.model, spec.params)
    p, h = int(params["lags"]), int(ds.horizon)
    if params.get("rolling") and spec.model in _NETS and _NETS[spec.model] != "mlp":
        raise SpecError("Rolling-window features are for the models on lags, not sequences.")
    sspec = SeriesSpec(ds.split.time_col or "", ds.target, h, p, 0, ds.entity_col, ds.exog)
    series = load_series(frame, sspec)
    y = series.values
    seg = chronological_split(series.n, h, p, ds.split.val, ds.split.test, len(series.entities))
    train_o = seg.origins("train")
    train_o = train_o[train_o >= p]
    val_o, test_o = seg.origins("val"), seg.origins("test")
    result = TrainResult(
        status="finished", steps=0, split=_rows(seg), split_report=segment_report(seg, series)
    )
    if should_stop():
        result.status = "stopped"
        return result
    if spec.cv_folds:
        result.cv = backtest(spec, params, series, seg, sink, should_stop)
        if result.cv.stopped:
            result.status = "stopped"
            return result
    sampled = SampledSink(sink, progress_every_s)
    model, steps, stopped = fit_forecaster(
        spec, params, series, train_o, val_o, sampled, should_stop
    )
    sampled.flush()
    result.steps, result.status = steps, "stopped" if stopped else "finished"
    if model is None:
        return result
    ex = series.exog
    val_pred = model.predict_origins(y, val_o, ex)
    scales = np.asarray(model.entity_scales)
    model.set_params(intervals=conformal_per_step(y, val_o, val_pred, scales))
    result.model = model
    result.val_predictions = forecast_table(series, val_o, val_pred, h, scales)
    # The test origins are scored here, once, after training is over.
    test_pred = model.predict_origins(y, test_o, ex)
    table = forecast_table(series, test_o, test_pred, h, scales)
    table["naive"] = naive_forecasts(y, test_o, h).ravel()
    table["seasonal_naive"] = seasonal_naive_forecasts(y, test_o, h, series.season).ravel()
    table["ets"] = ets_forecasts(y, test_o, h, seg.train[1]).ravel()
    result.test_predictions = table
    result.test_metrics = scored(table)
    return result


def scored(table: pd.DataFrame) -> dict[str, float]:
    """The model's metrics on long-form forecasts (MASE with each row's ``scale``), and
    ``<baseline>_mase`` / ``<baseline>_rmse`` for each baseline column present."""
    actual, scale = table["y_true"].to_numpy(), table["scale"].to_numpy()
    metrics = regression_metrics(actual, table["y_pred"].to_numpy(), scale)
    for name in BASELINES:
        if name in table:
            base = regression_metrics(actual, table[name].to_numpy(), scale)
            metrics |= {f"{name}_mase": base["mase"], f"{name}_rmse": base["rmse"]}
    return metrics


def fit_forecaster(spec, params, series, train_o, val_o, sink, should_stop):
    """Fit the entities' scales on the training periods (each entity's naive one-step MAE
    up to the last training target), the windows' standardisation on the training origins
    and the model on their windows, with early stopping (networks) on the validation
    origins.

    Returns:
        (the :class:`FittedForecaster` or ``None`` if stopped before any step, steps done,
        stopped).
    """
    y, p, h = series.values, int(params["lags"]), int(spec.dataset.horizon)
    scales = naive_scales(y, int(train_o[-1]) + h + 1)
    rolling = bool(params.get("rolling", False))
    kw = {"scales": scales, "exog": series.exog, "rolling": rolling}
    x_tr, t_tr = windows(y, train_o, p, h, **kw)
    x_va, t_va = windows(y, val_o, p, h, **kw)
    model = FittedForecaster(
        lags=p,
        horizon=h,
        x_mean=x_tr.mean(axis=0).tolist(),
        x_scale=_scale(x_tr.std(axis=0)).tolist(),
        t_mean=t_tr.mean(axis=0).tolist(),
        t_scale=_scale(t_tr.std(axis=0)).tolist(),
        season=series.season,
        freq=series.freq,
        exog=list(series.exog_names),
        rolling=rolling,
        entities=list(series.entities),
        entity_scales=scales.tolist(),
    )
    z_tr, z_va = model.encode(x_tr), model.encode(x_va)
    zt_tr, zt_va = _standard(model, t_tr), _standard(model, t_va)
    row_scale = np.repeat(scales, len(val_o))[:, None]  # validation RMSE in target units

    def decode(z):
        return model.decode(z) * row_scale

    fit = {"hgb_lags": _fit_hgb, "ridge_lags": _fit_ridge}.get(spec.model, _fit_net)
    val = (z_va, zt_va, t_va * row_scale, decode)
    estimator, steps, stopped = fit(params, spec, model, (z_tr, zt_tr), val, sink, should_stop)
    if estimator is None:
        return None, steps, True
    return model.set_params(estimator=estimator), steps, stopped


@dataclass
class Backtest:
    """A rolling-origin backtest: ``folds`` has one row per fold (``fold``, ``origins``,
    ``from`` / ``to`` dates of its targets, ``mase``, ``rmse``, ``mae``, ``naive_mase``);
    ``forecasts`` the folds' forecasts in the long form of :func:`forecast_table` with a
    ``fold`` column; ``stopped`` when a stop request ended it."""

    folds: pd.DataFrame
    stopped: bool = False
    forecasts: pd.DataFrame = field(default_factory=pd.DataFrame)

    def summary(self) -> dict[str, float]:
        """``cv_<metric>_mean`` and ``cv_<metric>_sd`` over the folds."""
        from finml.evaluation.metrics import mean_sd

        out = {}
        for key in ("mase", "rmse", "mae", "naive_mase"):
            if key in self.folds and len(self.folds):
                out[f"cv_{key}_mean"], out[f"cv_{key}_sd"] = mean_sd(self.folds[key])
        return out


def backtest(spec, params, series, seg, sink, should_stop) -> Backtest:
    """Rolling-origin backtesting with an expanding window over the training and validation
    periods (the test periods stay out): their origins are cut into ``spec.cv_folds + 1``
    consecutive blocks; fold i is refitted from scratch (standardisation and model) on the
    origins before block i, less the last h (so no training target is a fold target), with
    the last 15% of those (after a gap of h) for early stopping, and scored on block i.

    Each fold reports ``on_fold(i, k, metrics)`` to the sink when it has one.

    Raises:
        SplitError: too few origins for that many folds.
    """
    y, p, h, k = series.values, int(params["lags"]), int(spec.dataset.horizon), int(spec.cv_folds)
    origins = np.arange(p, seg.val[1] - h, dtype=np.int64)
    blocks = np.array_split(origins, k + 1)
    if min(len(b) for b in blocks[1:]) < 1 or len(blocks[0]) < MIN_FOLD_ORIGINS:
        raise SplitError(
            f"{k} backtest folds need more than {len(origins)} forecast origins before the "
            "test window; use fewer folds or a longer series."
        )
    rows, tables, stopped = [], [], False
    for i in range(1, k + 1):
        block = blocks[i]
        past = origins[origins <= block[0] - h]
        n_inner = max(h, round(0.15 * len(past)))
        inner_val = past[-n_inner:]
        inner_train = past[past <= inner_val[0] - h]
        model, _, stopped = fit_forecaster(
            spec, params, series, inner_train, inner_val, _Quiet(), should_stop
        )
        if stopped or model is None:
            return Backtest(pd.DataFrame(rows), stopped=True)
        scale = naive_scales(y, block[0] + 1)  # MASE's scale from the fold's own past
        pred = model.predict_origins(y, block, series.exog)
        table = forecast_table(series, block, pred, h, scale)
        table["naive"] = naive_forecasts(y, block, h).ravel()
        m = scored(table)
        row = {
            "fold": i,
            "origins": len(block),
            "from": str(series.dates[block[0] + 1].date()),
            "to": str(series.dates[block[-1] + h].date()),
            "mase": m["mase"],
            "rmse": m["rmse"],
            "mae": m["mae"],
            "naive_mase": m["naive_mase"],
        }
        rows.append(row)
        tables.append(table.drop(columns="naive").assign(fold=i))
        if hasattr(sink, "on_fold"):
            sink.on_fold(i, k, {key: row[key] for key in ("mase", "rmse", "mae", "naive_mase")})
    return Backtest(pd.DataFrame(rows), forecasts=pd.concat(tables, ignore_index=True))


class _Quiet:
    """A sink that drops the per-epoch progress of the backtest's refits (the folds report
    through ``on_fold``)."""

    def on_step(self, step, total, metrics) -> None:
        """Drop it."""


def conformal_per_step(
    y: np.ndarray, origins: np.ndarray, pred: np.ndarray, scales=None
) -> dict[str, list[float]]:
    """Split-conformal half-widths of each step ahead, from the validation origins'
    absolute errors: for level 1 - a, the ceil((n + 1)(1 - a))-th smallest of the n errors
    of that step (Lei et al., JASA 2018; the finite-sample quantile MAPIE uses). MAPIE's
    ``SplitConformalRegressor`` calibrates a single-output estimator, so the h steps of a
    forecast are calibrated here one by one with the same rule.

    Args:
        y: the series, float64 (n,), or a panel (E, n).
        origins: the validation origins, int (m,).
        pred: their forecasts, float64 (E * m, h), entity-major.
        scales: each entity's scale, float (E,): errors are pooled over the entities in
            these units (default 1: the target's units).

    Returns:
        ``{"0.8": [q_1..q_h], "0.9": [...], "0.95": [...]}``, in units of the entity
        scale (half-width for entity e: q * scale_e). Where a level needs more
        validation errors than there are (n < 1 / a - 1), the largest error is used and the
        interval may cover less than nominal.
    """
    y = np.atleast_2d(np.asarray(y, dtype=np.float64))
    h = pred.shape[1]
    s = np.ones(len(y)) if scales is None else np.asarray(scales, dtype=np.float64)
    ahead = np.asarray(origins)[:, None] + np.arange(1, h + 1)[None, :]
    actual = y[:, ahead].reshape(-1, h)
    per_row = np.repeat(s, len(origins))[:, None]
    errors = np.sort(np.abs(actual - pred) / per_row, axis=0)
    n = len(errors)
    out = {}
    for level in INTERVAL_LEVELS:
        rank = min(int(np.ceil((n + 1) * level)), n)
        q = errors[rank - 1]
        out[str(level)] = [float(v) for v in q]
    return out


def forecast_table(
    series, origins: np.ndarray, pred: np.ndarray, h: int, scales=None
) -> pd.DataFrame:
    """Forecasts in long form: one row per (entity, origin, step), entity-major, with
    ``entity`` (``""`` for one series), ``origin``, ``origin_date``, ``step``, ``row`` (the
    target's position), ``date``, ``y_true`` (NaN beyond the series), ``y_pred`` and
    ``scale`` (the entity's scale: MASE's denominator, the intervals' unit)."""
    values = series.values
    e, n = values.shape
    origins = np.asarray(origins, dtype=np.int64)
    steps = np.tile(np.arange(1, h + 1), len(origins))
    origin = np.repeat(origins, h)
    rows = origin + steps
    inside = rows < n
    clipped = np.minimum(rows, n - 1)
    actual = np.where(inside[None, :], values[:, clipped], np.nan)
    s = np.ones(e) if scales is None else np.asarray(scales, dtype=np.float64)
    return pd.DataFrame(
        {
            "entity": np.repeat(np.asarray(series.entities, dtype=object), len(rows)),
            "origin": np.tile(origin, e),
            "origin_date": np.tile(series.dates[origin], e),
            "step": np.tile(steps, e),
            "row": np.tile(rows, e),
            "date": np.tile(series.dates[clipped], e),
            "y_true": actual.ravel(),
            "y_pred": np.asarray(pred, dtype=np.float64).ravel(),
            "scale": np.repeat(s, len(rows)),
        }
    )


def _scale(sd: np.ndarray) -> np.ndarray:
    return np.where(sd > 0, sd, 1.0)


def _standard(model: FittedForecaster, t: np.ndarray) -> np.ndarray:
    return ((t - np.asarray(model.t_mean)) / np.asarray(model.t_scale)).astype(np.float32)


def _rows(seg) -> Split:
    """The periods of each segment as a :class:`Split` (the gaps belong to none)."""
    return Split(*(np.arange(*getattr(seg, p), dtype=np.int64) for p in ("train", "val", "test")))


def _val_rmse(decode, zt_pred, t_va) -> float:
    return float(np.sqrt(np.mean((decode(zt_pred) - t_va) ** 2)))


def _fit_ridge(params, spec, model, train, val, sink, should_stop):
    from sklearn.linear_model import Ridge

    (z_tr, zt_tr), (z_va, zt_va, t_va, decode) = train, val
    est = Ridge(alpha=params["alpha"]).fit(z_tr, zt_tr)
    pred_va = est.predict(z_va)
    metrics = {
        "loss": float(np.mean((est.predict(z_tr) - zt_tr) ** 2)),
        "val_loss": float(np.mean((pred_va - zt_va) ** 2)),
        "val_rmse": _val_rmse(decode, pred_va, t_va),
    }
    sink.on_step(1, 1, metrics)
    return est, 1, False


def _fit_hgb(params, spec, model, train, val, sink, should_stop):
    """One boosted model per step ahead; progress after each (the step is the unit)."""
    from finml.models.tabular import build_regressor

    (z_tr, zt_tr), (z_va, zt_va, t_va, decode) = train, val
    h, models = zt_tr.shape[1], []
    leaf = min(params["min_samples_leaf"], max(1, len(z_tr) // 4))  # a short series
    for k in range(h):
        est = build_regressor("hgb_reg", {**params, "min_samples_leaf": leaf}, seed=spec.seed)
        models.append(est.fit(z_tr, zt_tr[:, k]))
        done = np.column_stack([m.predict(z_va) for m in models])
        loss = float(
            np.mean((np.column_stack([m.predict(z_tr) for m in models]) - zt_tr[:, : k + 1]) ** 2)
        )
        sink.on_step(
            k + 1, h, {"loss": loss, "val_loss": float(np.mean((done - zt_va[:, : k + 1]) ** 2))}
        )
        if should_stop() and k + 1 < h:
            return None, k + 1, True  # a forecaster needs every step ahead
    full = np.column_stack([m.predict(z_va) for m in models])
    sink.on_step(h, h, {"val_rmse": _val_rmse(decode, full, t_va)})
    return models, h, False


def _fit_net(params, spec, model, train, val, sink, should_stop):
    from finml.training.callbacks import ValidationRMSE, fit_with_progress

    (z_tr, zt_tr), (z_va, zt_va, t_va, decode) = train, val
    net = build_sequence_net(
        _NETS[spec.model],
        model.lags,
        model.horizon,
        params,
        seed=spec.seed,
        channels=1 + len(model.exog),
        extra=2 if model.rolling else 0,
    )
    rmse = ValidationRMSE(z_va, t_va, decode)
    epochs, stopped = fit_with_progress(
        net, z_tr, zt_tr, (z_va, zt_va), params, sink, should_stop, (rmse,)
    )
    return (None, 0, True) if epochs == 0 else (net, epochs, stopped)
