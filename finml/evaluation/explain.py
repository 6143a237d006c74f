"""Explanations of a fitted model.

- Permutation importance for tables (Breiman 2001, ``sklearn.inspection
  .permutation_importance``): the drop of ROC-AUC on the validation split when one raw
  feature column is shuffled.
- Grad-CAM for image models (Selvaraju et al., "Grad-CAM: Visual Explanations from Deep
  Networks via Gradient-based Localization", ICCV 2017): the gradient of a class score with
  respect to the last convolutional feature map, averaged per channel, weights that map; the
  ReLU of the weighted sum shows where the model looked.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

#: Most validation rows permuted per repeat (a fresh random sample each repeat, through
#: ``permutation_importance(max_samples=...)``): the cost stays flat from 20,000 rows up.
IMPORTANCE_ROWS = 20_000


def permutation_importances(
    model,
    x_val: pd.DataFrame,
    y_val: np.ndarray,
    seed: int,
    n_repeats: int = 5,
    scoring: str = "roc_auc",
) -> pd.DataFrame:
    """Permutation importance of each raw feature column on the validation split.

    Args:
        model: a fitted table model (:class:`finml.models.pipeline.FittedModel`), passed to
            ``sklearn.inspection.permutation_importance`` as it is.
        x_val: the validation rows, with at least the model's feature columns.
        y_val: their int 0/1 labels (1 = the positive class), shape (n,), or float values
            for a regression model.
        seed: random seed of the shuffles.
        n_repeats: shuffles per feature (each on at most :data:`IMPORTANCE_ROWS` rows).
        scoring: a scikit-learn scorer name: ``"roc_auc"`` (classifiers) or
            ``"neg_root_mean_squared_error"`` (regressors: the importance is the RMSE rise).

    Returns:
        DataFrame with ``feature``, ``importance`` (mean drop of the score: of ROC-AUC, or
        the rise of RMSE) and ``std``, largest first.
    """
    from sklearn.inspection import permutation_importance

    features = list(model.feature_names_in_)
    result = permutation_importance(
        model,
        x_val[features],
        y_val,
        scoring=scoring,
        n_repeats=n_repeats,
        random_state=seed,
        max_samples=min(len(x_val), IMPORTANCE_ROWS),
    )
    table = pd.DataFrame(
        {"feature": features, "importance": result.importances_mean, "std": result.importances_std}
    )
    return table.sort_values("importance", ascending=False).reset_index(drop=True)


#: Layers that come before the learned features (input scaling, augmentation, channel copy).
_INPUT_LAYERS = ("rescale", "aug_", "grey_to_rgb")


def last_conv_layer(model) -> str:
    """Name of the last layer whose output is a 4-D feature map (batch, h, w, channels)
    that is not input scaling or augmentation.

    Raises:
        ValueError: the model has no such layer (not a convolutional network).
    """
    for layer in reversed(model.layers):
        shape = getattr(getattr(layer, "output", None), "shape", None)
        is_input = layer.name == "image" or layer.name.startswith(_INPUT_LAYERS)
        if shape is not None and len(shape) == 4 and not is_input:
            return layer.name
    raise ValueError(f"{model.name} has no convolutional feature map for Grad-CAM.")


def grad_cam(model, image: np.ndarray, class_index: int | None = None) -> tuple[np.ndarray, int]:
    """Grad-CAM heatmap of one image.

    Args:
        model: a Keras image classifier (:func:`finml.models.vision.build_vision_model`, or
            ``FittedModel.estimator`` of an image run).
        image: uint8 array of shape (size, size, channels), as the model takes it.
        class_index: class to explain; default the predicted class.

    Returns:
        (float32 heatmap of shape (size, size) in [0, 1], the explained class index).
    """
    import keras
    import tensorflow as tf

    layer = model.get_layer(last_conv_layer(model))
    grad_model = keras.Model(model.inputs, [layer.output, model.output])
    x = tf.convert_to_tensor(image[None].astype(np.float32))
    with tf.GradientTape() as tape:
        features, proba = grad_model(x, training=False)
        if class_index is None:
            class_index = int(tf.argmax(proba[0]))
        score = proba[:, class_index]
    grads = tape.gradient(score, features)
    weights = tf.reduce_mean(grads, axis=(1, 2))  # (1, channels)
    cam = tf.nn.relu(tf.reduce_sum(features * weights[:, None, None, :], axis=-1))[0]
    cam = tf.image.resize(cam[..., None], image.shape[:2], method="bilinear")[..., 0].numpy()
    top = float(cam.max())
    cam = cam / top if top > 0 else np.zeros_like(cam)
    return cam.astype(np.float32), class_index


def overlay(image: np.ndarray, heatmap: np.ndarray, alpha: float = 0.45) -> np.ndarray:
    """Blend a heatmap (matplotlib's ``jet`` colour map) over an image.

    Args:
        image: uint8 array of shape (h, w, 1) or (h, w, 3).
        heatmap: float array of shape (h, w) in [0, 1].
        alpha: weight of the heatmap.

    Returns:
        uint8 RGB array of shape (h, w, 3).
    """
    from matplotlib import colormaps

    base = image if image.shape[-1] == 3 else np.repeat(image, 3, axis=-1)
    colour = colormaps["jet"](np.clip(heatmap, 0, 1))[..., :3] * 255.0
    return np.clip((1 - alpha) * base + alpha * colour, 0, 255).astype(np.uint8)
