"""Real image training on a small Br35H subset (CI-sized: few hundred images, 2 epochs)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from finml.data import duplicates, images
from finml.data.spec import ImageDatasetSpec
from finml.data.split import SplitSpec
from finml.data.staging import load_staged_images, stage_images
from finml.evaluation.metrics import image_metrics
from finml.fitters.base import ListSink
from finml.models.registry import PRESETS, resolve_params
from finml.tasks import train_spec
from finml.tasks.spec import RunSpec


@pytest.fixture(scope="module")
def br35h_small():
    """200 images per class of Br35H at 64 px greyscale, with near-duplicate groups."""
    image_set = images.read_br35h(size=64, mode="L", limit_per_class=200)
    dup = duplicates.near_duplicate_groups(duplicates.perceptual_hashes(image_set.images), 4)
    return image_set, duplicates.split_groups(image_set, dup)


def _spec(dataset_id, model="small_cnn", **params):
    model_name, preset, _ = PRESETS["br35h-64"]
    values = {**preset, **params} if model == model_name else params
    ds = ImageDatasetSpec(
        dataset_id,
        "Br35H subset",
        ("no", "yes"),
        "yes",
        64,
        "L",
        SplitSpec(seed=42, group_col="group"),
    )
    return RunSpec(ds, model, resolve_params(model, values), seed=42)


def test_the_preset_learns_on_a_small_real_subset(br35h_small):
    image_set, groups = br35h_small
    dataset_id = stage_images(image_set.images, image_set.labels, groups, image_set.names)
    sink = ListSink()
    result = train_spec(
        _spec(dataset_id, epochs=12, batch_size=16), load_staged_images(dataset_id), sink
    )
    assert result.status == "finished"
    assert [s for s, _, _ in sink.steps] == list(range(1, result.steps + 1))
    assert all({"loss", "val_loss", "val_auc"} <= set(m) for _, _, m in sink.steps)
    # group-aware: no near-duplicate group on two sides
    sides = [set(groups[p]) for p in result.split.parts().values()]
    assert not (sides[0] & sides[2] or sides[1] & sides[2] or sides[0] & sides[1])
    # learning happened: clearly better than chance (0.5) on unseen groups
    m = result.test_metrics
    assert m["roc_auc"] > 0.7, m
    proba = result.test_predictions[["p_0", "p_1"]].to_numpy()
    assert image_metrics(result.test_predictions["y_true"].to_numpy(), proba, 1) == pytest.approx(m)


def test_stop_request_ends_image_training_early(br35h_small):
    image_set, groups = br35h_small
    dataset_id = stage_images(image_set.images, image_set.labels, groups, image_set.names)
    sink = ListSink()
    result = train_spec(
        _spec(dataset_id, epochs=50),
        load_staged_images(dataset_id),
        sink,
        lambda: len(sink.steps) >= 1,
    )
    assert result.status == "stopped" and result.steps == 2
    assert len(result.test_predictions) == len(result.split.test)


def test_random_and_group_splits_differ_on_near_duplicates(br35h_small):
    image_set, groups = br35h_small
    from finml.data.split import make_split

    y = (image_set.labels == "yes").astype(int)
    frame = pd.DataFrame({"group": groups})
    random = make_split(frame, y, SplitSpec(seed=1))
    shared = set(groups[random.train]) & set(groups[random.test])
    assert any(g.startswith("dup-") and (groups == g).sum() > 1 for g in shared)
    grouped = make_split(frame, y, SplitSpec(seed=1, group_col="group"))
    assert not set(groups[grouped.train]) & set(groups[grouped.test])
    assert np.array_equal(
        np.sort(np.concatenate(list(grouped.parts().values()))), np.arange(len(y))
    )


def test_tuning_an_image_model_refits_the_best_trial_and_tests_it_once(br35h_small):
    from dataclasses import replace

    image_set, groups = br35h_small
    dataset_id = stage_images(image_set.images, image_set.labels, groups, image_set.names)
    spec = replace(_spec(dataset_id, epochs=2, batch_size=32, width=8), tune_trials=2)
    from tests.tasks.test_tuning import TrialSink

    sink = TrialSink()
    result = train_spec(spec, load_staged_images(dataset_id), sink)
    trials = result.tuning.trials
    assert len(sink.trials) == 2 and trials["state"].tolist() == ["complete", "complete"]
    assert set(trials.columns) >= {"learning_rate", "dropout", "val_roc_auc"}
    assert trials["learning_rate"].between(1e-4, 3e-3).all()
    best = trials.loc[trials["val_roc_auc"].idxmax()]
    assert result.tuning.best_params["learning_rate"] == pytest.approx(best["learning_rate"])
    assert result.model is not None and 0.0 <= result.test_metrics["roc_auc"] <= 1.0
    refit_lr = float(result.model.estimator.optimizer.learning_rate.numpy())
    assert refit_lr == pytest.approx(best["learning_rate"], rel=1e-5)
