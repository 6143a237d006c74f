"""Benchmark: the pretrained backbone (EfficientNet-Lite0 ImageNet features + a logistic
head) through finml's job path, against a plain script and against the from-scratch CNN.

1. Br35H (3,000 MRI slices, 128 px greyscale, near-duplicates grouped at <= 4 of 64
   perceptual-hash bits, group-aware split, seed 42), preset ``br35h-pretrained``:
   - finml: Start (``jobs.submit``) -> the run's test metrics in the store (what the tiles
     show), in a cold worker; then a second run on the same staged set (cached features);
   - the plain script a practitioner would write, in a fresh process, imports included:
     load the same images, pass them through the same Keras network in batches of 32
     (``model.predict``), standardise, ``LogisticRegression(C=0.1)`` on the same training
     rows, score the same test rows. No hub reaches this machine, so the network is
     finml's port (``finml.models.efficientnet``), as the plain script's only finml import.
   Targets: accuracy >= 0.95, ROC-AUC >= 0.98, finml <= 1.3x the plain script.
2. Fashion-MNIST, 3,000 images (300 per class from Debian's ``dataset-fashion-mnist``,
   ``/usr/share/datasets/fashion-mnist``), resized to 64 px, stratified split, seed 42:
   pretrained features + logistic head against the default small CNN (40 epochs,
   early stopping), both through finml jobs. Target: better accuracy in under a tenth of
   the time.

3. Br35H as in 1, fine-tuned (mode ``fine-tune``: the logistic head, then the top 2 blocks
   with augmentation at 1e-4, 10 epochs, early stopping), against features + head.

Usage: python bench/bench_pretrained.py [br35h] [fashion] [finetune]
"""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import numpy as np

FASHION = Path("/usr/share/datasets/fashion-mnist")

PLAIN = textwrap.dedent(
    """
    import sys, time, json
    t0 = time.perf_counter()
    import numpy as np
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import accuracy_score, roc_auc_score
    from sklearn.preprocessing import StandardScaler
    import keras
    from finml.models.efficientnet import build_classifier, keras_weights, read_weights, set_weights

    data = np.load(sys.argv[1])
    images, y, train, test = data["images"], data["y"], data["train"], data["test"]
    net = build_classifier(1000, images.shape[1:])
    set_weights(net, keras_weights(read_weights()))
    extractor = keras.Model(net.inputs, net.get_layer("features").output)
    features = extractor.predict(images, batch_size=32, verbose=0)
    scaler = StandardScaler().fit(features[train])
    head = LogisticRegression(C=0.1, max_iter=5000).fit(scaler.transform(features[train]), y[train])
    proba = head.predict_proba(scaler.transform(features[test]))[:, 1]
    print(json.dumps({
        "accuracy": accuracy_score(y[test], proba >= 0.5),
        "roc_auc": roc_auc_score(y[test], proba),
        "seconds": time.perf_counter() - t0,
    }))
    """
)


def _submit_and_wait(spec) -> tuple[str, float]:
    """Submit a run as the Start button does; seconds until its test metrics are stored."""
    from finml.store import RunStore
    from finml.training import jobs

    store = RunStore()
    t0 = time.perf_counter()
    run_id = jobs.submit(spec, store)
    while True:
        info = store.get_run(run_id)
        if info.status not in ("queued", "running") or "test_roc_auc" in info.metrics:
            break
        time.sleep(0.2)
    seconds = time.perf_counter() - t0
    assert "test_roc_auc" in info.metrics, info.reason
    while store.get_run(run_id).status in ("queued", "running"):  # the bundle, then done
        time.sleep(0.2)
    return run_id, seconds


def _stage(images_, labels, groups, names):
    from finml.data.staging import stage_images

    return stage_images(images_, labels, groups, names)


def _br35h_set():
    from finml.data import duplicates, images
    from finml.data.spec import ImageDatasetSpec
    from finml.data.split import SplitSpec

    image_set = images.read_br35h(size=128, mode="L")
    dup = duplicates.near_duplicate_groups(duplicates.perceptual_hashes(image_set.images), 4)
    groups = duplicates.split_groups(image_set, dup)
    dataset_id = _stage(image_set.images, image_set.labels, groups, image_set.names)
    split = SplitSpec(seed=42, group_col="group")
    return image_set, ImageDatasetSpec(dataset_id, "Br35H", ("no", "yes"), "yes", 128, "L", split)


def finetune() -> None:
    from finml.models.registry import PRESETS, resolve_params
    from finml.store import RunStore
    from finml.tasks.spec import RunSpec

    _, ds = _br35h_set()
    model, params, _ = PRESETS["br35h-pretrained"]
    print("Br35H 128 px greyscale, group-aware split, seed 42: features + head vs fine-tuned")
    for mode in ("features", "fine-tune"):
        spec = RunSpec(ds, model, resolve_params(model, {**params, "mode": mode}), seed=42)
        run_id, seconds = _submit_and_wait(spec)
        m = RunStore().get_run(run_id).metrics
        epochs = len(RunStore().history(run_id))
        print(
            f"  {mode}: test accuracy {m['test_accuracy']:.4f}, ROC-AUC {m['test_roc_auc']:.4f}; "
            f"Start -> tiles {seconds:.1f} s, {epochs} step(s)"
        )


def br35h() -> None:
    from finml.models.registry import PRESETS, resolve_params
    from finml.store import RunStore
    from finml.tasks.spec import RunSpec

    image_set, ds = _br35h_set()
    model, params, _ = PRESETS["br35h-pretrained"]
    spec = RunSpec(ds, model, resolve_params(model, params), seed=42)
    run_id, cold = _submit_and_wait(spec)
    _, warm = _submit_and_wait(spec)
    store = RunStore()
    metrics = store.get_run(run_id).metrics
    split = store.read_frame(run_id, "split.parquet")
    train = split.loc[split["split"] == "train", "row"].to_numpy()
    test = split.loc[split["split"] == "test", "row"].to_numpy()
    y = (np.asarray(image_set.labels) == "yes").astype(int)
    with tempfile.TemporaryDirectory() as tmp:
        arrays = Path(tmp) / "br35h.npz"
        np.savez(arrays, images=image_set.images, y=y, train=train, test=test)
        t0 = time.perf_counter()
        out = subprocess.run(
            [sys.executable, "-c", PLAIN, str(arrays)], capture_output=True, text=True, check=True
        )
        plain_wall = time.perf_counter() - t0
    plain = json.loads(out.stdout.strip().splitlines()[-1])
    print("Br35H 128 px greyscale, group-aware split, seed 42, preset br35h-pretrained:")
    print(
        f"  finml: test accuracy {metrics['test_accuracy']:.4f}, ROC-AUC "
        f"{metrics['test_roc_auc']:.4f}; Start -> tiles {cold:.1f} s (cold worker, features "
        f"extracted), {warm:.1f} s (second run, cached features)"
    )
    print(
        f"  plain script: accuracy {plain['accuracy']:.4f}, ROC-AUC {plain['roc_auc']:.4f}; "
        f"{plain_wall:.1f} s (process start to result)"
    )
    print(f"  ratio finml / plain: {cold / plain_wall:.2f}x (target <= 1.3x)")


def _idx(path: Path) -> np.ndarray:
    raw = gzip.decompress(path.read_bytes())
    dims = raw[3]
    shape = [int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


def fashion() -> None:
    from PIL import Image

    from finml.data.spec import ImageDatasetSpec
    from finml.data.split import SplitSpec
    from finml.models.registry import resolve_params
    from finml.store import RunStore
    from finml.tasks.spec import RunSpec

    if not FASHION.is_dir():
        sys.exit("Fashion-MNIST is missing: apt-get install dataset-fashion-mnist")
    pixels = _idx(FASHION / "train-images-idx3-ubyte.gz")
    labels = _idx(FASHION / "train-labels-idx1-ubyte.gz")
    rng = np.random.default_rng(42)
    rows = np.concatenate([rng.choice(np.flatnonzero(labels == c), 300, False) for c in range(10)])
    big = np.stack(
        [np.asarray(Image.fromarray(pixels[r]).resize((64, 64), Image.BILINEAR)) for r in rows]
    )
    names = [f"{r}.png" for r in rows]
    classes = tuple(f"c{c}" for c in range(10))
    text_labels = np.array([classes[labels[r]] for r in rows])
    dataset_id = _stage(big[..., None], text_labels, np.array(names), names)
    ds = ImageDatasetSpec(
        dataset_id, "Fashion-MNIST 3k", classes, "c0", 64, "L", SplitSpec(seed=42)
    )
    print(
        "Fashion-MNIST, 3,000 images (300 per class), 64 px greyscale, stratified split, seed 42:"
    )
    for model, values in (
        ("efficientnet_lite0", {"head": "logistic", "C": 0.1}),
        ("small_cnn", {}),
    ):
        run_id, seconds = _submit_and_wait(
            RunSpec(ds, model, resolve_params(model, values), seed=42)
        )
        m = RunStore().get_run(run_id).metrics
        print(
            f"  {model}: test accuracy {m['test_accuracy']:.4f}, macro F1 "
            f"{m['test_macro_f1']:.4f}; Start -> tiles {seconds:.1f} s"
        )


def main() -> None:
    parts = sys.argv[1:] or ["br35h", "fashion", "finetune"]
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["FINML_DATA_DIR"] = tmp
        os.environ["FINML_WARM_WORKER"] = "0"
        for part in parts:
            {"br35h": br35h, "fashion": fashion, "finetune": finetune}[part]()


if __name__ == "__main__":
    main()
