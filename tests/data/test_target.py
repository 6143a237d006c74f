"""Target checks and leakage screening."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from finml.data import reader, schema, target
from finml.errors import TargetError


def test_leakage_is_flagged():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 200)
    frame = pd.DataFrame(
        {
            "noise": rng.normal(size=200),
            "days_past_due_after": y * 90 + rng.integers(0, 5, 200),
            "target": np.where(y == 1, "bad", "good"),
        }
    )
    hits = target.leakage_warnings(frame, schema.infer_schema(frame), "target", "bad")
    assert [h[0] for h in hits] == ["days_past_due_after"]
    assert hits[0][1] > 0.99


def test_screening_auc_is_sklearns_on_every_column(monkeypatch):
    """Every column's screening AUC (from counts per distinct value) equals
    sklearn's roc_auc_score on the median-filled values or the category's class rate, on
    German Credit with gaps punched in (ties, missing values, categories)."""
    from sklearn.metrics import roc_auc_score

    from finml.data import demo

    frame = demo.demo_frame("German Credit (Statlog)")
    frame.loc[::9, "age_in_years"] = np.nan
    frame.loc[::11, "purpose"] = None
    table = schema.infer_schema(frame)
    monkeypatch.setattr(target, "LEAKAGE_AUC", 0.0)  # report every column
    got = dict(target.leakage_warnings(frame, table, "creditability", "bad"))
    y = (frame["creditability"] == "bad").to_numpy()
    checked = 0
    for col in table.columns:
        if col.name == "creditability" or col.kind not in ("numeric", "categorical"):
            continue
        x = frame[col.name]
        if col.kind == "numeric":
            score = x.fillna(x.median())
        else:
            codes, _ = pd.factorize(x, use_na_sentinel=False)
            score = (np.bincount(codes, weights=y) / np.bincount(codes))[codes]
        auc = roc_auc_score(y, score)
        assert got[col.name] == pytest.approx(max(auc, 1 - auc), abs=1e-12), col.name
        checked += 1
    assert checked == 20


@pytest.mark.parametrize(
    ("values", "phrase"),
    [
        (["good"] * 50, "single value"),
        (["good"] * 45 + ["bad"] * 5, "only 5 rows"),
        (["good"] * 45 + [None] * 5, "missing on 5 rows"),
    ],
)
def test_untrainable_targets_are_refused(values, phrase, tmp_path):
    frame = pd.DataFrame({"x": range(len(values)), "target": values})
    path = tmp_path / "t.csv"
    frame.to_csv(path, index=False)
    read = reader.read_table(path.read_bytes(), "t.csv")
    with pytest.raises(TargetError, match=phrase):
        target.validate_target(read.frame, "target", "bad")


# -- regression targets -------------------------------------------------------------------
from tests.badfiles import BAD_REGRESSION_FILES  # noqa: E402


@pytest.mark.parametrize("case", sorted(BAD_REGRESSION_FILES))
def test_a_bad_regression_target_is_refused_with_where_and_how(case):
    filename, content, phrase = BAD_REGRESSION_FILES[case]
    frame = reader.read_table(content, filename).frame
    with pytest.raises(TargetError) as err:
        target.validate_regression_target(frame, "amount")
    assert phrase in str(err.value)


def test_a_missing_regression_target_names_the_first_row():
    frame = pd.DataFrame({"x": range(40), "amount": [1.0, None] + [2.0] * 38})
    with pytest.raises(TargetError, match="missing on 1 rows \\(first at data row 2\\)"):
        target.validate_regression_target(frame, "amount")


def test_the_task_is_inferred_from_the_target(german):
    assert target.infer_task(german["credit_amount"]) == "regression"
    assert target.infer_task(german["creditability"]) == "binary"
    assert target.infer_task(german["number_of_existing_credits_at_this_bank"]) == "multiclass"
    assert target.infer_task(pd.Series(["a", "b"] * 30)) == "binary"


def test_quantile_strata_are_balanced_bins_of_the_target(german):
    y = german["credit_amount"].to_numpy(dtype=float)
    strata = target.quantile_strata(y)
    assert np.bincount(strata).tolist() == [200] * 5
    means = pd.Series(y).groupby(strata).mean()
    assert means.is_monotonic_increasing


def test_a_unit_is_stripped_and_a_long_or_odd_one_is_refused_with_what_to_type():
    from finml.data.target import UNIT_LENGTH, clean_unit

    assert clean_unit("  bn   USD ") == "bn USD"
    assert clean_unit("") == ""
    assert clean_unit("€/m²") == "€/m²"
    with pytest.raises(TargetError, match=f"at most {UNIT_LENGTH}"):
        clean_unit("D" * (UNIT_LENGTH + 1))
    assert clean_unit("DM\nper\tyear") == "DM per year"  # whitespace of any kind: one space
    for odd in ("<i>", "a`b", "x\\y", "**DM**", "[DM](x)"):
        with pytest.raises(TargetError, match="use letters, digits"):
            clean_unit(odd)
