"""Fit a regression run spec on a table: split (stratified by target quantile, or by group
or date as for classification), preprocess and standardise the target on the training split
only, train with live loss, validation loss and validation RMSE, calibrate split-conformal
prediction intervals on the validation split, and evaluate once on the test split."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from finml.data.schema import parse_dates
from finml.data.split import make_split, regression_split_report
from finml.data.target import quantile_strata, validate_regression_target
from finml.errors import SpecError
from finml.evaluation.drift import training_profile
from finml.evaluation.explain import permutation_importances
from finml.evaluation.regression import (
    conformal_half_widths,
    naive_mae,
    regression_metrics,
)
from finml.models.features import fit_preprocessing, prepare_features
from finml.models.pipeline import FittedRegressor
from finml.models.registry import get_model, resolve_params
from finml.training.base import PROGRESS_EVERY_S, SampledSink, Sink, TrainResult, never_stop
from finml.training.spec import RunSpec
from finml.training.tables import (
    AUC_POINTS,
    LIVE_VAL_ROWS,
    PROFILE_ROWS,
    _BoostingProgress,
    _sample,
)


def run_regression(
    spec: RunSpec,
    frame: pd.DataFrame,
    sink: Sink,
    should_stop: Callable[[], bool] = never_stop,
    *,
    explain: bool = True,
    progress_every_s: float = PROGRESS_EVERY_S,
) -> TrainResult:
    """Train the regression ``spec`` on ``frame`` and evaluate once on the test split.

    Args:
        spec: the run spec; ``spec.dataset.task == "regression"`` and a regression model.
        frame: the staged table, shape (n_rows, n_columns).
        sink: receives each epoch's (or boosting iteration's) ``loss`` and ``val_loss`` (on
            the standardised target) and ``val_rmse`` (target units), as in
            :func:`finml.training.tables.run_training`.
        should_stop: checked after every batch or boosting iteration.
        explain: also compute permutation importance (the worker does it afterwards).
        progress_every_s: seconds between two progress calls.

    Returns:
        TrainResult: predictions with columns ``row``, ``y_true``, ``y_pred`` (float64,
        target units); ``test_metrics`` from :func:`finml.evaluation.regression
        .regression_metrics` plus ``baseline_mae`` / ``baseline_rmse`` (the training mean
        as the prediction); the model's ``intervals`` hold the conformal half-widths.

    Raises:
        TargetError: the target cannot be trained on (text, inf, constant, too few rows).
        SplitError: the split cannot be made.
        SpecError: a classification model, cross-validation or tuning (not offered for
            regression yet), bad hyperparameters.
        DataError: feature columns missing, or the log transform with negative targets.
    """
    ds = spec.dataset
    info = get_model(spec.model)
    if info.task != "regression":
        raise SpecError(f"{info.label} is a classifier; choose a regression model.")
    if spec.cv_folds or spec.tune_trials:
        raise SpecError("Cross-validation and tuning are not offered for regression yet.")
    params = resolve_params(spec.model, spec.params)
    y = validate_regression_target(frame, ds.target)
    strata = quantile_strata(y)
    split = make_split(frame, strata, ds.split)
    report = regression_split_report(frame, y, strata, split, ds.split)
    numeric, categorical = list(ds.numeric), list(ds.categorical)
    X = prepare_features(frame, numeric, categorical)
    result = TrainResult(status="finished", steps=0, split=split, split_report=report)
    if should_stop():
        result.status = "stopped"
        return result

    model = FittedRegressor(numeric=tuple(numeric), categorical=tuple(categorical))
    model.set_params(log_target=bool(params["log_target"]))
    y_train, y_val = y[split.train], y[split.val]
    t = np.log1p(y_train) if model.log_target and (y_train >= 0).all() else y_train
    model.set_params(target_mean=float(t.mean()), target_scale=float(t.std()) or 1.0)
    z_train, z_val = model.encode_target(y_train), model.encode_target(y_val)
    pre, x_train, x_val = fit_preprocessing(X, numeric, categorical, params, split.train, split.val)
    model.set_params(preprocessor=pre)

    fit = _FITS[spec.model]
    sampled = SampledSink(sink, progress_every_s)
    live = _sample(len(y_val), LIVE_VAL_ROWS, spec.seed)
    estimator, steps, stopped = fit(
        params, spec, model, (x_train, z_train), (x_val, z_val), (live, y_val), sampled, should_stop
    )
    sampled.flush()
    result.steps = steps
    result.status = "stopped" if stopped else "finished"
    if estimator is None:
        return result
    model.set_params(estimator=estimator)
    rows = _sample(len(y_train), PROFILE_ROWS, spec.seed)
    train_pred = model.predict_transformed(x_train[rows])
    model.set_params(
        profile=training_profile(X.iloc[split.train], numeric, categorical, train_pred),
        intervals=conformal_half_widths(model, X.iloc[split.val], y_val),
    )
    result.model = model
    result.val_predictions = _predictions(split.val, y_val, model.predict_transformed(x_val))
    # The test split is touched here, once, after training is over.
    y_test, test_pred = y[split.test], model.predict(X.iloc[split.test])
    result.test_predictions = _predictions(split.test, y_test, test_pred)
    scale = naive_scale(frame, y, split, ds.split.time_col)
    metrics = regression_metrics(y_test, test_pred, scale)
    baseline = regression_metrics(y_test, np.full_like(y_test, y_train.mean()))
    metrics |= {"baseline_mae": baseline["mae"], "baseline_rmse": baseline["rmse"]}
    result.test_metrics = metrics
    if explain:
        result.importance = explain_regression(spec, frame, result)
    return result


def naive_scale(frame: pd.DataFrame, y: np.ndarray, split, time_col: str | None) -> float | None:
    """MASE's scale for a run with an out-of-time split: the naive forecast's MAE over the
    training rows in date order (:func:`finml.evaluation.regression.naive_mae`); ``None``
    (no MASE) for rows with no time order."""
    if not time_col:
        return None
    dates = parse_dates(frame[time_col].iloc[split.train], time_col)[0]
    order = np.argsort(dates.to_numpy(), kind="stable")
    value = naive_mae(y[split.train][order])
    return value or None


def explain_regression(spec: RunSpec, frame: pd.DataFrame, result: TrainResult) -> pd.DataFrame:
    """Permutation importance of a regression run on its validation split: the increase of
    the RMSE when one raw feature column is shuffled (:func:`finml.evaluation.explain
    .permutation_importances` with ``scoring="neg_root_mean_squared_error"``)."""
    if result.model is None:
        return pd.DataFrame()
    ds = spec.dataset
    val = result.val_predictions["row"].to_numpy()
    X_val = prepare_features(frame.iloc[val], list(ds.numeric), list(ds.categorical))
    y_val = result.val_predictions["y_true"].to_numpy()
    return permutation_importances(
        result.model, X_val, y_val, spec.seed, scoring="neg_root_mean_squared_error"
    )


def _predictions(rows: np.ndarray, y: np.ndarray, pred: np.ndarray) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "row": rows.astype(np.int64),
            "y_true": np.asarray(y, dtype=np.float64),
            "y_pred": np.asarray(pred, dtype=np.float64),
        }
    )


def _rmse(y: np.ndarray, pred: np.ndarray) -> float:
    return float(np.sqrt(np.mean((np.asarray(y) - np.asarray(pred)) ** 2)))


def _fit_ridge(params, spec, model, train, val, live, sink, should_stop):
    from finml.models.tabular import build_regressor

    (x_train, z_train), (x_val, z_val), (_, y_val) = train, val, live
    est = build_regressor("ridge", params, seed=spec.seed).fit(x_train, z_train)
    pred_val = est.predict(x_val)
    sink.on_step(
        1,
        1,
        {
            "loss": float(np.mean((z_train - est.predict(x_train)) ** 2)),
            "val_loss": float(np.mean((z_val - pred_val) ** 2)),
            "val_rmse": _rmse(y_val, model.decode_target(pred_val)),
        },
    )
    return est, 1, False


def _fit_hgb_reg(params, spec, model, train, val, live, sink, should_stop):
    """As :func:`finml.training.tables._fit_hgb`: one fit, the loss curves from the fit's
    own incremental scores, the validation RMSE afterwards from ``staged_predict``."""
    from finml.models.tabular import build_regressor

    (x_train, z_train), (x_val, z_val), (rows, y_val) = train, val, live
    est = build_regressor("hgb_reg", params, seed=spec.seed)
    if params.get("categories") == "native" and spec.dataset.categorical:
        n_cat = len(spec.dataset.categorical)
        est.set_params(categorical_features=np.arange(x_train.shape[1]) < n_cat)
    total = params["max_iter"]
    est.set_params(early_stopping=True, scoring="loss", n_iter_no_change=total + 1)
    hook = _BoostingProgress(est, sink, total, should_stop)
    est._should_stop = hook
    try:
        est.fit(x_train, z_train, X_val=x_val[rows], y_val=z_val[rows])
    finally:
        del est._should_stop
    from finml.training.tables import _plain_numeric_passthrough

    _plain_numeric_passthrough(est)
    done = int(est.n_iter_)
    if done == 0:
        return None, 0, True
    marks = set(np.linspace(1, done, min(done, AUC_POINTS)).round().astype(int).tolist())
    for step, z in enumerate(est.staged_predict(x_val[rows]), start=1):
        if step in marks:
            sink.on_step(step, total, {"val_rmse": _rmse(y_val[rows], model.decode_target(z))})
    return est, done, hook.stopped_


def _fit_mlp_reg(params, spec, model, train, val, live, sink, should_stop):
    from finml.models.tabular import build_mlp
    from finml.training.callbacks import ValidationRMSE, fit_with_progress

    (x_train, z_train), (x_val, z_val), (rows, y_val) = train, val, live
    net = build_mlp(x_train.shape[1], params, seed=spec.seed, regression=True)
    rmse = ValidationRMSE(x_val[rows], y_val[rows], model.decode_target)
    epochs, stopped = fit_with_progress(
        net, x_train, z_train, (x_val, z_val), params, sink, should_stop, (rmse,)
    )
    return (None, 0, True) if epochs == 0 else (net, epochs, stopped)


_FITS = {"ridge": _fit_ridge, "hgb_reg": _fit_hgb_reg, "mlp_reg": _fit_mlp_reg}
