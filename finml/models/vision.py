"""Builders of the image classifiers. Importing this module does not import Keras; each
builder does.

Every model takes uint8-range images of shape (size, size, channels), rescales them to
[0, 1] and augments them (active in training only) inside the model, and ends in a softmax
over the classes. The graphs are flat (``keras.applications`` networks are built on the
model's own input tensor), so Grad-CAM can reach the last convolutional layer of each.
"""

from __future__ import annotations

from finml.models.safe_load import check_network_size

#: Momentum of the batch-normalisation moving statistics in our own networks (Keras default
#: 0.99 needs hundreds of steps to settle; small medical sets have few steps per epoch).
BN_MOMENTUM = 0.9
#: Augmentation toggles and the Keras layers they add.
AUGMENTATIONS = ("flip", "rotation", "zoom", "contrast")


def _preprocess(keras, inputs, params: dict, seed: int):
    x = keras.layers.Rescaling(1.0 / 255, name="rescale")(inputs)
    return augmentation(keras, x, params, seed)


def augmentation(keras, x, params: dict, seed: int):
    """The augmentation layers the toggles :data:`AUGMENTATIONS` in ``params`` ask for,
    applied to ``x`` (active in training only; ranges as the Train form says)."""
    if params.get("flip"):
        x = keras.layers.RandomFlip("horizontal", seed=seed, name="aug_flip")(x)
    if params.get("rotation"):
        x = keras.layers.RandomRotation(0.05, seed=seed, name="aug_rotation")(x)
    if params.get("zoom"):
        x = keras.layers.RandomZoom(0.1, seed=seed, name="aug_zoom")(x)
    if params.get("contrast"):
        x = keras.layers.RandomContrast(0.2, seed=seed, name="aug_contrast")(x)
    return x


def _conv_bn(keras, x, filters: int, stride: int = 1, name: str = ""):
    x = keras.layers.Conv2D(
        filters, 3, strides=stride, padding="same", use_bias=False, name=f"{name}_conv"
    )(x)
    x = keras.layers.BatchNormalization(momentum=BN_MOMENTUM, name=f"{name}_bn")(x)
    return keras.layers.Activation("relu", name=f"{name}_relu")(x)


def _small_cnn(keras, x, params):
    width = int(params.get("width", 32))
    for i, mult in enumerate((1, 2, 4)):
        x = _conv_bn(keras, x, width * mult, name=f"block{i + 1}a")
        x = _conv_bn(keras, x, width * mult, name=f"block{i + 1}b")
        x = keras.layers.MaxPooling2D(name=f"block{i + 1}_pool")(x)
    return x


def _residual(keras, x, filters: int, stride: int, name: str):
    shortcut = x
    y = _conv_bn(keras, x, filters, stride, name=f"{name}_1")
    y = keras.layers.Conv2D(filters, 3, padding="same", use_bias=False, name=f"{name}_2_conv")(y)
    y = keras.layers.BatchNormalization(momentum=BN_MOMENTUM, name=f"{name}_2_bn")(y)
    if stride != 1 or shortcut.shape[-1] != filters:
        shortcut = keras.layers.Conv2D(
            filters, 1, strides=stride, use_bias=False, name=f"{name}_proj"
        )(shortcut)
        shortcut = keras.layers.BatchNormalization(momentum=BN_MOMENTUM, name=f"{name}_proj_bn")(
            shortcut
        )
    y = keras.layers.Add(name=f"{name}_add")([y, shortcut])
    return keras.layers.Activation("relu", name=f"{name}_out")(y)


def _resnet18(keras, x, params):
    """ResNet-18 layout (2-2-2-2 basic blocks, He et al. 2016) with a 3x3 stem and
    widths from ``width`` (default 32: 32-64-128-256), sized for 64-128 px inputs."""
    width = int(params.get("width", 32))
    x = _conv_bn(keras, x, width, name="stem")
    for stage, mult in enumerate((1, 2, 4, 8)):
        for block in range(2):
            stride = 2 if block == 0 and stage > 0 else 1
            x = _residual(keras, x, width * mult, stride, name=f"stage{stage + 1}_block{block + 1}")
    return x


def _application(keras, x, name: str, params: dict):
    if x.shape[-1] == 1:
        x = keras.layers.Concatenate(name="grey_to_rgb")([x, x, x])
    weights = params.get("weights_path") or None
    if name == "resnet50":
        # keras.applications.ResNet50 expects caffe-style inputs; ours are in [0, 1], which
        # trains fine from scratch (weights=None). A local weights file is loaded as given.
        base = keras.applications.ResNet50(include_top=False, weights=weights, input_tensor=x)
    else:
        base = keras.applications.MobileNetV2(
            include_top=False,
            weights=weights,
            input_tensor=x,
            alpha=float(params.get("alpha", 1.0)),
        )
    return base.output


def build_vision_model(
    name: str, input_shape: tuple[int, int, int], n_classes: int, params: dict, *, seed: int
):
    """Build and compile an image classifier.

    Args:
        name: ``"small_cnn"``, ``"resnet18"``, ``"resnet50"`` or ``"mobilenetv2"``.
        input_shape: (size, size, channels), channels 1 or 3.
        n_classes: number of classes (>= 2); the output is a softmax of that width.
        params: hyperparameters: ``learning_rate``, ``dropout``, ``width`` (own nets),
            ``weights_path`` (applications), augmentation toggles :data:`AUGMENTATIONS`.
        seed: seed of initialisation, dropout and augmentation.

    Returns:
        keras.Model: compiled with Adam and sparse categorical cross-entropy, metric accuracy.
    """
    import keras

    keras.utils.set_random_seed(seed)
    inputs = keras.Input(shape=input_shape, name="image")
    x = _preprocess(keras, inputs, params, seed)
    if name == "small_cnn":
        x = _small_cnn(keras, x, params)
    elif name == "resnet18":
        x = _resnet18(keras, x, params)
    else:
        x = _application(keras, x, name, params)
    x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    if params.get("dropout", 0) > 0:
        x = keras.layers.Dropout(params["dropout"], name="head_dropout")(x)
    outputs = keras.layers.Dense(n_classes, activation="softmax", name="probabilities")(x)
    model = keras.Model(inputs, outputs, name=f"finml_{name}")
    check_network_size(model)
    model.compile(
        optimizer=keras.optimizers.Adam(params.get("learning_rate", 1e-3)),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model
