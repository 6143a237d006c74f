"""Transfer learning for images: the frozen ImageNet backbone (EfficientNet-Lite0,
:mod:`finml.models.efficientnet`) turns each image into 1,280 pooled features once, cached
per staged image set; a head trains on them in seconds: a logistic regression (one fit)
or a dense softmax layer (epochs, live curves, early stopping).

The fitted estimator is one Keras network, images -> probabilities: the backbone with the
head folded into its last layer (the features' standardisation included), so Evaluate,
Predict and Grad-CAM take it like any image model, and a bundle stores only the head
(:mod:`finml.models.bundle`). Importing this module does not import TensorFlow.
"""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

import numpy as np

from finml.fitters.base import FitData, FitResult, Fitter, Sink, never_stop, one_step
from finml.models.efficientnet import (
    FEATURES,
    check_weights,
    feature_extractor,
    finetuned_name,
    head_of,
    head_proba,
    pretrained_network,
    unfreeze_top,
)

#: Images per forward pass of the feature extraction.
EXTRACT_BATCH = 32
#: What the progress bar says during the extraction.
EXTRACTING = "extracting ImageNet features"
#: The ``mode`` that fine-tunes the top blocks (else a head on frozen features).
FINE_TUNE = "fine-tune"
#: Version of the feature cache's layout (bump when the extraction changes).
CACHE_VERSION = 1


def extract_features(
    images: np.ndarray,
    sink: Sink | None = None,
    should_stop=never_stop,
    batch_size: int = EXTRACT_BATCH,
) -> np.ndarray | None:
    """Pass images once through the frozen backbone.

    Args:
        images: uint8 array (n, size, size, channels), channels 1 (replicated to RGB) or 3;
            resized to 224 px inside the network.
        sink: receives ``on_stage(EXTRACTING, done, n)`` after each batch.
        should_stop: checked after each batch.
        batch_size: images per forward pass.

    Returns:
        float32 array (n, 1280), or ``None`` if a stop request came first.
    """
    extractor = feature_extractor(images.shape[1:])
    out = np.empty((len(images), FEATURES), dtype=np.float32)
    for start in range(0, len(images), batch_size):
        batch = images[start : start + batch_size]
        out[start : start + len(batch)] = extractor.predict_on_batch(batch)
        if sink is not None:
            sink.on_stage(EXTRACTING, start + len(batch), len(images))
        if should_stop():
            return None
    return out


def cache_file(prefix: Path, images: np.ndarray) -> Path:
    """Where the features of a staged image set are cached: beside it, named by the
    weights' checksum, the cache version and the images' shape."""
    from finml.models.efficientnet import WEIGHTS_SHA256

    shape = "x".join(str(d) for d in images.shape)
    key = hashlib.sha256(f"{WEIGHTS_SHA256}-{CACHE_VERSION}-{shape}".encode()).hexdigest()[:16]
    return Path(f"{prefix}.features-{key}.npy")


def cached_features(
    images: np.ndarray, prefix: Path | None, sink: Sink, should_stop
) -> np.ndarray | None:
    """The images' features from the cache beside their staged set, or extracted (and
    cached) now. A cache file of another shape or with non-finite values is ignored.

    Args:
        images: the staged set's images (n, size, size, channels) uint8.
        prefix: the staged set's path without suffix, or ``None`` (no cache).
        sink: receives the extraction's progress.
        should_stop: checked after each batch.

    Returns:
        float32 array (n, 1280), or ``None`` if a stop request came first.
    """
    path = cache_file(prefix, images) if prefix is not None else None
    if path is not None and path.is_file():
        try:
            features = np.load(path, allow_pickle=False)
            if features.shape == (len(images), FEATURES) and np.isfinite(features).all():
                sink.on_stage("ImageNet features from the cache", len(images), len(images))
                return features.astype(np.float32, copy=False)
        except (OSError, ValueError):
            pass
    features = extract_features(images, sink, should_stop)
    if features is not None and path is not None:
        tmp = path.with_suffix(f".{time.time_ns()}.tmp.npy")
        try:
            np.save(tmp, features)
            tmp.replace(path)
        except OSError:
            tmp.unlink(missing_ok=True)  # a cache that cannot be written is only slower
    return features


def fold_head(coef: np.ndarray, intercept: np.ndarray, mean, scale) -> tuple:
    """A linear head on standardised features as a softmax layer on raw features.

    A binary logistic regression (one row of coefficients) becomes two softmax columns,
    ``[0, w]`` and ``[0, b]``: their softmax is the sigmoid of ``w x + b``.

    Args:
        coef: (k, 1280) or (1, 1280) coefficients on ``(x - mean) / scale``.
        intercept: (k,) or (1,) intercepts.
        mean, scale: (1280,) the training features' mean and standard deviation.

    Returns:
        float32 kernel (1280, k) and bias (k,).
    """
    coef, intercept = np.atleast_2d(coef), np.atleast_1d(intercept)
    if coef.shape[0] == 1:
        coef = np.vstack([np.zeros_like(coef), coef])
        intercept = np.concatenate([[0.0], intercept])
    kernel = (coef / scale).T
    bias = intercept - (coef * (mean / scale)).sum(axis=1)
    return kernel.astype(np.float32), bias.astype(np.float32)


class PretrainedFitter(Fitter):
    """Transfer learning from the ImageNet backbone, in one of two modes (``mode``):

    - ``"features"``: a head on the frozen backbone's features (the task hands it the
      cached features, from :meth:`image_inputs`): a logistic regression
      (``head="logistic"``: one step) or a dense softmax layer with dropout
      (``head="dense"``: epochs, early stopping on the validation loss);
    - ``"fine-tune"``: that head first, on features of the training images, then the top
      ``unfreeze`` blocks and the head trained together on the images with augmentation at
      the lower rate ``finetune_rate`` (epochs, early stopping, Stop). Batch normalisation
      stays in inference mode (its layers are frozen), as Keras' transfer-learning guide
      does for small data.
    """

    family = "keras"
    step_unit = "epoch"

    def check(self, spec) -> None:
        """The weights package must be installed and its file unchanged (SHA-256).

        Raises:
            SpecError: the package missing, or its weights file changed.
        """
        check_weights()

    def image_inputs(self, spec, data: dict, sink: Sink, should_stop) -> np.ndarray | None:
        """The pooled features of every staged image (:func:`cached_features`), or the
        images themselves to fine-tune on."""
        if spec.params.get("mode") == FINE_TUNE:
            return data["images"]
        prefix = data.get("cache_prefix")
        return cached_features(data["images"], prefix and Path(prefix), sink, should_stop)

    def image_proba(self, model, x: np.ndarray) -> np.ndarray:
        """Class probabilities from pooled features (n, 1280) through the model's head, or
        from images through the whole network."""
        if x.ndim == 2:
            return head_proba(*head_of(model.estimator), x)
        return model.predict_proba(x)

    def fit(self, spec, params, data: FitData, sink, should_stop) -> FitResult:
        """Fit the head (and fine-tune); see :meth:`Fitter.fit`."""
        shape = tuple(spec.dataset.input_shape)
        if params.get("mode") == FINE_TUNE:
            return self._fine_tune(spec, params, data, sink, should_stop)
        kernel, bias, steps, stopped, val = self._head(spec, params, data, sink, should_stop)
        if steps == 0:
            return FitResult(None, 0, True)
        return FitResult(pretrained_network(shape, kernel, bias), steps, stopped, val)

    def _head(self, spec, params, data: FitData, sink, should_stop):
        """Fit the head on features: (kernel, bias, steps, stopped, validation output)."""
        mean = data.x_train.mean(axis=0).astype(np.float64)
        scale = data.x_train.std(axis=0).astype(np.float64)
        scale[scale < 1e-6] = 1.0

        def standard(x):
            return ((x - mean) / scale).astype(np.float32)

        if params["head"] == "logistic":
            from sklearn.linear_model import LogisticRegression

            lr = LogisticRegression(
                C=params["C"], max_iter=5000, class_weight=data.class_weight
            ).fit(standard(data.x_train), data.y_train)
            kernel, bias = fold_head(lr.coef_, lr.intercept_, mean, scale)
            val = one_step(_Head(kernel, bias), data, sink).val_output
            return kernel, bias, 1, False, val
        coef, intercept, steps, stopped = self._dense(
            spec, params, data, standard, sink, should_stop
        )
        return (*fold_head(coef, intercept, mean, scale), steps, stopped, None)

    def _fine_tune(self, spec, params, data: FitData, sink, should_stop) -> FitResult:
        import dataclasses

        import keras

        from finml.fitters.base import ListSink
        from finml.fitters.callbacks import fit_validated
        from finml.fitters.vision import make_dataset
        from finml.models.vision import augmentation

        shape = tuple(spec.dataset.input_shape)
        features = extract_features(data.x_train, sink, should_stop)
        val_features = extract_features(data.x_val, sink, should_stop) if data.has_val else None
        if features is None or (data.has_val and val_features is None):
            return FitResult(None, 0, True)
        on_features = dataclasses.replace(data, x_train=features, x_val=val_features, live=None)
        kernel, bias, steps, _, _ = self._head(spec, params, on_features, ListSink(), should_stop)
        if steps == 0:
            return FitResult(None, 0, True)
        network = pretrained_network(shape, kernel, bias)
        unfreeze_top(network, params["unfreeze"])
        network.name = finetuned_name(params["unfreeze"])
        keras.utils.set_random_seed(spec.seed)
        inputs = keras.Input(shape=shape, name="image")
        trainer = keras.Model(inputs, network(augmentation(keras, inputs, params, spec.seed)))
        trainer.compile(
            optimizer=keras.optimizers.Adam(params["finetune_rate"]),
            loss="sparse_categorical_crossentropy",
        )
        meter = None
        if data.has_val:  # the metric's pass over the images in batches, not at once
            meter = (make_dataset(data.x_val, None, params["batch_size"]), data.y_val)
        tune = {**params, "epochs": params["finetune_epochs"]}
        epochs, stopped = fit_validated(
            trainer,
            data,
            data.x_train,
            data.y_train,
            (data.x_val, data.y_val),
            tune,
            sink,
            should_stop,
            meter,
        )
        return FitResult(network if epochs else None, epochs, stopped or not epochs)

    @staticmethod
    def _dense(spec, params, data: FitData, standard, sink, should_stop):
        import keras

        from finml.fitters.callbacks import fit_validated

        keras.utils.set_random_seed(spec.seed)
        k = data.n_classes
        inputs = keras.Input(shape=(data.x_train.shape[1],))
        x = keras.layers.Dropout(params["dropout"])(inputs)
        dense = keras.layers.Dense(k, activation="softmax", name="head")
        net = keras.Model(inputs, dense(x))
        net.compile(
            optimizer=keras.optimizers.Adam(params["learning_rate"]),
            loss="sparse_categorical_crossentropy",
        )
        val = (standard(data.x_val), data.y_val) if data.has_val else None
        epochs, stopped = fit_validated(
            net, data, standard(data.x_train), data.y_train, val, params, sink, should_stop
        )
        kernel, bias = dense.get_weights()
        return kernel.T, bias, epochs, stopped


class _Head:
    """The folded head as an estimator of raw features (for the one-step report)."""

    def __init__(self, kernel: np.ndarray, bias: np.ndarray):
        self.kernel, self.bias = kernel, bias

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        return head_proba(self.kernel, self.bias, x)
