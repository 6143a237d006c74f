"""Fit a forecasting run: check the series, split it in time order with gaps, fit the
windows' standardisation and the model on the training origins only, report live loss,
validation loss and validation RMSE, calibrate per-step split-conformal intervals on the
validation origins, and score the model and the baselines (naive, seasonal naive, ETS) once
on the test origins, with MASE scaled by the naive forecast's in-sample MAE."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from finml.data.series import (
    SeriesSpec,
    chronological_split,
    load_series,
    segment_report,
    windows,
)
from finml.data.split import Split
from finml.errors import SpecError
from finml.evaluation.regression import INTERVAL_LEVELS, naive_mae, regression_metrics
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
            ``.test`` the shares of periods; a forecasting model with its ``lags``.
        frame: the table, one row per period.
        sink: receives ``loss`` / ``val_loss`` (standardised changes) and ``val_rmse``
            (target units, over every step ahead) per epoch or per fitted step.
        should_stop: checked after every batch (networks) or fitted step (boosting).
        progress_every_s: seconds between two progress calls.

    Returns:
        TrainResult: ``val_predictions`` / ``test_predictions`` in long form (``origin``,
        ``origin_date``, ``step``, ``row`` (the target's position), ``date``, ``y_true``,
        ``y_pred`` and one column per baseline); ``test_metrics`` of the model
        (:func:`finml.evaluation.regression.regression_metrics`, with MASE) and
        ``<baseline>_mase`` / ``<baseline>_rmse`` for each baseline; the model's
        ``intervals`` hold per-step conformal half-widths.

    Raises:
        TargetError: the target cannot be forecast (text, inf, constant, horizon < 1).
        SplitError: bad dates (unparseable, duplicate, irregular), a horizon longer than the
            test window, or too short a series.
        SpecError: not a forecasting model.
    """
    ds = spec.dataset
    info = get_model(spec.model)
    if info.task != "forecast":
        raise SpecError(f"{info.label} is not a forecasting model; choose one that is.")
    params = resolve_params(spec.model, spec.params)
    p, h = int(params["lags"]), int(ds.horizon)
    series = load_series(frame, SeriesSpec(ds.split.time_col or "", ds.target, h, p))
    y = series.y
    seg = chronological_split(len(y), h, p, ds.split.val, ds.split.test)
    train_o = seg.origins("train")
    train_o = train_o[train_o >= p]
    val_o, test_o = seg.origins("val"), seg.origins("test")
    x_tr, t_tr = windows(y, train_o, p, h)
    x_va, t_va = windows(y, val_o, p, h)
    model = FittedForecaster(
        lags=p,
        horizon=h,
        x_mean=x_tr.mean(axis=0).tolist(),
        x_scale=_scale(x_tr.std(axis=0)).tolist(),
        t_mean=t_tr.mean(axis=0).tolist(),
        t_scale=_scale(t_tr.std(axis=0)).tolist(),
        season=series.season,
        freq=series.freq,
    )
    result = TrainResult(
        status="finished", steps=0, split=_rows(seg), split_report=segment_report(seg, series)
    )
    if should_stop():
        result.status = "stopped"
        return result
    z_tr, z_va = model.encode(x_tr), model.encode(x_va)
    zt_tr, zt_va = _standard(model, t_tr), _standard(model, t_va)
    sampled = SampledSink(sink, progress_every_s)
    fit = (
        _fit_hgb
        if spec.model == "hgb_lags"
        else _fit_ridge
        if spec.model == "ridge_lags"
        else _fit_net
    )
    estimator, steps, stopped = fit(
        params, spec, model, (z_tr, zt_tr), (z_va, zt_va, t_va), sampled, should_stop
    )
    sampled.flush()
    result.steps, result.status = steps, "stopped" if stopped else "finished"
    if estimator is None:
        return result
    model.set_params(estimator=estimator)
    val_pred = model.predict_origins(y, val_o)
    model.set_params(intervals=conformal_per_step(y, val_o, val_pred))
    result.model = model
    result.val_predictions = forecast_table(series, val_o, val_pred, h)
    # The test origins are scored here, once, after training is over.
    test_pred = model.predict_origins(y, test_o)
    table = forecast_table(series, test_o, test_pred, h)
    train_end = seg.train[1]
    table["naive"] = naive_forecasts(y, test_o, h).ravel()
    table["seasonal_naive"] = seasonal_naive_forecasts(y, test_o, h, series.season).ravel()
    table["ets"] = ets_forecasts(y, test_o, h, train_end).ravel()
    result.test_predictions = table
    scale = naive_mae(y[:train_end])
    metrics = regression_metrics(table["y_true"].to_numpy(), table["y_pred"].to_numpy(), scale)
    for name in BASELINES:
        base = regression_metrics(table["y_true"].to_numpy(), table[name].to_numpy(), scale)
        metrics |= {f"{name}_mase": base["mase"], f"{name}_rmse": base["rmse"]}
    result.test_metrics = metrics
    return result


def conformal_per_step(
    y: np.ndarray, origins: np.ndarray, pred: np.ndarray
) -> dict[str, list[float]]:
    """Split-conformal half-widths of each step ahead, from the validation origins'
    absolute errors: for level 1 - a, the ceil((n + 1)(1 - a))-th smallest of the n errors
    of that step (Lei et al., JASA 2018; the finite-sample quantile MAPIE uses). MAPIE's
    ``SplitConformalRegressor`` calibrates a single-output estimator, so the h steps of a
    forecast are calibrated here one by one with the same rule.

    Args:
        y: the series, float64 (n,).
        origins: the validation origins, int (m,).
        pred: their forecasts, float64 (m, h).

    Returns:
        ``{"0.8": [q_1..q_h], "0.9": [...], "0.95": [...]}``. Where a level needs more
        validation errors than there are (n < 1 / a - 1), the largest error is used and the
        interval may cover less than nominal.
    """
    h = pred.shape[1]
    actual = np.asarray(y)[np.asarray(origins)[:, None] + np.arange(1, h + 1)[None, :]]
    errors = np.sort(np.abs(actual - pred), axis=0)
    n = len(errors)
    out = {}
    for level in INTERVAL_LEVELS:
        rank = min(int(np.ceil((n + 1) * level)), n)
        q = errors[rank - 1]
        out[str(level)] = [float(v) for v in q]
    return out


def forecast_table(series, origins: np.ndarray, pred: np.ndarray, h: int) -> pd.DataFrame:
    """Forecasts in long form: one row per (origin, step) with the target's position, date
    and actual value (NaN beyond the series)."""
    origins = np.asarray(origins, dtype=np.int64)
    steps = np.tile(np.arange(1, h + 1), len(origins))
    origin = np.repeat(origins, h)
    rows = origin + steps
    inside = rows < len(series.y)
    actual = np.where(inside, series.y[np.minimum(rows, len(series.y) - 1)], np.nan)
    return pd.DataFrame(
        {
            "origin": origin,
            "origin_date": series.dates[origin],
            "step": steps,
            "row": rows,
            "date": series.dates[np.minimum(rows, len(series.y) - 1)],
            "y_true": actual,
            "y_pred": np.asarray(pred, dtype=np.float64).ravel(),
        }
    )


def _scale(sd: np.ndarray) -> np.ndarray:
    return np.where(sd > 0, sd, 1.0)


def _standard(model: FittedForecaster, t: np.ndarray) -> np.ndarray:
    return ((t - np.asarray(model.t_mean)) / np.asarray(model.t_scale)).astype(np.float32)


def _rows(seg) -> Split:
    """The periods of each segment as a :class:`Split` (the gaps belong to none)."""
    return Split(*(np.arange(*getattr(seg, p), dtype=np.int64) for p in ("train", "val", "test")))


def _val_rmse(model, zt_pred, t_va) -> float:
    return float(np.sqrt(np.mean((model.decode(zt_pred) - t_va) ** 2)))


def _fit_ridge(params, spec, model, train, val, sink, should_stop):
    from sklearn.linear_model import Ridge

    (z_tr, zt_tr), (z_va, zt_va, t_va) = train, val
    est = Ridge(alpha=params["alpha"]).fit(z_tr, zt_tr)
    pred_va = est.predict(z_va)
    metrics = {
        "loss": float(np.mean((est.predict(z_tr) - zt_tr) ** 2)),
        "val_loss": float(np.mean((pred_va - zt_va) ** 2)),
        "val_rmse": _val_rmse(model, pred_va, t_va),
    }
    sink.on_step(1, 1, metrics)
    return est, 1, False


def _fit_hgb(params, spec, model, train, val, sink, should_stop):
    """One boosted model per step ahead; progress after each (the step is the unit)."""
    from sklearn.ensemble import HistGradientBoostingRegressor

    (z_tr, zt_tr), (z_va, zt_va, t_va) = train, val
    h, models = zt_tr.shape[1], []
    for k in range(h):
        est = HistGradientBoostingRegressor(
            learning_rate=params["learning_rate"],
            max_iter=params["max_iter"],
            max_leaf_nodes=params["max_leaf_nodes"],
            min_samples_leaf=min(params["min_samples_leaf"], max(1, len(z_tr) // 4)),
            l2_regularization=params["l2_regularization"],
            early_stopping=False,
            random_state=spec.seed,
        )
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
    sink.on_step(h, h, {"val_rmse": _val_rmse(model, full, t_va)})
    return models, h, False


def _fit_net(params, spec, model, train, val, sink, should_stop):
    import keras

    from finml.training.callbacks import SinkCallback, StopOnRequest, ValidationRMSE

    (z_tr, zt_tr), (z_va, zt_va, t_va) = train, val
    net = build_sequence_net(_NETS[spec.model], model.lags, model.horizon, params, seed=spec.seed)
    reporter = SinkCallback(sink, params["epochs"])
    stopper = StopOnRequest(should_stop)
    net.fit(
        z_tr,
        zt_tr,
        validation_data=(z_va, zt_va),
        epochs=params["epochs"],
        batch_size=params["batch_size"],
        callbacks=[
            keras.callbacks.EarlyStopping(
                monitor="val_loss", patience=params["patience"], restore_best_weights=True
            ),
            ValidationRMSE(z_va, t_va, model.decode),
            reporter,
            stopper,
        ],
        verbose=0,
    )
    if reporter.epochs_done_ == 0:
        return None, 0, True
    return net, reporter.epochs_done_, stopper.stopped_
