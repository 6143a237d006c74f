"""Explanations: Grad-CAM on every image architecture offered, permutation importance on the
fitted pipeline."""

from __future__ import annotations

import numpy as np
import pytest

from finml.evaluation.explain import grad_cam, last_conv_layer, overlay
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
    image = _blob_image(32, channels)
    heat, k = grad_cam(model, image)
    assert heat.shape == (32, 32) and heat.dtype == np.float32
    assert heat.min() >= 0.0 and heat.max() <= 1.0
    assert k == int(np.argmax(model(image[None].astype(np.float32))))  # the predicted class
    assert grad_cam(model, image, class_index=1 - k)[1] == 1 - k  # or the one asked for
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


def test_permutation_importance_takes_the_fitted_pipeline_and_ranks_a_real_signal(german_spec):
    from finml.data.staging import load_staged
    from finml.evaluation.explain import permutation_importances
    from finml.fitters.base import ListSink
    from finml.tasks import train_spec

    spec = german_spec("logreg")
    frame = load_staged(spec.dataset.dataset_id)
    result = train_spec(spec, frame, ListSink())
    imp = result.importance.set_index("feature")
    assert len(imp) == 20
    assert imp.index[0] == "status_of_existing_checking_account"
    assert imp.loc["status_of_existing_checking_account", "importance"] > 0.02
    # the same call on a pure-noise column ranks it near zero
    noisy = frame.assign(purpose=np.random.default_rng(0).permutation(frame["purpose"].to_numpy()))
    y = (frame["creditability"] == "bad").to_numpy(int)
    again = permutation_importances(
        result.model, noisy.iloc[result.split.val], y[result.split.val], 1
    )
    assert again.set_index("feature").loc["purpose", "importance"] < imp["importance"].iloc[0] / 2
