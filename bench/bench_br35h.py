"""Benchmark: the documented Br35H preset through finml's job path, group-aware vs random
split, on this machine.

For each split, stages Br35H (3,000 images, 64 px greyscale, near-duplicates grouped at
<= 4 of 64 perceptual-hash bits), submits the ``br35h-64`` preset as a real job and reports
test accuracy, test ROC-AUC, epochs and the training time (from the worker's start of
training to the end of the run, as logged in the run store). Target: test accuracy >= 0.85
within 5 minutes of training on a 2-core machine, with the group-aware split.

Usage: python bench/bench_br35h.py [group|random ...]
"""

from __future__ import annotations

import os
import sys
import tempfile
import time


def run(split_kind: str) -> dict:
    from finml.data import duplicates, images
    from finml.data.spec import ImageDatasetSpec
    from finml.data.split import SplitSpec
    from finml.data.staging import stage_images
    from finml.models.registry import PRESETS, resolve_params
    from finml.store import RunStore
    from finml.tasks.spec import RunSpec
    from finml.training import jobs

    image_set = images.read_br35h(size=64, mode="L")
    dup = duplicates.near_duplicate_groups(duplicates.perceptual_hashes(image_set.images), 4)
    groups = duplicates.split_groups(image_set, dup)
    dataset_id = stage_images(image_set.images, image_set.labels, groups, image_set.names)
    split = SplitSpec(seed=42, group_col="group" if split_kind == "group" else None)
    ds = ImageDatasetSpec(dataset_id, "Br35H", ("no", "yes"), "yes", 64, "L", split)
    model, params, _ = PRESETS["br35h-64"]
    store = RunStore()
    run_id = jobs.submit(RunSpec(ds, model, resolve_params(model, params), seed=42), store)
    while store.get_run(run_id).status in ("queued", "running"):
        time.sleep(1)
    info = store.get_run(run_id)
    assert info.status == "finished", info.reason
    return {
        "split": split_kind,
        "test accuracy": round(info.metrics["test_accuracy"], 4),
        "test ROC-AUC": round(info.metrics["test_roc_auc"], 4),
        "epochs": len(store.history(run_id)),
        "training s": round(info.duration, 1),
    }


def main() -> None:
    kinds = sys.argv[1:] or ["group", "random"]
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["FINML_DATA_DIR"] = tmp
        os.environ["FINML_WARM_WORKER"] = "0"
        rows = [run(k) for k in kinds]
    print("Br35H, preset br35h-64 (small CNN, 64 px greyscale), seed 42, via finml jobs:")
    for row in rows:
        print("  " + ", ".join(f"{k} {v}" for k, v in row.items()))
    print("  target: test accuracy >= 0.85 within 300 s of training (group-aware split)")


if __name__ == "__main__":
    main()
