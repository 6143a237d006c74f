"""Bins set by hand in a points scorecard: the edit's text is checked like every other
hyperparameter (and as an import's run parameter), the scorecard keeps the analyst's cut
points and category groups exactly, its stored counts are the counts of the training rows
in those bins, the points still reproduce by hand, and bins that cannot be fitted get a
message that says which characteristic and what to do."""

from __future__ import annotations

import json
from bisect import bisect_right

import numpy as np
import pytest

from finml.errors import BundleError, SpecError
from finml.fitters.base import ListSink
from finml.models import bin_edits
from finml.models.registry import check_run_param, get_model, resolve_params
from finml.models.scorecard import ScorecardClassifier
from finml.reporting.scorecard import bins_table, characteristics_table, edit_words, editable_bins
from finml.tasks import get_task, train_spec
from tests.conftest import table_spec

EDITS = {
    "duration_in_month": [12, 24, 36],
    "purpose": [["car (new)", "car (used)"], ["business", "education", "retraining"]],
}


@pytest.fixture(scope="module")
def edited(german):
    """A scorecard on German Credit with two characteristics' bins set by hand."""
    params = {"bin_edits": json.dumps(EDITS), "bin_note": "policy\nbands of 12 months"}
    spec = table_spec(german, "scorecard", seed=42, params=params)
    return spec, train_spec(spec, german, ListSink(), explain=False)


def test_the_edits_text_is_checked_and_written_on_one_line():
    params = resolve_params("scorecard", {"bin_edits": json.dumps(EDITS), "bin_note": "a\r\nb"})
    assert json.loads(params["bin_edits"]) == {
        "duration_in_month": [12.0, 24.0, 36.0],
        "purpose": EDITS["purpose"],
    }
    assert "\n" not in params["bin_edits"] and params["bin_note"] == "a b"
    assert resolve_params("scorecard")["bin_edits"] == ""
    bad = {
        "not JSON": "duration_in_month: 12, 24",
        "not an object": "[12, 24]",
        "cut points out of order": '{"duration_in_month": [24, 12]}',
        "a cut point twice": '{"duration_in_month": [12, 12]}',
        "no bins": '{"duration_in_month": []}',
        "numbers and names mixed": '{"purpose": [["car (new)"], 3]}',
        "a category in two groups": '{"purpose": [["car (new)"], ["car (new)", "business"]]}',
        "an empty group": '{"purpose": [[]]}',
        "infinite cut point": '{"duration_in_month": [1e999]}',
        "a boolean": '{"duration_in_month": [true]}',
        "too long": json.dumps({"x": list(range(2000))}),
    }
    for what, text in bad.items():
        with pytest.raises(SpecError, match=r"Bin edits|Bins set by hand"):
            resolve_params("scorecard", {"bin_edits": text})
        print("refused:", what)
    with pytest.raises(SpecError, match="500 characters"):
        resolve_params("scorecard", {"bin_note": "x" * 501})


def test_edits_of_columns_that_are_not_characteristics_or_of_the_other_kind_are_refused(german):
    task = get_task("binary")
    for text, message in (
        ('{"creditability": [1]}', "not a characteristic"),
        ('{"duration_in_month": [["12"]]}', "is numeric; give its bins as cut points"),
        ('{"purpose": [1, 2]}', "is categorical; give its bins as groups"),
    ):
        spec = table_spec(german, "scorecard", params={"bin_edits": text})
        with pytest.raises(SpecError, match=message):
            task.check_spec(spec)


def test_an_imported_runs_edits_are_checked_like_the_forms():
    hp = {p.name: p for p in get_model("scorecard").params}
    text = resolve_params("scorecard", {"bin_edits": json.dumps(EDITS)})["bin_edits"]
    assert check_run_param("hp.bin_edits", text, hp["bin_edits"]) == text
    for bad in ('{"purpose": [["a"], ["a"]]}', '{"x": "import os"}', text.replace(", ", ",")):
        with pytest.raises(BundleError, match=r"hp\.bin_edits"):
            check_run_param("hp.bin_edits", bad, hp["bin_edits"])
    with pytest.raises(BundleError, match=r"hp\.bin_note"):
        check_run_param("hp.bin_note", "x" * 501, hp["bin_note"])


def test_the_scorecard_keeps_the_bins_set_by_hand_and_counts_its_training_rows(edited, german):
    spec, result = edited
    model = result.model
    card = model.estimator
    duration = card.characteristics_[list(card.names).index("duration_in_month")]
    assert duration["splits"] == [12.0, 24.0, 36.0] and duration["edited"]
    table = bins_table(model, "duration_in_month")
    assert list(table["bin"]) == ["(-inf, 12)", "[12, 24)", "[24, 36)", "[36, inf)"]
    # the stored counts are those of the training rows in each bin, ties going up
    train = german.iloc[result.split.train]
    x = train["duration_in_month"].to_numpy(float)
    by_hand = np.bincount([bisect_right([12, 24, 36], v) for v in x], minlength=4)
    assert table["count"].tolist() == by_hand.tolist()
    bad = (train[spec.dataset.target] == "bad").to_numpy()
    events = np.bincount([bisect_right([12, 24, 36], v) for v in x[bad]], minlength=4)
    assert table["events"].tolist() == events.tolist()
    # each group of categories is one bin; the categories no group names keep their own
    purpose = bins_table(model, "purpose")
    assert "car (new), car (used)" in set(purpose["bin"])
    assert "business, education, retraining" in set(purpose["bin"])
    others = set(train["purpose"]) - {c for g in EDITS["purpose"] for c in g}
    assert others <= set(purpose["bin"])
    chars = characteristics_table(model).set_index("characteristic")
    assert chars.loc["duration_in_month", "note"].startswith("bins set by hand")
    assert not chars.loc["credit_amount", "note"].startswith("bins set by hand")
    # the other characteristics are binned as before
    plain = train_spec(table_spec(german, "scorecard", seed=42), german, ListSink(), explain=False)
    assert bins_table(plain.model, "credit_amount").equals(bins_table(model, "credit_amount"))
    assert result.test_metrics["roc_auc"] > 0.7


def test_the_edited_scorecard_round_trips_and_its_points_follow_the_stored_table(edited, german):
    _, result = edited
    card = result.model.estimator
    stored = json.loads(json.dumps(card.to_dict()))
    again = ScorecardClassifier.from_dict(stored)
    rows = result.model.transform(german.head(40))
    assert np.array_equal(again.score(rows), card.score(rows))
    applicant = german.iloc[result.split.test[0]]
    c = next(c for c in stored["characteristics"] if c["name"] == "duration_in_month")
    j = list(card.names).index("duration_in_month")
    i = bisect_right([12, 24, 36], float(applicant["duration_in_month"]))
    points = card.points(result.model.transform(applicant.to_frame().T))[0, j]
    assert points == (c["points"][i] if c["selected"] else 0)
    hostile = json.loads(json.dumps(stored))
    hostile["params"]["user_bins"] = {"not a characteristic": [1.0]}
    with pytest.raises(BundleError, match="params"):
        ScorecardClassifier.from_dict(hostile)
    hostile["params"]["user_bins"] = {"duration_in_month": ["import os"]}
    with pytest.raises(BundleError, match="params"):
        ScorecardClassifier.from_dict(hostile)


def test_bins_that_cannot_be_fitted_say_which_characteristic_and_what_to_do(german):
    for edits, message in (
        ({"duration_in_month": [1, 2, 100]}, "duration_in_month"),
        ({"purpose": [["no such purpose"]]}, "not a category of the training split"),
    ):
        spec = table_spec(german, "scorecard", params={"bin_edits": json.dumps(edits)})
        with pytest.raises(SpecError, match=message):
            train_spec(spec, german, ListSink(), explain=False)


def test_the_form_helpers_read_what_an_analyst_types(edited):
    _, result = edited
    assert bin_edits.cut_points("36, 12; 24") == [12.0, 24.0, 36.0]
    for bad in ("", "12, twelve", "12, 12", "nan"):
        with pytest.raises(SpecError, match="Cut points"):
            bin_edits.cut_points(bad)
    assert bin_edits.groups_of(["a", "b", "c"], [2, 1, 2]) == [["b"], ["a", "c"]]
    with pytest.raises(SpecError, match="'b' has no whole bin number"):
        bin_edits.groups_of(["a", "b"], [1, None])
    kind, text = editable_bins(result.model, "duration_in_month")
    assert (kind, text) == ("numeric", "12, 24, 36")
    kind, table = editable_bins(result.model, "purpose")
    groups = bin_edits.groups_of(table["category"], table["bin"])
    assert ["car (new)", "car (used)"] in groups and sum(map(len, groups)) == len(table)
    changes = bin_edits.edit_params("", "age_in_years", [25.0, 40.0], "round")
    assert json.loads(changes["bin_edits"]) == {"age_in_years": [25.0, 40.0]}
    with pytest.raises(SpecError, match="Say why"):
        bin_edits.edit_params("", "age_in_years", [25.0], "  \n ")
    both = bin_edits.with_edit(json.dumps(EDITS), "age_in_years", [30.0])
    assert list(json.loads(both)) == ["duration_in_month", "purpose", "age_in_years"]
    params = {"hp.bin_edits": both, "hp.bin_note": "policy"}
    assert edit_words(params, "ann") == (
        "Bins set by hand: duration_in_month, purpose, age_in_years; by ann: policy"
    )
    assert edit_words({}, "ann") == ""
