"""Downloads: CSV with spreadsheet formula injection neutralised, and PNG images."""

from __future__ import annotations

import csv

import pandas as pd

#: First characters that make a spreadsheet treat a text cell as a formula (OWASP, "CSV
#: Injection").
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def neutralise_formulas(frame: pd.DataFrame) -> pd.DataFrame:
    """Prefix text cells that start with ``= + - @``, tab or CR with a single quote, so a
    spreadsheet shows them as text instead of running them. Numeric columns are untouched.

    Returns:
        A copy of ``frame``.
    """
    out = frame.copy()
    for col in out.columns:
        if pd.api.types.is_object_dtype(out[col]) or pd.api.types.is_string_dtype(out[col]):
            out[col] = out[col].map(
                lambda v: "'" + v if isinstance(v, str) and v.startswith(FORMULA_PREFIXES) else v
            )
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
