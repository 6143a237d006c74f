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
