"""Fit a multi-class table run (a rating grade A-G, a product, a segment): stratified
split, preprocessing fitted on the training split only, logistic regression (multinomial),
gradient boosting or a Keras MLP with a softmax output, live loss / validation loss /
validation ROC-AUC (one-vs-rest, macro), and the k-class metrics on the test split once."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from finml.data.split import class_report, make_split
from finml.data.target import validate_classes
from finml.errors import SpecError
from finml.evaluation.drift import training_profile
from finml.evaluation.metrics import image_metrics, multiclass_auc
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
from finml.training.spec import RunSpec
from finml.training.tables import PROFILE_ROWS, _BoostingProgress, _sample


def run_multiclass(
    spec: RunSpec,
    frame: pd.DataFrame,
    sink: Sink,
    should_stop: Callable[[], bool] = never_stop,
    *,
    explain: bool = True,
    progress_every_s: float = PROGRESS_EVERY_S,
) -> TrainResult:
    """Train the multi-class ``spec`` on ``frame`` and evaluate once on the test split.

    Args:
        spec: the run spec; ``dataset.task == "multiclass"``, ``dataset.classes`` the class
            names (index i = class i), ``dataset.positive`` the class of the binary view.
        frame: the staged table.
        sink: receives ``loss``, ``val_loss`` and ``val_auc`` (macro one-vs-rest ROC-AUC).
        should_stop: checked after every batch or boosting iteration.
        explain: also compute permutation importance (macro one-vs-rest ROC-AUC drop).
        progress_every_s: seconds between two progress calls.

    Returns:
        TrainResult with predictions ``row``, ``y_true`` (class index), ``score`` (the
        positive class's probability) and ``p_<i>`` per class; ``test_metrics`` of
        :func:`finml.evaluation.metrics.image_metrics` (accuracy, macro F1, ROC-AUC).

    Raises:
        TargetError, SplitError, SpecError, DataError: as for binary tables; SpecError too
            for cross-validation or tuning (not offered for multi-class yet).
    """
    ds = spec.dataset
    info = get_model(spec.model)
    if info.task != "table":
        raise SpecError(f"{info.label} is not a table classifier.")
    if spec.cv_folds or spec.tune_trials:
        raise SpecError("Cross-validation and tuning are not offered for multi-class yet.")
    params = resolve_params(spec.model, spec.params)
    classes = tuple(ds.classes)
    y = validate_classes(frame[ds.target], classes)
    split = make_split(frame, y, ds.split)
    report = class_report(y, classes, split)
    numeric, categorical = list(ds.numeric), list(ds.categorical)
    X = prepare_features(frame, numeric, categorical)
    result = TrainResult(status="finished", steps=0, split=split, split_report=report)
    if should_stop():
        result.status = "stopped"
        return result
    pre, x_train, x_val = fit_preprocessing(X, numeric, categorical, params, split.train, split.val)
    y_train, y_val = y[split.train], y[split.val]
    sampled = SampledSink(sink, progress_every_s)
    fit = _fit_net if info.family == "keras" else _fit_sklearn
    estimator, steps, stopped = fit(
        params, spec, len(classes), (x_train, y_train), (x_val, y_val), sampled, should_stop
    )
    sampled.flush()
    result.steps, result.status = steps, "stopped" if stopped else "finished"
    if estimator is None:
        return result
    positive = classes.index(ds.positive) if ds.positive in classes else 0
    model = FittedModel(
        estimator=estimator,
        preprocessor=pre,
        numeric=tuple(numeric),
        categorical=tuple(categorical),
        class_names=classes,
        positive=positive,
    )
    rows = _sample(len(y_train), PROFILE_ROWS, spec.seed)
    top = model.predict_proba_transformed(x_train[rows]).max(axis=1)
    model.set_params(profile=training_profile(X.iloc[split.train], numeric, categorical, top))
    result.model = model
    result.val_predictions = _predictions(
        split.val, y_val, model.predict_proba_transformed(x_val), positive
    )
    # The test split is touched here, once, after training is over.
    test_proba = model.predict_proba(X.iloc[split.test])
    result.test_predictions = _predictions(split.test, y[split.test], test_proba, positive)
    result.test_metrics = image_metrics(y[split.test], test_proba, positive)
    if explain:
        result.importance = explain_multiclass(spec, frame, result)
    return result


def explain_multiclass(spec: RunSpec, frame: pd.DataFrame, result: TrainResult) -> pd.DataFrame:
    """Permutation importance of a multi-class run on its validation split: the drop of the
    macro one-vs-rest ROC-AUC (scikit-learn's ``roc_auc_ovr`` scorer)."""
    from finml.evaluation.explain import permutation_importances

    if result.model is None:
        return pd.DataFrame()
    ds = spec.dataset
    val = result.val_predictions["row"].to_numpy()
    X_val = prepare_features(frame.iloc[val], list(ds.numeric), list(ds.categorical))
    y_val = result.val_predictions["y_true"].to_numpy()
    return permutation_importances(result.model, X_val, y_val, spec.seed, scoring="roc_auc_ovr")


def _predictions(rows, y, proba, positive: int) -> pd.DataFrame:
    out = pd.DataFrame(
        {"row": rows.astype(np.int64), "y_true": y.astype(np.int64), "score": proba[:, positive]}
    )
    for i in range(proba.shape[1]):
        out[f"p_{i}"] = proba[:, i].astype(np.float64)
    return out


def _fit_sklearn(params, spec, k, train, val, sink, should_stop):
    """Logistic regression (one fit) or boosting (one fit, the loss after every iteration
    from the fit's own bookkeeping, as for binary tables)."""
    from sklearn.metrics import log_loss

    from finml.models.tabular import build_sklearn

    (x_train, y_train), (x_val, y_val) = train, val
    model = build_sklearn(spec.model, params, class_weights=spec.class_weights, seed=spec.seed)
    if spec.model != "hgb":
        model.fit(x_train, y_train)
        proba = model.predict_proba(x_val)
        metrics = {
            "loss": float(log_loss(y_train, model.predict_proba(x_train), labels=range(k))),
            "val_loss": float(log_loss(y_val, proba, labels=range(k))),
            "val_auc": multiclass_auc(y_val, proba),
        }
        sink.on_step(1, 1, metrics)
        return model, 1, False
    total = params["max_iter"]
    model.set_params(early_stopping=True, scoring="loss", n_iter_no_change=total + 1)
    hook = _BoostingProgress(model, sink, total, should_stop)
    model._should_stop = hook
    try:
        model.fit(x_train, y_train, X_val=x_val, y_val=y_val)
    finally:
        del model._should_stop
    done = int(model.n_iter_)
    if done == 0:
        return None, 0, True
    sink.on_step(done, total, {"val_auc": multiclass_auc(y_val, model.predict_proba(x_val))})
    return model, done, hook.stopped_


def _fit_net(params, spec, k, train, val, sink, should_stop):
    from finml.models.tabular import build_mlp
    from finml.training.callbacks import ValidationAUC, fit_with_progress

    (x_train, y_train), (x_val, y_val) = train, val
    net = build_mlp(x_train.shape[1], params, seed=spec.seed, n_classes=k)
    weights = class_weight_dict(y_train, k) if spec.class_weights else None
    epochs, stopped = fit_with_progress(
        net,
        x_train,
        y_train,
        (x_val, y_val),
        params,
        sink,
        should_stop,
        (ValidationAUC(x_val, y_val),),
        weights,
    )
    return (None, 0, True) if epochs == 0 else (net, epochs, stopped)
