"""AppTest of the Data page in image mode: the Br35H demo, uploads of hostile archives."""

from __future__ import annotations

import pytest

from tests import hostile_images as h
from tests.app.conftest import open_app, shown


def _image_mode(source: str | None = None):
    at = open_app()
    at.radio(key="task").set_value("Images (medical)").run()
    if source:
        at.radio(key="img_source").set_value(source).run()
    assert not at.exception, at.exception
    return at


def test_br35h_demo_report_and_group_aware_split():
    at = _image_mode()
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Images"] == "3,000" and metrics["Classes"] == "2"
    assert metrics["Skipped files"] == "0"
    report = " ".join(m.value for m in at.markdown)
    assert "near-duplicate groups holding" in report
    assert at.radio(key="img_split_mode").value.startswith("Group-aware")
    split = at.dataframe[-1].value
    assert split["groups shared"].tolist() == [0, 0, 0]
    assert split["rows"].sum() == 3000
    at.button(key="use_images").click().run()
    ds = at.session_state["dataset"]
    assert (ds.kind, ds.classes, ds.positive, ds.size) == ("images", ("no", "yes"), "yes", 64)
    assert ds.split.group_col == "group"


@pytest.mark.parametrize(
    ("content", "phrase"),
    [
        (h.zip_of({**h.class_folders(2), "../evil.png": h.png(h.pattern(1))}), "zip-slip"),
        (h.zip_declaring(3 << 30), "declares"),
        (h.zip_of({**h.class_folders(2), "yes/inner.zip": h.zip_of({"a.png": b"x"})}), "nested"),
        (h.zip_of({}), "is empty"),
        (h.zip_of({f"yes/{i}.png": h.png(h.pattern(i)) for i in range(5)}), "two classes"),
    ],
)
def test_hostile_zip_shows_its_message(content, phrase, data_dir):
    at = _image_mode("Upload a ZIP")
    at.file_uploader(key="img_zip").set_value(("scans.zip", content, "application/zip")).run()
    assert not at.exception, at.exception
    assert phrase in shown(at.error[0])
    assert not (data_dir / "datasets").exists()  # nothing was staged


def test_skipped_files_are_listed_by_name():
    content = h.zip_of(
        {**h.class_folders(12), "yes/bomb.png": h.bomb_png(), "no/cut.jpg": h.truncated_jpeg()}
    )
    at = _image_mode("Upload a ZIP")
    at.file_uploader(key="img_zip").set_value(("scans.zip", content, "application/zip")).run()
    assert not at.exception, at.exception
    assert {m.label: m.value for m in at.metric}["Skipped files"] == "2"
    skipped = at.dataframe[0].value
    assert sorted(skipped["file"]) == ["no/cut.jpg", "yes/bomb.png"]


def test_too_few_images_of_a_class_are_refused_and_a_small_test_split_is_warned_about():
    at = _image_mode("Upload a ZIP")
    tiny = h.zip_of(h.class_folders(8))
    at.file_uploader(key="img_zip").set_value(("tiny.zip", tiny, "application/zip")).run()
    assert "has only 8 images; at least 10 of each class" in shown(at.error[0])
    assert not [b for b in at.button if b.key == "use_images"]
    at.file_uploader(key="img_zip").set_value(
        ("small.zip", h.zip_of(h.class_folders(14)), "application/zip")
    ).run()
    assert not at.error
    warning = " ".join(shown(w) for w in at.warning)
    assert "The test split holds only" in warning and "95% CI about ±" in warning


def test_br35h_near_duplicate_groups_are_counted_of_all_images_and_explained():
    at = _image_mode()
    report = " ".join(m.value for m in at.markdown)
    # at the default 4 of 64 bits: 2,619 of the 3,000 scans have a near-twin (README:
    # "about half" holds only for identical hashes, 1,427 images)
    assert "**670** near-duplicate groups holding **2,619** of 3,000 images." in report
    words = next(shown(c) for c in at.caption if "near-duplicate group is" in shown(c))
    assert "at most 4 of 64 hash bits" in words and "keeps each group on one side" in words
    assert "hold 2 to 24 images (259 are pairs); 381 images have no near-duplicate" in words
    at.slider(key="dup_distance").set_value(0).run()
    words = next(shown(c) for c in at.caption if "near-duplicate group is" in shown(c))
    assert "at most 0 of 64 hash bits" in words and "1,573 images have no" in words
