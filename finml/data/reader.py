"""Read an uploaded table (CSV, Excel, Parquet) into a DataFrame, with its inferred schema.

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
import pyarrow as pa

from finml.data.schema import DATE_SAMPLE, TableSchema, infer_schema, parse_dates
from finml.errors import DataError, listing

#: Delimiters tried by the sniffer, in order of preference on a tie.
DELIMITERS: tuple[str, ...] = (",", ";", "\t", "|")


#: Encodings offered to the analyst when automatic detection gets it wrong.
ENCODINGS: tuple[str, ...] = ("utf-8", "cp1252", "latin-1", "utf-16", "cp1250", "shift_jis")


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


@dataclass(frozen=True)
class TableRead:
    """The result of :func:`read_table`.

    Attributes:
        frame: the data, one row per record, columns as in the file.
        schema: the inferred schema.
        file_format: ``"csv"``, ``"excel"`` or ``"parquet"``.
        encoding: text encoding used (CSV only).
        delimiter: field delimiter used (CSV only).
        notes: things the analyst should know (detected encoding, sheet used, dates of
            different UTC offsets read in UTC, ...).
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
    max_columns: int = 10_000,
    row_checks: bool = False,
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
        max_columns: most columns accepted (checked on the header, before parsing rows).
        row_checks: always take the slow path for a CSV (:func:`read_csv_checked`: the
            csv module checks every row, then pandas' C parser reads it) instead of
            pyarrow's reader first (:func:`read_csv_fast`); the tests compare the two.

    Returns:
        TableRead: the frame, its schema and notes.

    Raises:
        DataError: the file is empty, too large, not a table of the format its name says,
            undecodable, malformed (unclosed quote, ragged rows, an over-long field), has
            duplicate or missing column names, too many columns or rows, a single column, a
            header but no rows, or (Excel) members that inflate far beyond the upload.
    """
    name = filename or "upload"
    if len(data) > max_bytes:
        raise DataError(
            f"{name} is {len(data) / 2**20:.1f} MiB; the limit is {max_bytes / 2**20:.0f} MiB. "
            "Upload a sample of the rows, or raise FINML_MAX_UPLOAD_MB."
        )
    if not data or data.isspace():  # no copy of the upload, unlike strip()
        raise DataError(f"{name} is empty. Upload a file with a header row and data rows.")
    ext = "." + name.rsplit(".", 1)[-1].lower() if "." in name else ""
    notes: list[str] = []
    if ext in _EXCEL_EXT:
        frame = _read_excel(data, name, max_rows, max_columns, notes)
        fmt, enc, delim = "excel", None, None
    elif ext in _PARQUET_EXT:
        frame = _read_parquet(data, name, max_rows, max_columns)
        fmt, enc, delim = "parquet", None, None
    elif ext in _TEXT_EXT or ext == "":
        fast = None
        if not row_checks:
            fast = read_csv_fast(data, name, encoding, delimiter, max_rows, max_columns)
        if fast is not None:
            frame, delim = fast
            enc = "utf-8"
        else:
            text, enc = _decode(data, name, encoding, notes)
            delim = delimiter or _sniff_delimiter(text)
            frame = read_csv_checked(text, name, delim, max_rows, max_columns)
        fmt = "csv"
    else:
        raise DataError(
            f"{name}: files ending in {ext!r} are not supported. "
            "Upload a CSV (.csv, .txt, .tsv), an Excel workbook (.xlsx) or a Parquet file."
        )
    _check_frame(frame, name, max_rows)
    schema = infer_schema(frame)
    notes.extend(_date_notes(frame, schema))
    return TableRead(
        frame=frame,
        schema=schema,
        file_format=fmt,
        encoding=enc,
        delimiter=delim,
        notes=tuple(notes),
    )


def _date_notes(frame: pd.DataFrame, schema: TableSchema) -> list[str]:
    """A note for each text date column whose dates carry different UTC offsets (read in
    UTC, :func:`~finml.data.schema.parse_dates`). The first :data:`DATE_SAMPLE` values are
    tried first; only a column they show mixing offsets is parsed whole."""
    notes = []
    for col in schema.names("date"):
        values = frame[col]
        if pd.api.types.is_datetime64_any_dtype(values):
            continue
        if parse_dates(values.dropna().head(DATE_SAMPLE), col)[1]:
            note = parse_dates(values, col)[1]
            notes += [note] if note else []
    return notes


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


def _check_width(n_columns: int, name: str, max_columns: int) -> None:
    if n_columns > max_columns:
        raise DataError(
            f"{name} has {n_columns:,} columns; the limit is {max_columns:,}. Keep the columns "
            "a model can use (or raise FINML_MAX_COLUMNS)."
        )


def read_csv_checked(
    text: str, name: str, delim: str, max_rows: int, max_columns: int
) -> pd.DataFrame:
    """Check a CSV's structure row by row with the csv module, then parse it with pandas.

    The slow path of :func:`read_table` (about 9 s for 1M rows of 21 columns): taken when
    :func:`read_csv_fast` cannot vouch for a file, it says exactly which lines are wrong.

    Args:
        text: the decoded file.
        name: the client's filename, for messages only.
        delim: the field delimiter.
        max_rows: most data rows accepted.
        max_columns: most columns accepted (checked on the header, before the rows).

    Returns:
        pd.DataFrame: pandas' C parser's frame (its default types and missing values).

    Raises:
        DataError: an unclosed quote, ragged rows, an over-long field, a header that is
            blank, duplicated or too wide, too many rows, or no data rows.
    """
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
            if "field larger than field limit" in str(exc):
                raise DataError(
                    f"{name}, line {start}: a value is longer than {csv.field_size_limit():,} "
                    "characters. finml reads tables, not documents: shorten or drop that value."
                ) from exc
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
            _check_width(len(header), name, max_columns)
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
        shown = listing(ragged, 5, lambda r: f"line {r[0]} has {r[1]}")
        raise DataError(
            f"{name}: the header has {len(header)} fields but {shown}. "
            "Fix those rows (a missing or extra delimiter, or an unquoted delimiter inside a "
            f"value), or pick another delimiter (now {_delim_name(delim)})."
        )
    if n_rows == 0:
        raise DataError(f"{name} has a header row but no data rows.")
    return pd.read_csv(io.StringIO(text), sep=delim, skipinitialspace=False, low_memory=False)


#: The strings pandas' CSV parser reads as missing (``pandas._libs.parsers.STR_NA_VALUES``),
#: given to pyarrow so both parsers agree.
PANDAS_NA_VALUES: tuple[str, ...] = (
    "", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND",
    "1.#QNAN", "<NA>", "N/A", "NA", "NULL", "NaN", "None", "n/a", "nan", "null",
)  # fmt: skip

#: Bytes read to sniff the delimiter and parse the header on the fast path.
SNIFF_BYTES = 65536


def read_csv_fast(
    data: bytes,
    name: str,
    encoding: str | None,
    delimiter: str | None,
    max_rows: int,
    max_columns: int,
) -> tuple[pd.DataFrame, str] | None:
    """Parse a UTF-8 CSV with pyarrow's multi-threaded reader, typed as pandas would.

    pyarrow's reader is strict: a row with more or fewer fields than the header, an
    unclosed quote or a value with a line break in it makes it fail, and so does text that
    is not UTF-8. This function then returns ``None`` and :func:`read_table` takes the slow
    path (:func:`read_csv_checked`), which finds the bad lines and says where they are. The
    frame returned equals pandas' C parser's on the same file (tests/data/test_reader.py
    checks every fixture and hostile CSV): pandas' missing-value strings and booleans are
    given to pyarrow; ISO dates and times stay text (re-read as strings); an all-empty
    column is float64 NaN; files where pyarrow types differently from pandas (hex numbers,
    a leading "+" on integers, integers beyond int64) return ``None``.

    Args:
        data: the raw bytes of the upload (a UTF-8 byte-order mark is allowed).
        name: the client's filename, for messages only.
        encoding: the analyst's choice; anything but ``None`` or UTF-8 returns ``None``.
        delimiter: the analyst's choice, or ``None`` to sniff one of :data:`DELIMITERS`.
        max_rows: most data rows accepted.
        max_columns: most columns accepted.

    Returns:
        tuple[pd.DataFrame, str] | None: the frame and the delimiter, or ``None`` when the
        slow path must decide.

    Raises:
        DataError: a header that is blank, duplicated or too wide, or too many rows.
    """
    if encoding not in (None, "utf-8", "utf8", "utf-8-sig") or _binary_kind(data) is not None:
        return None
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return None
    body = data[3:] if data.startswith(b"\xef\xbb\xbf") else data
    head = body[:SNIFF_BYTES]
    if len(body) > len(head):
        head = head[: head.rfind(b"\n") + 1]
    try:
        sample = head.decode("utf-8")
        delim = delimiter or _sniff_delimiter(sample)
        header = next(csv.reader(io.StringIO(sample), delimiter=delim, strict=True), None)
    except (UnicodeDecodeError, csv.Error):
        return None
    if not header or (len(body) > len(head) and "\n" not in sample):
        return None
    _check_width(len(header), name, max_columns)
    _check_header([h.strip() for h in header], name)
    table = _arrow_csv(body, delim, {})
    if table is None:
        return None
    if table.num_rows > max_rows:
        raise DataError(
            f"{name} has more than {max_rows:,} data rows. Upload a sample, or raise "
            "FINML_MAX_ROWS."
        )
    as_text = {f.name: pa.string() for f in table.schema if pa.types.is_temporal(f.type)}
    if as_text:
        table = _arrow_csv(body, delim, as_text)
        if table is None:
            return None
    if not _like_pandas(table, body):
        return None
    frame = table.to_pandas()
    for column_field, column in zip(table.schema, table.columns, strict=True):
        if pa.types.is_null(column_field.type):
            frame[column_field.name] = np.nan  # pandas: float64 NaN
        elif pa.types.is_boolean(column_field.type) and column.null_count:
            values = frame[column_field.name]  # pandas: object, NaN for the gaps
            frame[column_field.name] = values.where(values.notna(), np.nan)
    return frame, delim


def _arrow_csv(body: bytes, delim: str, column_types: dict):
    """pyarrow's CSV parse of ``body`` with pandas' missing values and booleans; ``None``
    where pyarrow refuses the file."""
    from pyarrow import csv as pacsv

    try:
        return pacsv.read_csv(
            pa.BufferReader(pa.py_buffer(body)),  # the upload's bytes, not a copy
            parse_options=pacsv.ParseOptions(delimiter=delim),
            convert_options=pacsv.ConvertOptions(
                column_types=column_types,
                null_values=list(PANDAS_NA_VALUES),
                strings_can_be_null=True,
                true_values=["True", "TRUE", "true"],
                false_values=["False", "FALSE", "false"],
            ),
        )
    except (pa.ArrowException, ValueError):
        return None


def _like_pandas(table, body: bytes) -> bool:
    """Whether pandas' C parser would type and read ``table``'s columns alike, and every
    value is within the csv module's field limit (the slow path's message says which)."""
    import pyarrow.compute as pc

    limit = csv.field_size_limit()
    plus = b"+" in body
    integers = any(pa.types.is_integer(f.type) for f in table.schema)
    hexa = integers and re.search(rb"0[xX]", body) is not None  # one pass, not two
    for column_field, column in zip(table.schema, table.columns, strict=True):
        kind = column_field.type
        if pa.types.is_string(kind) or pa.types.is_large_string(kind):
            longest = pc.max(pc.binary_length(column)).as_py()
            if longest is not None and longest > limit:
                return False
        elif hexa and pa.types.is_integer(kind):
            return False  # pyarrow reads 0x10 and 0X10 as 16, pandas as text
        elif pa.types.is_floating(kind):
            finite = pc.filter(column, pc.is_finite(column))
            if len(finite) and pc.max(pc.abs(finite)).as_py() >= 2.0**63:
                return False  # integers beyond int64: pandas keeps uint64 or Python ints
            if plus and len(finite) == len(column) and _whole(finite):
                return False  # "+5": pyarrow reads a float, pandas an integer
    return True


def _whole(values) -> bool:
    import pyarrow.compute as pc

    return bool(pc.all(pc.equal(pc.round(values), values)).as_py())


def _delim_name(delim: str) -> str:
    return {"\t": "tab", ",": "comma", ";": "semicolon", "|": "pipe"}.get(delim, repr(delim))


def _check_header(header: list[str], name: str) -> None:
    blank = [i + 1 for i, h in enumerate(header) if not str(h).strip()]
    if blank and len(header) > 1:
        raise DataError(
            f"{name}: column(s) {listing(blank, fmt=str)} have no name in the header row. "
            "Give every column a name."
        )
    positions: dict[str, list[int]] = {}
    for i, h in enumerate(header, start=1):
        positions.setdefault(h, []).append(i)
    dupes = [(h, cols) for h, cols in positions.items() if len(cols) > 1]
    if dupes:
        where = listing(dupes, 5, lambda d: f"{d[0]!r} (columns {listing(d[1], 5, str)})")
        raise DataError(
            f"{name}: duplicate column names: {where}. Rename them so each column is unique."
        )


#: Most bytes the parts of a workbook may inflate to, together.
MAX_XLSX_BYTES = 1 << 30
#: Most bytes a workbook may inflate to per byte uploaded (a cell of 300 MB of one letter
#: zips to a few hundred KB).
MAX_XLSX_RATIO = 100


def _check_workbook(data: bytes, name: str) -> None:
    """Refuse a workbook whose parts declare far more than the upload, before openpyxl
    inflates them."""
    import zipfile

    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            declared = sum(m.file_size for m in zf.infolist())
    except (zipfile.BadZipFile, ValueError, OSError) as exc:
        raise DataError(f"{name} is not a readable Excel workbook (a damaged archive).") from exc
    if declared > MAX_XLSX_BYTES or declared > MAX_XLSX_RATIO * len(data) + (1 << 20):
        raise DataError(
            f"{name} inflates to {declared / 2**20:,.0f} MiB from {len(data) / 2**20:,.1f} MiB "
            f"uploaded; finml refuses workbooks over {MAX_XLSX_BYTES >> 20} MiB or "
            f"{MAX_XLSX_RATIO} times their size (a cell of that size is not data). Export the "
            "sheet as CSV."
        )


def _read_excel(
    data: bytes, name: str, max_rows: int, max_columns: int, notes: list[str]
) -> pd.DataFrame:
    if not data.startswith(b"PK\x03\x04"):
        what = _binary_kind(data) or "a text file"
        raise DataError(
            f"{name} is {what}, not an Excel .xlsx workbook. Save it as .xlsx from Excel, or "
            "upload it as .csv."
        )
    _check_workbook(data, name)
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
        notes.append(
            f"The workbook has {len(book.sheet_names)} sheets; the first, {sheet!r}, was read."
        )
    if raw.empty:
        raise DataError(f"{name}: the first sheet ({sheet!r}) is empty.")
    header = ["" if pd.isna(h) else str(h).strip() for h in raw.iloc[0]]
    _check_width(len(header), name, max_columns)
    _check_header(header, name)
    if len(raw) > max_rows + 1:
        raise DataError(
            f"{name} has more than {max_rows:,} data rows. Upload a sample, or raise "
            "FINML_MAX_ROWS."
        )
    frame = raw.iloc[1:].reset_index(drop=True)
    frame.columns = header
    if frame.empty:
        raise DataError(f"{name} has a header row but no data rows.")
    return frame.infer_objects()


def _read_parquet(data: bytes, name: str, max_rows: int, max_columns: int) -> pd.DataFrame:
    if not data.startswith(b"PAR1"):
        what = _binary_kind(data) or "a text file"
        raise DataError(f"{name} is {what}, not a Parquet file. Upload it with its real extension.")
    try:
        import pyarrow.parquet as pq

        meta = pq.ParquetFile(io.BytesIO(data)).metadata  # the footer: no column data read
    except Exception as exc:  # pyarrow raises several types for a damaged file
        raise DataError(
            f"{name} could not be read as Parquet ({type(exc).__name__}: {exc})."
        ) from exc
    _check_width(meta.num_columns, name, max_columns)
    if meta.num_rows > max_rows:
        raise DataError(
            f"{name} has {meta.num_rows:,} rows; the limit is {max_rows:,}. Upload a sample, or "
            "raise FINML_MAX_ROWS."
        )
    try:
        frame = pd.read_parquet(io.BytesIO(data))
    except Exception as exc:  # pyarrow raises several types for a damaged file
        raise DataError(
            f"{name} could not be read as Parquet ({type(exc).__name__}: {exc})."
        ) from exc
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
