"""Keras callbacks that let training report progress and obey a stop request without
knowing about the UI (every one resets its state in ``on_train_begin``). Importing this
module imports Keras."""

from __future__ import annotations

from collections.abc import Callable

import keras

#: Keras log keys forwarded to the sink, and the names they get there.
EPOCH_KEYS = {"loss": "loss", "val_loss": "val_loss", "val_auc": "val_auc", "val_rmse": "val_rmse"}


class SinkCallback(keras.callbacks.Callback):
    """Send each epoch's loss, validation loss and validation ROC-AUC to a sink.

    Args:
        sink: object with ``on_step(step: int, total: int, metrics: dict[str, float])``;
            ``step`` is the 1-based epoch.
        epochs: planned number of epochs (the progress bar's total).
    """

    def __init__(self, sink, epochs: int):
        super().__init__()
        self.sink = sink
        self.epochs = epochs

    def on_train_begin(self, logs=None):
        self.epochs_done_ = 0

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        self.epochs_done_ = epoch + 1
        metrics = {out: float(logs[k]) for k, out in EPOCH_KEYS.items() if k in logs}
        self.sink.on_step(epoch + 1, self.epochs, metrics)


class StopOnRequest(keras.callbacks.Callback):
    """End training after the current batch once ``should_stop()`` returns True.

    Args:
        should_stop: cheap predicate checked after every batch (e.g. a stop file exists).
    """

    def __init__(self, should_stop: Callable[[], bool]):
        super().__init__()
        self.should_stop = should_stop

    def on_train_begin(self, logs=None):
        self.stopped_ = False

    def on_train_batch_end(self, batch, logs=None):
        if self.should_stop():
            self.stopped_ = True
            self.model.stop_training = True


class ValidationMeter(keras.callbacks.Callback):
    """Add the task's validation metric (``val_auc``, ``val_rmse``: whatever ``meter``
    returns) to each epoch's logs. Put it before :class:`SinkCallback` so the sink sees it.

    Args:
        x: validation inputs (an array, or a batched ``tf.data.Dataset`` without labels).
        y: their targets as the task measures them, shape (n,) or (n, h).
        meter: ``meter(y, output) -> {name: value}``
            (:attr:`finml.fitters.base.FitData.meter`).
        n_classes: classes of a class target (its output: probabilities), 0 for numbers.
    """

    def __init__(self, x, y, meter: Callable, n_classes: int):
        super().__init__()
        self.x = x
        self.y = y
        self.meter = meter
        self.n_classes = n_classes

    def on_train_begin(self, logs=None):
        self.history_ = []

    def on_epoch_end(self, epoch, logs=None):
        from finml.fitters.base import scores

        values = self.meter(self.y, scores(self.model, self.x, self.n_classes))
        self.history_.append(values)
        if logs is not None:
            logs.update(values)


def fit_with_progress(net, x, y, val, params: dict, sink, should_stop, extra=(), class_weight=None):
    """Fit a compiled network with finml's progress and stop callbacks: early stopping on
    the validation loss (best weights restored) when there are validation rows, then the
    ``extra`` callbacks (which add metrics to the logs), the sink and the stop request.

    Args:
        net: a compiled ``keras.Model``.
        x, y: training inputs and targets.
        val: ``(x_val, y_val)``, or ``None`` for a fixed number of epochs.
        params: ``epochs``, ``batch_size``, ``patience``.
        sink: receives each epoch's metrics (:class:`SinkCallback`).
        should_stop: checked after every batch.
        extra: callbacks run before the sink sees the logs.
        class_weight: Keras class weights, or ``None``.

    Returns:
        (epochs done, stopped by a request).
    """
    reporter = SinkCallback(sink, params["epochs"])
    stopper = StopOnRequest(should_stop)
    callbacks = [*extra, reporter, stopper]
    if val is not None:
        callbacks.insert(
            0,
            keras.callbacks.EarlyStopping(
                monitor="val_loss", patience=params["patience"], restore_best_weights=True
            ),
        )
    net.fit(
        x,
        y,
        validation_data=val,
        epochs=params["epochs"],
        batch_size=params["batch_size"],
        class_weight=class_weight,
        callbacks=callbacks,
        verbose=0,
    )
    return reporter.epochs_done_, stopper.stopped_


def fit_validated(net, data, x_train, y_train, val, params: dict, sink, should_stop, meter=None):
    """:func:`fit_with_progress` with the task's validation metric in the logs when there
    are validation rows (:class:`ValidationMeter` on ``meter``, default the validation
    rows themselves).

    Args:
        net: a compiled ``keras.Model``.
        data: the task's :class:`finml.fitters.base.FitData` (its meter, classes, class
            weights and whether there are validation rows).
        x_train, y_train: training inputs and targets as the network takes them.
        val: ``(x_val, y_val)`` as the network takes them (ignored without validation rows).
        params: ``epochs``, ``batch_size``, ``patience``.
        sink: receives each epoch's metrics.
        should_stop: checked after every batch.
        meter: ``(inputs, targets)`` the validation metric is computed on, when not ``val``
            (a sample of the rows, or batched images).

    Returns:
        (epochs done, stopped by a request).
    """
    extra = ()
    if data.has_val:
        inputs, targets = meter if meter is not None else val
        extra = (ValidationMeter(inputs, targets, data.meter, data.n_classes),)
    else:
        val = None
    return fit_with_progress(
        net, x_train, y_train, val, params, sink, should_stop, extra, data.class_weight
    )
