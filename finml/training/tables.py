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
from finml.models.features import build_preprocessor, prepare_features
from finml.models.pipeline import FittedModel
from finml.models.registry import get_model, resolve_params
from finml.training.base import Sink, TrainResult, class_weight_dict, never_stop
from finml.training.spec import RunSpec

#: Boosting iterations between two progress reports of gradient boosting.
HGB_STEP = 10


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
    numeric, categorical = list(ds.numeric), list(ds.categorical)
    X = prepare_features(frame, numeric, categorical)
    result = TrainResult(status="finished", steps=0, split=split, split_report=report)
    if should_stop():
        result.status = "stopped"
        return result

    pre = build_preprocessor(numeric, categorical)
    x_train = pre.fit_transform(X.iloc[split.train]).astype(np.float32)
    x_val = pre.transform(X.iloc[split.val]).astype(np.float32)
    y_train, y_val = y[split.train], y[split.val]
    fit = _fit_mlp if info.family == "keras" else _fit_sklearn
    estimator, steps, stopped = fit(params, spec, x_train, y_train, x_val, y_val, sink, should_stop)
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
    train_scores = model.predict_proba_transformed(x_train)[:, 1]
    model.set_params(
        profile=training_profile(X.iloc[split.train], numeric, categorical, train_scores)
    )
    result.model = model
    val_scores = model.predict_proba_transformed(x_val)[:, 1]
    result.val_predictions = _predictions(split.val, y_val, val_scores)
    result.importance = permutation_importances(model, X.iloc[split.val], y_val, spec.seed)
    # The test split is touched here, once, after training is over.
    test_scores = model.positive_score(X.iloc[split.test])
    result.test_predictions = _predictions(split.test, y[split.test], test_scores)
    result.test_metrics = binary_metrics(y[split.test], test_scores, 0.5)
    return result


def _predictions(rows: np.ndarray, y: np.ndarray, score: np.ndarray) -> pd.DataFrame:
    return pd.DataFrame({"row": rows.astype(np.int64), "y_true": y.astype(np.int8), "score": score})


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


def _fit_mlp(params, spec, x_train, y_train, x_val, y_val, sink, should_stop):
    import keras

    from finml.models.tabular import build_mlp
    from finml.training.callbacks import SinkCallback, StopOnRequest

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
