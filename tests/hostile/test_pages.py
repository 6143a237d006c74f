"""Hostile input through the pages (AppTest): Markdown and HTML from user data never reach an
element that renders Markdown unescaped, URL parameters are never echoed, the inputs that
crashed pages get their message, and anything unexpected ends at the error boundary."""

from __future__ import annotations

import pytest

from finml.store import RunStore
from tests.app.conftest import open_app, shown
from tests.hostile import builders as b
from tests.hostile.builders import PAYLOAD_CSV

RAW = ("![x](", "[x](http", "**b**", "<img src=x")


def markdown_sources(at) -> list[str]:
    """The Markdown source of every element on the page that renders Markdown."""
    out = []
    for kind in ("error", "warning", "info", "success", "caption", "markdown", "toast"):
        out += [str(e.value) for e in at.get(kind)]
    out += [f"{m.label} {m.value}" for m in at.metric]
    out += [str(n.label) for n in at.number_input] + [str(s.label) for s in at.slider]
    out += [str(t.label) for t in at.tabs] + [str(e.label) for e in at.expander]
    for table in at.table:
        frame = table.value
        out += [str(v) for v in [*frame.columns, *frame.index, *frame.to_numpy().ravel()]]
    out += [img.caption for i in at.get("image") for img in i.proto.imgs]  # Markdown too
    return out


def assert_no_raw_payload(at):
    assert not at.exception, at.exception
    leaked = [s for s in markdown_sources(at) if any(raw in s for raw in RAW)]
    assert not leaked, leaked


def test_payloads_through_the_data_page():
    at = open_app()
    at.radio(key="source").set_value("Upload a file").run()
    at.file_uploader[0].set_value(("p.csv", PAYLOAD_CSV, "text/csv")).run()
    assert_no_raw_payload(at)
    at.selectbox(key="target").set_value("t").run()
    at.button(key="use_dataset").click().run()
    assert_no_raw_payload(at)
    assert at.session_state["dataset"].target == "t"


def test_payloads_through_train_evaluate_predict_and_runs(payload_run):
    run_id, ds = payload_run
    train = open_app("train", {"dataset": ds.dataset_id, "run": run_id})
    assert_no_raw_payload(train)
    evaluate = open_app("evaluate", {"run": run_id})
    assert_no_raw_payload(evaluate)
    evaluate.segmented_control(key="drill_cell").set_value("TP").run()
    assert_no_raw_payload(evaluate)
    predict = open_app("predict", {"run": run_id})
    rows = PAYLOAD_CSV.replace(b"*", b"~")  # unseen categories, Markdown still
    predict.file_uploader(key="rows").set_value(("new.csv", rows, "text/csv")).run()
    assert_no_raw_payload(predict)
    assert any("unseen in training" in shown(w) for w in predict.warning)
    runs = open_app("runs")
    assert_no_raw_payload(runs)
    imported = next(r for r in RunStore().list_runs() if r.run_id != run_id)
    runs.selectbox(key="run").set_value(imported.run_id).run()
    assert_no_raw_payload(runs)


def test_image_labels_and_file_names_of_payloads():
    at = open_app()
    at.radio(key="task").set_value("Images (medical)").run()
    at.radio(key="img_source").set_value("Upload files").run()
    labels = "filename,label\n" + "".join(f'{i}.png,"{b.PAYLOADS[i % 2]}"\n' for i in range(24))
    files = [("labels.csv", labels.encode(), "text/csv")] + [
        (f"{i}.png", b.h.png(b.h.pattern(i)), "image/png") for i in range(24)
    ]
    at.file_uploader(key="img_files_2").set_value(files).run()
    assert_no_raw_payload(at)
    assert not at.error


@pytest.mark.parametrize(
    ("page", "param", "value"),
    [
        ("evaluate", "run", b.PAYLOADS[0]),
        ("predict", "run", b.PAYLOADS[1]),
        ("train", "run", "../../../etc/passwd"),
        ("train", "dataset", b.PAYLOADS[0]),
        ("train", "dataset", "a" * 10_000),
        ("evaluate", "run", "f" * 32),
    ],
)
def test_url_parameters_are_never_echoed_and_never_break_a_page(page, param, value, payload_run):
    at = open_app(page, {param: value})
    assert not at.exception, at.exception
    assert_no_raw_payload(at)
    assert not [s for s in markdown_sources(at) if value[:20] in s]


def test_inputs_that_crashed_pages_now_get_their_message():
    at = open_app()
    at.radio(key="source").set_value("Upload a file").run()
    at.file_uploader[0].set_value(("n.parquet", b.nested_parquet("struct"), "x")).run()
    assert not at.exception and not at.error, at.error
    at.file_uploader[0].set_value(("e.csv", b"x,t\n1,\n2,\n3,\n", "text/csv")).run()
    at.selectbox(key="target").set_value("t").run()
    assert "is empty (every cell is missing)" in shown(at.error[0])
    images = open_app()
    images.radio(key="task").set_value("Images (medical)").run()
    images.radio(key="img_source").set_value("Upload a ZIP").run()
    bad = b.zip_bad_crc(b.h.class_folders(12), "scans/yes/y3.png")
    images.file_uploader(key="img_zip").set_value(("s.zip", bad, "application/zip")).run()
    assert not images.exception, images.exception
    skipped = images.dataframe[0].value
    assert (
        "damaged inside the archive" in skipped.set_index("file").loc["scans/yes/y3.png", "reason"]
    )


def test_an_import_with_a_broken_run_json_shows_its_message_on_the_runs_page(payload_run):
    from finml.reporting.exchange import export_run
    from tests.hostile.test_imports import _hostile, _member

    run_id, _ = payload_run
    store = RunStore()
    before = len(store.list_runs())
    data = _hostile(export_run(store, run_id), _member("run.json", b"{oops"))
    at = open_app("runs")
    at.file_uploader(key="import").set_value(("broken.zip", data, "application/zip")).run()
    at.button(key="do_import").click().run()
    assert not at.exception, at.exception
    assert "run.json is not valid JSON" in shown(at.error[0])
    assert len(store.list_runs()) == before
