"""Keras callbacks that let training report progress and obey a stop request without
knowing about the UI. Importing this module imports Keras."""

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


class ValidationAUC(keras.callbacks.Callback):
    """Add ``val_auc`` (ROC-AUC on the validation data, one-vs-rest macro average for more
    than two classes; ``sklearn.metrics.roc_auc_score``) to each epoch's logs. Put it before
    :class:`SinkCallback` so the sink sees it.

    Args:
        data: a batched ``tf.data.Dataset`` of validation images (no labels).
        y: int class indices of the validation rows, shape (n,).
    """

    def __init__(self, data, y):
        super().__init__()
        self.data = data
        self.y = y

    def on_train_begin(self, logs=None):
        self.history_ = []

    def on_epoch_end(self, epoch, logs=None):
        from finml.evaluation.metrics import multiclass_auc

        proba = self.model.predict(self.data, verbose=0)
        auc = multiclass_auc(self.y, proba)
        self.history_.append(auc)
        if logs is not None:
            logs["val_auc"] = auc


class ValidationRMSE(keras.callbacks.Callback):
    """Add ``val_rmse`` (root mean squared error on the validation rows, in the target's own
    units) to each epoch's logs. Put it before :class:`SinkCallback` so the sink sees it.

    Args:
        x: preprocessed validation rows, float32 (n, n_features).
        y: their actual values in the target's units, float64 (n,).
        decode: maps the network's outputs (n, 1) to the target's units
            (:meth:`finml.models.pipeline.FittedRegressor.decode_target`).
    """

    def __init__(self, x, y, decode: Callable):
        super().__init__()
        self.x = x
        self.y = y
        self.decode = decode

    def on_train_begin(self, logs=None):
        self.history_ = []

    def on_epoch_end(self, epoch, logs=None):
        import numpy as np

        pred = self.decode(keras.ops.convert_to_numpy(self.model(self.x, training=False)))
        rmse = float(np.sqrt(np.mean((self.y - pred) ** 2)))
        self.history_.append(rmse)
        if logs is not None:
            logs["val_rmse"] = rmse
