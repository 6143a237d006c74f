"""CSV export with spreadsheet formula injection neutralised, in cells and headers."""

from __future__ import annotations

import csv

import pandas as pd
import pytest

from finml.reporting.exports import is_formula, neutralise_formulas, to_csv_bytes

RUNNABLE = [
    '=HYPERLINK("http://x")',
    "+1+2",
    "-3",
    "@SUM(A1)",
    "\tcmd",
    "\rx",
    " =1+1",  # a leading space
    "\n=cmd|' /C calc'!A0",  # a leading newline
    "\u00a0\u3000=1",  # no-break and ideographic spaces
    "\uff1dSUM(A1)",  # full-width equals sign
    "\uff0b1",  # full-width plus
    "\uff20A1",  # full-width at
]
HARMLESS = ["ok.png", "a=b", "3-1", "", "email@example.com"]


@pytest.mark.parametrize("cell", RUNNABLE)
def test_every_runnable_form_is_caught(cell):
    assert is_formula(cell)


@pytest.mark.parametrize("cell", HARMLESS)
def test_harmless_text_is_left_alone(cell):
    assert not is_formula(cell)


def test_cells_and_headers_become_text_and_numbers_stay(tmp_path):
    frame = pd.DataFrame(
        {
            "file": RUNNABLE + HARMLESS,
            '=HYPERLINK("http://x")': range(len(RUNNABLE) + len(HARMLESS)),
            "@SUM(B1)": [0.5] * (len(RUNNABLE) + len(HARMLESS)),
        }
    )
    path = tmp_path / "out.csv"
    path.write_bytes(to_csv_bytes(frame))
    with open(path, newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == ["file", '\'=HYPERLINK("http://x")', "'@SUM(B1)"]
    assert [r[0] for r in rows[1:]] == ["'" + c for c in RUNNABLE] + HARMLESS
    assert [float(r[2]) for r in rows[1:]] == [0.5] * len(rows[1:])  # numbers untouched
    assert frame["file"].iloc[0] == RUNNABLE[0]  # the input is not modified
    assert neutralise_formulas(frame).columns[1].startswith("'=")
