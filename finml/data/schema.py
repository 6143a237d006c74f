"""The inferred schema of a table: the kind of each column (numeric, categorical, ID-like,
date, constant), the likely target columns, and the default features."""

from __future__ import annotations

import re
from dataclasses import dataclass

import pandas as pd

from finml.errors import listing

#: Column kinds reported by :func:`infer_schema`.
KINDS: tuple[str, ...] = ("numeric", "categorical", "id", "date", "constant")


#: Names that say "this is the target" (whole name, or its last word).
TARGET_NAMES = frozenset(
    {
        "target",
        "label",
        "class",
        "status",
        "default",
        "bad",
        "outcome",
        "y",
        "creditability",
        "churn",
        "fraud",
        "response",
        "defaulted",
    }
)
#: Words that name the event anywhere in a column name (``is_default``, ``bad_flag``).
EVENT_WORDS = frozenset({"default", "defaulted", "bad", "fraud", "churn", "delinquent"})
#: Value sets of a target and how strongly they say so: a credit outcome (2) beats a
#: generic binary coding (1), so ``Status`` = good/bad wins over ``Records`` = yes/no.
TARGET_VOCABULARIES = (
    (frozenset({"good", "bad"}), 2),
    (frozenset({"default", "non-default", "no default", "non default", "nondefault"}), 2),
    (frozenset({"defaulted", "not defaulted", "paid", "fully paid", "charged off"}), 2),
    (frozenset({"bad", "not bad"}), 2),
    (frozenset({"0", "1", "0.0", "1.0"}), 1),
    (frozenset({"yes", "no", "y", "n", "true", "false"}), 1),
)
_ID_NAME = re.compile(r"(^|[_\s-])(id|uuid|guid|key)$", re.IGNORECASE)


_DATE_LIKE = re.compile(r"^\s*(\d{4}[-/.]\d{1,2}[-/.]\d{1,2}|\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4})")
#: A UTC offset after the time at the end of a date text: ``Z``, ``+01:00``, ``-0500``,
#: ``+01``.
_OFFSET = re.compile(r"\d:\d\d(?::\d\d(?:\.\d+)?)?\s*(Z|[+-]\d\d(?::?\d\d)?)\s*$", re.IGNORECASE)
#: Rows of a column read to decide whether it holds dates (and to describe its offsets).
DATE_SAMPLE = 500


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
                "missing %": [
                    round(100 * c.n_missing / max(self.n_rows, 1), 1) for c in self.columns
                ],
                "distinct": [c.n_unique for c in self.columns],
            }
        )


def infer_schema(frame: pd.DataFrame) -> TableSchema:
    """Infer the kind of each column and the likely target columns.

    Kinds: ``constant`` (at most one distinct value), ``date`` (a datetime column or text
    that parses as dates), ``id`` (a name like ``*_id`` or a distinct integer/text value on
    nearly every row), ``numeric``, ``categorical``.

    Target candidates are the numeric or categorical columns with 2 to 10 distinct values,
    ranked by :func:`target_rank`: a target-like name and a target-like vocabulary first.

    Args:
        frame: the table, shape (n_rows, n_columns).

    Returns:
        TableSchema: per-column info and target candidates.
    """
    n = len(frame)
    cols, values = [], {}
    for position, name in enumerate(frame.columns):
        s = frame[name]
        n_unique = _distinct(s)
        info = ColumnInfo(
            name=str(name),
            kind=_kind(s, str(name), n_unique, n),
            dtype=str(s.dtype),
            n_missing=int(s.isna().sum()),
            n_unique=n_unique,
        )
        cols.append(info)
        if 2 <= n_unique <= 10 and info.kind in ("numeric", "categorical"):
            values[info.name] = (position, s.dropna().astype(str).unique().tolist())
    ranked = sorted(values, key=lambda c: target_rank(c, values[c][1], values[c][0]), reverse=True)
    return TableSchema(n_rows=n, columns=tuple(cols), target_candidates=tuple(ranked))


def _distinct(s: pd.Series) -> int:
    """Distinct non-missing values; cells that cannot be hashed (Parquet lists, structs,
    maps) are compared by their text."""
    try:
        return int(s.nunique(dropna=True))
    except TypeError:
        return int(s.dropna().astype(str).nunique())


def _tokens(name: str) -> list[str]:
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", name)  # camelCase -> camel Case
    return [t for t in re.split(r"[^0-9a-zA-Z]+", spaced.lower()) if t]


def target_rank(name: str, values: list[str], position: int) -> tuple[int, int, int]:
    """How likely a column is the target, higher first: (name score + vocabulary score,
    two values rather than more, later column).

    Name: 2 for a name that is a target word (:data:`TARGET_NAMES`), 1 when its last word
    is one, or any word is an event word (default, bad, fraud, churn). Vocabulary: 2 for the
    values of a credit outcome (good/bad, default/non-default, ...), 1 for a generic binary
    coding (0/1, yes/no, true/false), from :data:`TARGET_VOCABULARIES`.

    Args:
        name: the column name.
        values: its distinct values as text.
        position: its column index (a target is often the last column).
    """
    words = _tokens(name)
    joined = "_".join(words)
    if joined in TARGET_NAMES:
        by_name = 2
    elif (words and words[-1] in TARGET_NAMES) or set(words) & EVENT_WORDS:
        by_name = 1
    else:
        by_name = 0
    vocabulary = frozenset(v.strip().lower() for v in values)
    by_values = max(
        (score for vocab, score in TARGET_VOCABULARIES if vocabulary <= vocab), default=0
    )
    return by_name + by_values, int(len(values) == 2), position


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
    sample = s.dropna().astype(str).head(DATE_SAMPLE).tolist()
    if not sample or sum(1 for v in sample if _DATE_LIKE.match(v)) < 0.9 * len(sample):
        return False
    parsed, _ = parse_dates(pd.Series(sample, dtype=object))
    return bool(parsed.notna().mean() >= 0.9)


def parse_dates(values: pd.Series, name: str = "") -> tuple[pd.Series, str]:
    """Parse a column as dates without ever raising, whatever offsets its texts carry.

    Texts in one format or several (``format="mixed"``) are parsed; a value that is not a
    date becomes ``NaT``. Dates that all carry the same UTC offset (or a time zone-aware
    datetime column) keep their wall time, as written, without the zone. Dates with
    *different* UTC offsets (``+01:00`` on some rows, ``-05:00`` on others, or an offset
    on some and none on others), which pandas refuses to put in one column, are converted
    to UTC (values without an offset are taken as UTC), and the note says so.

    Args:
        values: the column, any dtype, shape (n,).
        name: the column's name, for the note.

    Returns:
        (the dates: a Series of datetime64 without time zone, shape (n,), on ``values``'s
        index, ``NaT`` where a value is not a date; a note for the analyst, ``""`` when the
        dates were read as written).
    """
    if not isinstance(values, pd.Series):
        values = pd.Series(values, dtype=object)
    try:
        parsed = pd.to_datetime(values, errors="coerce", format="mixed")
    except (ValueError, TypeError, OverflowError):  # mixed offsets: pandas raises despite coerce
        try:
            parsed = pd.to_datetime(values, errors="coerce", format="mixed", utc=True)
        except (ValueError, TypeError, OverflowError) as exc:
            where = f" in {name!r}" if name else ""
            return (
                pd.Series(pd.NaT, index=values.index, dtype="datetime64[ns]"),
                f"The values{where} could not be read as dates ({exc}).",
            )
        return parsed.dt.tz_convert(None), _offsets_note(values, parsed, name)
    if not pd.api.types.is_datetime64_any_dtype(parsed):  # e.g. a column of Python objects
        parsed = pd.Series(pd.NaT, index=values.index, dtype="datetime64[ns]")
    elif parsed.dt.tz is not None:
        parsed = parsed.dt.tz_localize(None)
    return parsed, ""


def _offsets_note(values: pd.Series, parsed: pd.Series, name: str) -> str:
    """What :func:`parse_dates` did with dates of different UTC offsets, in words."""
    dated = parsed.notna().to_numpy()
    found = values[dated].astype(str).str.extract(_OFFSET, expand=False)
    offsets = sorted({"+00:00" if o.upper() == "Z" else o for o in found.dropna().unique()})
    naive = int(found.isna().sum())
    of = f"The dates in {name!r}" if name else "The dates"
    if len(offsets) > 1:
        what = f"{of} carry different UTC offsets ({listing(offsets, 4, str)})"
        if naive:
            what += f"; {naive:,} have none and were taken as UTC"
    else:
        shown = listing(offsets, 4, str) or "an offset"
        what = f"{of} carry a UTC offset ({shown}) on some rows and none on {naive:,} other row(s)"
        what += " (taken as UTC)"
    return (
        f"{what}. finml converted them all to UTC, so a date near midnight may move to the "
        "day before or after. To keep the local dates, export them without offsets (or all "
        "in one offset)."
    )


def guess_target(schema: TableSchema) -> str | None:
    """Return the likeliest target column, or ``None`` if no column has 2 to 10 values."""
    return schema.target_candidates[0] if schema.target_candidates else None


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
    """Messages about columns that will not be features: ID-like, constant and date columns
    (the last in words that hold for every task of a table: a forecast's time axis, or an
    out-of-time split of the others)."""
    out = []
    ids = schema.names("id")
    if ids:
        out.append(
            f"ID-like column(s) {listing(ids)}: a distinct value on (nearly) every "
            "row. They are left out of the features, since a model would memorise them; use one "
            "as the group column if rows of the same customer must stay on one side."
        )
    const = schema.names("constant")
    if const:
        out.append(f"Constant column(s) {listing(const)} carry no information and are left out.")
    dates = schema.names("date")
    if dates:
        out.append(
            f"Date column(s) {listing(dates)}: not a model input. Forecasting reads one as "
            "the time axis; the other tasks can split by one (Split: out-of-time)."
        )
    return out
