"""AppTest of the Evaluate page on a run trained for real."""

from __future__ import annotations

import fcntl
import json
import os

import pytest

from finml.evaluation.metrics import binary_metrics
from finml.evaluation.thresholds import GERMAN_CREDIT_COSTS, min_cost_threshold, youden_threshold
from finml.store import RunStore
from tests.app.conftest import (
    chart_titles,
    confusion_cells,
    metric_table,
    open_app,
    open_tab,
    shown,
)


def _metric(at, name):
    table = metric_table(at)
    return float(table.loc[name, "value"])


def test_no_runs_yet():
    assert "No run has test results" in shown(open_app("evaluate").info[0])


def test_threshold_slider_recomputes_from_stored_predictions(finished_run):
    at = open_app("evaluate")
    titles = [c.proto.spec for c in at.get("plotly_chart")]
    assert any("ROC curve" in t for t in titles) and any("Precision-recall" in t for t in titles)
    test = RunStore().read_frame(finished_run, "predictions/test.parquet")
    y, s = test["y_true"].to_numpy(), test["score"].to_numpy()
    # the confusion matrix as a static table: counts and row rates by hand
    cells, heading = confusion_cells(at)
    assert heading == "**Confusion matrix at threshold 0.500**"
    pred = (s >= 0.5).astype(int)
    tn, fp, fn, tp = (int(((y == t) & (pred == p)).sum()) for t in (0, 1) for p in (0, 1))
    assert cells.iloc[0, 0] == f"TN {tn:,} · {tn / (tn + fp):.1%}"
    assert cells.iloc[1, 1] == f"TP {tp:,} · {tp / (tp + fn):.1%}"
    assert list(cells.columns) == ["predicted good", "predicted bad"], cells.columns
    assert _metric(at, "Recall (sensitivity)") == round(binary_metrics(y, s, 0.5)["recall"], 4)
    at.slider(key="threshold").set_value(0.2).run()
    assert _metric(at, "Recall (sensitivity)") == round(binary_metrics(y, s, 0.2)["recall"], 4)
    assert _metric(at, "ROC-AUC") == round(binary_metrics(y, s)["roc_auc"], 4)


def test_youden_threshold_comes_from_the_validation_split(finished_run):
    at = open_app("evaluate")
    at.radio(key="threshold_mode").set_value("Youden J (validation split)").run()
    store = RunStore()
    val = store.read_frame(finished_run, "predictions/validation.parquet")
    expected = youden_threshold(val["y_true"].to_numpy(), val["score"].to_numpy())
    assert f"{expected:.3f}" in " ".join(shown(c) for c in at.caption)
    test = store.read_frame(finished_run, "predictions/test.parquet")
    at_youden = binary_metrics(test["y_true"], test["score"], expected)
    assert _metric(at, "Specificity") == round(at_youden["specificity"], 4)
    assert at_youden["specificity"] != binary_metrics(test["y_true"], test["score"])["specificity"]


def test_costs_cis_and_a_saved_threshold(finished_run):
    at = open_app("evaluate")
    table = metric_table(at)
    low, high = (float(v) for v in table.loc["ROC-AUC", "95% CI"].split(" – "))
    assert low < float(table.loc["ROC-AUC", "value"]) < high
    at.radio(key="threshold_mode").set_value("Minimum expected cost (validation split)").run()
    # the German Credit demo gets the Statlog costs (FP 1, FN 5) by default
    assert at.number_input(key="cost_fn").value == GERMAN_CREDIT_COSTS["fn"]
    val = RunStore().read_frame(finished_run, "predictions/validation.parquet")
    best, _ = min_cost_threshold(val["y_true"], val["score"], 1.0, 5.0)
    assert f"{best:.3f}" in " ".join(shown(c) for c in at.caption)
    at.button(key="save_threshold").click().run()
    assert RunStore().get_run(finished_run).threshold == pytest.approx(best)
    assert "95% band" in chart_titles(at)  # the first tab, open on arrival
    # the other tabs are drawn when opened, not on arrival
    assert "KS plot" not in chart_titles(at) and "Expected cost" not in chart_titles(at)
    open_tab(at, "eval_tabs", "Credit pack")
    for title in ("KS plot", "Cumulative gains", "Calibration"):
        assert title in chart_titles(at)
    assert "95% band" not in chart_titles(at)
    open_tab(at, "eval_tabs", "Costs and operating points")
    assert "Expected cost" in chart_titles(at)


def test_drill_down_lists_the_rows_of_a_cell_by_score(german_spec, reap):
    from finml.training import jobs
    from tests.conftest import wait_for

    store = RunStore()
    run_id = jobs.submit(german_spec("logreg"), store)
    wait_for(lambda: store.get_run(run_id).status == "finished")
    at = open_app("evaluate")
    at.segmented_control(key="drill_cell").set_value("FN").run()
    assert not at.exception, at.exception
    rows = at.dataframe[0].value
    test = store.read_frame(run_id, "predictions/test.parquet")
    fn = test[(test["y_true"] == 1) & (test["score"] < 0.5)]
    assert len(rows) == len(fn) > 0
    assert rows["score"].is_monotonic_decreasing
    assert set(rows["creditability"]) == {"bad"}  # joined with the staged applicant rows


def test_predict_page_scores_an_uploaded_table(finished_run, german):
    at = open_app("predict")
    rows = german.head(30).drop(columns="creditability").to_csv(index=False).encode()
    at.file_uploader(key="rows").set_value(("applicants.csv", rows, "text/csv")).run()
    assert not at.exception, at.exception
    scored = at.dataframe[0].value
    assert len(scored) == 30 and set(scored["decision"]) <= {"accept", "refuse"}
    refused = scored[scored["decision"] == "refuse"]
    assert len(refused) and refused["reason_1"].str.endswith("raised the risk").all()
    assert "reason_4" in scored  # SHAP: up to four adverse-action reasons per applicant
    shown_as = json.loads(at.dataframe[0].proto.columns)["score"]["type_config"]["format"]
    assert shown_as == "%.4f"  # every score with its four stored decimals (0.1200, not 0.12)
    psi = at.dataframe[1].value
    assert psi["variable"].iloc[0] == "score" and "band" in psi


def test_predict_page_reports_a_missing_column(finished_run, german):
    at = open_app("predict")
    rows = german.head(5).drop(columns=["creditability", "purpose"]).to_csv(index=False).encode()
    at.file_uploader(key="rows").set_value(("applicants.csv", rows, "text/csv")).run()
    assert not at.exception, at.exception
    assert "lacks 1 column(s) the model needs: 'purpose'" in shown(at.error[0])


def test_report_button_offers_the_html_and_pdf_downloads(finished_run):
    at = open_app("evaluate")
    at.button(key="make_report").click().run()
    assert not at.exception, at.exception
    assert at.session_state["report"][0] == finished_run
    assert at.session_state["report"][1].startswith(b"<!doctype html>")
    assert at.session_state["report"][2].startswith(b"%PDF-")
    labels = {b.label for b in at.get("download_button")}
    assert {"Download the report (HTML)", "Download the report (PDF)"} <= labels


def _second_run(german_spec):
    """A gradient-boosting run beside the logistic regression, logged as a worker does."""
    from tests.conftest import train_and_log

    return train_and_log(german_spec("hgb", max_iter=30), "hgb · German")


def test_the_run_is_kept_in_the_url_so_a_reload_or_a_link_opens_it(finished_run, german_spec):
    newest = _second_run(german_spec)
    at = open_app("evaluate")
    assert at.query_params["run"] == newest  # the newest opens first, and is in the URL
    linked = open_app("evaluate", {"run": finished_run})
    assert linked.selectbox(key="eval_run").value == finished_run
    assert linked.query_params["run"] == finished_run
    missing = open_app("evaluate", {"run": "0" * 32})
    assert "not available" in shown(missing.info[0])
    # in the same session: a link here from another page (Train's "Open in Evaluate")
    # opens its run over the one shown before (the run box's state is dropped when the
    # page changes); choosing another run is not undone by the URL of the one before
    at.switch_page("pages/train.py").run()
    at.query_params["run"] = finished_run
    at.switch_page("pages/evaluate.py").run()
    assert at.selectbox(key="eval_run").value == finished_run
    assert at.query_params["run"] == finished_run
    at.selectbox(key="eval_run").set_value(newest).run()
    assert at.selectbox(key="eval_run").value == newest and at.query_params["run"] == newest
    at.run()  # a redraw (a threshold moved) keeps it
    assert at.selectbox(key="eval_run").value == newest
    assert missing.selectbox(key="eval_run").value == newest


def test_page_and_report_show_the_same_intervals_and_the_tables_download(finished_run):
    from finml.access import LOCAL, ScopedStore
    from finml.reporting.report import build_report

    at = open_app("evaluate")
    page_cis = metric_table(at)["95% CI"].tolist()
    report = build_report(ScopedStore(RunStore(), LOCAL), finished_run, threshold=0.5)
    assert all(ci in report for ci in page_cis), page_cis
    labels = [b.label for b in at.get("download_button")]
    assert "Metrics with CIs (CSV)" in labels
    assert "Download the split assignment (CSV)" in labels


def test_a_credit_run_speaks_of_approving_and_refusing(finished_run):
    at = open_app("evaluate")
    labels = [n.label for n in at.number_input]
    assert "Cost of a false negative (approving a bad applicant)" in labels
    assert "Cost of a false positive (refusing a good applicant)" in labels
    tabs = [t.label for t in at.tabs]
    assert "Credit pack" in tabs and "Clinical operating points" not in tabs


def test_explanations_are_announced_while_the_worker_computes_them_then_shown(german_spec):
    from finml.data.staging import load_staged
    from finml.fitters.base import ListSink
    from finml.store import FINISHED
    from finml.tasks import get_task, train_spec
    from finml.training.local import JobFiles
    from finml.training.worker import log_importance, log_result, log_shap

    store = RunStore()
    spec = german_spec("logreg")
    frame = load_staged(spec.dataset.dataset_id)
    run_id = store.create_run("logreg", spec.run_params(), spec.run_tags())
    result = train_spec(spec, frame, ListSink(), explain=False)  # as the worker does
    log_result(store, run_id, spec, result)
    store.set_followup(run_id, "permutation importance")
    store.set_status(run_id, FINISHED)
    # the worker lives on while it computes: it holds its job lock, as a real worker does
    job = JobFiles(store.settings, run_id)
    job.dir.mkdir(parents=True, exist_ok=True)
    lock = os.open(job.lock, os.O_CREAT | os.O_RDWR, 0o600)
    os.write(lock, b"worker\n")
    fcntl.flock(lock, fcntl.LOCK_EX)
    at = open_app("evaluate")
    assert _metric(at, "ROC-AUC") > 0.7  # the result is there before the importance
    open_tab(at, "eval_tabs", "Explanations")
    assert any("computing the permutation importance" in shown(i) for i in at.info)
    result.importance = get_task(spec.task).explain(spec, frame, result)
    log_importance(store, run_id, result)
    store.set_followup(run_id, "SHAP values")
    at = open_tab(open_app("evaluate"), "eval_tabs", "Explanations")  # SHAP is coming
    charts = " ".join(c.proto.spec for c in at.get("plotly_chart"))
    assert "Permutation importance" in charts and "SHAP summary" not in charts
    assert any("computing the SHAP values" in shown(i) for i in at.info)
    log_shap(store, run_id, spec, frame, result)
    store.set_followup(run_id, "")
    os.close(lock)  # the worker exits
    at = open_tab(open_app("evaluate"), "eval_tabs", "Explanations")
    assert not any("computing" in shown(i) for i in at.info)
    charts = " ".join(c.proto.spec for c in at.get("plotly_chart"))
    assert "Permutation importance" in charts and "SHAP summary" in charts
    summary = next(d.value for d in at.dataframe if "mean |SHAP|" in d.value)
    assert set(summary["feature"]) == set(spec.dataset.numeric + spec.dataset.categorical)
    assert any("linear explainer" in shown(c) for c in at.caption)


def test_a_follow_up_whose_worker_died_is_cleared(finished_run):
    from finml.training import jobs

    store = RunStore()
    store.set_followup(finished_run, "permutation importance")  # no worker is alive for it
    assert jobs.recover_interrupted(store) == [finished_run]
    run = store.get_run(finished_run)
    assert run.followup == "" and run.status == "finished"


def test_cost_tab_says_the_thresholds_come_from_validation_with_test_cost_cis(finished_run):
    import json

    at = open_app("evaluate")
    figures = [json.loads(c.proto.spec)["layout"] for c in at.get("plotly_chart")]
    roc = next(f for f in figures if f["title"]["text"] == "ROC curve (test split)")
    assert roc["legend"]["orientation"] == "h" and roc["legend"]["y"] < 0
    open_tab(at, "eval_tabs", "Costs and operating points")
    costs = next(d.value for d in at.dataframe if "test cost per case" in d.value)
    assert costs["threshold"].tolist() == ["chosen", "minimum cost (validation)", "Youden J"]
    assert (costs["95% CI low"] <= costs["test cost per case"]).all()
    assert (costs["test cost per case"] <= costs["95% CI high"]).all()
    words = " ".join(shown(c) for c in at.caption)
    assert "chosen on the validation split" in words and "need not be cheapest on test" in words
    figures = [json.loads(c.proto.spec)["layout"] for c in at.get("plotly_chart")]
    cost = next(f for f in figures if f["title"]["text"].startswith("Expected cost"))
    labels = {a["text"]: a["y"] for a in cost["annotations"]}
    assert len(labels) == 1 or labels["chosen"] != labels["minimum (validation)"]


def test_credit_pack_has_the_cutoff_strategy_and_a_swap_set_against_another_run(german_spec):
    from finml.evaluation import credit
    from finml.evaluation.metrics import binary_view_of_run
    from tests.conftest import train_and_log

    before = train_and_log(german_spec("hgb"), "hgb · German")
    now = train_and_log(german_spec("logreg"), "logreg · German")
    store = RunStore()
    store.set_threshold(before, 0.3, "Manual")
    at = open_app("evaluate", {"run": now})
    open_tab(at, "eval_tabs", "Credit pack")
    strategy = next(d.value for d in at.dataframe if "accept rate" in d.value)
    assert strategy.loc[strategy[""] == "chosen", "cut-off"].tolist() == [0.5]
    assert strategy["accept rate"].is_monotonic_increasing
    assert strategy["bad rate among accepted"].is_monotonic_increasing  # a useful score
    swaps = next(d.value for d in at.dataframe if "applicants" in d.value).set_index("cell")
    # by hand: the same 200 test applicants, now accepted below 0.5, before below 0.3
    test_now = store.read_frame(now, "predictions/test.parquet")
    test_before = store.read_frame(before, "predictions/test.parquet")
    params = store.get_run(before).params
    _, old_score, *_ = binary_view_of_run(params, test_before, test_before)
    both = test_now.merge(test_before.assign(old=old_score)[["row", "old"]], on="row")
    assert len(both) == 200  # same seed, same split
    expected = credit.swap_set(both["y_true"], both["score"] < 0.5, both["old"] < 0.3)
    assert swaps["applicants"].tolist() == expected["applicants"].tolist()
    assert swaps["applicants"].sum() == 200
    assert any("saved cut-off 0.300" in shown(c) for c in at.caption)


def test_the_documentation_tab_saves_the_sections_with_the_run(finished_run):
    """The owner writes the SR 11-7 sections on Evaluate and saves them; a new session
    (a reload) shows what was saved, and the report opens with it."""
    from finml.access import LOCAL, ScopedStore
    from finml.reporting.documentation import load_documentation
    from finml.reporting.report import build_report

    at = open_tab(open_app("evaluate"), "eval_tabs", "Documentation")
    run_id = finished_run
    at.text_area(key=f"doc.{run_id}.purpose").set_value("Refer applications under 5,000 DM.")
    at.text_area(key=f"doc.{run_id}.limitations").set_value("x" * 10)
    next(b for b in at.button if b.label == "Save the documentation").click().run()
    assert not at.exception, at.exception
    assert any("Saved with the run" in shown(s) for s in at.success)
    store = ScopedStore(RunStore(), LOCAL)
    assert load_documentation(store, run_id)["sections"]["purpose"].startswith("Refer")
    again = open_tab(open_app("evaluate"), "eval_tabs", "Documentation")
    assert again.text_area(key=f"doc.{run_id}.purpose").value.startswith("Refer")
    assert "Refer applications under 5,000 DM." in build_report(store, run_id, threshold=0.5)
