"""AppTest of Evaluate and Predict on an image run trained for real (tiny, 2 epochs)."""

from __future__ import annotations

import pytest

from finml.data import images
from finml.data.staging import load_staged_images, stage_images
from finml.models.registry import resolve_params
from finml.spec import ImageDatasetSpec, RunSpec
from finml.split import SplitSpec
from finml.store import FINISHED, RunStore
from finml.train import ListSink
from finml.train_images import run_image_training
from finml.worker import log_result
from tests import hostile_images as h
from tests.app.conftest import open_app


@pytest.fixture
def image_run():
    image_set = images.read_zip(h.zip_of(h.class_folders(30)), size=32, mode="L")
    groups = images.split_groups(
        image_set, images.near_duplicate_groups(images.perceptual_hashes(image_set.images))
    )
    dataset_id = stage_images(image_set.images, image_set.labels, groups, image_set.names)
    ds = ImageDatasetSpec(
        dataset_id, "discs", ("no", "yes"), "yes", 32, "L", SplitSpec(group_col="group")
    )
    spec = RunSpec(ds, "small_cnn", resolve_params("small_cnn", {"epochs": 2, "width": 8}))
    store = RunStore()
    params = {
        "model": "small_cnn",
        "task": "images",
        "classes": "no,yes",
        "positive_class": "yes",
        "dataset_id": dataset_id,
    }
    run_id = store.create_run("cnn · discs", params, {"finml.model": "small_cnn"})
    result = run_image_training(spec, load_staged_images(dataset_id), ListSink())
    log_result(store, run_id, spec, result)
    store.set_status(run_id, FINISHED)
    return run_id


def test_evaluate_shows_per_class_metrics_gallery_and_grad_cam(image_run):
    at = open_app("evaluate")
    titles = " ".join(c.proto.spec for c in at.get("plotly_chart"))
    assert "Confusion matrix at threshold" in titles and "One-vs-rest ROC" in titles
    per_class = at.table[1].value
    assert list(per_class.index) == ["no", "yes", "macro avg", "weighted avg"]
    assert any("misclassified" in c.value for c in at.caption)
    at.button(key="gradcam").click().run()
    assert not at.exception, at.exception
    assert any("Grad-CAM for class" in str(i.proto) for i in at.get("image"))


def test_predict_scores_uploads_and_reports_bad_files(image_run):
    at = open_app("predict")
    good = h.png(h.pattern(3, 48, bright=True))
    at.file_uploader(key="files").set_value(
        [("new.png", good, "image/png"), ("fake.png", b"text, not pixels", "image/png")]
    ).run()
    assert not at.exception, at.exception
    table = at.dataframe[0].value
    assert table["file"].tolist() == ["new.png"]
    assert table["predicted class"].iloc[0] in ("no", "yes")
    assert "fake.png" in at.warning[0].value


def test_image_run_gets_cis_and_a_drill_down_to_images(image_run):
    from finml.evaluate import CELLS, cell_mask

    test = RunStore().read_frame(image_run, "predictions/test.parquet")
    y = (test["y_true"] == 1).to_numpy(int)  # "yes" is class 1 and the positive class
    counts = {c: int(cell_mask(y, test["score"], 0.5, c).sum()) for c in CELLS}
    cell = max(counts, key=counts.get)
    at = open_app("evaluate")
    assert "95% CI" in at.table[0].value.columns
    at.segmented_control(key="drill_cell").set_value(cell).run()
    assert not at.exception, at.exception
    assert any(c.value.startswith(f"{counts[cell]} test cases in {cell}") for c in at.caption)
    gallery = next(i for i in at.get("image") if "scans/" in str(i.proto))
    assert str(gallery.proto).count("caption:") == min(counts[cell], 24)
