"""Keras callbacks that let training report progress and obey a stop request without
knowing about the UI. Importing this module imports Keras."""

from __future__ import annotations

from collections.abc import Callable

import keras

#: Keras log keys forwarded to the sink, and the names they get there.
EPOCH_KEYS = {"loss": "loss", "val_loss": "val_loss", "val_auc": "val_auc"}


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
