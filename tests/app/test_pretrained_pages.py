"""AppTest of the pretrained backbone from the pages: a run of the ImageNet features and a
logistic head on synthetic scans, Grad-CAM on Evaluate, PNG and DICOM on Predict."""

from __future__ import annotations

import pytest

from finml.data.spec import ImageDatasetSpec
from finml.data.split import SplitSpec
from finml.models.registry import resolve_params
from finml.store import RunStore
from finml.tasks.spec import RunSpec
from tests import hostile_images as h
from tests.app.conftest import confusion_cells, image_captions, open_app, shown
from tests.conftest import stage_image_folders, train_and_log


@pytest.fixture
def pretrained_run():
    dataset_id = stage_image_folders(h.class_folders(30))
    ds = ImageDatasetSpec(
        dataset_id, "discs", ("no", "yes"), "yes", 32, "L", SplitSpec(group_col="group")
    )
    params = resolve_params("efficientnet_lite0", {"head": "logistic"})
    return train_and_log(RunSpec(ds, "efficientnet_lite0", params), "pretrained · discs")


def test_a_pretrained_run_is_evaluated_with_grad_cam_on_the_backbone(pretrained_run):
    run = RunStore().get_run(pretrained_run)
    assert run.status == "finished" and run.metrics["test_roc_auc"] > 0.5
    at = open_app("evaluate")
    assert not at.exception, at.exception
    cells, heading = confusion_cells(at)
    assert heading.startswith("**Confusion matrix at threshold") and cells.shape == (2, 2)
    at.button(key="gradcam").click().run()
    assert not at.exception, at.exception
    captions = [c for i in at.get("image") for c in image_captions(i)]
    assert any(c.startswith("Grad-CAM for class") for c in captions), captions


def test_predict_scores_png_and_dicom_with_the_rebuilt_network(pretrained_run):
    at = open_app("predict")
    at.file_uploader(key="files").set_value(
        [
            ("new.png", h.png(h.pattern(3, 48, bright=True)), "image/png"),
            ("scan.dcm", h.dicom_bytes(), "application/dicom"),
            ("fake.png", b"text, not pixels", "image/png"),
        ]
    ).run()
    assert not at.exception, at.exception
    table = at.dataframe[0].value
    assert table["file"].tolist() == ["new.png", "scan.dcm"]
    assert set(table["predicted class"]) <= {"no", "yes"}
    assert "fake.png" in shown(at.warning[0])
