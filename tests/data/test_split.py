"""Splits: stratified, group, out-of-time; the audit table."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from finml.data.split import SplitSpec, make_split, split_report
from finml.errors import SplitError


def _frame(n=500, seed=0):
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "customer": rng.integers(0, 120, n),
            "opened": pd.date_range("2019-01-01", periods=n, freq="D").strftime("%Y-%m-%d"),
            "x": rng.normal(size=n),
        }
    ), (rng.random(n) < 0.3).astype(np.int8)


def test_stratified_split_is_disjoint_complete_and_balanced():
    frame, y = _frame()
    split = make_split(frame, y, SplitSpec(seed=1))
    parts = split.parts()
    allrows = np.concatenate(list(parts.values()))
    assert sorted(allrows.tolist()) == list(range(len(frame)))
    assert [len(p) for p in parts.values()] == [300, 100, 100]
    rates = [y[p].mean() for p in parts.values()]
    assert max(rates) - min(rates) < 0.02  # stratified: same positive rate on each side


def test_same_seed_same_split_other_seed_other_split():
    frame, y = _frame()
    a, b = make_split(frame, y, SplitSpec(seed=3)), make_split(frame, y, SplitSpec(seed=3))
    c = make_split(frame, y, SplitSpec(seed=4))
    assert np.array_equal(a.test, b.test)
    assert not np.array_equal(a.test, c.test)


def test_group_split_keeps_each_group_on_one_side():
    frame, y = _frame()
    spec = SplitSpec(group_col="customer")
    split = make_split(frame, y, spec)
    sides = [set(frame["customer"].iloc[p]) for p in split.parts().values()]
    assert not (sides[0] & sides[1] or sides[0] & sides[2] or sides[1] & sides[2])
    report = split_report(frame, y, split, spec)
    assert report["groups shared"].tolist() == [0, 0, 0]
    assert report["groups"].sum() == frame["customer"].nunique()


def test_out_of_time_split_orders_by_date():
    frame, y = _frame()
    frame = frame.sample(frac=1, random_state=0).reset_index(drop=True)  # dates shuffled
    spec = SplitSpec(time_col="opened")
    split = make_split(frame, y, spec)
    dates = pd.to_datetime(frame["opened"])
    assert dates.iloc[split.train].max() < dates.iloc[split.val].min()
    assert dates.iloc[split.val].max() < dates.iloc[split.test].min()
    report = split_report(frame, y, split, spec)
    assert report.loc[2, "to"] == "2020-05-14"


@pytest.mark.parametrize(
    ("spec", "phrase"),
    [
        (SplitSpec(train=0.7, val=0.2, test=0.2), "add up to 1"),
        (SplitSpec(time_col="missing"), "not in the data"),
        (SplitSpec(group_col="x2"), "fewer than 3"),
    ],
)
def test_bad_split_settings_are_refused(spec, phrase):
    frame, y = _frame()
    frame["x2"] = np.where(np.arange(len(frame)) < 250, "a", "b")
    with pytest.raises(SplitError, match=phrase):
        make_split(frame, y, spec)


def test_unreadable_dates_say_where():
    frame, y = _frame()
    frame.loc[7, "opened"] = "someday"
    with pytest.raises(SplitError, match="first at data row 8"):
        make_split(frame, y, SplitSpec(time_col="opened"))


def test_an_out_of_time_split_on_dates_with_mixed_utc_offsets_orders_them_in_utc():
    """Offsets that differ row to row made pandas raise despite errors="coerce"."""
    frame, y = _frame()
    dates = pd.to_datetime(frame["opened"])
    offsets = np.where(np.arange(len(frame)) % 2 == 0, "+01:00", "-05:00")
    frame["opened"] = [f"{d:%Y-%m-%dT%H:%M:%S}{o}" for d, o in zip(dates, offsets, strict=True)]
    frame = frame.sample(frac=1, random_state=0).reset_index(drop=True)
    spec = SplitSpec(time_col="opened")
    split = make_split(frame, y, spec)
    utc = pd.to_datetime(frame["opened"], utc=True, format="mixed")
    assert utc.iloc[split.train].max() <= utc.iloc[split.val].min()
    assert utc.iloc[split.val].max() <= utc.iloc[split.test].min()
    assert len(split_report(frame, y, split, spec)) == 3
