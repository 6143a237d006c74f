"""The target column: checks that it can be trained on, the positive class, class counts,
and single-column leakage screening."""

from __future__ import annotations

import numpy as np
import pandas as pd

from finml.data.schema import TableSchema
from finml.errors import TargetError

#: Fewest rows each class of the target must have before training is allowed.
MIN_CLASS_ROWS = 10


#: A single feature whose univariate ROC-AUC reaches this is reported as likely leakage.
LEAKAGE_AUC = 0.95


_POSITIVE_HINTS = ("bad", "default", "defaulted", "yes", "y", "true", "1", "1.0", "positive")


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

    Raises:
        TargetError: the column has no value at all (every cell is missing).
    """
    values = series.dropna().astype(str)
    if values.empty:
        raise TargetError(
            f"The column {series.name!r} is empty (every cell is missing), so it cannot be "
            "the target. Choose another column."
        )
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
    y = binary_target(s, positive)
    n_pos = int(y.sum())
    if n_pos == 0:
        raise TargetError(f"The positive class {positive!r} does not occur in {target!r}.")
    check_class_counts(
        {f"positive class {positive!r}": n_pos, "other class(es)": len(y) - n_pos},
        f"of {target!r}",
        "rows",
    )
    return y


def check_class_counts(counts: dict[str, int], where: str = "", unit: str = "rows") -> None:
    """Refuse data with a class too small to train and test on honestly.

    Args:
        counts: class display name -> rows (or images) of that class.
        where: what the classes belong to, for the message (``"of 'target'"``).
        unit: ``"rows"`` or ``"images"``.

    Raises:
        TargetError: a class has fewer than :data:`MIN_CLASS_ROWS`.
    """
    small = {c: n for c, n in counts.items() if n < MIN_CLASS_ROWS}
    if small:
        name, n = min(small.items(), key=lambda kv: kv[1])
        raise TargetError(
            f"The {name} {where} has only {n} {unit}".replace("  ", " ")
            + f"; at least {MIN_CLASS_ROWS} of each class are needed to train and test "
            "honestly (a few for each of train, validation and test)."
        )


def leakage_warnings(
    frame: pd.DataFrame, schema: TableSchema, target: str, positive: str
) -> list[tuple[str, float]]:
    """Find single columns that predict the target almost perfectly (likely leakage).

    Each numeric column is scored by its univariate ROC-AUC (missing values set to the
    median); each categorical column with at most 50 values by the ROC-AUC of its class rate.
    Each AUC is the Mann-Whitney U statistic over n1 * n0 with ties counted half, the value
    of ``sklearn.metrics.roc_auc_score`` (Hanley & McNeil 1982), computed from the positives
    and negatives at each distinct score (:func:`_grouped_auc`: one sort of the distinct
    values, not a rank of every row). This is a screening on the whole table, not a fitted
    model.

    Args:
        frame: the table.
        schema: its schema.
        target: the target column.
        positive: the positive class.

    Returns:
        list of (column, auc) with ``max(auc, 1 - auc) >= LEAKAGE_AUC``, highest first.
    """
    data = frame.dropna(subset=[target])
    y = binary_target(data[target], positive).astype(bool)
    n1, n0 = int(y.sum()), int((~y).sum())
    if not n1 or not n0:
        return []
    positive_rows = np.asarray(y, dtype=np.float64)
    hits = []
    for col in schema.columns:
        if col.name == target or col.kind not in ("numeric", "categorical"):
            continue
        s = data[col.name]
        if col.kind == "numeric":
            x = pd.to_numeric(s, errors="coerce")
            if not x.notna().any():
                continue
            codes, _ = pd.factorize(x.fillna(x.median()), sort=True)  # codes in value order
            score = None
        elif col.n_unique <= 50:
            codes, _ = pd.factorize(s, use_na_sentinel=False)  # missing is a category too
            score = np.bincount(codes, weights=positive_rows) / np.bincount(codes)
        else:
            continue
        pos = np.bincount(codes, weights=positive_rows)
        auc = _grouped_auc(pos, np.bincount(codes) - pos, score)
        hits.append((col.name, float(max(auc, 1 - auc))))
    return sorted(((c, a) for c, a in hits if a >= LEAKAGE_AUC), key=lambda t: -t[1])


def _grouped_auc(pos: np.ndarray, neg: np.ndarray, score: np.ndarray | None) -> float:
    """ROC-AUC of a score that is constant within groups.

    Args:
        pos, neg: positives and negatives per group, shape (g,), float64.
        score: each group's score, shape (g,); ``None`` when the groups are already in
            ascending order of distinct scores.

    Returns:
        float: P(score of a positive > score of a negative) + P(equal) / 2.
    """
    if score is not None:  # merge groups of equal score, in ascending order
        _, group = np.unique(score, return_inverse=True)
        pos, neg = np.bincount(group, weights=pos), np.bincount(group, weights=neg)
    below = np.cumsum(neg) - neg
    return float((pos * (below + neg / 2)).sum() / (pos.sum() * neg.sum()))


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


#: Task kinds of a table target: a class (binary) or a number (regression).
TASKS = ("binary", "regression")

#: Fewest rows a regression target needs (train, validation and test each get some).
MIN_REGRESSION_ROWS = 30

#: A numeric target with more distinct values than this is taken as a regression target.
REGRESSION_MIN_DISTINCT = 20


def infer_task(series: pd.Series) -> str:
    """Guess the task of a target column: ``"regression"`` for a numeric column with more
    than :data:`REGRESSION_MIN_DISTINCT` distinct values, ``"multiclass"`` for 3 to
    :data:`MAX_CLASSES` classes, else ``"binary"``. The analyst can override the guess on
    the Data page."""
    values = pd.to_numeric(series.dropna(), errors="coerce")
    if len(values) and values.notna().all() and values.nunique() > REGRESSION_MIN_DISTINCT:
        return "regression"
    if 3 <= series.dropna().astype(str).nunique() <= MAX_CLASSES:
        return "multiclass"
    return "binary"


#: The longest unit of a numeric target (``"DM"``, ``"EUR"``, ``"days"``, ``"bn USD"``).
UNIT_LENGTH = 20


def clean_unit(text: str) -> str:
    """The unit an analyst typed for a numeric target, stripped; "" for none.

    Args:
        text: what was typed (``" DM "``).

    Returns:
        The unit (``"DM"``), shown after the target's amounts.

    Raises:
        TargetError: longer than :data:`UNIT_LENGTH` characters, or with a character that
            is not a letter, digit, space or one of ``$ € £ ¥ % / . ² -``.
    """
    unit = " ".join(str(text).split())
    if len(unit) > UNIT_LENGTH:
        raise TargetError(
            f"The unit {unit[:UNIT_LENGTH]!r}... is {len(unit)} characters long; give at most "
            f"{UNIT_LENGTH} (e.g. DM, EUR, days)."
        )
    odd = sorted({c for c in unit if not (c.isalnum() or c in " $€£¥%/.²-")})
    if odd:
        raise TargetError(
            f"The unit {unit!r} contains {', '.join(map(repr, odd))}: use letters, digits, "
            "spaces and $ € £ ¥ % / . ² - only (e.g. DM, EUR, days, bn USD)."
        )
    return unit


def validate_regression_target(frame: pd.DataFrame, target: str) -> np.ndarray:
    """Check that a numeric target can be trained on and return it.

    Args:
        frame: the table.
        target: the target column.

    Returns:
        float64 array of shape (n_rows,).

    Raises:
        TargetError: the column is missing, has missing values, text, infinite values, a
            single value, or fewer than :data:`MIN_REGRESSION_ROWS` rows.
    """
    if target not in frame.columns:
        raise TargetError(f"The target column {target!r} is not in the data.")
    s = frame[target]
    missing = s.isna()
    if missing.any():
        first = int(np.flatnonzero(missing.to_numpy())[0]) + 1
        raise TargetError(
            f"The target {target!r} is missing on {int(missing.sum())} rows (first at data "
            f"row {first}). Drop those rows or fill them in."
        )
    values = pd.to_numeric(s, errors="coerce")
    text = values.isna()
    if text.any():
        first = int(np.flatnonzero(text.to_numpy())[0])
        raise TargetError(
            f"The target {target!r} holds text where a number is needed ({int(text.sum())} "
            f"rows, first {str(s.iloc[first])[:40]!r} at data row {first + 1}). A regression "
            "target must be numeric; fix those cells or choose the binary task."
        )
    y = values.to_numpy(dtype=np.float64)
    inf = ~np.isfinite(y)
    if inf.any():
        first = int(np.flatnonzero(inf)[0]) + 1
        raise TargetError(
            f"The target {target!r} has {int(inf.sum())} infinite values (first at data row "
            f"{first}). Replace them with real numbers or drop those rows."
        )
    if len(y) < MIN_REGRESSION_ROWS:
        raise TargetError(
            f"The table has only {len(y)} rows; a regression needs at least "
            f"{MIN_REGRESSION_ROWS} to train, validate and test."
        )
    if np.ptp(y) == 0:
        raise TargetError(
            f"The target {target!r} has a single value ({y[0]:g}) on every row: there is "
            "nothing to predict. Choose another column."
        )
    return y


def quantile_strata(y: np.ndarray, n_bins: int = 5) -> np.ndarray:
    """Quantile bin of each value (0 .. n_bins-1, ties share a bin), to stratify a
    regression split by the target's distribution. int64 array of shape (n,)."""
    ranks = pd.Series(np.asarray(y, dtype=np.float64)).rank(method="first")
    return pd.qcut(ranks, min(n_bins, len(y)), labels=False).to_numpy(dtype=np.int64)


def target_summary(y: np.ndarray) -> pd.DataFrame:
    """Count, mean, sd, min, quartiles and max of a numeric target, one row per statistic."""
    stats = pd.Series(np.asarray(y, dtype=np.float64)).describe()
    return pd.DataFrame({"statistic": stats.index, "value": stats.to_numpy()})


#: Most classes a multi-class table target may have.
MAX_CLASSES = 20


def validate_classes(series: pd.Series, classes: tuple[str, ...]) -> np.ndarray:
    """Class indices of a target column in ``classes`` (int64, shape (n,)).

    Raises:
        TargetError: missing values, fewer than 3 or more than :data:`MAX_CLASSES` classes,
            a value outside ``classes``, or a class with too few rows.
    """
    if series.isna().any():
        raise TargetError(
            f"The target {series.name!r} is missing on {int(series.isna().sum())} rows. Drop "
            "those rows."
        )
    if not 3 <= len(classes) <= MAX_CLASSES:
        raise TargetError(
            f"A multi-class target needs 3 to {MAX_CLASSES} classes; {series.name!r} has "
            f"{len(classes)}. Choose binary classification (2) or regression (many values)."
        )
    index = {c: i for i, c in enumerate(classes)}
    text = series.astype(str)
    unknown = sorted(set(text) - set(index))
    if unknown:
        raise TargetError(f"The target has values outside its classes: {unknown[:5]}.")
    y = text.map(index).to_numpy(dtype=np.int64)
    counts = np.bincount(y, minlength=len(classes))
    check_class_counts(
        {f"class {c!r}": int(n) for c, n in zip(classes, counts, strict=True)},
        f"of {series.name!r}",
    )
    return y
