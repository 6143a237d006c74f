"""Fit a run spec on a table: split, preprocess (train split only), train with progress
reported to an injected sink, obey a stop request, and evaluate once on the test split.

Nothing here knows about the UI or the run store: :mod:`finml.jobs` wires the sink to the
store and the stop predicate to a stop file.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import pandas as pd

from finml.data.tabular import validate_target
from finml.evaluate import binary_metrics
from finml.models.registry import get_model, resolve_params
from finml.preprocess import build_preprocessor, prepare_features
from finml.scoring import permutation_importances, training_profile
from finml.spec import RunSpec
from finml.split import Split, make_split, split_report

#: Boosting iterations between two progress reports of gradient boosting.
HGB_STEP = 10


class Sink(Protocol):
    """Receives training progress. ``step`` counts epochs (or iterations) done, 1-based."""

    def on_step(self, step: int, total: int, metrics: dict[str, float]) -> None:
        """Called after each epoch / reporting step with that step's metrics."""


class ListSink:
    """A sink that keeps every step in memory (tests, notebooks)."""

    def __init__(self) -> None:
        self.steps: list[tuple[int, int, dict[str, float]]] = []

    def on_step(self, step: int, total: int, metrics: dict[str, float]) -> None:
        """Append ``(step, total, metrics)``."""
        self.steps.append((step, total, dict(metrics)))


@dataclass
class TrainResult:
    """What one training run produced.

    Attributes:
        status: ``"finished"`` or ``"stopped"`` (a stop request ended it early).
        steps: epochs (or boosting iterations) completed.
        split: the row positions of each side.
        split_report: the audit table of :func:`finml.split.split_report`.
        preprocessor: the fitted ColumnTransformer (``None`` if stopped before fitting).
        model: the fitted model (``None`` if stopped before any step).
        val_predictions: columns ``row`` (int, position in the table), ``y_true`` (0/1),
            ``score`` (float probability of the positive class).
        test_predictions: same columns, for the test split (empty if no model).
        test_metrics: :func:`finml.evaluate.binary_metrics` at 0.5 on the test split.
        feature_names: names of the preprocessed columns, shape (n_features,).
        profile: training-split profile for scoring new data
            (:func:`finml.scoring.training_profile`), tables only.
        importance: permutation importance on the validation split
            (:func:`finml.scoring.permutation_importances`), tables only.
    """

    status: str
    steps: int
    split: Split
    split_report: pd.DataFrame
    preprocessor: object = None
    model: object = None
    val_predictions: pd.DataFrame = field(default_factory=pd.DataFrame)
    test_predictions: pd.DataFrame = field(default_factory=pd.DataFrame)
    test_metrics: dict[str, float] = field(default_factory=dict)
    feature_names: list[str] = field(default_factory=list)
    profile: dict = field(default_factory=dict)
    importance: pd.DataFrame = field(default_factory=pd.DataFrame)


def never_stop() -> bool:
    """A stop predicate that never asks to stop."""
    return False


def run_training(
    spec: RunSpec,
    frame: pd.DataFrame,
    sink: Sink,
    should_stop: Callable[[], bool] = never_stop,
) -> TrainResult:
    """Train ``spec`` on ``frame`` and evaluate once on the test split.

    Args:
        spec: the run spec (dataset choices, model, hyperparameters, seed).
        frame: the staged table, shape (n_rows, n_columns).
        sink: receives ``on_step`` after each epoch or reporting step.
        should_stop: checked after every batch (Keras) or step (sklearn); True ends the
            run early, keeping what was trained.

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
    X = prepare_features(frame, list(ds.numeric), list(ds.categorical))
    result = TrainResult(status="finished", steps=0, split=split, split_report=report)
    if should_stop():
        result.status = "stopped"
        return result

    pre = build_preprocessor(list(ds.numeric), list(ds.categorical))
    x_train = pre.fit_transform(X.iloc[split.train]).astype(np.float32)
    x_val = pre.transform(X.iloc[split.val]).astype(np.float32)
    y_train, y_val = y[split.train], y[split.val]
    result.preprocessor = pre
    result.feature_names = [str(n) for n in pre.get_feature_names_out()]

    if info.family == "keras":
        model, steps, stopped = _fit_mlp(
            params, spec, x_train, y_train, x_val, y_val, sink, should_stop
        )
    else:
        model, steps, stopped = _fit_sklearn(
            params, spec, x_train, y_train, x_val, y_val, sink, should_stop
        )
    result.model, result.steps = model, steps
    result.status = "stopped" if stopped else "finished"
    if model is None:
        return result

    result.val_predictions = _predictions(split.val, y_val, predict_scores(model, x_val))
    x_raw_train = X.iloc[split.train]
    result.profile = training_profile(
        x_raw_train, list(ds.numeric), list(ds.categorical), predict_scores(model, x_train)
    )
    result.importance = permutation_importances(model, pre, X.iloc[split.val], y_val, spec.seed)
    # The test split is touched here, once, after training is over.
    x_test = pre.transform(X.iloc[split.test]).astype(np.float32)
    test_scores = predict_scores(model, x_test)
    result.test_predictions = _predictions(split.test, y[split.test], test_scores)
    result.test_metrics = binary_metrics(y[split.test], test_scores, 0.5)
    return result


def _predictions(rows: np.ndarray, y: np.ndarray, score: np.ndarray) -> pd.DataFrame:
    return pd.DataFrame({"row": rows.astype(np.int64), "y_true": y.astype(np.int8), "score": score})


def predict_scores(model, x: np.ndarray) -> np.ndarray:
    """Probability of the positive class for preprocessed rows.

    Args:
        model: a fitted sklearn classifier or a Keras model with one sigmoid output.
        x: float32 array of shape (n, n_features).

    Returns:
        np.ndarray: float64 scores of shape (n,).
    """
    if hasattr(model, "predict_proba"):
        return model.predict_proba(x)[:, 1].astype(np.float64)
    if len(x) <= 8192:  # one eager call: far cheaper than predict()'s setup for small batches
        return np.asarray(model(x, training=False), dtype=np.float64).ravel()
    return np.asarray(model.predict(x, verbose=0, batch_size=4096), dtype=np.float64).ravel()


def _step_metrics(model, x_train, y_train, x_val, y_val) -> dict[str, float]:
    from sklearn.metrics import log_loss, roc_auc_score

    p_train = model.predict_proba(x_train)[:, 1]
    p_val = model.predict_proba(x_val)[:, 1]
    return {
        "loss": float(log_loss(y_train, p_train, labels=[0, 1])),
        "val_loss": float(log_loss(y_val, p_val, labels=[0, 1])),
        "val_auc": float(roc_auc_score(y_val, p_val)),
    }


def _fit_sklearn(params, spec, x_train, y_train, x_val, y_val, sink, should_stop):
    from finml.models.tabular import build_sklearn

    model = build_sklearn(spec.model, params, class_weights=spec.class_weights, seed=spec.seed)
    if spec.model != "hgb":
        model.fit(x_train, y_train)
        sink.on_step(1, 1, _step_metrics(model, x_train, y_train, x_val, y_val))
        return model, 1, False
    total, done = params["max_iter"], 0
    while done < total:
        if should_stop():
            return (model if done else None), done, True
        done = min(done + HGB_STEP, total)
        model.set_params(max_iter=done)
        model.fit(x_train, y_train)  # warm_start: adds the next trees to the ensemble
        sink.on_step(done, total, _step_metrics(model, x_train, y_train, x_val, y_val))
    return model, done, False


def class_weight_dict(y_train: np.ndarray, n_classes: int = 2) -> dict[int, float]:
    """Balanced class weights from the training labels: ``n / (n_classes * n_class)``
    (``sklearn.utils.class_weight.compute_class_weight("balanced")``).

    Args:
        y_train: int class indices of the training split, shape (n,).
        n_classes: number of classes; every class must occur in ``y_train``.
    """
    from sklearn.utils.class_weight import compute_class_weight

    classes = np.arange(n_classes)
    weights = compute_class_weight("balanced", classes=classes, y=y_train)
    return {int(c): float(w) for c, w in zip(classes, weights, strict=True)}


def _fit_mlp(params, spec, x_train, y_train, x_val, y_val, sink, should_stop):
    import keras

    from finml.callbacks import SinkCallback, StopOnRequest
    from finml.models.tabular import build_mlp

    model = build_mlp(x_train.shape[1], params, seed=spec.seed)
    stopper = StopOnRequest(should_stop)
    reporter = SinkCallback(sink, params["epochs"])
    callbacks = [
        keras.callbacks.EarlyStopping(
            monitor="val_loss", patience=params["patience"], restore_best_weights=True
        ),
        reporter,
        stopper,
    ]
    model.fit(
        x_train,
        y_train.astype(np.float32),
        validation_data=(x_val, y_val.astype(np.float32)),
        epochs=params["epochs"],
        batch_size=params["batch_size"],
        class_weight=class_weight_dict(y_train) if spec.class_weights else None,
        callbacks=callbacks,
        verbose=0,
    )
    return model, reporter.epochs_done_, stopper.stopped_
