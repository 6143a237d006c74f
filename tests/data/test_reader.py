"""The tabular reader on real good and bad files."""

from __future__ import annotations

import io

import pandas as pd
import pytest

from finml.data import reader
from finml.errors import DataError
from tests.badfiles import BAD_FILES, GOOD_CSV


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_bad_file_gets_a_specific_message(case, tmp_path):
    filename, content, phrase = BAD_FILES[case]
    path = tmp_path / filename
    path.write_bytes(content)  # a real file on disk, read back as an upload would be
    with pytest.raises(DataError) as err:
        reader.read_table(path.read_bytes(), filename)
    assert phrase in str(err.value)


@pytest.mark.parametrize("delim", [",", ";", "\t", "|"])
def test_delimiter_is_sniffed(delim):
    text = delim.join(["name", "amount", "city"]) + "\n"
    text += "".join(delim.join([f"n{i}", f"{i}.5", '"A, B; C | D"']) + "\n" for i in range(30))
    read = reader.read_table(text.encode(), "x.csv")
    assert read.delimiter == delim
    assert list(read.frame.columns) == ["name", "amount", "city"]
    assert read.frame["city"].iloc[0] == "A, B; C | D"
    assert read.frame["amount"].dtype.kind == "f"


def test_cp1252_is_detected_and_reported():
    text = "name;city;amount\n" + "".join(f"Müller{i};Köln é;{i}\n" for i in range(30))
    read = reader.read_table(text.encode("cp1252"), "umlaut.csv")
    assert read.frame["name"].iloc[0] == "Müller0"
    assert read.encoding != "utf-8"
    assert any("not UTF-8" in n for n in read.notes)


def test_wrong_explicit_encoding_says_where():
    data = "a,b\nok,1\nMüller,2\n".encode("cp1252")
    with pytest.raises(DataError, match=r"byte 0xfc on line 3 is not valid utf-8"):
        reader.read_table(data, "x.csv", encoding="utf-8")
    read = reader.read_table(data, "x.csv", encoding="cp1252")
    assert read.frame["a"].iloc[1] == "Müller"


def test_utf16_with_bom_reads():
    data = "a,b\n1,x\n2,y\n".encode("utf-16")
    assert reader.read_table(data, "u16.csv").frame.shape == (2, 2)


def test_size_and_row_caps():
    with pytest.raises(DataError, match="the limit is"):
        reader.read_table(GOOD_CSV, "big.csv", max_bytes=100)
    with pytest.raises(DataError, match="more than 10 data rows"):
        reader.read_table(GOOD_CSV, "long.csv", max_rows=10)


def test_excel_and_parquet_read_like_csv(tmp_path):
    frame = pd.read_csv(io.BytesIO(GOOD_CSV))
    frame.to_excel(tmp_path / "t.xlsx", index=False)
    frame.to_parquet(tmp_path / "t.parquet")
    for name in ("t.xlsx", "t.parquet"):
        read = reader.read_table((tmp_path / name).read_bytes(), name)
        assert list(read.frame.columns) == ["id_num", "x", "target"]
        assert read.schema.kind_of("x") == "numeric"
        assert len(read.frame) == 40


def test_excel_duplicate_header_is_refused(tmp_path):
    pd.DataFrame([[1, 2], [3, 4]], columns=["a", "b"]).rename(columns={"b": "a"}).to_excel(
        tmp_path / "d.xlsx", index=False
    )
    with pytest.raises(DataError, match="duplicate column names"):
        reader.read_table((tmp_path / "d.xlsx").read_bytes(), "d.xlsx")
