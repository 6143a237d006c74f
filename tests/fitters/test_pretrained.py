"""The head on the frozen ImageNet backbone (finml.fitters.pretrained): folding a head into
the network, the per-image-set feature cache, and a real run on Br35H with its bundle."""

from __future__ import annotations

import numpy as np
import pytest

from finml.data import duplicates, images
from finml.data.spec import ImageDatasetSpec
from finml.data.split import SplitSpec
from finml.data.staging import cache_prefix, remove_dataset, stage_images
from finml.errors import BundleError
from finml.fitters.base import ListSink, SampledSink
from finml.fitters.pretrained import cache_file, cached_features, fold_head
from finml.models.efficientnet import head_proba
from finml.models.registry import PRESETS, resolve_params
from finml.tasks import get_task, train_spec
from finml.tasks.spec import RunSpec

pytestmark = pytest.mark.shared_data  # the module's staged image set and its cache


@pytest.mark.parametrize("k", [2, 3])
def test_a_head_on_standardised_features_folds_into_one_softmax_layer(k):
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(0)
    x = rng.gamma(2.0, 1.0, (300, 1280)).astype(np.float32)
    y = rng.integers(0, k, 300)
    mean, scale = x.mean(axis=0), x.std(axis=0)
    lr = LogisticRegression(C=0.1, max_iter=2000).fit((x - mean) / scale, y)
    kernel, bias = fold_head(lr.coef_, lr.intercept_, mean, scale)
    assert kernel.shape == (1280, k) and bias.shape == (k,) and kernel.dtype == np.float32
    expected = lr.predict_proba((x - mean) / scale)
    np.testing.assert_allclose(head_proba(kernel, bias, x), expected, atol=1e-4)


def test_stages_are_forwarded_first_last_and_at_most_every_interval():
    now = [0.0]
    seen = ListSink()
    sink = SampledSink(seen, every_s=1.0, clock=lambda: now[0])
    for done in range(0, 101, 10):
        now[0] = done / 40  # 0.25 s per 10 items
        sink.on_stage("extracting", done, 100)
    assert [d for _, d, _ in seen.stages] == [0, 40, 80, 100]


@pytest.fixture(scope="module")
def br35h_224():
    """60 Br35H images per class at 224 px greyscale, near-duplicates grouped."""
    image_set = images.read_br35h(size=224, mode="L", limit_per_class=60)
    dup = duplicates.near_duplicate_groups(duplicates.perceptual_hashes(image_set.images), 4)
    return image_set, duplicates.split_groups(image_set, dup)


def test_features_are_extracted_once_per_image_set_then_read_from_the_cache(br35h_224, tmp_path):
    image_set, _ = br35h_224
    few = image_set.images[:40]
    stops = iter([False, True])
    assert cached_features(few, tmp_path / "set", ListSink(), lambda: next(stops)) is None
    assert not list(tmp_path.iterdir())  # a stopped extraction caches nothing
    first, second = ListSink(), ListSink()
    features = cached_features(few, tmp_path / "set", first, lambda: False)
    assert features.shape == (40, 1280) and features.dtype == np.float32
    assert [d for _, d, _ in first.stages] == [32, 40]  # one stage per batch of 32
    again = cached_features(few, tmp_path / "set", second, lambda: False)
    assert second.stages == [("ImageNet features from the cache", 40, 40)]
    np.testing.assert_array_equal(features, again)
    # a cache of the wrong shape is not trusted: extracted again
    np.save(cache_file(tmp_path / "set", few), np.zeros((3, 1280), dtype=np.float32))
    third = ListSink()
    redone = cached_features(few, tmp_path / "set", third, lambda: False)
    np.testing.assert_allclose(redone, features)
    assert third.stages[-1][0] == "extracting ImageNet features"


@pytest.fixture(scope="module")
def pretrained_run(br35h_224, module_data_dir):
    image_set, groups = br35h_224
    dataset_id = stage_images(image_set.images, image_set.labels, groups, image_set.names)
    split = SplitSpec(seed=42, group_col="group")
    ds = ImageDatasetSpec(dataset_id, "Br35H subset", ("no", "yes"), "yes", 224, "L", split)
    model, values, _ = PRESETS["br35h-pretrained"]
    spec = RunSpec(ds, model, resolve_params(model, values), seed=42)
    data = get_task("images").load(dataset_id, None)
    return spec, data, train_spec(spec, data, ListSink())


def test_pretrained_features_learn_br35h_from_a_hundred_training_scans(pretrained_run):
    _, data, result = pretrained_run
    assert result.status == "finished" and result.steps == 1
    # far above chance on unseen near-duplicate groups, from under 100 training scans
    assert result.test_metrics["roc_auc"] > 0.9, result.test_metrics
    # the network handed over gives what was evaluated, from the images themselves
    test = data["images"][result.split.test]
    proba = result.test_predictions[["p_0", "p_1"]].to_numpy()
    np.testing.assert_allclose(result.model.predict_proba(test), proba, atol=1e-5)


def test_the_staged_set_s_feature_cache_goes_with_it(pretrained_run):
    spec, data, _ = pretrained_run
    prefix = cache_prefix(spec.dataset.dataset_id)
    assert cache_file(prefix, data["images"]).is_file()
    remove_dataset(spec.dataset.dataset_id)
    assert not cache_file(prefix, data["images"]).exists()


def test_a_bundle_keeps_only_the_head_and_rebuilds_the_network(pretrained_run, tmp_path):
    from finml.evaluation.explain import grad_cam
    from finml.models.bundle import HEAD_FILE, load_bundle, save_bundle

    _, data, result = pretrained_run
    folder = save_bundle(tmp_path / "b", result.model)
    assert sorted(p.name for p in folder.iterdir()) == [HEAD_FILE, "meta.json"]
    assert sum(p.stat().st_size for p in folder.iterdir()) < 100_000  # not the 19 MB backbone
    loaded = load_bundle(folder)
    some = data["images"][:5]
    expected = result.model.predict_proba(some)
    np.testing.assert_allclose(loaded.predict_proba(some), expected, atol=1e-6)
    heat, _ = grad_cam(loaded.estimator, some[0])
    assert heat.shape == (224, 224) and heat.min() >= 0.0 and heat.max() == pytest.approx(1.0)

    def refused(**arrays):
        np.savez(folder / HEAD_FILE, **arrays)
        with pytest.raises(BundleError):
            load_bundle(folder)

    k = np.zeros((1280, 2), np.float32)
    refused(kernel=np.zeros((1000, 2), np.float32), bias=np.zeros(2, np.float32))  # wrong shape
    refused(kernel=k, bias=np.zeros(3, np.float32))  # three classes for two
    refused(kernel=k, bias=np.array([np.inf, 0], np.float32))
    refused(kernel=k, bias=np.zeros(2, np.float32), extra=np.zeros(1))
    refused(kernel=k.astype(object), bias=np.zeros(2, np.float32))  # a pickled object array


def test_fine_tuning_trains_the_top_blocks_live_and_its_bundle_holds_them(br35h_224, tmp_path):
    from finml.fitters.base import never_stop
    from finml.models.bundle import FINETUNED_FILE, load_bundle, save_bundle
    from finml.models.efficientnet import backbone_weights

    image_set, groups = br35h_224
    dataset_id = stage_images(image_set.images, image_set.labels, groups, image_set.names)
    split = SplitSpec(seed=42, group_col="group")
    ds = ImageDatasetSpec(dataset_id, "Br35H subset", ("no", "yes"), "yes", 224, "L", split)
    values = {"mode": "fine-tune", "unfreeze": 1, "finetune_epochs": 2, "batch_size": 16}
    spec = RunSpec(ds, "efficientnet_lite0", resolve_params("efficientnet_lite0", values), seed=42)
    data = get_task("images").load(dataset_id, None)
    sink = ListSink()
    result = train_spec(spec, data, sink, never_stop)
    assert result.status == "finished" and result.steps == 2
    assert [s for s, _, m in sink.steps if {"loss", "val_loss", "val_auc"} <= set(m)] == [1, 2]
    assert result.test_metrics["roc_auc"] > 0.8, result.test_metrics
    net = result.model.estimator
    # the top block moved, a lower block and every batch normalisation did not
    imagenet = backbone_weights()
    moved = net.get_layer("block15_project_conv").get_weights()[0]
    assert not np.allclose(moved, imagenet["block15_project_conv"][0])
    np.testing.assert_array_equal(
        net.get_layer("block14_project_conv").get_weights()[0], imagenet["block14_project_conv"][0]
    )
    np.testing.assert_array_equal(
        net.get_layer("block15_project_bn").get_weights()[2], imagenet["block15_project_bn"][2]
    )
    folder = save_bundle(tmp_path / "b", result.model)
    loaded = load_bundle(folder)
    some = data["images"][:4]
    np.testing.assert_allclose(
        loaded.predict_proba(some), result.model.predict_proba(some), atol=1e-6
    )
    arrays = dict(np.load(folder / FINETUNED_FILE))
    arrays.pop("block15_project_conv.0")
    np.savez(folder / FINETUNED_FILE, **arrays)
    with pytest.raises(BundleError, match="fine-tuned layers"):
        load_bundle(folder)


def test_a_stop_during_fine_tuning_ends_after_the_current_batch(br35h_224):
    image_set, groups = br35h_224
    dataset_id = stage_images(image_set.images, image_set.labels, groups, image_set.names)
    split = SplitSpec(seed=42, group_col="group")
    ds = ImageDatasetSpec(dataset_id, "Br35H subset", ("no", "yes"), "yes", 224, "L", split)
    values = {"mode": "fine-tune", "finetune_epochs": 50, "batch_size": 8}
    spec = RunSpec(ds, "efficientnet_lite0", resolve_params("efficientnet_lite0", values), seed=42)
    sink = ListSink()
    result = train_spec(
        spec, get_task("images").load(dataset_id, None), sink, lambda: bool(sink.steps)
    )
    assert result.status == "stopped" and result.steps <= 2


def test_a_run_on_changed_weights_is_refused_before_it_is_queued(pretrained_run, tmp_path):
    from finml.errors import SpecError
    from finml.models import efficientnet
    from finml.store import RunStore
    from finml.training import jobs

    spec, _, _ = pretrained_run
    changed = bytearray(efficientnet.weights_path().read_bytes())
    changed[len(changed) // 2] ^= 0xFF
    (tmp_path / "w.pth").write_bytes(bytes(changed))
    store = RunStore()
    before = len(store.list_runs())
    with pytest.MonkeyPatch.context() as mp:  # the package's file, changed on disk
        mp.setattr(efficientnet, "weights_path", lambda: tmp_path / "w.pth")
        with pytest.raises(SpecError, match=r"SHA-256.*Reinstall efficientnet-lite0"):
            jobs.submit(spec, store)
    assert len(store.list_runs()) == before


def test_a_search_tunes_the_head_on_features_extracted_once(br35h_224):
    import dataclasses

    image_set, groups = br35h_224
    dataset_id = stage_images(image_set.images, image_set.labels, groups, image_set.names)
    split = SplitSpec(seed=42, group_col="group")
    ds = ImageDatasetSpec(dataset_id, "Br35H subset", ("no", "yes"), "yes", 224, "L", split)
    spec = RunSpec(ds, "efficientnet_lite0", resolve_params("efficientnet_lite0", {}), seed=42)
    spec = dataclasses.replace(spec, tune_trials=4)
    sink = ListSink()
    result = train_spec(spec, get_task("images").load(dataset_id, None), sink)
    assert result.status == "finished"
    trials = result.tuning.trials
    assert len(trials) == 4 and trials["C"].nunique() == 4  # C searched, 1e-3 to 10
    assert trials["C"].between(1e-3, 10).all() and "dropout" not in trials
    extracted = [s for s in sink.stages if s[0] == "extracting ImageNet features"]
    assert extracted[-1][1:] == (120, 120) and len(extracted) <= 5  # one pass of 120 images
