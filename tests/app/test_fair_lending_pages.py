"""AppTest of the fair-lending analysis: the Data page suggests the protected attributes
of German Credit and leaves them out of the features (or keeps them in, with a warning),
and Evaluate's "Fair lending" tab shows approval rates and adverse impact ratios by
group of a run that marked them."""

from __future__ import annotations

from dataclasses import replace

from tests.app.conftest import open_app, open_demo, open_tab, shown
from tests.conftest import train_and_log

GERMAN = "German Credit (Statlog)"
PROTECTED = ("personal_status_and_sex", "age_in_years", "foreign_worker")


def _protected(at):
    return next(m for m in at.multiselect if m.label.startswith("Protected attributes"))


def _features(at) -> list[str]:
    return [v for m in at.multiselect if m.label.endswith("features") for v in m.value]


def test_the_data_page_marks_protected_attributes_and_leaves_them_out():
    at = open_demo(GERMAN, "binary")
    assert tuple(_protected(at).value) == PROTECTED
    assert not set(PROTECTED) & set(_features(at))
    at.button(key="use_dataset").click().run()
    ds = at.session_state["dataset"]
    assert ds.protected == PROTECTED and "age_in_years" not in ds.numeric

    at.toggle(key="keep_protected").set_value(True).run()  # an analyst keeps them in
    assert "age_in_years" in _features(at)
    assert any("Regulation B" in shown(w) for w in at.warning)
    _protected(at).set_value(["age_in_years"]).run()  # or marks fewer
    at.toggle(key="keep_protected").set_value(False).run()
    assert "personal_status_and_sex" in _features(at) and "age_in_years" not in _features(at)


def test_evaluate_shows_adverse_impact_by_group(german_spec):
    spec = german_spec("logreg")
    ds = spec.dataset
    kept = [c for c in ds.categorical if c not in PROTECTED]
    numeric = [c for c in ds.numeric if c not in PROTECTED]
    ds = replace(ds, numeric=tuple(numeric), categorical=tuple(kept), protected=PROTECTED)
    run_id = train_and_log(replace(spec, dataset=ds), "logreg · fair")
    at = open_tab(open_app("evaluate"), "eval_tabs", "Fair lending")
    table = next(d.value for d in at.dataframe if "adverse impact ratio" in d.value.columns)
    assert "male : single" in set(table["group"]) and len(table) >= 3
    assert (table["adverse impact ratio"] <= table["AIR upper"] + 1e-9).all()
    assert table["applicants"].sum() == 200  # the test split
    assert any(m.label == "Lowest adverse impact ratio" for m in at.metric)
    at.selectbox(key="fair_attribute").set_value("age_in_years").run()
    assert not at.exception, at.exception
    table = next(d.value for d in at.dataframe if "adverse impact ratio" in d.value.columns)
    assert set(table["group"]) == {"< 25", "25-61", ">= 62"}
    titles = " ".join(c.proto.spec for c in at.get("plotly_chart"))
    assert "Adverse impact ratio by age_in_years" in titles

    from finml.access import LOCAL, ScopedStore
    from finml.reporting.report import build_report
    from finml.store import RunStore

    page = build_report(ScopedStore(RunStore(), LOCAL), run_id, threshold=0.5)
    assert "<h2>Fair lending</h2>" in page
    for name in PROTECTED[:2]:  # foreign_worker may hold one group only among 200
        assert f"<h3>{name}</h3>" in page
    assert "adverse impact ratio" in page and "four-fifths rule" in page
