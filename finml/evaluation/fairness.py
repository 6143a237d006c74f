"""Fair-lending analysis of a binary credit model at its decision threshold: approval
rates by group of a protected attribute, the adverse impact ratio against the most
favoured group with the four-fifths rule and a bootstrap interval, the demographic parity
difference, the equalized-odds difference and the bad rate among approved applicants.

Terms (the ECOA / Regulation B effects test as practised; EEOC Uniform Guidelines,
29 CFR 1607.4(D), for the four-fifths rule):

- an applicant is *approved* when the model's score (the probability of the positive
  class, "bad") is below the threshold;
- *approval rate* of a group: approved / applicants of that group;
- *adverse impact ratio* (AIR) of a group: its approval rate over the approval rate of the
  most favoured group (the highest among groups of at least :data:`MIN_GROUP`
  applicants, so that a handful of applicants does not set the bar); an AIR below 0.8
  fails the four-fifths rule;
- *demographic parity difference*: the largest minus the smallest approval rate
  (``fairlearn.metrics.demographic_parity_difference``);
- *equalized-odds difference*: the larger of the spreads of the approval rates among
  good applicants (true-positive rate of approval) and among bad ones (false-positive
  rate) across groups (``fairlearn.metrics.equalized_odds_difference``).

Per-group figures come from ``fairlearn.metrics.MetricFrame``.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from finml.errors import DataError

#: Age bands of the fair-lending review (ECOA protects applicants 62 and older; under 25
#: is the usual young band): lower edges of the middle and upper band, years.
AGE_EDGES = (25, 62)
#: The four-fifths rule: an adverse impact ratio below this fails.
FOUR_FIFTHS = 0.8
#: Resamples of the bootstrap interval of the adverse impact ratio.
N_BOOT = 2000
#: Most groups of a categorical attribute shown (the rest pooled as "other").
MAX_GROUPS = 12
#: Fewest applicants of a group for its rates to be read; smaller groups are flagged.
MIN_GROUP = 30
#: Column names that suggest a protected attribute (matched as words, case-insensitive):
#: age, sex or gender, marital status, race, colour, ethnicity, national origin,
#: religion (the ECOA's list, 15 U.S.C. 1691(a)).
PROTECTED_WORDS = (
    "age",
    "sex",
    "gender",
    "marital",
    "personal_status",
    "race",
    "black",
    "white",
    "hispanic",
    "ethnic",
    "ethnicity",
    "religion",
    "nationality",
    "national_origin",
    "foreign",
)


def suggest_protected(columns) -> list[str]:
    """The columns whose names suggest a protected attribute (:data:`PROTECTED_WORDS`,
    matched at word boundaries: ``age_in_years`` and ``applicant_age`` but not
    ``mortgage``)."""
    out = []
    for column in columns:
        words = re.split(r"[^a-z]+", str(column).lower())
        text = "_".join(w for w in words if w)
        if any(re.search(rf"(^|_){w}(_|$)", text) for w in PROTECTED_WORDS):
            out.append(column)
    return out


def groups_of(values: pd.Series, name: str) -> pd.Series:
    """The groups of a protected attribute: age bands (:data:`AGE_EDGES`) for a numeric
    column named like an age, quartiles for another numeric column, else its values (the
    :data:`MAX_GROUPS` most frequent, the rest "other"); missing values are the group
    "(missing)".

    Args:
        values: the attribute of each applicant, shape (n,).
        name: the column's name.

    Returns:
        A Series of group labels (str), aligned with ``values``.
    """
    numeric = pd.to_numeric(values, errors="coerce")
    if values.notna().any() and numeric.notna().sum() == values.notna().sum():
        if "age" in name_words(name):
            lo, hi = AGE_EDGES
            bands = np.select(
                [numeric < lo, numeric < hi, numeric >= hi],
                [f"< {lo}", f"{lo}-{hi - 1}", f">= {hi}"],
                default="(missing)",
            )
            return pd.Series(bands, index=values.index)
        cut = pd.qcut(numeric, 4, duplicates="drop")
        return cut.astype(str).where(numeric.notna(), "(missing)")
    text = values.astype(str).where(values.notna(), "(missing)")
    top = text.value_counts().index[:MAX_GROUPS]
    return text.where(text.isin(top), "other")


def name_words(name: str) -> set[str]:
    """The words of a column name (lower case, split at anything not a letter)."""
    return {w for w in re.split(r"[^a-z]+", str(name).lower()) if w}


def fairness_table(
    y: np.ndarray, score: np.ndarray, threshold: float, groups: pd.Series, seed: int = 0
) -> tuple[pd.DataFrame, dict[str, float]]:
    """Approval and its disparities by group at ``threshold``.

    Args:
        y: 0/1 outcomes, shape (n,): 1 is the positive class ("bad").
        score: the positive class's probability, shape (n,), float.
        threshold: applicants scoring at or above it are refused.
        groups: the group of each applicant (:func:`groups_of`), shape (n,).
        seed: seed of the bootstrap.

    Returns:
        (one row per group, most applicants first: ``group``, ``applicants``,
        ``approval rate``, ``adverse impact ratio`` with ``AIR lower`` and ``AIR upper``
        (95% bootstrap percentile interval, resampling applicants within each group,
        :data:`N_BOOT` resamples), ``four-fifths`` ("pass"/"fail"), ``approval rate of
        good`` (TPR), ``approval rate of bad`` (FPR), ``bad rate among approved`` and
        ``note`` (a group under :data:`MIN_GROUP` applicants); a summary:
        ``demographic_parity_difference``, ``equalized_odds_difference``, the most
        favoured ``reference`` group and the smallest ``min_air``).

    Raises:
        DataError: fewer than two groups, or arrays of different lengths.
    """
    from fairlearn.metrics import (
        MetricFrame,
        demographic_parity_difference,
        equalized_odds_difference,
        false_positive_rate,
        selection_rate,
        true_positive_rate,
    )

    y = np.asarray(y).astype(np.int64)
    score = np.asarray(score, dtype=np.float64)
    groups = pd.Series(np.asarray(groups).astype(str))
    if not len(y) == len(score) == len(groups):
        raise DataError("Outcomes, scores and groups must have the same length.")
    if groups.nunique() < 2:
        raise DataError(
            "The protected attribute has one group only among these applicants; there is "
            "nothing to compare."
        )
    approved = (score < threshold).astype(np.int64)
    good = 1 - y

    def bad_among_approved(y_true, y_pred):
        taken = np.asarray(y_pred) == 1
        return float(1 - np.asarray(y_true)[taken].mean()) if taken.any() else np.nan

    frame = MetricFrame(
        metrics={
            "applicants": lambda t, p: len(t),
            "approval rate": selection_rate,
            "approval rate of good": true_positive_rate,
            "approval rate of bad": false_positive_rate,
            "bad rate among approved": bad_among_approved,
        },
        y_true=good,
        y_pred=approved,
        sensitive_features=groups.to_numpy(),
    )
    table = frame.by_group.reset_index()
    table.columns = ["group", *table.columns[1:]]
    table["applicants"] = table["applicants"].astype(np.int64)
    rates = table.set_index("group")["approval rate"]
    sized = table.set_index("group")["applicants"] >= MIN_GROUP
    reference = str(rates[sized].idxmax() if sized.any() else rates.idxmax())
    table["adverse impact ratio"] = table["approval rate"] / rates[reference]
    lower, upper = _air_interval(approved, groups.to_numpy(), table["group"], reference, seed)
    table["AIR lower"], table["AIR upper"] = lower, upper
    table["four-fifths"] = np.where(table["adverse impact ratio"] >= FOUR_FIFTHS, "pass", "fail")
    table["note"] = np.where(
        table["applicants"] < MIN_GROUP, f"fewer than {MIN_GROUP} applicants: read with care", ""
    )
    table.loc[table["group"] == reference, "note"] = "most favoured (reference)"
    order = [
        "group",
        "applicants",
        "approval rate",
        "adverse impact ratio",
        "AIR lower",
        "AIR upper",
        "four-fifths",
        "approval rate of good",
        "approval rate of bad",
        "bad rate among approved",
        "note",
    ]
    table = table[order].sort_values("applicants", ascending=False, kind="stable")
    summary = {
        "demographic_parity_difference": float(
            demographic_parity_difference(good, approved, sensitive_features=groups.to_numpy())
        ),
        "equalized_odds_difference": float(
            equalized_odds_difference(good, approved, sensitive_features=groups.to_numpy())
        ),
        "reference": reference,
        "min_air": float(table["adverse impact ratio"].min()),
    }
    return table.reset_index(drop=True), summary


def fairness_of_attribute(
    frame: pd.DataFrame, rows, name: str, y, score, threshold: float
) -> tuple[pd.DataFrame, dict[str, float]]:
    """:func:`fairness_table` of protected attribute ``name`` for the scored rows ``rows``
    of ``frame`` (a run's staged table), grouped by :func:`groups_of`.

    Args:
        frame: the table the run trained on, shape (n, k).
        rows: int positions in ``frame`` of the scored applicants, shape (m,).
        name: the protected attribute's column.
        y, score: their outcomes and scores, shape (m,).
        threshold: the decision threshold.

    Raises:
        DataError: the column is gone, or it has one group only among these rows.
    """
    if name not in frame.columns:
        raise DataError(f"The data no longer has the column {name!r}.")
    groups = groups_of(frame[name].iloc[np.asarray(rows)], name)
    return fairness_table(y, score, threshold, groups, seed=0)


def _air_interval(approved, groups, names, reference, seed) -> tuple[np.ndarray, np.ndarray]:
    """95% percentile intervals of each group's AIR against ``reference``: applicants are
    resampled within each group (each group's approval count is then binomial with its
    size and its observed rate), :data:`N_BOOT` times."""
    rng = np.random.default_rng(seed)
    draws = {}
    for name in names:
        part = approved[groups == name]
        draws[name] = rng.binomial(len(part), part.mean(), N_BOOT) / len(part)
    ref = draws[reference]
    lower, upper = [], []
    for name in names:
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = draws[name] / ref
        ratio = ratio[np.isfinite(ratio)]
        lo, hi = np.percentile(ratio, [2.5, 97.5]) if len(ratio) else (np.nan, np.nan)
        lower.append(lo)
        upper.append(hi)
    return np.asarray(lower), np.asarray(upper)
