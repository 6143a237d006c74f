"""k-fold cross-validation of a table model on the training and validation rows.

Each fold fits its own preprocessor and model on the fold's training rows only and scores
its held-out rows (out-of-fold predictions). The test rows take no part: the run's test
metrics still come once, from the model refit on all non-test rows. Fold results go to the
sink as they come (``on_fold``), so the analyst watches them live.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from finml.data.split import cv_folds
from finml.evaluation.metrics import THRESHOLD_FREE, binary_metrics, mean_sd
from finml.models.features import fit_preprocessing
from finml.models.pipeline import FittedModel
from finml.training.base import ListSink, Sink


@dataclass
class CVResult:
    """What cross-validation produced.

    Attributes:
        folds: one row per fold: ``fold`` (1-based), ``rows``, ``positives``, ``steps``
            (epochs or iterations trained) and every metric of
            :func:`finml.evaluation.metrics.binary_metrics` at threshold 0.5.
        oof: out-of-fold predictions: ``row`` (position in the data), ``y_true`` (0/1),
            ``score`` (float probability of the positive class) and ``fold``.
        best_steps: median over folds of the step with the lowest validation loss (the
            refit's epochs for a network that stops early).
        stopped: a stop request ended it before the last fold.
    """

    folds: pd.DataFrame = field(default_factory=pd.DataFrame)
    oof: pd.DataFrame = field(default_factory=pd.DataFrame)
    best_steps: int = 0
    stopped: bool = False

    def summary(self) -> dict[str, float]:
        """``cv_<metric>_mean`` and ``cv_<metric>_sd`` (sample sd over folds) of every metric."""
        out = {}
        skip = ("fold", "rows", "positives", "steps")
        for col in (c for c in self.folds.columns if c not in skip):
            out[f"cv_{col}_mean"], out[f"cv_{col}_sd"] = mean_sd(self.folds[col])
        return out


def cross_validate(
    spec,
    frame: pd.DataFrame,
    X: pd.DataFrame,
    y: np.ndarray,
    rows: np.ndarray,
    fit: Callable,
    params: dict,
    sink: Sink,
    should_stop: Callable[[], bool],
) -> CVResult:
    """Cross-validate ``spec.model`` with ``spec.cv_folds`` folds over ``rows``.

    Args:
        spec: the run spec (:class:`finml.training.spec.RunSpec`); its split's kind chooses
            the folds (:func:`finml.data.split.cv_folds`).
        frame: the staged table (for group and date columns).
        X: prepared features of every row (:func:`finml.models.features.prepare_features`).
        y: 0/1 labels of every row, shape (n,).
        rows: the training and validation row positions, int64.
        fit: the trainer's fit function ``fit(params, spec, x_train, y_train, x_val, y_val,
            sink, should_stop) -> (estimator, steps, stopped, val_proba | None)``.
        params: resolved hyperparameters.
        sink: receives ``on_fold(fold, k, metrics)`` after each fold (threshold-free
            metrics, e.g. ``roc_auc``), if it has that method.
        should_stop: checked inside each fold's fit; True ends cross-validation.

    Returns:
        CVResult.

    Raises:
        SplitError: the folds cannot be made (see :func:`finml.data.split.cv_folds`).
    """
    ds = spec.dataset
    numeric, categorical = list(ds.numeric), list(ds.categorical)
    pairs = cv_folds(frame, y, rows, ds.split, spec.cv_folds)
    k = len(pairs)
    tables, oofs, best = [], [], []
    for i, (tr, va) in enumerate(pairs, start=1):
        pre, x_tr, x_va = fit_preprocessing(X, numeric, categorical, params, tr, va)
        curves = ListSink()
        estimator, steps, stopped, proba = fit(
            params, spec, x_tr, y[tr], x_va, y[va], curves, should_stop
        )
        if stopped or estimator is None:
            return CVResult(stopped=True)
        if proba is None:
            model = FittedModel(estimator=estimator, preprocessor=pre)
            proba = model.predict_proba_transformed(x_va)
        score = np.asarray(proba, dtype=np.float64)[:, 1]
        history = curves.history()
        if "val_loss" in history and history["val_loss"].notna().any():
            best.append(int(history.loc[history["val_loss"].idxmin(), "step"]))
        metrics = binary_metrics(y[va], score, 0.5)
        tables.append(
            {"fold": i, "rows": len(va), "positives": int(y[va].sum()), "steps": steps, **metrics}
        )
        oofs.append(
            pd.DataFrame(
                {"row": va, "y_true": y[va].astype(np.int8), "score": score, "fold": np.int8(i)}
            )
        )
        if hasattr(sink, "on_fold"):
            sink.on_fold(i, k, {m: metrics[m] for m in THRESHOLD_FREE})
    oof = pd.concat(oofs, ignore_index=True).sort_values("row", kind="stable")
    return CVResult(
        folds=pd.DataFrame(tables),
        oof=oof.reset_index(drop=True),
        best_steps=int(np.median(best)) if best else 0,
    )
