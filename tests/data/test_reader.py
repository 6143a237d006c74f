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


def _csv_files() -> dict[str, bytes]:
    """Every CSV fixture of the suite: the bad and hostile files, the targets' bad files,
    the demo tables, and one column per pandas-versus-pyarrow pitfall."""
    from finml.data import demo
    from tests.badfiles import BAD_REGRESSION_FILES
    from tests.hostile.cases import TABLES, TARGETS

    files = {"good": GOOD_CSV}
    for case, (name, data, _) in {**BAD_FILES, **BAD_REGRESSION_FILES}.items():
        if name.endswith(".csv"):
            files[case] = data
    for case in [*TABLES, *TARGETS]:
        if case.filename.endswith(".csv"):
            files[case.id] = case.build()
    for name in demo.DEMOS:
        files[name] = demo.demo_frame(name).to_csv(index=False).encode()
    for name, values in PITFALLS.items():
        rows = "".join(f'"{v}",{i}\n' if "," in v else f"{v},{i}\n" for i, v in enumerate(values))
        files[f"pitfall {name}"] = f"{name},i\n{rows}".encode()
    return files


#: Cells where pyarrow's and pandas' readers could disagree, by column.
PITFALLS: dict[str, list[str]] = {
    "inf": ["1", "inf", "-Infinity", "2"],
    "missing": ["NA", "N/A", "null", "#N/A", "<NA>", "1.#IND", "None", "", "3"],
    "spaces": [" 5", "6 ", " 7 ", "8"],
    "booleans": ["True", "false", "TRUE", "False"],
    "booleans with gaps": ["True", "", "false", "True"],
    "zero one": ["1", "0", "1", "0"],
    "t f": ["t", "f", "t", "f"],
    "ISO dates": ["2020-01-01", "2020-02-01", "", "2020-04-01"],
    "timestamps": ["2020-01-01 10:00", "2020-02-01T11:00:00", "2020-03-01 12:00"],
    "times": ["10:00", "11:00:00", "12:00"],
    "beyond int64": ["99999999999999999999", "1", "2"],
    "uint64": ["18446744073709551615", "1", "2"],
    "leading zeros": ["007", "08", "1"],
    "exponents": ["1e5", "2E-3", "3", "1e+05"],
    "all empty": ["", "", ""],
    "plus sign": ["+5", "-3", "4"],
    "hex": ["0x10", "1", "2"],
    "mixed": ["1", "a", "2"],
    "quoted": ['"1"', '"2"', "3"],
    "decimal comma": ["1,5", "2", "3"],
    "percent": ["5%", "6%", "1"],
    "floats": ["0.1", "0.30000000000000004", "1.7976931348623157e308", "-2.5e-300"],
    "blank text": ["x", " ", "y"],
    "underscores": ["1_000", "2", "3"],
    "overflow": ["1e400", "1", "-1e400"],
    "integers with gaps": ["1", "", "3", "4"],
}


@pytest.mark.parametrize("case", sorted(_csv_files()))
def test_pyarrow_reader_agrees_with_the_checked_path(case):
    """read_table's fast path (pyarrow) and its row-by-row path (csv module + pandas) give
    equal frames, or the same message, on every CSV the suite knows."""
    data = _csv_files()[case]

    def read(**kw):
        try:
            return reader.read_table(data, "t.csv", max_rows=100_000, **kw).frame
        except DataError as exc:
            return str(exc)

    fast, checked = read(), read(row_checks=True)
    if isinstance(checked, str):
        assert fast == checked
    else:
        pd.testing.assert_frame_equal(fast, checked)


@pytest.mark.parametrize("case", ["good", "German Credit (Statlog)", "pitfall ISO dates"])
def test_good_tables_take_the_fast_path(case):
    data = _csv_files()[case]
    fast = reader.read_csv_fast(data, "t.csv", None, None, 100_000, 10_000)
    assert fast is not None
    assert fast[0].shape == reader.read_table(data, "t.csv", row_checks=True).frame.shape
