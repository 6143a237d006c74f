"""Regression of a table (a loan amount, a price): the target standardised (optionally
log1p-transformed) on the training rows only, live validation RMSE in the target's units,
split-conformal prediction intervals, and the test metrics beside the mean baseline."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd

from finml.data.schema import parse_dates
from finml.data.split import regression_split_report
from finml.data.target import quantile_strata, validate_regression_target
from finml.evaluation.regression import (
    conformal_half_widths,
    conformal_quantiles,
    naive_mae,
    regression_metrics,
)
from finml.models.pipeline import FittedRegressor
from finml.tasks.table import TABLE_TAGS, TableTask


def _rmse(y, pred) -> float:
    return float(np.sqrt(np.mean((np.asarray(y) - np.asarray(pred)) ** 2)))


def naive_scale(frame: pd.DataFrame, y_train: np.ndarray, rows: np.ndarray, time_col: str | None):
    """MASE's scale for a run with an out-of-time split: the naive forecast's MAE over the
    training rows in date order (:func:`finml.evaluation.regression.naive_mae`); ``None``
    (no MASE) for rows with no time order.

    Args:
        frame: the staged table.
        y_train: the training rows' target, float (n,).
        rows: their positions in ``frame``, int (n,).
        time_col: the split's date column, or ``None``.
    """
    if not time_col:
        return None
    dates = parse_dates(frame[time_col].iloc[rows], time_col)[0]
    order = np.argsort(dates.to_numpy(), kind="stable")
    return naive_mae(y_train[order]) or None


class RegressionTask(TableTask):
    """A numeric target: predictions in its units with split-conformal intervals
    (calibrated on the validation rows, or on the out-of-fold residuals of a
    cross-validated run); test metrics of
    :func:`finml.evaluation.regression.regression_metrics` with MASE under an out-of-time
    split, and the training mean as a baseline."""

    name = "regression"
    label = "Regression"
    bundle_task = "regression"
    importance_scoring = "neg_root_mean_squared_error"
    evaluation = "values"
    tiles = ("test_rmse", "test_mae", "test_r2", "test_mase")
    tags = replace(
        TABLE_TAGS,
        intervals=True,
        classes=False,
        headline="rmse",
        higher_is_better=False,
        search_metric="rmse",
        step_metric="val_rmse",
        fold_metrics=("rmse", "mae", "r2"),
    )

    def n_classes(self, ds) -> int:
        """No classes: a number."""
        return 0

    def target(self, frame, ds):
        """The target's values, stratified by quintile."""
        y = validate_regression_target(frame, ds.target)
        return y, quantile_strata(y)

    def split_report(self, frame, y, strata, split, ds):
        """Rows and target statistics per side."""
        return regression_split_report(frame, y, strata, split, ds.split)

    def target_state(self, y_train, params) -> FittedRegressor:
        """The target transform fitted on ``y_train`` (log1p when asked, then mean and
        standard deviation), as an unfitted :class:`FittedRegressor`."""
        model = FittedRegressor(log_target=bool(params["log_target"]))
        t = np.log1p(y_train) if model.log_target and (y_train >= 0).all() else y_train
        model.set_params(target_mean=float(t.mean()), target_scale=float(t.std()) or 1.0)
        return model

    def fit_target(self, state, y):
        """The standardised target ``z`` (:meth:`FittedRegressor.encode_target`)."""
        return state.encode_target(y)

    def decode(self, state, raw):
        """Predictions in the target's units."""
        return state.decode_target(raw)

    def loss(self, y, raw) -> float:
        """Mean squared error of the standardised target."""
        return float(np.mean((np.asarray(y) - np.asarray(raw).reshape(-1)) ** 2))

    def meter(self, state):
        """``val_rmse``: RMSE in the target's units."""
        return lambda z, raw: {"val_rmse": _rmse(state.decode_target(z), state.decode_target(raw))}

    def scores(self, y, out, ds) -> dict[str, float]:
        """:func:`finml.evaluation.regression.regression_metrics` (no MASE)."""
        return regression_metrics(y, out)

    def predictions(self, rows, y, out, ds) -> pd.DataFrame:
        """``row``, ``y_true`` and ``y_pred`` (float64, the target's units)."""
        return pd.DataFrame(
            {
                "row": np.asarray(rows).astype(np.int64),
                "y_true": np.asarray(y, dtype=np.float64),
                "y_pred": np.asarray(out, dtype=np.float64),
            }
        )

    def assemble(self, estimator, pre, numeric, categorical, ds, state) -> FittedRegressor:
        """The :class:`FittedRegressor` of ``state`` with the estimator and preprocessing."""
        return state.set_params(
            estimator=estimator,
            preprocessor=pre,
            numeric=tuple(numeric),
            categorical=tuple(categorical),
        )

    def profile_scores(self, model, x):
        """The predictions."""
        return model.predict_transformed(x)

    def output(self, model, x):
        """Predictions in the target's units."""
        return model.predict_transformed(x)

    def test_metrics(self, y_test, out, *, y_train, frame, split, ds) -> dict[str, float]:
        """The metrics with MASE (under an out-of-time split), and ``baseline_mae`` /
        ``baseline_rmse`` of the training mean as the prediction."""
        scale = naive_scale(frame, y_train, split.train, ds.split.time_col)
        metrics = regression_metrics(y_test, out, scale)
        baseline = regression_metrics(y_test, np.full_like(y_test, y_train.mean()))
        return metrics | {"baseline_mae": baseline["mae"], "baseline_rmse": baseline["rmse"]}

    def calibrate(self, model, X_val, y_val, oof) -> None:
        """The interval half-widths: MAPIE's split-conformal calibration on the validation
        rows, or the same finite-sample quantile of the out-of-fold absolute residuals of a
        cross-validated run (whose refit saw every non-test row)."""
        if oof is None:
            model.set_params(intervals=conformal_half_widths(model, X_val, y_val))
            return
        residuals = np.abs(oof["y_true"].to_numpy() - oof["y_pred"].to_numpy())
        half = conformal_quantiles(residuals)
        model.set_params(intervals={level: float(q) for level, q in half.items()})
