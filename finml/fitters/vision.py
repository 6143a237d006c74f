"""The image classifiers (small CNN, ResNet-18-like, ResNet50, MobileNetV2:
:func:`finml.models.vision.build_vision_model`), trained on ``tf.data`` pipelines (cache,
shuffle, prefetch) with finml's progress, stop and early-stopping callbacks. Importing
this module does not import TensorFlow; fitting does."""

from __future__ import annotations

import numpy as np

from finml.fitters.base import FitData, FitResult, Fitter


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


class ImageFitter(Fitter):
    """A Keras image classifier on the training images, early-stopped on the validation
    images (best weights restored); the validation ROC-AUC (one-vs-rest macro for more
    than two classes) after every epoch."""

    family = "keras"

    def fit(self, spec, params, data: FitData, sink, should_stop) -> FitResult:
        """Train the network; see :meth:`finml.fitters.base.Fitter.fit`."""
        import keras

        from finml.fitters.callbacks import SinkCallback, StopOnRequest, ValidationMeter
        from finml.models.vision import build_vision_model

        ds, bs = spec.dataset, params["batch_size"]
        train = make_dataset(data.x_train, data.y_train, bs, shuffle=True, seed=spec.seed)
        val = make_dataset(data.x_val, data.y_val, bs)
        k = data.n_classes
        model = build_vision_model(spec.model, ds.input_shape, k, params, seed=spec.seed)
        stopper = StopOnRequest(should_stop)
        reporter = SinkCallback(sink, params["epochs"])
        images = make_dataset(data.x_val, None, bs)
        meter = ValidationMeter(images, data.y_val, data.meter, data.n_classes)
        model.fit(
            train,
            validation_data=val,
            epochs=params["epochs"],
            shuffle=False,  # the tf.data pipeline reshuffles every epoch
            class_weight=data.class_weight,
            callbacks=[
                meter,
                keras.callbacks.EarlyStopping(
                    monitor="val_loss", patience=params["patience"], restore_best_weights=True
                ),
                reporter,
                stopper,
            ],
            verbose=0,
        )
        if reporter.epochs_done_ == 0:
            return FitResult(None, 0, True)
        return FitResult(model, reporter.epochs_done_, stopper.stopped_)
