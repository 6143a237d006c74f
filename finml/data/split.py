"""Train / validation / test splits: stratified, group-aware, out-of-time; and their audit."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from finml.data.schema import parse_dates
from finml.errors import SplitError

SPLIT_NAMES = ("train", "validation", "test")
#: Fewest test cases of a class before finml warns that metrics on it are noisy.
MIN_TEST_CASES = 30


@dataclass(frozen=True)
class SplitSpec:
    """How to split a table.

    Attributes:
        train: fraction of rows (or groups) for training, in (0, 1).
        val: fraction for validation (early stopping, threshold choice).
        test: fraction for the final test metrics, touched once.
        seed: random seed of the shuffle.
        group_col: rows sharing a value of this column (a customer, a patient) stay on one side.
        time_col: if set, an out-of-time split: oldest rows train, newest rows test.
        stratify: keep the class balance (for a numeric target: its quintiles) alike on
            every side; off: a plain random split.
    """

    train: float = 0.6
    val: float = 0.2
    test: float = 0.2
    seed: int = 42
    group_col: str | None = None
    time_col: str | None = None
    stratify: bool = True

    def check(self) -> None:
        """Raise :class:`SplitError` if the fractions are not positive and summing to 1."""
        parts = (self.train, self.val, self.test)
        if min(parts) <= 0 or abs(sum(parts) - 1) > 1e-6:
            raise SplitError(
                f"Split fractions must be positive and add up to 1; got train {self.train}, "
                f"validation {self.val}, test {self.test}."
            )
        if self.group_col and self.time_col:
            raise SplitError("Choose a group column or a date column for the split, not both.")


@dataclass(frozen=True)
class Split:
    """Row positions (int64 arrays) of each side of a split; disjoint and covering all rows."""

    train: np.ndarray
    val: np.ndarray
    test: np.ndarray

    def parts(self) -> dict[str, np.ndarray]:
        """Return ``{"train": ..., "validation": ..., "test": ...}``."""
        return dict(zip(SPLIT_NAMES, (self.train, self.val, self.test), strict=True))

    def assignment(self) -> pd.DataFrame:
        """Which row went where: ``row`` (int position in the data) and ``split`` (train,
        validation or test), one line per row, by row."""
        rows = np.concatenate([self.train, self.val, self.test])
        sides = np.repeat(SPLIT_NAMES, [len(self.train), len(self.val), len(self.test)])
        order = np.argsort(rows, kind="stable")
        return pd.DataFrame({"row": rows[order], "split": sides[order]})


def make_split(frame: pd.DataFrame, y: np.ndarray, spec: SplitSpec) -> Split:
    """Split the rows of ``frame`` into train, validation and test.

    Stratified on ``y`` by default (``sklearn.model_selection.train_test_split``); by whole
    groups with ``group_col`` (``GroupShuffleSplit``: no group on two sides); by date with
    ``time_col`` (oldest ``train`` fraction, then validation, newest rows test).

    Args:
        frame: the table, shape (n, k).
        y: binary labels, shape (n,).
        spec: the split settings.

    Returns:
        Split: sorted row positions of each side.

    Raises:
        SplitError: bad fractions, a missing or unparseable split column, too few groups,
            or a side that ends up with a single class.
    """
    from sklearn.model_selection import GroupShuffleSplit, train_test_split

    spec.check()
    idx = np.arange(len(frame))
    if spec.time_col:
        order = _time_order(frame, spec.time_col)
        n_train = round(spec.train * len(idx))
        n_val = round(spec.val * len(idx))
        parts = order[:n_train], order[n_train : n_train + n_val], order[n_train + n_val :]
    elif spec.group_col:
        groups = _groups(frame, spec.group_col)
        if len(np.unique(groups)) < 3:
            raise SplitError(
                f"The group column {spec.group_col!r} has fewer than 3 distinct values; a group "
                "split needs at least one group per side."
            )
        rest_size = spec.train + spec.val
        outer = GroupShuffleSplit(n_splits=1, test_size=spec.test, random_state=spec.seed)
        rest, test = next(outer.split(idx, y, groups))
        inner = GroupShuffleSplit(
            n_splits=1, test_size=spec.val / rest_size, random_state=spec.seed
        )
        tr, va = next(inner.split(rest, y[rest], groups[rest]))
        parts = rest[tr], rest[va], test
    else:
        try:
            rest, test = train_test_split(
                idx,
                test_size=spec.test,
                stratify=y if spec.stratify else None,
                random_state=spec.seed,
            )
            tr, va = train_test_split(
                rest,
                test_size=spec.val / (spec.train + spec.val),
                stratify=y[rest] if spec.stratify else None,
                random_state=spec.seed,
            )
        except ValueError as exc:
            raise SplitError(
                f"A stratified split is not possible with these class counts ({exc}). Use fewer "
                "sides or more data."
            ) from exc
        parts = tr, va, test
    split = Split(*(np.sort(np.asarray(p, dtype=np.int64)) for p in parts))
    for name, part in split.parts().items():
        if len(part) == 0 or y[part].min() == y[part].max():
            raise SplitError(
                f"The {name} split has {len(part)} rows and only one class. Change the split "
                "fractions, the seed, or the split column."
            )
    return split


def cv_kind(spec: SplitSpec) -> str:
    """How :func:`cv_folds` folds under ``spec``: ``"time-ordered"``, ``"group"`` or
    ``"stratified"``."""
    return "time-ordered" if spec.time_col else "group" if spec.group_col else "stratified"


def cv_folds(
    frame: pd.DataFrame, y: np.ndarray, rows: np.ndarray, spec: SplitSpec, k: int
) -> list[tuple[np.ndarray, np.ndarray]]:
    """k folds over ``rows`` (the training and validation rows; the test rows stay out),
    following the split's kind:

    - stratified (default): ``sklearn.model_selection.StratifiedKFold`` (shuffled, seeded);
    - group (``group_col``): ``StratifiedGroupKFold``, no group in two folds;
    - out-of-time (``time_col``): rolling origin with an expanding window
      (``TimeSeriesSplit``): fold i trains on everything before its block, so the oldest
      block is never a validation fold.

    Args:
        frame: the table, shape (n, k).
        y: binary labels, shape (n,).
        rows: row positions to fold, int64 (m,).
        spec: the split settings (seed, group or date column).
        k: folds, 2 to 20.

    Returns:
        k pairs (training rows, validation rows), sorted int64 positions into ``frame``.

    Raises:
        SplitError: k out of range, fewer groups than folds, or a fold with one class.
    """
    from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold, TimeSeriesSplit

    if not 2 <= k <= 20:
        raise SplitError(f"Cross-validation needs 2 to 20 folds; got {k}.")
    rows = np.sort(np.asarray(rows, dtype=np.int64))
    if spec.time_col:
        order = rows[_time_order(frame.iloc[rows], spec.time_col)]
        pairs = [(order[a], order[b]) for a, b in TimeSeriesSplit(n_splits=k).split(order)]
    elif spec.group_col:
        groups = _groups(frame, spec.group_col)[rows]
        if len(np.unique(groups)) < k:
            raise SplitError(
                f"The group column {spec.group_col!r} has fewer than {k} distinct values in "
                f"the training and validation rows; use fewer folds."
            )
        folder = StratifiedGroupKFold(n_splits=k, shuffle=True, random_state=spec.seed)
        pairs = [(rows[a], rows[b]) for a, b in folder.split(rows, y[rows], groups)]
    else:
        counts = np.bincount(y[rows], minlength=2)
        if counts.min() < k:
            raise SplitError(
                f"Stratified {k}-fold cross-validation needs at least {k} rows of each class in "
                f"the training and validation rows; the rarer class has {counts.min()}."
            )
        folder = StratifiedKFold(n_splits=k, shuffle=True, random_state=spec.seed)
        pairs = [(rows[a], rows[b]) for a, b in folder.split(rows, y[rows])]
    out = [(np.sort(a), np.sort(b)) for a, b in pairs]
    for i, (a, b) in enumerate(out, start=1):
        if y[a].min() == y[a].max() or y[b].min() == y[b].max():
            raise SplitError(
                f"Fold {i} of {k} has a side with a single class. Use fewer folds or more data."
            )
    return out


def _groups(frame: pd.DataFrame, col: str) -> np.ndarray:
    if col not in frame.columns:
        raise SplitError(f"The group column {col!r} is not in the data.")
    return frame[col].astype(str).fillna("(missing)").to_numpy()


def _time_order(frame: pd.DataFrame, col: str) -> np.ndarray:
    if col not in frame.columns:
        raise SplitError(f"The date column {col!r} is not in the data.")
    dates = parse_dates(frame[col], col)[0]
    bad = int(dates.isna().sum())
    if bad:
        first = int(np.flatnonzero(dates.isna().to_numpy())[0])
        raise SplitError(
            f"The date column {col!r} has {bad} missing or unreadable dates (first at data row "
            f"{first + 1}). Fix them or use a stratified split."
        )
    return np.argsort(dates.to_numpy(), kind="stable")


def split_report(frame: pd.DataFrame, y: np.ndarray, split: Split, spec: SplitSpec) -> pd.DataFrame:
    """Audit a split: rows, class balance, groups and date range of each side.

    Args:
        frame: the table the split was made on.
        y: binary labels, shape (n,).
        split: the split.
        spec: its settings (for the group and date columns).

    Returns:
        DataFrame with one row per side: ``rows``, ``positives``, ``positive rate``, and
        ``groups`` / ``groups shared`` or ``from`` / ``to`` when a split column is set.
    """
    rows = []
    group_sets = {}
    for name, part in split.parts().items():
        row = {
            "split": name,
            "rows": len(part),
            "positives": int(y[part].sum()),
            "positive rate": round(float(y[part].mean()), 4),
        }
        if spec.group_col:
            group_sets[name] = set(frame[spec.group_col].astype(str).iloc[part])
            row["groups"] = len(group_sets[name])
        if spec.time_col:
            dates = parse_dates(frame[spec.time_col].iloc[part], spec.time_col)[0]
            row["from"], row["to"] = str(dates.min().date()), str(dates.max().date())
        rows.append(row)
    report = pd.DataFrame(rows)
    if spec.group_col:
        report["groups shared"] = [
            sum(len(g & o) for k, o in group_sets.items() if k != name)
            for name, g in group_sets.items()
        ]
    return report


def regression_split_report(
    frame: pd.DataFrame, y: np.ndarray, strata: np.ndarray, split: Split, spec: SplitSpec
) -> pd.DataFrame:
    """The split audit of :func:`split_report` (rows, groups, dates) for a numeric target:
    the target's mean and standard deviation on each side instead of class rates.

    Args:
        frame: the table.
        y: the numeric target, float (n,).
        strata: the quantile bins the split was stratified on
            (:func:`finml.data.target.quantile_strata`), int (n,).
        split: the split.
        spec: its settings.
    """
    report = split_report(frame, strata, split, spec).drop(columns=["positives", "positive rate"])
    parts = list(split.parts().values())
    report.insert(2, "target mean", [round(float(y[p].mean()), 4) for p in parts])
    report.insert(3, "target sd", [round(float(y[p].std()), 4) for p in parts])
    return report


def class_report(
    y: np.ndarray, classes: tuple[str, ...], split: Split, groups: np.ndarray | None = None
) -> pd.DataFrame:
    """Audit a split of a k-class set: rows per class on each side and, with groups, the
    number of groups per side and how many appear on another side (must be 0).

    Args:
        y: int class indices, shape (n,).
        classes: class names (index i = ``classes[i]``).
        split: the split.
        groups: group key per row (patient or near-duplicate group), or None.

    Returns:
        DataFrame, one row per side: ``split``, ``rows``, one column per class, and
        ``groups`` / ``groups shared`` when ``groups`` is given.
    """
    rows, sides = [], {}
    for name, part in split.parts().items():
        row = {"split": name, "rows": len(part)}
        counts = np.bincount(y[part], minlength=len(classes))
        row.update({c: int(counts[i]) for i, c in enumerate(classes)})
        if groups is not None:
            sides[name] = set(groups[part].tolist())
            row["groups"] = len(sides[name])
        rows.append(row)
    report = pd.DataFrame(rows)
    if groups is not None:
        report["groups shared"] = [
            sum(len(g & o) for k, o in sides.items() if k != name) for name, g in sides.items()
        ]
    return report


def ci_half_width(n: int, p: float = 0.5, z: float = 1.96) -> float:
    """Half-width of a 95% confidence interval of a proportion (accuracy, sensitivity, ...)
    measured on ``n`` cases, by the normal approximation z * sqrt(p (1 - p) / n); the worst
    case is p = 0.5.

    Args:
        n: cases, >= 1.
        p: the proportion.
        z: the normal quantile (1.96 for 95%).
    """
    return float(z * np.sqrt(p * (1 - p) / max(n, 1)))


def split_warnings(y: np.ndarray, class_names, split: Split) -> list[str]:
    """Warnings about a test split too small to measure well: classes with fewer than
    :data:`MIN_TEST_CASES` test cases, with the width of the CI that many cases give.

    Args:
        y: int class indices, shape (n,).
        class_names: display name of each class index.
        split: the split.
    """
    counts = np.bincount(y[split.test], minlength=len(class_names))
    small = [
        (str(c), int(k)) for c, k in zip(class_names, counts, strict=True) if k < MIN_TEST_CASES
    ]
    if not small:
        return []
    fewest = min(k for _, k in small)
    listed = ", ".join(f"{k} {c!r}" for c, k in small)
    return [
        f"The test split holds only {listed} case(s). Metrics on so few are noisy: a rate "
        f"measured on {fewest} cases has a 95% CI about ±{ci_half_width(fewest):.2f} wide. "
        "Add data, or give the test split a larger share."
    ]
