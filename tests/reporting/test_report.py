"""The HTML model report of a real run."""

from __future__ import annotations

import re

from finml.access import LOCAL, ScopedStore
from finml.reporting.report import build_report
from finml.store import RunStore
from finml.training import jobs
from tests.conftest import wait_for


def test_report_is_self_contained_and_holds_every_section(german_spec, reap):
    store = RunStore()
    run_id = jobs.submit(german_spec("logreg"), store)
    wait_for(lambda: store.get_run(run_id).status == "finished")
    store.set_threshold(run_id, 0.3, "Manual")
    page = build_report(ScopedStore(store, LOCAL), run_id, cost_fp=1, cost_fn=5)
    for section in (
        "Settings",
        "Data and split audit",
        "Library versions",
        "Learning curves",
        "Test metrics at threshold 0.300",
        "Costs",
        "Credit pack",
        "Explanations",
    ):
        assert f">{section}<" in page or f"<h2>{section}" in page, section
    assert "Leakage screening: no single column" in page
    # population stability of the 200 test applicants against the training split
    stability = page.split("<h2>Population stability (PSI and CSI)</h2>")[1].split("<h2>")[0]
    assert "The 200 test applicants" in stability
    cells = re.findall(r"<td>([^<]*)</td>", stability)
    variables = cells[::5]  # variable, PSI, rows, p-value, band
    assert variables[0] == "score" and len(variables) == 21  # the score, then 20 columns
    assert "duration_in_month" in variables and "purpose" in variables
    assert cells[4] == "stable"  # a random split: the test scores are the training scores'
    assert set(cells[4::5]) <= {"stable", "moderate shift", "major shift"}
    assert "scikit-learn" in page and "seed" in page
    dataset_id = store.get_run(run_id).params["dataset_id"]
    assert dataset_id not in page and "dataset_id" not in page  # a pointer, not a setting
    assert re.search(r"95% CI", page)
    # self-contained: plotly.js inline, no external script or stylesheet
    assert "<script src=" not in page and 'rel="stylesheet"' not in page
    assert page.count("plotly.js v") >= 1 and len(page) > 1_000_000
