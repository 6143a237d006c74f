"""Fit a run spec on a table: split, prepare and preprocess (fitted on the training split
only), train with progress reported to an injected sink, obey a stop request, assemble the
:class:`~finml.models.pipeline.FittedModel`, and evaluate it once on the test split."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from finml.data.split import make_split, split_report
from finml.data.target import validate_target
from finml.evaluation.drift import training_profile
from finml.evaluation.explain import permutation_importances
from finml.evaluation.metrics import binary_metrics
from finml.evaluation.shap_values import (
    ShapValues,
    explain_rows,
    explainer_kind,
    fit_background,
)
from finml.models.features import fit_preprocessing, prepare_features
from finml.models.pipeline import FittedModel
from finml.models.registry import get_model, resolve_params
from finml.training.base import (
    PROGRESS_EVERY_S,
    SampledSink,
    Sink,
    TrainResult,
    class_weight_dict,
    never_stop,
)
from finml.training.cv import cross_validate
from finml.training.spec import RunSpec
from finml.training.tuning import best_params_of, tune

#: Most training rows scored for the training profile's score bins (a seeded sample above
#: this; the standard error of a decile estimated from 20,000 rows is about 0.002 in
#: probability).
PROFILE_ROWS = 20_000

#: Most validation rows behind the live curves of gradient boosting (a seeded sample above
#: this): the fit updates their scores after every tree, so this bounds what progress costs.
#: The validation predictions that evaluation uses cover the whole validation split.
LIVE_VAL_ROWS = 20_000

#: Validation rows behind a run's SHAP summary, per explainer (a seeded sample above this):
#: the permutation explainer costs about 0.08 s a row (MLP, 2 cores) and its follow-up
#: holds the worker's slot, so it explains fewer rows.
SHAP_ROWS = {"tree": 300, "linear": 300, "permutation": 60}

#: Most validation-AUC points of a boosting curve (each is one ROC-AUC on the validation
#: split, ~4 ms per 20,000 rows; the loss curves keep every iteration).
AUC_POINTS = 20


def run_training(
    spec: RunSpec,
    frame: pd.DataFrame,
    sink: Sink,
    should_stop: Callable[[], bool] = never_stop,
    *,
    explain: bool = True,
    progress_every_s: float = PROGRESS_EVERY_S,
) -> TrainResult:
    """Train ``spec`` on ``frame`` and evaluate once on the test split.

    Args:
        spec: the run spec (dataset choices, model, hyperparameters, seed).
        frame: the staged table, shape (n_rows, n_columns).
        sink: receives ``on_step`` with each epoch's (or boosting iteration's) metrics,
            sampled to at most one call per :data:`~finml.training.base.PROGRESS_EVERY_S`;
            the steps held back arrive at the end (``on_steps`` if the sink has it), so the
            sink ends up with every step. A step may come again with more metrics (boosting
            adds its validation ROC-AUC after the fit); merge by step.
        should_stop: checked after every batch (Keras) or boosting iteration; True ends the
            run early, keeping what was trained.
        explain: also compute permutation importance (:func:`explain_result`). The worker
            passes False and calls :func:`explain_result` after the test metrics are logged,
            so the analyst sees them first.
        progress_every_s: seconds between two progress calls (0: every step at once).

    Returns:
        TrainResult.

    Raises:
        TargetError: the target cannot be trained on.
        SplitError: the split cannot be made.
        SpecError: unknown model or bad hyperparameters.
        DataError: feature columns missing.
    """
    ds = spec.dataset
    info = get_model(spec.model)
    params = resolve_params(spec.model, spec.params)
    y = validate_target(frame, ds.target, ds.positive)
    split = make_split(frame, y, ds.split)
    report = split_report(frame, y, split, ds.split)
    numeric, categorical = list(ds.numeric), list(ds.categorical)
    X = prepare_features(frame, numeric, categorical)
    result = TrainResult(status="finished", steps=0, split=split, split_report=report)
    if should_stop():
        result.status = "stopped"
        return result

    fit = _fit_mlp if info.family == "keras" else _fit_hgb if spec.model == "hgb" else _fit_sklearn
    fit_rows, val_rows = split.train, split.val
    if spec.tune_trials:
        result.tuning = _tune(spec, frame, X, y, split, fit, params, sink, should_stop)
        params = best_params_of(result.tuning)  # the best trial, refit below, tested once
        if params is None:
            result.status = "stopped"
            return result
    if spec.cv_folds:
        non_test = np.sort(np.concatenate([split.train, split.val]))
        cv = cross_validate(spec, frame, X, y, non_test, fit, params, sink, should_stop)
        result.cv = cv
        if cv.stopped:
            result.status = "stopped"
            return result
        # The model behind the test metrics is refit on every non-test row, with no
        # validation rows left: a network trains for the folds' median best epoch count.
        fit_rows, val_rows = non_test, None
        if info.family == "keras":
            params = {**params, "epochs": max(1, cv.best_steps)}
    pre, x_train, x_val = fit_preprocessing(X, numeric, categorical, params, fit_rows, val_rows)
    y_train = y[fit_rows]
    y_val = None if val_rows is None else y[val_rows]
    sampled = SampledSink(sink, progress_every_s)
    estimator, steps, stopped, val_proba = fit(
        params, spec, x_train, y_train, x_val, y_val, sampled, should_stop
    )
    sampled.flush()
    result.steps = steps
    result.status = "stopped" if stopped else "finished"
    if estimator is None:
        return result
    model = FittedModel(
        estimator=estimator,
        preprocessor=pre,
        numeric=tuple(numeric),
        categorical=tuple(categorical),
        class_names=ds.class_labels,
        positive=1,
    )
    rows = _sample(len(fit_rows), PROFILE_ROWS, spec.seed)
    train_scores = model.predict_proba_transformed(x_train[rows])[:, 1]
    model.set_params(
        profile=training_profile(X.iloc[fit_rows], numeric, categorical, train_scores),
        background=fit_background(x_train, spec.seed),
    )
    result.model = model
    if result.cv is not None:  # thresholds are chosen on the out-of-fold scores
        result.val_predictions = result.cv.oof
    else:
        if val_proba is None:
            val_proba = model.predict_proba_transformed(x_val)
        val_scores = np.asarray(val_proba, dtype=np.float64)[:, 1]
        result.val_predictions = _predictions(split.val, y_val, val_scores)
    # The test split is touched here, once, after training is over.
    test_scores = model.positive_score(X.iloc[split.test])
    result.test_predictions = _predictions(split.test, y[split.test], test_scores)
    result.test_metrics = binary_metrics(y[split.test], test_scores, 0.5)
    if explain:
        result.importance = explain_result(spec, frame, result)
    return result


def _tune(spec, frame, X, y, split, fit, params, sink, should_stop):
    """The Optuna study of a run: each trial scored on the validation split, or by its
    mean out-of-fold ROC-AUC when the run is cross-validated (the pruner sees each fold)."""
    from sklearn.metrics import roc_auc_score

    ds = spec.dataset
    if spec.cv_folds:
        non_test = np.sort(np.concatenate([split.train, split.val]))

        def score(trial_params, reporter, stop):
            folds = _FoldsToPruner(reporter)
            cv = cross_validate(spec, frame, X, y, non_test, fit, trial_params, folds, stop)
            value = None if cv.stopped else float(cv.folds["roc_auc"].mean())
            return value, len(folds.seen)

        return tune(spec, params, score, sink, should_stop, warmup_steps=1)

    _, x_train, x_val = fit_preprocessing(
        X, ds.numeric, ds.categorical, params, split.train, split.val
    )
    y_train, y_val = y[split.train], y[split.val]

    def score(trial_params, reporter, stop):
        estimator, steps, halted, proba = fit(
            trial_params, spec, x_train, y_train, x_val, y_val, reporter, stop
        )
        if halted or estimator is None:
            return None, steps
        if proba is None:
            proba = FittedModel(estimator=estimator).predict_proba_transformed(x_val)
        return float(roc_auc_score(y_val, np.asarray(proba)[:, 1])), steps

    return tune(spec, params, score, sink, should_stop)


class _FoldsToPruner:
    """Passes the running mean of the folds' ROC-AUC to the pruner, one step per fold."""

    def __init__(self, reporter):
        self.reporter = reporter
        self.seen: list[float] = []

    def on_fold(self, fold: int, total: int, metrics: dict[str, float]) -> None:
        self.seen.append(metrics["roc_auc"])
        self.reporter.on_step(fold, total, {"val_auc": float(np.mean(self.seen))})


def explain_result(spec: RunSpec, frame: pd.DataFrame, result: TrainResult) -> pd.DataFrame:
    """Permutation importance of a trained run on its validation split (the slow part of a
    run that the result does not wait for).

    Args:
        spec: the run spec.
        frame: the staged table the run was trained on.
        result: what :func:`run_training` returned, with a model.

    Returns:
        The table of :func:`finml.evaluation.explain.permutation_importances` (empty if the
        run has no model).
    """
    if result.model is None:
        return pd.DataFrame()
    ds = spec.dataset
    val = result.val_predictions["row"].to_numpy()
    X_val = prepare_features(frame.iloc[val], list(ds.numeric), list(ds.categorical))
    y_val = result.val_predictions["y_true"].to_numpy()
    return permutation_importances(result.model, X_val, y_val, spec.seed)


def shap_result(
    spec: RunSpec, frame: pd.DataFrame, result: TrainResult
) -> tuple[np.ndarray, ShapValues] | None:
    """SHAP values of a trained run on (a seeded sample of :data:`SHAP_ROWS`) validation
    rows: the run's global SHAP summary, computed after the result is shown.

    Args:
        spec: the run spec.
        frame: the staged table the run was trained on.
        result: what :func:`run_training` returned.

    Returns:
        (data-row positions, int64 (n,); their :class:`ShapValues`), or ``None`` if the run
        has no model.
    """
    if result.model is None:
        return None
    val = result.val_predictions["row"].to_numpy()
    most = SHAP_ROWS[explainer_kind(result.model)]
    rows = val[_sample(len(val), most, spec.seed)]
    return rows, explain_rows(result.model, frame.iloc[rows], seed=spec.seed)


def _sample(n: int, most: int, seed: int) -> np.ndarray:
    """Positions 0..n-1, or a sorted seeded sample of ``most`` of them."""
    if n <= most:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, most, replace=False))


def _predictions(rows: np.ndarray, y: np.ndarray, score: np.ndarray) -> pd.DataFrame:
    return pd.DataFrame({"row": rows.astype(np.int64), "y_true": y.astype(np.int8), "score": score})


def _fit_sklearn(params, spec, x_train, y_train, x_val, y_val, sink, should_stop):
    from sklearn.metrics import log_loss, roc_auc_score

    from finml.models.tabular import build_sklearn

    model = build_sklearn(spec.model, params, class_weights=spec.class_weights, seed=spec.seed)
    model.fit(x_train, y_train)
    p_train = model.predict_proba(x_train)[:, 1]
    metrics = {"loss": float(log_loss(y_train, p_train, labels=[0, 1]))}
    proba_val = None
    if x_val is not None:
        proba_val = model.predict_proba(x_val)
        p_val = proba_val[:, 1]
        metrics["val_loss"] = float(log_loss(y_val, p_val, labels=[0, 1]))
        metrics["val_auc"] = float(roc_auc_score(y_val, p_val))
    sink.on_step(1, 1, metrics)
    return model, 1, False, proba_val


class _BoostingProgress:
    """Per-iteration hook of one ``HistGradientBoostingClassifier.fit``: reports the
    training and validation loss that the fit itself computes incrementally (its early-
    stopping bookkeeping, linear in the iterations) and ends the fit on a stop request,
    keeping the trees built so far.

    Installed as the instance's ``_should_stop`` (scikit-learn calls it once per iteration
    with the validation scores so far) and removed after the fit, so the fitted model is a
    plain ``HistGradientBoostingClassifier``.
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


def _fit_hgb(params, spec, x_train, y_train, x_val, y_val, sink, should_stop):
    """One fit, no refits: the loss curves come from the fit's own incremental scores (the
    validation loss on at most :data:`LIVE_VAL_ROWS` validation rows), the validation
    ROC-AUC afterwards from ``staged_predict_proba`` on the same rows (one pass over the
    trees)."""
    from sklearn.metrics import roc_auc_score

    from finml.models.tabular import build_sklearn

    model = build_sklearn("hgb", params, class_weights=spec.class_weights, seed=spec.seed)
    if params.get("categories") == "native" and spec.dataset.categorical:
        # build_preprocessor(categories="native") puts the category codes first
        n_cat = len(spec.dataset.categorical)
        model.set_params(categorical_features=np.arange(x_train.shape[1]) < n_cat)
    total = params["max_iter"]
    # scoring="loss" with a patience longer than the run: the fit records the training and
    # validation loss after every iteration but never stops early on its own.
    model.set_params(early_stopping=True, scoring="loss", n_iter_no_change=total + 1)
    hook = _BoostingProgress(model, sink, total, should_stop)
    if y_val is None:  # a refit on every non-test row: the training loss alone
        model.set_params(validation_fraction=None)
        x_live = y_live = None
    else:
        live = _sample(len(y_val), LIVE_VAL_ROWS, spec.seed)
        x_live, y_live = x_val[live], y_val[live]
    model._should_stop = hook
    try:
        model.fit(x_train, y_train, X_val=x_live, y_val=y_live)
    finally:
        del model._should_stop
    _plain_numeric_passthrough(model)
    done = int(model.n_iter_)
    if done == 0:
        return None, 0, True, None
    if y_val is None:
        return model, done, hook.stopped_, None
    marks = set(np.linspace(1, done, min(done, AUC_POINTS)).round().astype(int).tolist())
    for step, proba in enumerate(model.staged_predict_proba(x_live), start=1):
        if step in marks:  # the same steps again, now with their validation ROC-AUC
            sink.on_step(step, total, {"val_auc": float(roc_auc_score(y_live, proba[:, 1]))})
    whole = len(live) == len(y_val)  # then the last stage is the validation scores
    return model, done, hook.stopped_, proba if whole else None


def _plain_numeric_passthrough(model) -> None:
    """With native categories, scikit-learn's boosting keeps an internal ColumnTransformer
    whose numeric part is ``FunctionTransformer(functools.partial(check_array, ...))``. A
    bundle must hold no callables (:mod:`finml.models.safe_load` refuses ``functools.partial``
    outright), so the numeric part becomes the identity (``func=None``): finml's own
    preprocessor already hands it a validated float array, and the outcome is the same
    float64 matrix (asserted by ``tests/training/test_tables.py``)."""
    from sklearn.preprocessing import FunctionTransformer

    inner = getattr(model, "_preprocessor", None)
    if inner is None:
        return
    for _, part, _ in [*inner.transformers, *inner.transformers_]:
        if isinstance(part, FunctionTransformer):
            part.set_params(func=None)


def _fit_mlp(params, spec, x_train, y_train, x_val, y_val, sink, should_stop):
    from finml.models.tabular import build_mlp
    from finml.training.callbacks import fit_with_progress

    model = build_mlp(x_train.shape[1], params, seed=spec.seed)
    # without validation rows: a refit for a fixed number of epochs (cross-validation)
    val = None if x_val is None else (x_val, y_val.astype(np.float32))
    weights = class_weight_dict(y_train) if spec.class_weights else None
    epochs, stopped = fit_with_progress(
        model, x_train, y_train.astype(np.float32), val, params, sink, should_stop, (), weights
    )
    return model, epochs, stopped, None
