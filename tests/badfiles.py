"""Real malformed files, built byte by byte, for the reader tests and the page tests.

Each entry: name -> (client filename, bytes, a phrase the error message must contain).
"""

from __future__ import annotations

import io
import zipfile

GOOD_ROWS = "\n".join(f"{i},{i % 7},{'bad' if i % 3 == 0 else 'good'}" for i in range(40))
GOOD_CSV = ("id_num,x,target\n" + GOOD_ROWS + "\n").encode()


def _zip_bytes() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("data.csv", "a,b\n1,2\n")
    return buf.getvalue()


PNG_HEADER = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02"

BAD_FILES: dict[str, tuple[str, bytes, str]] = {
    "empty": ("empty.csv", b"", "is empty"),
    "blank lines only": ("blank.csv", b"\n\n  \n", "is empty"),
    "header only": ("header.csv", b"a,b,c\n", "no data rows"),
    "single column": ("one.csv", b"amount\n1\n2\n3\n", "single column"),
    "duplicate names": ("dup.csv", b"a,b,a\n1,2,3\n4,5,6\n", "duplicate column names: 'a'"),
    "unclosed quote": (
        "quote.csv",
        b'a,b,c\n1,2,3\n4,"five,6\n7,8,9\n',
        "line 3: a quoted field starts on this line",
    ),
    "ragged rows": (
        "ragged.csv",
        b"a,b,c\n1,2,3\n4,5\n6,7,8\n9,10,11,12\n",
        "line 3 has 2, line 5 has 4",
    ),
    "png renamed csv": ("scan.csv", PNG_HEADER + b"\x00" * 64, "is a PNG image, not a text CSV"),
    "zip renamed csv": ("book.csv", _zip_bytes(), "ZIP archive"),
    "binary renamed csv": ("blob.csv", bytes(range(256)) * 4, "binary file"),
    "text renamed xlsx": ("table.xlsx", b"a,b\n1,2\n", "not an Excel .xlsx workbook"),
    "zip renamed xlsx": ("table.xlsx", _zip_bytes(), "could not be read as an Excel workbook"),
    "text renamed parquet": ("table.parquet", b"a,b\n1,2\n", "not a Parquet file"),
    "broken parquet": ("table.parquet", b"PAR1" + b"\x00" * 100, "could not be read as Parquet"),
    "unsupported extension": ("table.json", b'{"a": 1}', "not supported"),
    "blank header name": ("blank_name.csv", b"a,,c\n1,2,3\n", "have no name"),
}


def _amounts(values: list[str]) -> bytes:
    """A table of 60 rows whose numeric target ``amount`` takes ``values`` in turn."""
    rows = [f"{i},{'ABC'[i % 3]},{values[i % len(values)]}" for i in range(60)]
    return ("x,grade,amount\n" + "\n".join(rows) + "\n").encode()


#: Real bad files for a regression target: name -> (filename, bytes, phrase of the message
#: shown once ``amount`` is the target and the task is regression).
BAD_REGRESSION_FILES: dict[str, tuple[str, bytes, str]] = {
    "text in the target": (
        "text.csv",
        _amounts([str(v) for v in range(30)] + ["unknown"] + [str(v) for v in range(30, 59)]),
        "holds text where a number is needed (1 rows, first 'unknown' at data row 31)",
    ),
    "infinite values": (
        "inf.csv",
        _amounts([str(v) for v in range(25)] + ["inf", "-inf"] + [str(v) for v in range(33)]),
        "has 2 infinite values (first at data row 26)",
    ),
    "a single value": ("constant.csv", _amounts(["1250"]), "single value (1250) on every row"),
    "too few rows": (
        "few.csv",
        b"x,amount\n" + b"".join(f"{i},{i * 10}\n".encode() for i in range(12)),
        "only 12 rows; a regression needs at least 30",
    ),
}
