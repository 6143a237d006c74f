"""Train an image classifier on a staged image set: group-aware split, ``tf.data`` input
(cache, shuffle, prefetch), live progress to a sink, stop on request, one test evaluation.
Importing this module does not import TensorFlow; :func:`run_image_training` does."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from finml.data.split import class_report, make_split
from finml.errors import DataError, listing
from finml.evaluation.metrics import image_metrics
from finml.models.pipeline import FittedModel
from finml.models.registry import resolve_params
from finml.training.base import Sink, TrainResult, class_weight_dict, never_stop
from finml.training.spec import RunSpec
from finml.training.tuning import best_params_of


def encode_labels(labels: np.ndarray, classes: tuple[str, ...]) -> np.ndarray:
    """Class indices (int64, shape (n,)) of ``labels`` in ``classes``.

    Raises:
        DataError: a label is not one of ``classes``.
    """
    index = {c: i for i, c in enumerate(classes)}
    unknown = sorted(set(labels.tolist()) - set(index))
    if unknown:
        raise DataError(
            f"Labels {listing(unknown, 5)} are not among the classes {listing(classes)}."
        )
    return np.array([index[v] for v in labels.tolist()], dtype=np.int64)


def make_dataset(
    images: np.ndarray,
    y: np.ndarray | None,
    batch_size: int,
    *,
    shuffle: bool = False,
    seed: int = 0,
):
    """A ``tf.data`` pipeline over in-memory images: cache, (shuffle), batch, prefetch.

    Args:
        images: uint8 array of shape (n, size, size, channels).
        y: int class indices of shape (n,), or None for images only.
        batch_size: batch size.
        shuffle: reshuffle every epoch (training only).
        seed: shuffle seed.
    """
    import tensorflow as tf

    data = tf.data.Dataset.from_tensor_slices(images if y is None else (images, y)).cache()
    if shuffle:
        data = data.shuffle(len(images), seed=seed, reshuffle_each_iteration=True)
    return data.batch(batch_size).prefetch(tf.data.AUTOTUNE)


def predictions_frame(
    rows: np.ndarray, y: np.ndarray, proba: np.ndarray, positive: int
) -> pd.DataFrame:
    """Stored predictions: ``row``, ``y_true`` (class index), ``score`` (probability of the
    positive class) and ``p_<i>`` per class."""
    out = pd.DataFrame(
        {
            "row": rows.astype(np.int64),
            "y_true": y.astype(np.int64),
            "score": proba[:, positive].astype(np.float64),
        }
    )
    for i in range(proba.shape[1]):
        out[f"p_{i}"] = proba[:, i].astype(np.float64)
    return out


def run_image_training(
    spec: RunSpec,
    data: dict[str, np.ndarray],
    sink: Sink,
    should_stop: Callable[[], bool] = never_stop,
) -> TrainResult:
    """Train ``spec`` (an image model) on a staged image set and evaluate once on test.

    Args:
        spec: run spec with an :class:`~finml.data.spec.ImageDatasetSpec`.
        data: arrays from :func:`finml.data.staging.load_staged_images`.
        sink: receives ``on_step`` after each epoch (loss, val_loss, val_auc).
        should_stop: checked after every batch.

    Returns:
        TrainResult (``test_metrics`` from :func:`finml.evaluation.metrics.image_metrics`).

    Raises:
        DataError, SplitError, SpecError: bad labels, an impossible split, bad parameters.
    """
    ds = spec.dataset
    params = resolve_params(spec.model, spec.params)
    y = encode_labels(data["labels"], ds.classes)
    groups = data["groups"]
    split = make_split(pd.DataFrame({"group": groups}), y, ds.split)
    report = class_report(y, ds.classes, split, groups if ds.split.group_col else None)
    result = TrainResult(status="finished", steps=0, split=split, split_report=report)
    if should_stop():
        result.status = "stopped"
        return result
    images = data["images"]
    if spec.tune_trials:
        result.tuning = _tune_images(spec, params, images, y, split, sink, should_stop)
        params = best_params_of(result.tuning)  # the best trial, refit here, tested once
        if params is None:
            result.status = "stopped"
            return result
    model, result.steps, stopped = _fit_images(params, spec, images, y, split, sink, should_stop)
    result.status = "stopped" if stopped else "finished"
    if result.steps == 0:
        return result
    positive = ds.classes.index(ds.positive)
    result.model = FittedModel(estimator=model, class_names=ds.classes, positive=positive)
    val_proba = result.model.predict_proba(images[split.val])
    result.val_predictions = predictions_frame(split.val, y[split.val], val_proba, positive)
    # The test split is touched here, once, after training is over.
    test_proba = result.model.predict_proba(images[split.test])
    result.test_predictions = predictions_frame(split.test, y[split.test], test_proba, positive)
    result.test_metrics = image_metrics(y[split.test], test_proba, positive)
    return result


def _fit_images(params, spec, images, y, split, sink, should_stop):
    """Fit one image model on the training split with early stopping on the validation
    split; returns (Keras model, epochs done, stopped)."""
    import keras

    from finml.models.vision import build_vision_model
    from finml.training.callbacks import SinkCallback, StopOnRequest, ValidationAUC

    ds = spec.dataset
    bs = params["batch_size"]
    train = make_dataset(images[split.train], y[split.train], bs, shuffle=True, seed=spec.seed)
    val = make_dataset(images[split.val], y[split.val], bs)
    val_images = make_dataset(images[split.val], None, bs)
    model = build_vision_model(spec.model, ds.input_shape, len(ds.classes), params, seed=spec.seed)
    stopper = StopOnRequest(should_stop)
    reporter = SinkCallback(sink, params["epochs"])
    weights = None
    if spec.class_weights:
        weights = class_weight_dict(y[split.train], n_classes=len(ds.classes))
    model.fit(
        train,
        validation_data=val,
        epochs=params["epochs"],
        shuffle=False,  # the tf.data pipeline reshuffles every epoch
        class_weight=weights,
        callbacks=[
            ValidationAUC(val_images, y[split.val]),
            keras.callbacks.EarlyStopping(
                monitor="val_loss", patience=params["patience"], restore_best_weights=True
            ),
            reporter,
            stopper,
        ],
        verbose=0,
    )
    return model, reporter.epochs_done_, stopper.stopped_


def _tune_images(spec, params, images, y, split, sink, should_stop):
    """The Optuna study of an image run: each trial judged on the validation split's ROC-AUC
    (one-vs-rest macro for more than two classes) of its early-stopped weights; the pruner
    sees each epoch's validation ROC-AUC."""
    from finml.evaluation.metrics import multiclass_auc
    from finml.training.tuning import tune

    def score(trial_params, reporter, stop):
        model, steps, halted = _fit_images(trial_params, spec, images, y, split, reporter, stop)
        if halted or steps == 0:
            return None, steps
        proba = FittedModel(estimator=model, class_names=spec.dataset.classes)
        return float(multiclass_auc(y[split.val], proba.predict_proba(images[split.val]))), steps

    return tune(spec, params, score, sink, should_stop)
