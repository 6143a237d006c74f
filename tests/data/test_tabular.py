"""The tabular reader on real good and bad files."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest

from finml.data import tabular
from finml.data.demo import DEMOS, demo_bytes
from finml.errors import DataError, TargetError
from tests.badfiles import BAD_FILES, GOOD_CSV


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_bad_file_gets_a_specific_message(case, tmp_path):
    filename, content, phrase = BAD_FILES[case]
    path = tmp_path / filename
    path.write_bytes(content)  # a real file on disk, read back as an upload would be
    with pytest.raises(DataError) as err:
        tabular.read_table(path.read_bytes(), filename)
    assert phrase in str(err.value)


@pytest.mark.parametrize("delim", [",", ";", "\t", "|"])
def test_delimiter_is_sniffed(delim):
    text = delim.join(["name", "amount", "city"]) + "\n"
    text += "".join(delim.join([f"n{i}", f"{i}.5", '"A, B; C | D"']) + "\n" for i in range(30))
    read = tabular.read_table(text.encode(), "x.csv")
    assert read.delimiter == delim
    assert list(read.frame.columns) == ["name", "amount", "city"]
    assert read.frame["city"].iloc[0] == "A, B; C | D"
    assert read.frame["amount"].dtype.kind == "f"


def test_cp1252_is_detected_and_reported():
    text = "name;city;amount\n" + "".join(f"Müller{i};Köln é;{i}\n" for i in range(30))
    read = tabular.read_table(text.encode("cp1252"), "umlaut.csv")
    assert read.frame["name"].iloc[0] == "Müller0"
    assert read.encoding != "utf-8"
    assert any("not UTF-8" in n for n in read.notes)


def test_wrong_explicit_encoding_says_where():
    data = "a,b\nok,1\nMüller,2\n".encode("cp1252")
    with pytest.raises(DataError, match=r"byte 0xfc on line 3 is not valid utf-8"):
        tabular.read_table(data, "x.csv", encoding="utf-8")
    read = tabular.read_table(data, "x.csv", encoding="cp1252")
    assert read.frame["a"].iloc[1] == "Müller"


def test_utf16_with_bom_reads():
    data = "a,b\n1,x\n2,y\n".encode("utf-16")
    assert tabular.read_table(data, "u16.csv").frame.shape == (2, 2)


def test_size_and_row_caps():
    with pytest.raises(DataError, match="the limit is"):
        tabular.read_table(GOOD_CSV, "big.csv", max_bytes=100)
    with pytest.raises(DataError, match="more than 10 data rows"):
        tabular.read_table(GOOD_CSV, "long.csv", max_rows=10)


def test_excel_and_parquet_read_like_csv(tmp_path):
    frame = pd.read_csv(io.BytesIO(GOOD_CSV))
    frame.to_excel(tmp_path / "t.xlsx", index=False)
    frame.to_parquet(tmp_path / "t.parquet")
    for name in ("t.xlsx", "t.parquet"):
        read = tabular.read_table((tmp_path / name).read_bytes(), name)
        assert list(read.frame.columns) == ["id_num", "x", "target"]
        assert read.schema.kind_of("x") == "numeric"
        assert len(read.frame) == 40


def test_excel_duplicate_header_is_refused(tmp_path):
    pd.DataFrame([[1, 2], [3, 4]], columns=["a", "b"]).rename(columns={"b": "a"}).to_excel(
        tmp_path / "d.xlsx", index=False
    )
    with pytest.raises(DataError, match="duplicate column names"):
        tabular.read_table((tmp_path / "d.xlsx").read_bytes(), "d.xlsx")


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
    schema = tabular.infer_schema(frame)
    kinds = {c.name: c.kind for c in schema.columns}
    assert kinds == {
        "customer_id": "id",
        "seq": "id",
        "amount": "numeric",
        "grade": "categorical",
        "opened": "date",
        "country": "constant",
        "default": "categorical",
    }
    assert tabular.guess_target(schema) == "default"
    assert tabular.guess_positive(frame["default"]) == "yes"
    assert any("customer_id" in w for w in tabular.column_warnings(schema))


def test_demo_defaults():
    name = "German Credit (Statlog)"
    read = tabular.read_table(demo_bytes(name), DEMOS[name][0])
    assert read.frame.shape == (1000, 21)
    assert tabular.guess_target(read.schema) == "creditability"
    assert tabular.guess_positive(read.frame["creditability"]) == "bad"
    y = tabular.validate_target(read.frame, "creditability", "bad")
    assert y.sum() == 300
    numeric, categorical = tabular.default_features(read.schema, "creditability")
    assert len(numeric) + len(categorical) == 20


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
    hits = tabular.leakage_warnings(frame, tabular.infer_schema(frame), "target", "bad")
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
    read = tabular.read_table(path.read_bytes(), "t.csv")
    with pytest.raises(TargetError, match=phrase):
        tabular.validate_target(read.frame, "target", "bad")
