"""Hyperparameter validation of the model registry."""

from __future__ import annotations

import pytest

from finml.errors import SpecError
from finml.models.registry import model_names, parse_layers, resolve_params


def test_defaults_resolve_for_every_model():
    for name in model_names():
        assert resolve_params(name)  # every default passes its own validation


@pytest.mark.parametrize(
    ("name", "overrides", "phrase"),
    [
        ("nope", {}, "Unknown model"),
        ("mlp", {"epochs": 0}, "outside"),
        ("mlp", {"epochs": 2.5}, "whole number"),
        ("mlp", {"activation": "sigmoidish"}, "not one of"),
        ("mlp", {"hidden": "64,abc"}, "comma-separated"),
        ("logreg", {"C": "x"}, "not a number"),
        ("hgb", {"depth": 3}, "no hyperparameter"),
    ],
)
def test_bad_hyperparameters_are_refused(name, overrides, phrase):
    with pytest.raises(SpecError, match=phrase):
        resolve_params(name, overrides)


def test_layers_parse():
    assert parse_layers("64, 32") == (64, 32)


def test_per_column_choices_go_from_text_to_table_and_back():
    from finml.models.registry import choices_text, column_choices, parse_trends

    cols = ["age", "duration", "amount"]
    assert column_choices("monotone", cols, "duration:-1, age:+") == [
        "increasing",
        "decreasing",
        "none",
    ]
    assert choices_text("monotone", cols, ["increasing", "decreasing", "none"]) == (
        "age:+1, duration:-1"
    )
    assert column_choices("trends", cols, "amount:peak") == ["default", "default", "peak"]
    assert choices_text("trends", cols, ["default", "ascending", None]) == "duration:ascending"
    for bad in ("amount:upwards", "amount", "amount:peak, amount:valley"):
        with pytest.raises(SpecError, match="Trends per characteristic"):
            parse_trends(bad)
    with pytest.raises(SpecError, match="Monotone constraints"):
        column_choices("monotone", cols, "age:up")


def test_boosting_runs_logged_before_the_categories_parameter_stay_one_hot():
    """Native categories are the default now; a run logged before the parameter existed
    was one-hot, and training it again (or prefilling the form from it) must stay so."""
    from finml.models.registry import logged_params, resolve_params

    assert resolve_params("hgb")["categories"] == "native"
    for model in ("hgb", "hgb_reg"):
        old = logged_params(model, {"hp.max_iter": "100"})
        assert old["categories"] == "one-hot" and old["max_iter"] == 100
        assert logged_params(model, {"hp.categories": "native"})["categories"] == "native"
    assert "categories" not in logged_params("logreg", {})


def test_list_parameters_keep_names_that_hold_a_comma_and_read_old_runs():
    """Classes, exogenous, known and protected columns are logged as one text each; a name
    with a comma ("10,000-20,000", "rate, %") must come back whole, and a run logged
    before (a plain comma join) must still read as it did."""
    from finml.data.spec import format_list, parse_list
    from finml.errors import BundleError
    from finml.models.registry import check_run_param

    for names in ([], ["own"], ["for free", "own", "rent"], ["10,000-20,000", "< 10,000"]):
        text = format_list(names)
        assert parse_list(text) == names
        assert check_run_param("classes", text) == text
    assert format_list(["for free", "own"]) == "for free,own"  # unchanged for plain names
    assert format_list(["[0, 5)", "[5, 10)"]).startswith('["')
    assert parse_list(format_list(["[0-5)", "[5-10)"])) == ["[0-5)", "[5-10)"]
    assert parse_list("[0-5),[5-10)") == ["[0-5)", "[5-10)"]  # an old run's text
    assert parse_list(None) == [] and parse_list("a,b") == ["a", "b"]
    with pytest.raises(BundleError, match="'exog'"):
        check_run_param("exog", format_list(["x" * 301, "y,z"]))
