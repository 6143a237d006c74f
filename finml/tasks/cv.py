"""k-fold cross-validation of a table model on the training and validation rows, for
every table task alike (binary, multi-class, regression).

Each fold fits its own preprocessing (and a regression's target standardisation) and
model on the fold's training rows only and scores its held-out rows (out-of-fold
predictions). The test rows take no part: the run's test metrics still come once, from
the model refit on all non-test rows. Fold results go to the sink as they come
(``on_fold``), so the analyst watches them live.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from finml.data.split import cv_folds
from finml.evaluation.metrics import mean_sd
from finml.fitters.base import ListSink, Sink
from finml.models.features import fit_preprocessing


@dataclass
class CVResult:
    """What cross-validation produced.

    Attributes:
        folds: one row per fold: ``fold`` (1-based), ``rows``, ``steps`` (epochs or
            iterations trained), the task's counts (``positives`` of a binary target) and
            every metric of the task's :meth:`~finml.tasks.table.TableTask.scores`.
        oof: out-of-fold predictions, the task's prediction columns and ``fold``.
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
    task,
    spec,
    frame: pd.DataFrame,
    X: pd.DataFrame,
    y: np.ndarray,
    strata: np.ndarray,
    rows: np.ndarray,
    params: dict,
    sink: Sink,
    should_stop: Callable[[], bool],
) -> CVResult:
    """Cross-validate ``spec.model`` with ``spec.cv_folds`` folds over ``rows``.

    Args:
        task: the :class:`finml.tasks.table.TableTask` of the run.
        spec: the run spec (:class:`finml.tasks.spec.RunSpec`); its split's kind chooses
            the folds (:func:`finml.data.split.cv_folds`).
        frame: the staged table (for group and date columns).
        X: prepared features of every row (:func:`finml.models.features.prepare_features`).
        y: the target of every row (class indices, or values), shape (n,).
        strata: what a stratified fold keeps balanced (the classes, or target quintiles).
        rows: the training and validation row positions, int64.
        params: resolved hyperparameters.
        sink: receives ``on_fold(fold, k, metrics)`` after each fold (the task's
            :attr:`~finml.tasks.base.TaskTags.fold_metrics`).
        should_stop: checked inside each fold's fit; True ends cross-validation.

    Returns:
        CVResult.

    Raises:
        SplitError: the folds cannot be made (see :func:`finml.data.split.cv_folds`).
    """
    from finml.fitters import get_fitter

    ds = spec.dataset
    numeric, categorical = list(ds.numeric), list(ds.categorical)
    fitter = get_fitter(spec.model)
    pairs = cv_folds(frame, strata, rows, ds.split, spec.cv_folds)
    k = len(pairs)
    tables, oofs, best = [], [], []
    for i, (tr, va) in enumerate(pairs, start=1):
        pre, x_tr, x_va = fit_preprocessing(
            X, numeric, categorical, params, tr, va, model=spec.model
        )
        state = task.target_state(y[tr], params)
        curves = ListSink()
        data = task.fit_data(spec, state, x_tr, y[tr], x_va, y[va], pre)
        fit = fitter.fit(spec, params, data, curves, should_stop)
        if fit.stopped or fit.estimator is None:
            return CVResult(stopped=True)
        raw = fit.val_output if fit.val_output is not None else task.raw(fit.estimator, x_va)
        out = task.decode(state, raw)
        history = curves.history()
        if "val_loss" in history and history["val_loss"].notna().any():
            best.append(int(history.loc[history["val_loss"].idxmin(), "step"]))
        metrics = task.scores(y[va], out, ds)
        counts = task.fold_counts(y[va])
        tables.append({"fold": i, "rows": len(va), **counts, "steps": fit.steps, **metrics})
        oofs.append(task.predictions(va, y[va], out, ds).assign(fold=np.int8(i)))
        sink.on_fold(i, k, {m: metrics[m] for m in task.tags.fold_metrics})
    oof = pd.concat(oofs, ignore_index=True).sort_values("row", kind="stable")
    return CVResult(
        folds=pd.DataFrame(tables),
        oof=oof.reset_index(drop=True),
        best_steps=int(np.median(best)) if best else 0,
    )
