"""AppTest of Evaluate and Predict on an image run trained for real (tiny, 2 epochs)."""

from __future__ import annotations

import numpy as np
import pytest

from finml.data.spec import ImageDatasetSpec
from finml.data.split import SplitSpec
from finml.models.registry import resolve_params
from finml.store import RunStore
from finml.tasks.spec import RunSpec
from tests import hostile_images as h
from tests.app.conftest import (
    confusion_cells,
    image_captions,
    metric_table,
    open_app,
    open_tab,
    shown,
)
from tests.conftest import stage_image_folders, train_and_log


def _image_run(classes=("no", "yes"), per_class=30):
    """A tiny small-CNN run on synthetic scans, trained for real and logged as a worker does."""
    folders = h.class_folders(per_class)
    if len(classes) > 2:  # a third class: the "no" pattern with a bright border
        for i in range(per_class):
            img = h.pattern(2000 + i)
            img[:4], img[-4:] = 255, 255
            folders[f"scans/{classes[2]}/m{i}.png"] = h.png(img)
    dataset_id = stage_image_folders(folders)
    ds = ImageDatasetSpec(
        dataset_id, "discs", tuple(classes), "yes", 32, "L", SplitSpec(group_col="group")
    )
    spec = RunSpec(ds, "small_cnn", resolve_params("small_cnn", {"epochs": 2, "width": 8}))
    return train_and_log(spec, "cnn · discs")


@pytest.fixture
def image_run():
    return _image_run()


def test_evaluate_shows_per_class_metrics_gallery_and_grad_cam(image_run):
    at = open_app("evaluate")
    titles = " ".join(c.proto.spec for c in at.get("plotly_chart"))
    assert "One-vs-rest ROC" in titles
    cells, heading = confusion_cells(at)
    assert heading.startswith("**Confusion matrix at threshold") and cells.shape == (2, 2)
    per_class = at.dataframe[-1].value
    assert list(per_class.index) == ["no", "yes", "macro avg", "weighted avg"]
    assert any("misclassified" in shown(c) for c in at.caption)
    at.button(key="gradcam").click().run()
    assert not at.exception, at.exception
    captions = [c for i in at.get("image") for c in image_captions(i)]
    assert any(c.startswith("Grad-CAM for class") for c in captions), captions


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
    assert "fake.png" in shown(at.warning[0])


def test_image_run_gets_cis_and_a_drill_down_to_images(image_run):
    from finml.evaluation.metrics import CELLS, cell_mask

    test = RunStore().read_frame(image_run, "predictions/test.parquet")
    y = (test["y_true"] == 1).to_numpy(int)  # "yes" is class 1 and the positive class
    counts = {c: int(cell_mask(y, test["score"], 0.5, c).sum()) for c in CELLS}
    cell = max(counts, key=counts.get)
    at = open_app("evaluate")
    assert "95% CI" in metric_table(at).columns
    at.segmented_control(key="drill_cell").set_value(cell).run()
    assert not at.exception, at.exception
    assert any(shown(c).startswith(f"{counts[cell]} test cases in {cell}") for c in at.caption)
    gallery = next(i for i in at.get("image") if any("scans/" in c for c in image_captions(i)))
    assert len(image_captions(gallery)) == min(counts[cell], 24)


def test_an_image_run_speaks_of_missed_findings_and_shows_clinical_points(image_run):
    at = open_app("evaluate")
    labels = [n.label for n in at.number_input]
    assert any("missed finding" in label for label in labels), labels
    assert any("false alarm" in label for label in labels), labels
    tabs = [t.label for t in at.tabs]
    assert "Clinical operating points" in tabs and "Credit pack" not in tabs
    open_tab(at, "eval_tabs", "Clinical operating points")
    clinical = next(d.value for d in at.dataframe if "requirement" in d.value.columns)
    assert clinical["requirement"].tolist()[:3] == [
        "specificity >= 0.80",
        "specificity >= 0.90",
        "specificity >= 0.95",
    ]


def test_a_three_class_run_opens_on_all_classes_with_one_vs_rest_a_click_away():
    run_id = _image_run(("no", "yes", "ring"))
    at = open_app("evaluate")
    assert at.query_params["run"] == run_id
    assert at.segmented_control(key="class_view").value == "All classes"
    assert not [r for r in at.radio if r.key == "threshold_mode"]  # no binary view yet
    per_class = next(d.value for d in at.dataframe if "sensitivity" in d.value.columns)
    assert list(per_class.index) == ["no", "yes", "ring", "macro avg", "weighted avg"]
    at.segmented_control(key="class_view").set_value("One class against the rest").run()
    at.selectbox(key="ovr_class").set_value("ring").run()
    assert not at.exception, at.exception
    cells, _ = confusion_cells(at)
    assert list(cells.columns) == ["predicted not ring", "predicted ring"], cells.columns


def test_an_image_run_s_tiles_speak_medicine_not_credit(image_run):
    at = open_app("train", {"run": image_run})
    assert not at.exception, at.exception
    labels = [m.label for m in at.metric]
    assert labels[:2] == ["Test ROC-AUC", "Accuracy"], labels
    assert "Gini" not in labels and "KS statistic" not in labels


def test_the_medical_field_shows_clinical_rates_and_no_scorecard_measures():
    from finml.evaluation.metrics import binary_metrics
    from finml.reporting.domains import CREDIT, MEDICAL

    values = binary_metrics(np.array([0, 0, 1, 1]), np.array([0.1, 0.6, 0.4, 0.9]))
    shown = MEDICAL.shown_metrics(values)
    assert {"recall", "specificity", "precision", "npv", "accuracy", "roc_auc"} <= set(shown)
    assert "gini" not in shown and "ks" not in shown
    assert CREDIT.shown_metrics(values) == values  # the credit pack keeps Gini and KS


def test_an_image_run_s_metric_table_has_no_gini_or_ks(image_run):
    at = open_app("evaluate")
    metrics = metric_table(at).index.tolist()
    assert "Recall (sensitivity)" in metrics and "Specificity" in metrics, metrics
    assert "Gini" not in metrics and "KS statistic" not in metrics


def test_the_preset_says_what_it_set_and_what_to_expect(image_run):
    at = open_app("train")
    at.session_state["dataset"] = _dataset_of(image_run)
    at.run()
    at.button(key="preset").click().run()
    assert not at.exception, at.exception
    assert at.selectbox(key="model").value == "efficientnet_lite0"
    caption = next(shown(c) for c in at.caption if "Preset loaded" in shown(c))
    assert caption.startswith(
        "Preset loaded: EfficientNet-Lite0 (ImageNet), pretrained features + head; Head on "
        "the frozen features logistic; Inverse regularisation C 0.1 (was 1)."
    )
    assert "choose 128 px on the Data page" in caption and "ROC-AUC 0.994" in caption
    at.button(key="preset_cnn").click().run()
    assert at.selectbox(key="model").value == "small_cnn"
    caption = next(shown(c) for c in at.caption if "Preset loaded" in shown(c))
    assert caption.startswith(
        "Preset loaded: Small CNN (was EfficientNet-Lite0 (ImageNet), pretrained features + "
        "head); Filters of the first block 16 (was 32)"
    )
    assert "Augment: horizontal flip on;" in caption and "Epochs 40" in caption
    assert "What to expect:" in caption and "test accuracy 0.944, ROC-AUC 0.982" in caption


def _dataset_of(run_id: str):
    """The dataset spec a run was trained on."""
    import json

    stored = RunStore().read_json(run_id, "spec.json")
    return RunSpec.from_json(json.dumps(stored)).dataset
