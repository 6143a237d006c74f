"""Downloads: CSV with spreadsheet formula injection neutralised, and PNG images."""

from __future__ import annotations

import csv

import pandas as pd

#: Characters that make a spreadsheet treat a text cell as a formula when it starts with
#: one (OWASP, "CSV Injection"), including the full-width forms that spreadsheets fold.
FORMULA_STARTS = frozenset("=+-@\uff1d\uff0b\uff0d\uff20")
#: Leading characters a spreadsheet skips before it looks for a formula.
_SKIPPED = " \t\r\n\u00a0\u3000"


def is_formula(text: str) -> bool:
    """True if a spreadsheet could run ``text`` as a formula: it starts with one of
    :data:`FORMULA_STARTS` (after spaces, tabs or line breaks), or with a tab or CR."""
    stripped = text.lstrip(_SKIPPED)
    return text[:1] in ("\t", "\r") or (stripped[:1] in FORMULA_STARTS)


def neutralise(value):
    """``value`` with a single quote in front if it is text a spreadsheet would run."""
    return "'" + value if isinstance(value, str) and is_formula(value) else value


def neutralise_formulas(frame: pd.DataFrame) -> pd.DataFrame:
    """Neutralise every text cell and every column name a spreadsheet would run as a
    formula (:func:`is_formula`) by prefixing a single quote, so it shows as text. Numeric
    columns are untouched.

    Returns:
        A copy of ``frame``.
    """
    out = frame.copy()
    out.columns = [neutralise(str(c)) for c in out.columns]
    for col in out.columns:
        if pd.api.types.is_object_dtype(out[col]) or pd.api.types.is_string_dtype(out[col]):
            out[col] = out[col].map(neutralise)
    return out


def to_csv_bytes(frame: pd.DataFrame) -> bytes:
    """UTF-8 CSV of ``frame`` with formulas neutralised (:func:`neutralise_formulas`) and
    every text field quoted (a lone CR inside an unquoted field would split the row)."""
    text = neutralise_formulas(frame).to_csv(index=False, quoting=csv.QUOTE_NONNUMERIC)
    return text.encode("utf-8")


def png_bytes(image) -> bytes:
    """A uint8 image array (h, w) or (h, w, 1 or 3) as PNG bytes (Pillow)."""
    import io

    import numpy as np
    from PIL import Image

    array = np.asarray(image, dtype=np.uint8)
    if array.ndim == 3 and array.shape[-1] == 1:
        array = array[..., 0]
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format="PNG")
    return buf.getvalue()
