"""Grad-CAM on every image architecture offered."""

from __future__ import annotations

import numpy as np
import pytest

from finml.explain import grad_cam, last_conv_layer, overlay
from finml.models.registry import model_names_for, resolve_params
from finml.models.vision import build_vision_model


def _blob_image(size=32, channels=1, corner=(0, 0)):
    img = np.zeros((size, size, channels), dtype=np.uint8)
    r, c = corner
    img[r : r + size // 2, c : c + size // 2] = 255
    return img


@pytest.mark.parametrize("name", model_names_for("images"))
def test_grad_cam_works_for_every_architecture(name):
    channels = 3 if name == "mobilenetv2" else 1
    model = build_vision_model(name, (32, 32, channels), 2, resolve_params(name), seed=0)
    layer = last_conv_layer(model)
    assert not layer.startswith(("rescale", "aug_", "grey_to_rgb"))
    heat, k = grad_cam(model, _blob_image(32, channels))
    assert heat.shape == (32, 32) and heat.dtype == np.float32
    assert heat.min() >= 0.0 and heat.max() <= 1.0
    assert k in (0, 1)
    assert overlay(_blob_image(32, channels), heat).shape == (32, 32, 3)


def test_grad_cam_points_at_what_a_trained_model_uses():
    """A small CNN learns 'bright square top-left' vs 'bottom-right'; Grad-CAM for the
    predicted class must weigh the square's quadrant more than the opposite one."""
    rng = np.random.default_rng(0)
    x = np.stack([_blob_image(32, 1, (0, 0) if i % 2 else (16, 16)) for i in range(64)])
    x = np.clip(x.astype(int) + rng.integers(0, 30, x.shape), 0, 255).astype(np.uint8)
    y = np.arange(64) % 2
    params = resolve_params(
        "small_cnn",
        {"width": 8, "flip": False, "rotation": False, "zoom": False, "learning_rate": 3e-3},
    )
    model = build_vision_model("small_cnn", (32, 32, 1), 2, params, seed=0)
    model.fit(x, y, epochs=15, batch_size=16, verbose=0)
    heat, k = grad_cam(model, x[1])  # square top-left
    assert k == 1
    assert heat[:16, :16].mean() > heat[16:, 16:].mean()
