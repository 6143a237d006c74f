"""AppTest of the multi-class table path: the task guessed from a 3-class target, the
k-class views on Evaluate (no image views), Predict giving classes and probabilities."""

from __future__ import annotations

from tests.app.conftest import open_app, shown


def _upload_german(at, german):
    at.radio(key="source").set_value("Upload a file").run()
    data = german.to_csv(index=False).encode()
    at.file_uploader[0].set_value(("german.csv", data, "text/csv")).run()
    at.selectbox(key="target").set_value("housing").run()
    return at


def test_a_three_class_target_opens_as_multiclass_and_can_be_used(german):
    at = _upload_german(open_app(), german)
    assert at.radio(key="task_kind").value == "multiclass"
    assert not at.error and not at.exception
    counts = at.table[0].value  # the class counts, then the split report
    assert set(counts.index) == {"for free", "own", "rent"} and counts["rows"].sum() == 1000
    report = at.table[-1].value
    assert {"for free", "own", "rent"} <= set(report.columns)
    at.button(key="use_dataset").click().run()
    ds = at.session_state["dataset"]
    assert (ds.task, ds.classes) == ("multiclass", ("for free", "own", "rent"))
    assert any("(3 classes)" in shown(s) for s in at.success)


def _housing_run(german, positive: str) -> str:
    """A logistic regression of housing (3 classes, sorted) trained and logged as a worker
    does."""
    from dataclasses import replace

    from finml.data.staging import stage_frame
    from tests.conftest import table_spec, train_and_log

    spec = table_spec(german, "logreg", "housing", positive, drop=("creditability",))
    ds = replace(
        spec.dataset,
        dataset_id=stage_frame(german),
        task="multiclass",
        classes=tuple(sorted(german["housing"].unique())),
    )
    return train_and_log(replace(spec, dataset=ds), "logreg · housing")


def test_evaluate_and_predict_a_multiclass_run(german):
    _housing_run(german, "for free")
    at = open_app("evaluate")
    assert not at.exception, at.exception
    titles = " ".join(c.proto.spec for c in at.get("plotly_chart"))
    assert "One-vs-rest ROC curves" in titles
    per_class = at.dataframe[0].value
    assert {"for free", "own", "rent", "macro avg"} <= set(per_class.index)
    assert not at.info  # no "test images are no longer in the workspace"
    at.segmented_control(key="class_view").set_value("One class against the rest").run()
    assert not at.exception, at.exception

    at = open_app("predict")
    rows = german.head(25).drop(columns=["housing", "creditability"]).to_csv(index=False)
    at.file_uploader(key="rows").set_value(("people.csv", rows.encode(), "text/csv")).run()
    assert not at.exception, at.exception
    out = at.dataframe[0].value
    assert len(out) == 25 and set(out["predicted class"]) <= {"for free", "own", "rent"}
    assert {"p(for free)", "p(own)", "p(rent)"} <= set(out.columns)


def test_a_multiclass_run_exports_and_imports_as_multiclass(german):
    from finml.reporting.exchange import export_run, import_run
    from finml.store import RunStore

    run_id = _housing_run(german, "rent")
    store = RunStore()
    copy = import_run(export_run(store, run_id), store, "housing.zip", "local")
    params = store.get_run(copy).params
    assert params["task"] == "multiclass" and params["classes"] == "for free,own,rent"


def test_classes_whose_names_hold_a_comma_keep_their_names(german):
    """Income bands such as "10,000-20,000" are common class names: Evaluate's per-class
    table, the report and an export/import must keep them whole (the run parameter was a
    plain comma join, which split them)."""
    from finml.access import LOCAL, ScopedStore
    from finml.reporting.exchange import export_run, import_run
    from finml.reporting.report import build_report
    from finml.store import RunStore

    names = {"for free": "free, with family", "own": "own", "rent": "rent, private"}
    run_id = _housing_run(german.assign(housing=german["housing"].map(names)), "rent, private")
    at = open_app("evaluate")
    assert not at.exception, at.exception
    per_class = at.dataframe[0].value
    assert {"free, with family", "own", "rent, private"} <= set(per_class.index)
    store = RunStore()
    report = build_report(ScopedStore(store, LOCAL), run_id)
    assert "free, with family" in report and "rent, private" in report
    copy = import_run(export_run(store, run_id), store, "housing.zip", "local")
    assert store.get_run(copy).params["classes"] == '["free, with family", "own", "rent, private"]'
