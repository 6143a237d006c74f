"""What a validator reads of a points scorecard (:mod:`finml.models.scorecard`), in
tables with category names instead of codes: the characteristics with their IV and
whether they entered the model, the bins of one characteristic (counts, event rate,
WoE, IV, points), the scorecard itself (characteristic, bin, WoE, points), and each
scored row's points and reason codes ("points below maximum": the characteristics that
lost the most points against their best bin, the usual adverse-action method for
scorecards; Siddiqi 2006, ch. 9)."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd

from finml.evaluation.shap_values import TOP_REASONS
from finml.models.registry import get_model
from finml.models.scorecard import SUSPICIOUS_IV, ScorecardClassifier

#: Longest bin label of a category list, characters.
MAX_LABEL = 120


def is_scorecard_run(params: dict) -> bool:
    """True when a run's model (its ``model`` parameter) is a points scorecard."""
    try:
        return get_model(str(params.get("model", ""))).encoding == "raw"
    except Exception:  # an unknown model (an old import): not a scorecard
        return False


def scorecard_of(model) -> ScorecardClassifier | None:
    """The scorecard inside a fitted model (:class:`finml.models.pipeline.FittedModel`),
    or ``None`` for any other model."""
    est = getattr(model, "estimator", None)
    return est if isinstance(est, ScorecardClassifier) else None


def _fmt(value: float) -> str:
    return f"{value:,.6g}"


def bin_labels(model, j: int) -> list[str]:
    """The labels of characteristic ``j``'s bins: its regular bins (``[8.5, 11.5)`` or the
    category names), then ``Special (codes)`` and ``Missing``.

    Args:
        model: a fitted model whose estimator is a scorecard.
        j: the characteristic's position (numeric characteristics first).
    """
    card = scorecard_of(model)
    c = card.characteristics_[j]
    if c["kind"] == "numeric":
        edges = [-np.inf, *c["splits"], np.inf]
        labels = [
            f"{'(' if lo == -np.inf else '['}{_fmt(lo)}, {_fmt(hi)})"
            for lo, hi in itertools.pairwise(edges)
        ]
        codes = ", ".join(_fmt(v) for v in c["special_codes"])
        special = f"Special ({codes})" if codes else "Special"
    else:
        names = _category_names(model, c["name"])
        labels = []
        for group in c["groups"]:
            text = ", ".join(names[int(v)] if int(v) < len(names) else "?" for v in group)
            labels.append(text if len(text) <= MAX_LABEL else text[: MAX_LABEL - 1] + "…")
        special = "Special"
    return [*labels, special, "Missing"]


def _category_names(model, column: str) -> list[str]:
    """The categories of ``column`` in code order (the preprocessor's ``OrdinalEncoder``)."""
    encoder = model.preprocessor.named_transformers_["cat"]
    position = list(model.categorical).index(column)
    return [str(v) for v in encoder.categories_[position]]


def characteristics_table(model) -> pd.DataFrame:
    """One row per characteristic, highest IV first: ``characteristic``, ``type``,
    ``IV``, ``bins`` (regular bins), ``in model`` (bool), ``coefficient`` (of its WoE in
    the logistic regression; 0 when left out) and ``note`` (why it was left out, or a
    warning such as an IV above :data:`finml.models.scorecard.SUSPICIOUS_IV`)."""
    card = scorecard_of(model)
    rows = [
        {
            "characteristic": c["name"],
            "type": c["kind"],
            "IV": round(c["total_iv"], 4),
            "bins": c["n_regular"],
            "in model": c["selected"],
            "coefficient": round(c["coef"], 4),
            "note": c["reason"],
        }
        for c in card.characteristics_
    ]
    return pd.DataFrame(rows).sort_values("IV", ascending=False, kind="stable")


def bins_table(model, name: str) -> pd.DataFrame:
    """The bins of characteristic ``name`` on the training split: ``bin``, ``count``,
    ``share``, ``events``, ``event rate``, ``WoE``, ``IV`` and ``points`` (0 when the
    characteristic is not in the model). Empty special and missing bins are left out.

    Raises:
        KeyError: no such characteristic.
    """
    card = scorecard_of(model)
    j = list(card.names).index(name)
    c = card.characteristics_[j]
    total = float(np.sum(c["count"])) or 1.0
    table = pd.DataFrame(
        {
            "bin": bin_labels(model, j),
            "count": np.asarray(c["count"], dtype=np.int64),
            "share": np.asarray(c["count"]) / total,
            "events": np.asarray(c["events"], dtype=np.int64),
            "event rate": c["event_rate"],
            "WoE": c["woe"],
            "IV": c["iv"],
            "points": c["points"],
        }
    )
    keep = np.arange(len(table)) < c["n_regular"]
    keep |= table["count"].to_numpy() > 0
    return table[keep].reset_index(drop=True)


def points_table(model) -> pd.DataFrame:
    """The scorecard handed over: one row per bin of each characteristic in the model
    (``characteristic``, ``bin``, ``WoE``, ``points``), the special and missing bins
    included, and for a categorical one the points of a category never seen in training
    (WoE 0)."""
    card = scorecard_of(model)
    rows = []
    for j in card.selected():
        c = card.characteristics_[j]
        for label, woe, points in zip(bin_labels(model, j), c["woe"], c["points"], strict=True):
            rows.append({"characteristic": c["name"], "bin": label, "WoE": woe, "points": points})
        if c["kind"] == "categorical":
            rows.append(
                {
                    "characteristic": c["name"],
                    "bin": "Other (not seen in training)",
                    "WoE": 0.0,
                    "points": c["unseen_points"],
                }
            )
    table = pd.DataFrame(rows, columns=["characteristic", "bin", "WoE", "points"])
    table["WoE"] = table["WoE"].round(4)
    return table


def scaling_words(model) -> str:
    """The scaling of the points in one sentence, with the score range."""
    card = scorecard_of(model)
    chosen = [card.characteristics_[j] for j in card.selected()]
    low = sum(min(c["points"]) for c in chosen)
    high = sum(max(c["points"]) for c in chosen)
    return (
        f"{card.base_points:g} points at odds {card.base_odds:g}:1 (good:bad), "
        f"{card.pdo:g} points to double the odds; {len(chosen)} of "
        f"{len(card.characteristics_)} characteristics in the model; scores from {low} to "
        f"{high}. Characteristics with IV above {SUSPICIOUS_IV} are flagged: check them for "
        "a leak of the outcome."
    )


def row_points(model, x: pd.DataFrame) -> tuple[pd.DataFrame, list[list[str]]]:
    """Each row's total score, its points per characteristic in the model, and its
    reason codes.

    Args:
        model: a fitted model whose estimator is a scorecard.
        x: rows with the model's feature columns, shape (n, k).

    Returns:
        (DataFrame with ``points`` (int64, the total score) and one int64 column
        ``points: <characteristic>`` per characteristic in the model; for each row, up
        to :data:`TOP_REASONS` reasons "<characteristic> = <bin>: <n> points below its
        best bin", most points lost first, none for a characteristic at its best bin).
    """
    card = scorecard_of(model)
    z = model.transform(x)
    points = card.points(z)
    lost = card.points_lost(z)
    bins = card.bin_indices(z)
    chosen = card.selected()
    table = pd.DataFrame({"points": points.sum(axis=1)}, index=x.index)
    for j in chosen:
        table[f"points: {card.names[j]}"] = points[:, j]
    labels = {j: [*bin_labels(model, j), "Other (not seen in training)"] for j in chosen}
    reasons = []
    for i in range(len(z)):
        order = sorted((j for j in chosen if lost[i, j] > 0), key=lambda j: -lost[i, j])
        reasons.append(
            [
                f"{card.names[j]} = {labels[j][bins[i, j]]}: {lost[i, j]} points below its best bin"
                for j in order[:TOP_REASONS]
            ]
        )
    return table, reasons
