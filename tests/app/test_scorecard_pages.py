"""AppTest of the points scorecard: offered on Train for a binary target (bad special
codes get a message), its Scorecard tab on Evaluate (IV table, bins of a characteristic,
the points table and its CSV), and Predict giving each applicant's points and the
scorecard's own reason codes."""

from __future__ import annotations

from finml.store import RunStore
from tests.app.conftest import open_app, open_tab, shown
from tests.conftest import train_and_log


def test_the_form_offers_a_scorecard_and_checks_its_special_codes(german_spec):
    at = open_app("train")
    at.session_state["dataset"] = german_spec("scorecard").dataset
    at.run()
    assert "Points scorecard (WoE bins, OptBinning)" in at.selectbox(key="model").options
    at.selectbox(key="model").set_value("scorecard").run()
    at.text_input(key="scorecard.special_codes").set_value("-999; none")
    at.button(key="start").click().run()
    assert "Special codes" in shown(at.error[0]) and "comma-separated" in shown(at.error[0])
    assert RunStore().list_runs() == []


def test_evaluate_shows_the_scorecard_and_predict_its_points(german_spec, german):
    run_id = train_and_log(german_spec("scorecard"), "scorecard · German Credit")
    at = open_tab(open_app("evaluate"), "eval_tabs", "Scorecard")
    chars = next(d.value for d in at.dataframe if "characteristic" in d.value.columns)
    assert chars["IV"].is_monotonic_decreasing and chars["in model"].any()
    assert not chars["in model"].all()  # the IV filter left some out, with its reason
    assert chars.loc[~chars["in model"], "note"].str.startswith("IV").all()
    at.selectbox(key="scorecard_char").set_value("duration_in_month").run()
    assert not at.exception, at.exception
    titles = " ".join(c.proto.spec for c in at.get("plotly_chart"))
    assert "duration_in_month: bad rate and WoE by bin" in titles
    bins = next(d.value for d in at.dataframe if {"bin", "event rate"} <= set(d.value.columns))
    assert bins["bin"].iloc[0].startswith("(-inf") and bins["count"].sum() > 500
    points = next(
        d.value for d in at.dataframe if list(d.value.columns[:2]) == ["characteristic", "bin"]
    )
    assert set(points["characteristic"]) == set(chars.loc[chars["in model"], "characteristic"])
    assert any(b.label == "Scorecard (CSV)" for b in at.get("download_button"))

    at = open_app("predict")
    rows = german.head(20).drop(columns=["creditability"]).to_csv(index=False)
    at.file_uploader(key="rows").set_value(("applicants.csv", rows.encode(), "text/csv")).run()
    assert not at.exception, at.exception
    out = at.dataframe[0].value
    parts = [c for c in out.columns if str(c).startswith("points: ")]
    assert len(out) == 20 and len(parts) == len(points["characteristic"].unique())
    assert (out[parts].sum(axis=1) == out["points"]).all()
    assert out["reason_1"].str.contains("points below its best bin").any()
    assert any("not SHAP's" in shown(c) for c in at.caption)
    assert RunStore().get_run(run_id).status == "finished"


def test_the_report_holds_the_scorecard(german_spec):
    from finml.access import LOCAL, ScopedStore
    from finml.reporting.report import build_report

    run_id = train_and_log(german_spec("scorecard"), "scorecard · report")
    page = build_report(ScopedStore(RunStore(), LOCAL), run_id, threshold=0.5)
    assert "<h2>Scorecard</h2>" in page and "Points per bin" in page
    assert "points to double the odds" in page and "duration_in_month" in page
    assert "<h2>Fair lending</h2>" not in page  # this run marked no protected attribute


def test_a_scorecard_run_exports_and_imports_with_its_table(german_spec, german):
    from finml.models.bundle import load_run_bundle
    from finml.reporting.exchange import export_run, import_run

    store = RunStore()
    run_id = train_and_log(german_spec("scorecard"), "scorecard · export")
    copy = import_run(export_run(store, run_id), store, "scorecard.zip", "local")
    rows = german.head(40)
    original, imported = load_run_bundle(store, run_id), load_run_bundle(store, copy)
    assert (
        imported.estimator.score(imported.transform(rows))
        == original.estimator.score(original.transform(rows))
    ).all()
    assert store.get_run(copy).params["model"] == "scorecard"


def test_bins_edited_on_evaluate_train_a_new_run_that_records_who_what_and_why(
    german_spec, german, reap
):
    """Scorecard tab -> "Edit the bins of duration_in_month" -> cut points and a reason ->
    a new run (the old one untouched) trained by a worker with those bins, which Evaluate
    shows with who set them and why, and which exports and imports with its edit."""
    import json

    from finml.access import LOCAL, ScopedStore
    from finml.data.staging import save_dataset_spec
    from finml.reporting.exchange import export_run, import_run
    from tests.conftest import wait_for

    spec = german_spec("scorecard")
    save_dataset_spec(spec.dataset)  # as the Data page does
    run_id = train_and_log(spec, "scorecard · German Credit")
    at = open_tab(open_app("evaluate"), "eval_tabs", "Scorecard")
    at.selectbox(key="scorecard_char").set_value("duration_in_month").run()
    cuts = at.text_input(key=f"bin_cuts.{run_id}.duration_in_month")
    assert cuts.value and all(float(v) for v in cuts.value.split(","))  # today's cut points
    cuts.set_value("36, 12, 24")
    submit = next(b for b in at.button if b.label == "Train again with these bins")
    submit.click().run()
    assert "Say why" in shown(at.error[0])  # no reason: nothing is trained
    store = RunStore()
    assert [r.run_id for r in store.list_runs()] == [run_id]

    at.text_input(key=f"bin_note.{run_id}.duration_in_month").set_value("policy bands")
    next(b for b in at.button if b.label == "Train again with these bins").click().run()
    assert not at.exception, at.exception
    new = at.session_state["active_run"]
    assert new != run_id and at.query_params["run"] == new
    assert at.title[0].value == "Train"  # the Train page watches the new run
    params = store.get_run(new).params
    assert json.loads(params["hp.bin_edits"]) == {"duration_in_month": [12.0, 24.0, 36.0]}
    assert params["hp.bin_note"] == "policy bands" and params["seed"] == "42"
    assert (
        "hp.bin_edits" not in store.get_run(run_id).params
        or not store.get_run(run_id).params["hp.bin_edits"]
    )
    assert wait_for(lambda: store.get_run(new).status == "finished", timeout=120)

    at = open_tab(open_app("evaluate", query={"run": new}), "eval_tabs", "Scorecard")
    at.selectbox(key="scorecard_char").set_value("duration_in_month").run()
    assert any("Bins set by hand: duration_in_month; by" in shown(i) for i in at.info)
    assert any("policy bands" in shown(i) for i in at.info)
    bins = next(d.value for d in at.dataframe if {"bin", "event rate"} <= set(d.value.columns))
    assert list(bins["bin"][:4]) == ["(-inf, 12)", "[12, 24)", "[24, 36)", "[36, inf)"]
    scoped = ScopedStore(store, LOCAL)
    copy = import_run(export_run(scoped, new), store, "edited.zip", "local")
    assert store.get_run(copy).params["hp.bin_edits"] == params["hp.bin_edits"]


def test_the_iv_table_is_previewed_before_training_and_a_characteristic_left_out(german_spec, reap):
    """Train, scorecard: "Preview the IV table" bins the training split and shows each
    characteristic's IV and verdict in the table of characteristics; one unticked (here:
    restored from a run's choices) is left out of the run, which says so."""
    at = open_app("train")
    at.session_state["dataset"] = german_spec("scorecard").dataset
    at.run()
    at.selectbox(key="model").set_value("scorecard").run()
    table = next(d.value for d in at.dataframe if "use" in d.value.columns)
    assert "IV" not in table.columns and table["use"].all()
    at.button(key="iv_preview_button").click().run()
    assert not at.exception, at.exception
    table = next(d.value for d in at.dataframe if "use" in d.value.columns)
    assert table["IV"].is_monotonic_decreasing and table["IV"].iloc[0] > 0.3
    low = table.loc[~table["passes the filters"].astype(bool), "note"]
    assert low.str.startswith("IV").all() and len(low) >= 3  # the filters' verdicts
    at.session_state["scorecard.excluded"] = "purpose"
    at.run()
    table = next(d.value for d in at.dataframe if "use" in d.value.columns)
    assert not table.set_index("characteristic").loc["purpose", "use"]
    at.button(key="start").click().run()
    assert not at.exception, at.exception
    store = RunStore()
    run_id = at.session_state["active_run"]
    assert store.get_run(run_id).params["hp.excluded"] == "purpose"
    from tests.conftest import wait_for

    assert wait_for(lambda: store.get_run(run_id).status == "finished", timeout=120)
    ev = open_tab(open_app("evaluate", {"run": run_id}), "eval_tabs", "Scorecard")
    chars = next(d.value for d in ev.dataframe if "characteristic" in d.value.columns)
    row = chars.set_index("characteristic").loc["purpose"]
    assert not row["in model"] and row["note"] == "left out by the analyst"
