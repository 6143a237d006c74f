"""CSV export with spreadsheet formula injection neutralised."""

from __future__ import annotations

import csv
import io

import pandas as pd

from finml.reporting.exports import neutralise_formulas, to_csv_bytes


def test_formula_cells_become_text_and_numbers_stay(tmp_path):
    cells = ['=HYPERLINK("http://x")', "+1+2", "-3", "@SUM(A1)", "\tcmd", "\rx", "ok.png"]
    frame = pd.DataFrame({"file": cells, "probability": [0.1, 0.2, -0.3, 0.4, 0.5, 0.6, 0.7]})
    path = tmp_path / "out.csv"
    path.write_bytes(to_csv_bytes(frame))
    with open(path, newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == ["file", "probability"]
    assert [r[0] for r in rows[1:]] == ["'" + c for c in cells[:6]] + ["ok.png"]
    assert [float(r[1]) for r in rows[1:]] == frame["probability"].tolist()  # numbers untouched
    assert neutralise_formulas(frame)["file"].iloc[0] == "'" + cells[0]
    assert frame["file"].iloc[0] == cells[0]  # the input is not modified
    assert "'=HYPERLINK" in io.BytesIO(to_csv_bytes(frame)).read().decode()
