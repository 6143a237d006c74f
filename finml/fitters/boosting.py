"""Histogram gradient boosting (``HistGradientBoostingClassifier`` for a class target,
``HistGradientBoostingRegressor`` for a numeric one), fitted once with live progress.

The loss curves come from the fit's own incremental bookkeeping: early stopping on with
``scoring="loss"`` and a patience longer than the run, so scikit-learn records the
training and validation loss after every iteration (linear in the iterations) but never
stops on its own. A per-iteration hook (:class:`BoostingProgress`) forwards them and ends
the fit on a stop request, keeping the trees built. The task's validation metric
(ROC-AUC, RMSE) follows after the fit at :data:`METRIC_POINTS` iterations, read from
``staged_predict_proba`` / ``staged_predict`` (one pass over the trees). With native
categories (``categories="native"``) the category codes come first in the preprocessed
columns and are declared ``categorical_features``, for every task alike.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from finml.fitters.base import FitData, FitResult, Fitter, Sink

#: Most validation-metric points of a boosting curve (each is one metric on the live
#: validation rows, ~4 ms per 20,000 rows; the loss curves keep every iteration).
METRIC_POINTS = 20


class BoostingProgress:
    """Per-iteration hook of one ``HistGradientBoosting*.fit``: reports the training and
    validation loss that the fit itself computes incrementally and ends the fit on a stop
    request, keeping the trees built so far.

    Installed as the instance's ``_should_stop`` (scikit-learn calls it once per iteration
    with the validation scores so far) and removed after the fit, so the fitted model is a
    plain scikit-learn estimator. This overrides a private method of scikit-learn: the
    boosting tests (``tests/fitters/test_boosting.py``) pin the behaviour it relies on.

    Args:
        model: the estimator being fitted.
        sink: receives ``loss`` and ``val_loss`` after each iteration.
        total: the planned iterations (the progress bar's total).
        should_stop: True ends the fit after the current iteration.
    """

    def __init__(self, model, sink: Sink, total: int, should_stop: Callable[[], bool]):
        self.model = model
        self.sink = sink
        self.total = total
        self.should_stop = should_stop
        self.stopped_ = False

    def __call__(self, scores: list[float]) -> bool:
        done = len(scores) - 1  # scores[0] is the constant baseline, before any tree
        if done >= 1:
            metrics = {"loss": -self.model.train_score_[-1]}
            if scores is not self.model.train_score_:  # the fit has validation rows
                metrics["val_loss"] = -scores[-1]
            self.sink.on_step(done, self.total, metrics)
        if self.should_stop():
            self.stopped_ = True
            return True
        return False


def native_categories(model, spec, n_columns: int) -> None:
    """Declare the category codes (the first columns with ``categories="native"``, see
    :func:`finml.models.features.build_preprocessor`) as ``categorical_features``."""
    n_cat = len(spec.dataset.categorical)
    model.set_params(categorical_features=np.arange(n_columns) < n_cat)


def plain_numeric_passthrough(model) -> None:
    """With native categories, scikit-learn's boosting keeps an internal ColumnTransformer
    whose numeric part is ``FunctionTransformer(functools.partial(check_array, ...))``. A
    bundle must hold no callables (:mod:`finml.models.safe_load` refuses
    ``functools.partial`` outright), so the numeric part becomes the identity
    (``func=None``): finml's own preprocessor already hands it a validated float array, and
    the outcome is the same float64 matrix (asserted by ``tests/fitters/test_boosting.py``)."""
    from sklearn.preprocessing import FunctionTransformer

    inner = getattr(model, "_preprocessor", None)
    if inner is None:
        return
    for _, part, _ in [*inner.transformers, *inner.transformers_]:
        if isinstance(part, FunctionTransformer):
            part.set_params(func=None)


class BoostingFitter(Fitter):
    """One ``HistGradientBoosting*`` fit with live loss curves (see the module)."""

    family = "sklearn"
    step_unit = "iteration"

    def fit(self, spec, params, data: FitData, sink, should_stop) -> FitResult:
        """One fit, no refits; see :meth:`finml.fitters.base.Fitter.fit`.

        The validation loss is computed on the live validation rows (at most 20,000); the
        validation output is returned when those are every validation row.
        """
        from finml.models.tabular import build_regressor, build_sklearn, monotone_cst

        if data.n_classes:
            weighted = bool(data.class_weight)
            model = build_sklearn(spec.model, params, class_weights=weighted, seed=spec.seed)
        else:
            model = build_regressor(spec.model, params, seed=spec.seed)
        if params.get("categories") == "native" and spec.dataset.categorical:
            native_categories(model, spec, data.x_train.shape[1])
        ds = spec.dataset
        width = data.x_train.shape[1]
        cst = monotone_cst(params, ds.numeric, ds.categorical, width, data.n_classes)
        if cst is not None:
            model.set_params(monotonic_cst=cst)
        total = params["max_iter"]
        model.set_params(early_stopping=True, scoring="loss", n_iter_no_change=total + 1)
        hook = BoostingProgress(model, sink, total, should_stop)
        x_live = y_live = None
        if data.has_val:
            x_live, y_live = data.live_val()
        else:  # a refit on every non-test row: the training loss alone
            model.set_params(validation_fraction=None)
        model._should_stop = hook
        try:
            model.fit(data.x_train, data.y_train, X_val=x_live, y_val=y_live)
        finally:
            del model._should_stop
        plain_numeric_passthrough(model)
        done = int(model.n_iter_)
        if done == 0:
            return FitResult(None, 0, True)
        if not data.has_val:
            return FitResult(model, done, hook.stopped_)
        marks = set(np.linspace(1, done, min(done, METRIC_POINTS)).round().astype(int).tolist())
        staged = model.staged_predict_proba if data.n_classes else model.staged_predict
        out = None
        for step, out in enumerate(staged(x_live), start=1):
            if step in marks:  # the same steps again, now with the validation metric
                sink.on_step(step, total, data.meter(y_live, np.asarray(out)))
        whole = data.live is None or len(data.live) == len(data.y_val)
        return FitResult(model, done, hook.stopped_, np.asarray(out) if whole else None)
