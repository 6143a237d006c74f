"""What a validator reads of a points scorecard (:mod:`finml.models.scorecard`), in
tables with category names instead of codes: the characteristics with their IV and
whether they entered the model, the bins of one characteristic (counts, event rate,
WoE, IV, points) and the scorecard itself (characteristic, bin, WoE, points). Each scored
row's points and reason codes are :func:`finml.prediction.tables.row_points`."""

from __future__ import annotations

import numpy as np
import pandas as pd

from finml.errors import SpecError
from finml.models.registry import get_model
from finml.models.scorecard import SUSPICIOUS_IV, bin_labels, scorecard_of


def is_scorecard_run(params: dict) -> bool:
    """True when a run's model (its ``model`` parameter) is a points scorecard."""
    try:
        return get_model(str(params.get("model", ""))).encoding == "raw"
    except SpecError:  # an unknown model (an old import): not a scorecard
        return False


def characteristics_table(model) -> pd.DataFrame:
    """One row per characteristic, highest IV first: ``characteristic``, ``type``,
    ``IV``, ``bins`` (regular bins), ``in model`` (bool), ``coefficient`` (of its WoE in
    the logistic regression; 0 when left out) and ``note`` (why it was left out, or a
    warning such as an IV above :data:`finml.models.scorecard.SUSPICIOUS_IV`)."""
    return _iv_table(scorecard_of(model).characteristics_)


def _iv_table(chars: list[dict]) -> pd.DataFrame:
    """:func:`characteristics_table`'s rows from a scorecard's characteristics (a
    characteristic not yet regressed has coefficient 0)."""
    rows = [
        {
            "characteristic": c["name"],
            "type": c["kind"],
            "IV": round(c["total_iv"], 4),
            "bins": c["n_regular"],
            "in model": c["selected"],
            "coefficient": round(c.get("coef", 0.0), 4),
            "note": "; ".join(
                filter(None, ["bins set by hand" if c.get("edited") else "", c["reason"]])
            ),
        }
        for c in chars
    ]
    return pd.DataFrame(rows).sort_values("IV", ascending=False, kind="stable")


#: Most training rows the IV preview bins (a seeded sample of a larger training split).
PREVIEW_ROWS = 50_000


def preview_iv(spec, frame: pd.DataFrame, max_rows: int = PREVIEW_ROWS) -> pd.DataFrame:
    """The IV table before training: every characteristic binned on the run's training
    split as the scorecard will bin it (the form's binning, trends, special codes and bins
    set by hand), with the selection it would make (minimum IV, correlated WoE, the
    characteristics left out). The validation and test rows are not read.

    Args:
        spec: the run spec of a scorecard (its dataset, split and hyperparameters).
        frame: the staged table, shape (n_rows, n_columns).
        max_rows: most training rows binned: a larger training split is sampled (seeded
            by the spec), so the preview takes seconds at a million rows.

    Returns:
        :func:`characteristics_table`'s columns (``in model``: whether it would enter the
        regression; ``coefficient`` 0), highest IV first.

    Raises:
        TargetError, SplitError, SpecError, DataError: as training would.
    """
    from finml.data.split import make_split
    from finml.fitters.base import sample
    from finml.fitters.scorecard import scorecard
    from finml.models.features import category_lists, fit_preprocessing, prepare_features
    from finml.models.registry import resolve_params
    from finml.tasks import get_task

    task, ds = get_task(spec.task), spec.dataset
    task.check_spec(spec)
    params = resolve_params(spec.model, spec.params)
    y, strata = task.target(frame, ds)
    rows = make_split(frame, strata, ds.split).train
    if len(rows) > max_rows:
        rows = np.sort(rows[sample(len(rows), max_rows, spec.seed)])
    numeric, categorical = list(ds.numeric), list(ds.categorical)
    X = prepare_features(frame.iloc[rows], numeric, categorical)
    everything = np.arange(len(rows))
    pre, x, _ = fit_preprocessing(X, numeric, categorical, params, everything, model=spec.model)
    card = scorecard(spec, params, category_lists(pre, categorical))
    target = task.fit_target(task.target_state(y[rows], params), y[rows])
    chars, _, _ = card.bin_and_select(x, target)
    return _iv_table(chars)


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


def editable_bins(model, name: str) -> tuple[str, pd.DataFrame | str]:
    """What the "Edit these bins" form starts from: ``("numeric", "8.5, 11.5, 15.5")``
    (the cut points as text, full precision) or ``("categorical", table)`` with one row per
    training category, ``category`` (text) and ``bin`` (int, 1-based: the categories of one
    bin share a number; special and missing bins are not edited).

    Raises:
        KeyError: no such characteristic.
    """
    from finml.models.scorecard import category_names

    card = scorecard_of(model)
    c = card.characteristics_[list(card.names).index(name)]
    if c["kind"] == "numeric":
        return "numeric", ", ".join(f"{s:.10g}" for s in c["splits"])
    names = category_names(model, name)
    rows = [
        {"category": names[int(v)], "bin": i}
        for i, group in enumerate(c["groups"], start=1)
        for v in group
        if int(v) < len(names)
    ]
    return "categorical", pd.DataFrame(rows, columns=["category", "bin"])


def edit_words(params: dict, owner: str) -> str:
    """One sentence on a run's bins set by hand (its ``hp.bin_edits``, ``hp.bin_note`` and
    owner), or "" when it has none: ``Bins set by hand: duration_in_month, purpose; by
    alice: policy bands.``"""
    from finml.models.bin_edits import parse_bin_edits

    try:
        edits = parse_bin_edits(params.get("hp.bin_edits", ""))
    except SpecError:
        return ""
    if not edits:
        return ""
    note = str(params.get("hp.bin_note", "")).strip()
    words = f"Bins set by hand: {', '.join(edits)}; by {owner}"
    return f"{words}: {note}" if note else f"{words}."
