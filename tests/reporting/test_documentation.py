"""A run's model documentation (SR 11-7 sections): cleaned and bounded as stored, written
only by the run's owner (a colleague it is shared with reads it), the first section of the
HTML report (a section not written says so), carried by an export and checked on import."""

from __future__ import annotations

import json

import pytest

from finml.access import AccessError, ScopedStore
from finml.errors import BundleError, SpecError
from finml.reporting import documentation as docs
from finml.reporting.exchange import export_run, import_run
from finml.store import RunStore
from tests.conftest import train_and_log
from tests.hostile_images import members_of, zip_of
from tests.test_access import ALICE, BOB

PURPOSE = "Approve or refer retail loan applications under 50,000 DM.\r\nSecond line."


def test_sections_are_cleaned_and_bounded():
    clean = docs.clean_sections({"purpose": f"  {PURPOSE}\x00\x1b  ", "limitations": "\tthin"})
    assert clean["purpose"] == PURPOSE.replace("\r\n", "\n")
    assert clean["limitations"] == "thin"
    with pytest.raises(SpecError, match="Limitations: 5,001 characters"):
        docs.clean_sections({"limitations": "x" * 5001})
    with pytest.raises(SpecError, match="not a section"):
        docs.clean_sections({"<script>": "x"})
    with pytest.raises(SpecError, match="not a section"):
        docs.clean_sections({"purpose": ["a list"]})


def test_only_the_owner_writes_a_colleague_reads_and_the_report_opens_with_it(german_spec):
    from finml.reporting.report import build_report

    raw = RunStore()
    alice, bob = ScopedStore(raw, ALICE), ScopedStore(raw, BOB)
    run_id = train_and_log(german_spec("logreg"), "logreg · documented", owner=ALICE.user_id)
    page = build_report(alice, run_id, threshold=0.5)
    assert "<h2>Model documentation</h2>" in page and page.count("Not documented.") == 4
    doc = docs.save_documentation(alice, run_id, {"purpose": PURPOSE}, ALICE.display)
    assert doc["by"] == ALICE.display and doc["at"].endswith("Z")
    alice.set_shared(run_id, True)
    assert docs.load_documentation(bob, run_id)["sections"]["purpose"].startswith("Approve")
    with pytest.raises(AccessError):
        docs.save_documentation(bob, run_id, {"purpose": "mine now"}, BOB.display)
    page = build_report(bob, run_id, threshold=0.5)
    assert "Approve or refer retail loan applications" in page
    assert page.count("Not documented.") == 3
    assert page.index("Model documentation") < page.index("<h2>Settings</h2>")
    # text is text in the report: markup an analyst typed is escaped, not rendered
    docs.save_documentation(alice, run_id, {"data": "<img src=x onerror=alert(1)>"}, "a")
    page = build_report(alice, run_id, threshold=0.5)
    assert "&lt;img src=x onerror=alert(1)&gt;" in page and "<img src=x" not in page
    # a stored record that is not what finml writes reads as none
    raw.log_json(run_id, {"sections": {"purpose": 5}}, docs.ARTIFACT)
    assert docs.load_documentation(alice, run_id) == {"sections": {}}


def test_an_export_carries_the_documentation_and_an_import_checks_it(german_spec):
    store = RunStore()
    run_id = train_and_log(german_spec("logreg"), "logreg · export")
    docs.save_documentation(store, run_id, {"monitoring": "Score PSI monthly."}, "local")
    data = export_run(store, run_id)
    copy = import_run(data, store, name="documented.zip")
    assert docs.load_documentation(store, copy)["sections"] == {"monitoring": "Score PSI monthly."}
    members = members_of(data)
    for bad in (
        {"sections": {"monitoring": "x" * 6000}, "by": "a", "at": "b"},
        {"sections": {"code": "import os"}},
        {"sections": {}, "by": "a", "extra": 1},
        ["not", "a", "record"],
    ):
        members["documentation.json"] = json.dumps(bad).encode()
        with pytest.raises(BundleError, match=r"documentation\.json"):
            import_run(zip_of(members), store, name="hostile.zip")
