"""Monotone constraints of gradient boosting are checked, not trusted (xgboost once
ignored them silently, xgboost #5060): the fitted model's predictions on a grid of one
column, the others held fixed, only rise (or fall) as asked; without constraints they do
not, so the check can fail. Bad constraints are refused before a run starts."""

from __future__ import annotations

import numpy as np
import pytest

from finml.errors import SpecError
from finml.fitters.base import ListSink
from finml.tasks import get_task, train_spec
from tests.conftest import table_spec

CONSTRAINTS = {"duration_in_month": 1, "credit_amount": 1, "age_in_years": -1}
TEXT = "duration_in_month:+1, credit_amount:+1, age_in_years:-1"


def _violations(model, frame, column: str, sign: int) -> int:
    """Rows of 40 applicants whose score moves against ``sign`` somewhere on a 25-point
    grid of ``column`` (the other columns as they are)."""
    rows = frame.sample(40, random_state=0)
    grid = np.linspace(frame[column].min(), frame[column].max(), 25)
    many = rows.loc[rows.index.repeat(len(grid))].assign(**{column: np.tile(grid, len(rows))})
    scores = model.positive_score(many).reshape(len(rows), len(grid))  # one call
    steps = np.diff(scores, axis=1) * sign
    return int((steps < -1e-12).any(axis=1).sum())


@pytest.mark.parametrize("categories", ["one-hot", "native"])
def test_constrained_boosting_is_monotone_on_a_grid(german, categories):
    params = {"monotone": TEXT, "categories": categories, "max_iter": 60}
    model = train_spec(
        table_spec(german, "hgb", params=params), german, ListSink(), explain=False
    ).model
    for column, sign in CONSTRAINTS.items():
        assert _violations(model, german, column, sign) == 0, column
    if categories == "one-hot":  # the same fit without constraints fails the check
        free = {**params, "monotone": ""}
        plain = train_spec(
            table_spec(german, "hgb", params=free), german, ListSink(), explain=False
        ).model
        assert sum(_violations(plain, german, c, s) for c, s in CONSTRAINTS.items()) > 0


def test_bad_constraints_are_refused_before_the_run(german):
    from finml.models.registry import resolve_params

    with pytest.raises(SpecError, match="column:direction"):
        resolve_params("hgb", {"monotone": "duration_in_month: up"})
    spec = table_spec(german, "hgb", params={"monotone": "purpose:+1, nope:-1"})
    with pytest.raises(SpecError, match="not numeric features"):
        get_task("binary").check_spec(spec)
    assert resolve_params("hgb_reg", {"monotone": "age_in_years:decreasing"})["monotone"] == (
        "age_in_years:-1"
    )
