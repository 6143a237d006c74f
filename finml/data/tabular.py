"""Read an uploaded table (CSV, Excel, Parquet) into a DataFrame plus an inferred schema.

The reader works on the uploaded bytes in memory; the client's filename is only used for its
extension and in messages, never as a path. Every problem raises :class:`DataError` with a
message that says what is wrong, where, and how to fix it.
"""

from __future__ import annotations

import csv
import io
import re
from collections import Counter
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from finml.errors import DataError, TargetError

#: Delimiters tried by the sniffer, in order of preference on a tie.
DELIMITERS: tuple[str, ...] = (",", ";", "\t", "|")
#: Encodings offered to the analyst when automatic detection gets it wrong.
ENCODINGS: tuple[str, ...] = ("utf-8", "cp1252", "latin-1", "utf-16", "cp1250", "shift_jis")
#: Column kinds reported by :func:`infer_schema`.
KINDS: tuple[str, ...] = ("numeric", "categorical", "id", "date", "constant")
#: Fewest rows each class of the target must have before training is allowed.
MIN_CLASS_ROWS = 10
#: A single feature whose univariate ROC-AUC reaches this is reported as likely leakage.
LEAKAGE_AUC = 0.95

_TEXT_EXT = {".csv", ".txt", ".tsv", ".tab"}
_EXCEL_EXT = {".xlsx", ".xlsm"}
_PARQUET_EXT = {".parquet", ".pq"}
_MAGIC = {
    b"PK\x03\x04": "a ZIP archive (an Excel .xlsx workbook is one)",
    b"PAR1": "a Parquet file",
    b"%PDF": "a PDF document",
    b"\x89PNG": "a PNG image",
    b"\xff\xd8\xff": "a JPEG image",
    b"GIF8": "a GIF image",
    b"\x1f\x8b": "a gzip archive",
    b"\xd0\xcf\x11\xe0": "an old Office file (.xls/.doc)",
    b"\x80\x04": "a Python pickle",
}
_ID_NAME = re.compile(r"(^|[_\s-])(id|uuid|guid|key)$", re.IGNORECASE)
_DATE_LIKE = re.compile(r"^\s*(\d{4}[-/.]\d{1,2}[-/.]\d{1,2}|\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4})")
_TARGET_HINTS = (
    "target",
    "label",
    "class",
    "default",
    "creditability",
    "bad",
    "churn",
    "fraud",
    "outcome",
    "response",
    "y",
)
_POSITIVE_HINTS = ("bad", "default", "defaulted", "yes", "y", "true", "1", "1.0", "positive")


@dataclass(frozen=True)
class ColumnInfo:
    """What finml inferred about one column.

    Attributes:
        name: column name as in the file.
        kind: one of :data:`KINDS`.
        dtype: pandas dtype after reading, as text.
        n_missing: number of missing cells.
        n_unique: number of distinct non-missing values.
    """

    name: str
    kind: str
    dtype: str
    n_missing: int
    n_unique: int


@dataclass(frozen=True)
class TableSchema:
    """The inferred schema of a table.

    Attributes:
        n_rows: data rows (header excluded).
        columns: one :class:`ColumnInfo` per column, in file order.
        target_candidates: columns with 2 to 10 distinct values, likeliest first.
    """

    n_rows: int
    columns: tuple[ColumnInfo, ...]
    target_candidates: tuple[str, ...]

    def kind_of(self, name: str) -> str:
        """Return the inferred kind of column ``name``.

        Raises:
            KeyError: if there is no such column.
        """
        for col in self.columns:
            if col.name == name:
                return col.kind
        raise KeyError(name)

    def names(self, *kinds: str) -> list[str]:
        """Return the columns whose kind is one of ``kinds`` (all columns if none given)."""
        return [c.name for c in self.columns if not kinds or c.kind in kinds]

    def to_frame(self) -> pd.DataFrame:
        """Return the schema as a table (one row per column) for display."""
        return pd.DataFrame(
            {
                "column": [c.name for c in self.columns],
                "kind": [c.kind for c in self.columns],
                "dtype": [c.dtype for c in self.columns],
                "missing": [c.n_missing for c in self.columns],
                "missing %": [round(100 * c.n_missing / max(self.n_rows, 1), 1) for c in self.columns],
                "distinct": [c.n_unique for c in self.columns],
            }
        )


@dataclass(frozen=True)
class TableRead:
    """The result of :func:`read_table`.

    Attributes:
        frame: the data, one row per record, columns as in the file.
        schema: the inferred schema.
        file_format: ``"csv"``, ``"excel"`` or ``"parquet"``.
        encoding: text encoding used (CSV only).
        delimiter: field delimiter used (CSV only).
        notes: things the analyst should know (detected encoding, sheet used, ...).
    """

    frame: pd.DataFrame
    schema: TableSchema
    file_format: str
    encoding: str | None = None
    delimiter: str | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)


def read_table(
    data: bytes,
    filename: str,
    *,
    encoding: str | None = None,
    delimiter: str | None = None,
    max_bytes: int = 200 * 1024 * 1024,
    max_rows: int = 1_000_000,
) -> TableRead:
    """Read an uploaded table and infer its schema.

    Args:
        data: the raw bytes of the upload.
        filename: the client's filename; only its extension is used (``.csv``, ``.txt``,
            ``.tsv``, ``.xlsx``, ``.parquet``), never as a path.
        encoding: text encoding of a CSV; ``None`` detects it (UTF-8 first, then
            charset-normalizer).
        delimiter: field delimiter of a CSV; ``None`` sniffs one of :data:`DELIMITERS`.
        max_bytes: largest accepted upload, in bytes.
        max_rows: most data rows accepted.

    Returns:
        TableRead: the frame, its schema and notes.

    Raises:
        DataError: the file is empty, too large, not a table of the format its name says,
            undecodable, malformed (unclosed quote, ragged rows), has duplicate or missing
            column names, a single column, or a header but no rows.
    """
    name = filename or "upload"
    if len(data) > max_bytes:
        raise DataError(
            f"{name} is {len(data) / 2**20:.1f} MiB; the limit is {max_bytes / 2**20:.0f} MiB. "
            "Upload a sample of the rows, or raise FINML_MAX_UPLOAD_MB."
        )
    if not data.strip():
        raise DataError(f"{name} is empty. Upload a file with a header row and data rows.")
    ext = "." + name.rsplit(".", 1)[-1].lower() if "." in name else ""
    notes: list[str] = []
    if ext in _EXCEL_EXT:
        frame = _read_excel(data, name, max_rows, notes)
        fmt, enc, delim = "excel", None, None
    elif ext in _PARQUET_EXT:
        frame = _read_parquet(data, name)
        fmt, enc, delim = "parquet", None, None
    elif ext in _TEXT_EXT or ext == "":
        text, enc = _decode(data, name, encoding, notes)
        delim = delimiter or _sniff_delimiter(text)
        frame = _read_csv_text(text, name, delim, max_rows)
        fmt = "csv"
    else:
        raise DataError(
            f"{name}: files ending in {ext!r} are not supported. "
            "Upload a CSV (.csv, .txt, .tsv), an Excel workbook (.xlsx) or a Parquet file."
        )
    _check_frame(frame, name, max_rows)
    return TableRead(
        frame=frame,
        schema=infer_schema(frame),
        file_format=fmt,
        encoding=enc,
        delimiter=delim,
        notes=tuple(notes),
    )


def _binary_kind(data: bytes) -> str | None:
    head = data[:8192]
    for magic, what in _MAGIC.items():
        if head.startswith(magic):
            return what
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return None  # UTF-16 with a byte-order mark: text with NUL bytes
    if b"\x00" in head:
        return "a binary file"
    return None


def _decode(data: bytes, name: str, encoding: str | None, notes: list[str]) -> tuple[str, str]:
    what = _binary_kind(data)
    if what is not None:
        raise DataError(
            f"{name} is {what}, not a text CSV. Export the data as CSV, or upload an Excel "
            "workbook as .xlsx and a Parquet file as .parquet."
        )
    if encoding:
        try:
            return data.decode(encoding), encoding
        except (UnicodeDecodeError, LookupError) as exc:
            raise DataError(_decode_message(name, data, encoding, exc)) from exc
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16"), "utf-16"
    try:
        return data.decode("utf-8-sig"), "utf-8"
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes

    best = from_bytes(data[: 1024 * 1024]).best()
    if best is None:
        raise DataError(
            f"{name}: the text encoding could not be detected. Pick the encoding under "
            "'Encoding' (often cp1252 or latin-1 for files saved by Excel on Windows)."
        )
    try:
        text = data.decode(best.encoding)
    except UnicodeDecodeError as exc:
        raise DataError(_decode_message(name, data, best.encoding, exc)) from exc
    notes.append(
        f"The file is not UTF-8; it was decoded as {best.encoding} (detected). "
        "If accented characters look wrong, pick the encoding under 'Encoding'."
    )
    return text, best.encoding


def _decode_message(name: str, data: bytes, encoding: str, exc: Exception) -> str:
    if isinstance(exc, LookupError):
        return f"{encoding!r} is not a known text encoding. Pick one from the list."
    pos = getattr(exc, "start", 0)
    line = data[:pos].count(b"\n") + 1
    return (
        f"{name} cannot be read as {encoding}: byte 0x{data[pos]:02x} on line {line} is not "
        f"valid {encoding}. Pick another encoding (cp1252 or latin-1 are common for Excel exports)."
    )


def _sniff_delimiter(text: str) -> str:
    """Pick the delimiter that gives the most consistent field count over the first lines."""
    sample = text[:65536]
    if len(text) > len(sample) and "\n" in sample:
        sample = sample[: sample.rfind("\n")]
    best, best_score = ",", (0.0, 0)
    for delim in DELIMITERS:
        try:
            counts = [len(r) for r in csv.reader(io.StringIO(sample), delimiter=delim) if r][:200]
        except csv.Error:
            continue
        if not counts:
            continue
        mode, hits = Counter(counts).most_common(1)[0]
        if mode < 2:
            continue
        score = (hits / len(counts), mode)
        if score > best_score:
            best, best_score = delim, score
    return best


def _read_csv_text(text: str, name: str, delim: str, max_rows: int) -> pd.DataFrame:
    """Check the CSV's structure with the csv module, then parse it with pandas."""
    reader = csv.reader(io.StringIO(text), delimiter=delim, strict=True)
    header: list[str] | None = None
    ragged: list[tuple[int, int]] = []
    n_rows = 0
    while True:
        start = reader.line_num + 1
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            if "end of data" in str(exc) or "EOF" in str(exc):
                raise DataError(
                    f"{name}, line {start}: a quoted field starts on this line and its closing "
                    'quote (") is missing. Close the quote or remove the stray quote character.'
                ) from exc
            raise DataError(f"{name}, line {start}: the CSV is malformed ({exc}).") from exc
        if not row:
            continue
        if header is None:
            header = row
            continue
        n_rows += 1
        if n_rows > max_rows:
            raise DataError(
                f"{name} has more than {max_rows:,} data rows. Upload a sample, or raise "
                "FINML_MAX_ROWS."
            )
        if len(row) != len(header) and len(ragged) < 1000:
            ragged.append((start, len(row)))
    if header is None:
        raise DataError(f"{name} is empty. Upload a file with a header row and data rows.")
    _check_header([h.strip() for h in header], name)
    if ragged:
        shown = "; ".join(f"line {ln} has {n}" for ln, n in ragged[:5])
        more = f" (and {len(ragged) - 5} more rows)" if len(ragged) > 5 else ""
        raise DataError(
            f"{name}: the header has {len(header)} fields but {shown}{more}. "
            "Fix those rows (a missing or extra delimiter, or an unquoted delimiter inside a "
            f"value), or pick another delimiter (now {_delim_name(delim)})."
        )
    if n_rows == 0:
        raise DataError(f"{name} has a header row but no data rows.")
    return pd.read_csv(io.StringIO(text), sep=delim, skipinitialspace=False, low_memory=False)


def _delim_name(delim: str) -> str:
    return {"\t": "tab", ",": "comma", ";": "semicolon", "|": "pipe"}.get(delim, repr(delim))


def _check_header(header: list[str], name: str) -> None:
    counts = Counter(header)
    dupes = [h for h, n in counts.items() if n > 1]
    if dupes:
        where = "; ".join(
            f"{h!r} (columns {', '.join(str(i + 1) for i, x in enumerate(header) if x == h)})"
            for h in dupes[:5]
        )
        raise DataError(
            f"{name}: duplicate column names: {where}. Rename them so each column is unique."
        )
    blank = [i + 1 for i, h in enumerate(header) if not str(h).strip()]
    if blank and len(header) > 1:
        raise DataError(
            f"{name}: column(s) {', '.join(map(str, blank[:10]))} have no name in the header row. "
            "Give every column a name."
        )


def _read_excel(data: bytes, name: str, max_rows: int, notes: list[str]) -> pd.DataFrame:
    if not data.startswith(b"PK\x03\x04"):
        what = _binary_kind(data) or "a text file"
        raise DataError(
            f"{name} is {what}, not an Excel .xlsx workbook. Save it as .xlsx from Excel, or "
            "upload it as .csv."
        )
    try:
        book = pd.ExcelFile(io.BytesIO(data), engine="openpyxl")
        sheet = book.sheet_names[0]
        raw = book.parse(sheet, header=None, nrows=max_rows + 2)
    except Exception as exc:  # openpyxl raises many types for a damaged workbook
        raise DataError(
            f"{name} could not be read as an Excel workbook ({type(exc).__name__}: {exc}). "
            "Open and re-save it in Excel, or export it as CSV."
        ) from exc
    if len(book.sheet_names) > 1:
        notes.append(f"The workbook has {len(book.sheet_names)} sheets; the first, {sheet!r}, was read.")
    if raw.empty:
        raise DataError(f"{name}: the first sheet ({sheet!r}) is empty.")
    header = ["" if pd.isna(h) else str(h).strip() for h in raw.iloc[0]]
    _check_header(header, name)
    if len(raw) > max_rows + 1:
        raise DataError(
            f"{name} has more than {max_rows:,} data rows. Upload a sample, or raise FINML_MAX_ROWS."
        )
    frame = raw.iloc[1:].reset_index(drop=True)
    frame.columns = header
    if frame.empty:
        raise DataError(f"{name} has a header row but no data rows.")
    return frame.infer_objects()


def _read_parquet(data: bytes, name: str) -> pd.DataFrame:
    if not data.startswith(b"PAR1"):
        what = _binary_kind(data) or "a text file"
        raise DataError(f"{name} is {what}, not a Parquet file. Upload it with its real extension.")
    try:
        frame = pd.read_parquet(io.BytesIO(data))
    except Exception as exc:  # pyarrow raises several types for a damaged file
        raise DataError(f"{name} could not be read as Parquet ({type(exc).__name__}: {exc}).") from exc
    _check_header([str(c) for c in frame.columns], name)
    frame.columns = [str(c) for c in frame.columns]
    return frame


def _check_frame(frame: pd.DataFrame, name: str, max_rows: int) -> None:
    if frame.shape[1] == 1:
        raise DataError(
            f"{name} has a single column ({frame.columns[0]!r}). A model needs at least one "
            "feature besides the target; if the file uses another delimiter, pick it under "
            "'Delimiter'."
        )
    if frame.shape[1] == 0 or len(frame) == 0:
        raise DataError(f"{name} has a header row but no data rows.")
    if len(frame) > max_rows:
        raise DataError(
            f"{name} has {len(frame):,} rows; the limit is {max_rows:,}. Upload a sample, or "
            "raise FINML_MAX_ROWS."
        )


def infer_schema(frame: pd.DataFrame) -> TableSchema:
    """Infer the kind of each column and the likely target columns.

    Kinds: ``constant`` (at most one distinct value), ``date`` (a datetime column or text
    that parses as dates), ``id`` (a name like ``*_id`` or a distinct integer/text value on
    nearly every row), ``numeric``, ``categorical``.

    Args:
        frame: the table, shape (n_rows, n_columns).

    Returns:
        TableSchema: per-column info and target candidates.
    """
    n = len(frame)
    cols = []
    for name in frame.columns:
        s = frame[name]
        n_unique = int(s.nunique(dropna=True))
        cols.append(
            ColumnInfo(
                name=str(name),
                kind=_kind(s, str(name), n_unique, n),
                dtype=str(s.dtype),
                n_missing=int(s.isna().sum()),
                n_unique=n_unique,
            )
        )
    candidates = [c for c in cols if 2 <= c.n_unique <= 10 and c.kind in ("numeric", "categorical")]

    def rank(c: ColumnInfo) -> tuple[int, int, int]:
        lowered = c.name.lower()
        hinted = any(lowered == h or lowered.endswith("_" + h) for h in _TARGET_HINTS)
        return (0 if hinted else 1, 0 if c.n_unique == 2 else 1, -cols.index(c))

    return TableSchema(
        n_rows=n,
        columns=tuple(cols),
        target_candidates=tuple(c.name for c in sorted(candidates, key=rank)),
    )


def _kind(s: pd.Series, name: str, n_unique: int, n: int) -> str:
    non_null = int(s.notna().sum())
    if n_unique <= 1:
        return "constant"
    if pd.api.types.is_datetime64_any_dtype(s):
        return "date"
    is_text = pd.api.types.is_object_dtype(s) or pd.api.types.is_string_dtype(s)
    if is_text and _looks_like_dates(s):
        return "date"
    if pd.api.types.is_bool_dtype(s):
        return "categorical"
    is_int = pd.api.types.is_integer_dtype(s)
    if (is_int or is_text) and _ID_NAME.search(name) and n_unique > 0.5 * non_null:
        return "id"
    if (is_int or is_text) and non_null >= 20 and n_unique >= 0.95 * non_null:
        return "id"
    if pd.api.types.is_numeric_dtype(s):
        return "numeric"
    return "categorical"


def _looks_like_dates(s: pd.Series) -> bool:
    sample = s.dropna().astype(str).head(500)
    if sample.empty or not sample.str.match(_DATE_LIKE).mean() >= 0.9:
        return False
    parsed = pd.to_datetime(sample, errors="coerce", format="mixed")
    return bool(parsed.notna().mean() >= 0.9)


def guess_target(schema: TableSchema) -> str | None:
    """Return the likeliest target column, or ``None`` if no column has 2 to 10 values."""
    return schema.target_candidates[0] if schema.target_candidates else None


def class_values(series: pd.Series) -> list[str]:
    """Return the distinct non-missing values of a target column as text, sorted."""
    return sorted(series.dropna().astype(str).unique().tolist())


def guess_positive(series: pd.Series) -> str:
    """Guess the positive class (the event: "bad", default, 1, yes) of a target column.

    Falls back to the minority class when no value looks like an event.

    Args:
        series: the target column.

    Returns:
        str: the positive class as text (compare with ``series.astype(str)``).
    """
    values = series.dropna().astype(str)
    distinct = class_values(series)
    for hint in _POSITIVE_HINTS:
        for v in distinct:
            if v.strip().lower() == hint:
                return v
    return str(values.value_counts().idxmin())


def binary_target(series: pd.Series, positive: str) -> np.ndarray:
    """Encode a target column as 1 for the positive class and 0 for every other value.

    Args:
        series: the target column, shape (n,); must have no missing values.
        positive: the positive class as text.

    Returns:
        np.ndarray: int8 array of shape (n,).
    """
    return (series.astype(str) == str(positive)).to_numpy(dtype=np.int8)


def validate_target(frame: pd.DataFrame, target: str, positive: str) -> np.ndarray:
    """Check that a target can be trained on and return it encoded.

    Args:
        frame: the table, without rows whose target is missing.
        target: the target column.
        positive: the positive class as text.

    Returns:
        np.ndarray: int8 labels of shape (n_rows,), 1 for the positive class.

    Raises:
        TargetError: the column is missing, has missing values, only one class, the
            positive class is absent, or a class has fewer than :data:`MIN_CLASS_ROWS` rows.
    """
    if target not in frame.columns:
        raise TargetError(f"The target column {target!r} is not in the data.")
    s = frame[target]
    if s.isna().any():
        raise TargetError(
            f"The target {target!r} is missing on {int(s.isna().sum())} rows. Drop those rows."
        )
    if s.nunique() < 2:
        raise TargetError(
            f"The target {target!r} has a single value ({s.iloc[0]!r}); a classifier needs "
            "rows of both classes."
        )
    if str(positive) not in set(s.astype(str)):
        raise TargetError(f"The positive class {positive!r} does not occur in {target!r}.")
    y = binary_target(s, positive)
    n_pos, n_neg = int(y.sum()), int(len(y) - y.sum())
    if min(n_pos, n_neg) < MIN_CLASS_ROWS:
        which = f"positive class {positive!r}" if n_pos < n_neg else "other class(es)"
        raise TargetError(
            f"The {which} of {target!r} has only {min(n_pos, n_neg)} rows; at least "
            f"{MIN_CLASS_ROWS} of each class are needed to train and test honestly."
        )
    return y


def leakage_warnings(
    frame: pd.DataFrame, schema: TableSchema, target: str, positive: str
) -> list[tuple[str, float]]:
    """Find single columns that predict the target almost perfectly (likely leakage).

    Each numeric column is scored by its univariate ROC-AUC (missing values set to the
    median); each categorical column with at most 50 values by the ROC-AUC of its class rate.
    This is a screening on the whole table, not a fitted model.

    Args:
        frame: the table.
        schema: its schema.
        target: the target column.
        positive: the positive class.

    Returns:
        list of (column, auc) with ``max(auc, 1 - auc) >= LEAKAGE_AUC``, highest first.
    """
    from sklearn.metrics import roc_auc_score

    data = frame.dropna(subset=[target])
    y = binary_target(data[target], positive)
    if y.min() == y.max():
        return []
    hits = []
    for col in schema.columns:
        if col.name == target or col.kind not in ("numeric", "categorical"):
            continue
        s = data[col.name]
        if col.kind == "numeric":
            x = pd.to_numeric(s, errors="coerce")
            x = x.fillna(x.median()).to_numpy(dtype=float)
        elif col.n_unique <= 50:
            key = s.astype(str)
            x = key.map(pd.Series(y, index=data.index).groupby(key).mean()).to_numpy(dtype=float)
        else:
            continue
        if np.all(np.isnan(x)):
            continue
        auc = float(roc_auc_score(y, np.nan_to_num(x)))
        auc = max(auc, 1 - auc)
        if auc >= LEAKAGE_AUC:
            hits.append((col.name, auc))
    return sorted(hits, key=lambda t: -t[1])


def default_features(
    schema: TableSchema, target: str, exclude: tuple[str, ...] = ()
) -> tuple[list[str], list[str]]:
    """Features a model uses by default: numeric and categorical columns other than the
    target and ``exclude`` (group or date columns). IDs, dates and constants are left out.

    Returns:
        (numeric columns, categorical columns).
    """
    skip = {target, *exclude}
    numeric = [c for c in schema.names("numeric") if c not in skip]
    categorical = [c for c in schema.names("categorical") if c not in skip]
    return numeric, categorical


def column_warnings(schema: TableSchema) -> list[str]:
    """Messages about columns that will not be features: ID-like, constant and date columns."""
    out = []
    ids = schema.names("id")
    if ids:
        out.append(
            f"ID-like column(s) {', '.join(map(repr, ids))}: a distinct value on (nearly) every "
            "row. They are left out of the features, since a model would memorise them; use one "
            "as the group column if rows of the same customer must stay on one side."
        )
    const = schema.names("constant")
    if const:
        out.append(
            f"Constant column(s) {', '.join(map(repr, const))} carry no information and are "
            "left out."
        )
    dates = schema.names("date")
    if dates:
        out.append(
            f"Date column(s) {', '.join(map(repr, dates))} are not used as features; pick one "
            "for an out-of-time split."
        )
    return out


def class_counts(series: pd.Series, positive: str) -> pd.DataFrame:
    """Rows per target value, with the positive class marked.

    Returns:
        DataFrame with columns ``class``, ``rows``, ``share``, ``positive``.
    """
    counts = series.astype(str).value_counts()
    return pd.DataFrame(
        {
            "class": counts.index,
            "rows": counts.to_numpy(),
            "share": (counts / counts.sum()).round(4).to_numpy(),
            "positive": counts.index == str(positive),
        }
    )
