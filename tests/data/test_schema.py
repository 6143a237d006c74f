"""Schema inference: column kinds, target candidates ranked by name and vocabulary."""

from __future__ import annotations

import numpy as np
import pandas as pd

from finml.data import reader, schema, target
from finml.data.demo import DEMOS, demo_bytes


def test_schema_kinds():
    n = 60
    frame = pd.DataFrame(
        {
            "customer_id": [f"C{i:04d}" for i in range(n)],
            "seq": np.arange(n),
            "amount": np.linspace(1, 2, n),
            "grade": ["A", "B", "C"] * 20,
            "opened": pd.date_range("2020-01-01", periods=n).strftime("%Y-%m-%d"),
            "country": ["DE"] * n,
            "default": ["yes", "no", "no"] * 20,
        }
    )
    table = schema.infer_schema(frame)
    kinds = {c.name: c.kind for c in table.columns}
    assert kinds == {
        "customer_id": "id",
        "seq": "id",
        "amount": "numeric",
        "grade": "categorical",
        "opened": "date",
        "country": "constant",
        "default": "categorical",
    }
    assert schema.guess_target(table) == "default"
    assert target.guess_positive(frame["default"]) == "yes"
    assert any("customer_id" in w for w in schema.column_warnings(table))
    # a date column's note holds for a forecast (its time axis) as for the other tasks
    dated = next(w for w in schema.column_warnings(table) if "'opened'" in w)
    assert "Forecasting reads one as the time axis" in dated
    assert "out-of-time" in dated and "not used as features" not in dated


def test_demo_defaults():
    name = "German Credit (Statlog)"
    read = reader.read_table(demo_bytes(name), DEMOS[name][0])
    assert read.frame.shape == (1000, 21)
    assert schema.guess_target(read.schema) == "creditability"
    assert target.guess_positive(read.frame["creditability"]) == "bad"
    y = target.validate_target(read.frame, "creditability", "bad")
    assert y.sum() == 300
    numeric, categorical = schema.default_features(read.schema, "creditability")
    assert len(numeric) + len(categorical) == 20


def _credit_table(n: int = 120) -> pd.DataFrame:
    """A credit table where the target is ``Status`` (good/bad) and a later column
    ``Records`` (yes/no) is binary too: the case the old guess got wrong."""
    rng = np.random.default_rng(1)
    return pd.DataFrame(
        {
            "Status": rng.choice(["good", "bad"], n),
            "Seniority": rng.integers(0, 30, n),
            "Home": rng.choice(["rent", "owner", "parents", "other"], n),
            "Records": rng.choice(["yes", "no"], n),
            "Job": rng.choice(["fixed", "partime", "freelance"], n),
        }
    )


def test_target_guess_prefers_a_target_name_and_a_credit_vocabulary():
    table = schema.infer_schema(_credit_table())
    assert table.target_candidates[:2] == ("Status", "Records")
    renamed = _credit_table().rename(columns={"Status": "outcome_code"})
    # no target name left, but good/bad still beats yes/no
    assert schema.guess_target(schema.infer_schema(renamed)) == "outcome_code"


def test_target_rank_by_name_and_values():
    assert schema.target_rank("loan_status", ["good", "bad"], 0)[0] == 3  # last word + values
    assert schema.target_rank("is_default", ["0", "1"], 0)[0] == 2  # event word + 0/1
    assert schema.target_rank("Records", ["yes", "no"], 9)[0] == 1
    assert schema.target_rank("status_of_account", ["A11", "A12"], 0)[0] == 0
    assert schema.target_rank("creditScoreClass", ["a", "b", "c"], 0)[:2] == (1, 0)
