"""An analyst's own bins for a points scorecard (:mod:`finml.models.scorecard`): cut points
for a numeric characteristic, or groups of categories (merges) for a categorical one.

Credit policy often asks for bins the optimiser would not choose (round ages, the bands of
a product's terms, categories merged because they mean the same to an underwriter). An edit
is recorded in the run that uses it, never applied to a finished run: the run's
hyperparameters ``bin_edits`` (what: one line of JSON, :func:`format_bin_edits`) and
``bin_note`` (why: :func:`clean_note`), its owner (who) and the audit trail. The bins of
an edited characteristic are fixed as given (OptBinning's ``user_splits`` with every split
fixed and no trend constraint); the other characteristics are binned as before, on the
training split only.

The JSON text maps a characteristic to its bins, e.g.
``{"duration_in_month": [12, 24, 36], "purpose": [["car (new)", "car (used)"], ["business"]]}``:
a list of increasing numbers is the cut points of a numeric characteristic (a value equal to
a cut point goes to the bin above it, ``[12, 24)``); a list of lists of category names is the
groups of a categorical one (a category left out of every group keeps a bin of its own).
"""

from __future__ import annotations

import itertools
import json
import math
import re

from finml.errors import SpecError

#: Longest ``bin_edits`` text, characters (MLflow's limit on one parameter's value).
MAX_EDIT_TEXT = 6000
#: Longest reason for an edit, characters.
MAX_NOTE = 500
#: Most cut points of one numeric characteristic (OptBinning: at most 100 bins).
MAX_CUTS = 99
#: Longest characteristic or category name in an edit, characters.
MAX_NAME = 200

_EXAMPLE = '{"duration_in_month": [12, 24, 36], "purpose": [["car (new)", "car (used)"]]}'
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")


def _number(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _name(value) -> bool:
    return isinstance(value, str) and 0 < len(value.strip()) <= MAX_NAME


def parse_bin_edits(text: str) -> dict[str, list]:
    """The bin edits of a run from their JSON text (see the module).

    Args:
        text: one JSON object, or empty for none.

    Returns:
        Characteristic name -> cut points (list of float, increasing) or groups (list of
        lists of category names, each category in one group at most), in the order given.

    Raises:
        SpecError: not JSON, not an object, over :data:`MAX_EDIT_TEXT` characters, or a
            characteristic whose bins are neither increasing numbers nor groups of names.
    """
    text = str(text or "").strip()
    if not text:
        return {}
    if len(text) > MAX_EDIT_TEXT:
        raise SpecError(
            f"Bin edits: {len(text):,} characters, more than the {MAX_EDIT_TEXT:,} a run can "
            "record. Edit fewer characteristics in one run."
        )
    try:
        raw = json.loads(text)
    except ValueError:
        raw = None
    if not isinstance(raw, dict):
        raise SpecError(
            "Bin edits: give one JSON object of characteristic -> cut points or groups of "
            f"categories, e.g. {_EXAMPLE}."
        )
    return {_checked_name(name): _checked_bins(name, bins) for name, bins in raw.items()}


def _checked_name(name: str) -> str:
    if not _name(name):
        raise SpecError(f"Bin edits: {name[:60]!r} is not a characteristic's name.")
    return name


def _checked_bins(name: str, bins) -> list:
    where = f"Bin edits of {name[:60]!r}"
    if not isinstance(bins, list) or not bins:
        raise SpecError(f"{where}: give a list of cut points or of groups of categories.")
    if all(_number(v) for v in bins):
        cuts = [float(v) for v in bins]
        if len(cuts) > MAX_CUTS or any(b <= a for a, b in itertools.pairwise(cuts)):
            raise SpecError(
                f"{where}: give up to {MAX_CUTS} cut points in increasing order, each once, "
                "e.g. [12, 24, 36]."
            )
        return cuts
    if all(isinstance(g, list) and g and all(_name(v) for v in g) for g in bins):
        seen: set[str] = set()
        for group in bins:
            twice = seen.intersection(group) or (len(set(group)) < len(group) and group)
            if twice:
                raise SpecError(
                    f"{where}: category {sorted(twice)[0][:60]!r} is in two groups; put each "
                    "category in one group."
                )
            seen.update(group)
        return [list(g) for g in bins]
    raise SpecError(
        f"{where}: give increasing cut points (a numeric characteristic, e.g. [12, 24, 36]) "
        'or non-empty groups of category names (e.g. [["car (new)", "car (used)"]]).'
    )


def format_bin_edits(edits: dict[str, list]) -> str:
    """The one-line JSON text of :func:`parse_bin_edits`' result ("" for none)."""
    if not edits:
        return ""
    return json.dumps(edits, ensure_ascii=False, separators=(", ", ": "))


def clean_note(text: str) -> str:
    """The reason for an edit as a run records it: one line (line breaks and other control
    characters become spaces), stripped.

    Raises:
        SpecError: over :data:`MAX_NOTE` characters.
    """
    note = " ".join(_CONTROL.sub(" ", str(text or "")).split())
    if len(note) > MAX_NOTE:
        raise SpecError(f"The reason for the bin edits is over {MAX_NOTE} characters; shorten it.")
    return note


def check_bin_edits(edits: dict[str, list], numeric, categorical) -> None:
    """Refuse edits of a column that is not a characteristic of the run, or bins of the
    other kind (cut points of a categorical characteristic, groups of a numeric one).

    Raises:
        SpecError: said plainly, naming the characteristic.
    """
    numeric, categorical = set(numeric), set(categorical)
    for name, bins in edits.items():
        if name not in numeric | categorical:
            raise SpecError(
                f"Bin edits: {name[:60]!r} is not a characteristic of this run (a feature "
                "column of the dataset)."
            )
        cuts = all(_number(v) for v in bins)
        if cuts != (name in numeric):
            kind, want = ("numeric", "cut points") if name in numeric else ("categorical", "groups")
            raise SpecError(f"Bin edits: {name[:60]!r} is {kind}; give its bins as {want}.")


def cut_points(text: str) -> list[float]:
    """Cut points typed in a form, ``"12, 24, 36"`` (any order; each once).

    Raises:
        SpecError: something that is not a number, the same number twice, none, or more
            than :data:`MAX_CUTS`.
    """
    items = [p.strip() for p in str(text or "").replace(";", ",").split(",") if p.strip()]
    try:
        cuts = sorted(float(p) for p in items)
    except ValueError:
        cuts = []
    ok = 0 < len(cuts) <= MAX_CUTS and all(math.isfinite(c) for c in cuts)
    if not ok or len(set(cuts)) < len(cuts):
        raise SpecError(
            f"Cut points {str(text)[:80]!r}: give 1 to {MAX_CUTS} different numbers separated "
            "by commas, e.g. 12, 24, 36."
        )
    return cuts


def groups_of(categories, bins) -> list[list[str]]:
    """Groups of categories from a bin number per category (a form's table): the
    categories with the same number share a bin; groups in order of their number.

    Args:
        categories: the category names, length k.
        bins: each category's bin number (int-like), length k.

    Raises:
        SpecError: a bin number that is missing or not a whole number.
    """
    groups: dict[int, list[str]] = {}
    for name, number in zip(categories, bins, strict=True):
        try:
            key = int(number)
            ok = float(number) == key
        except (TypeError, ValueError, OverflowError):
            ok = False
        if not ok:
            raise SpecError(
                f"Category {str(name)[:60]!r} has no whole bin number; give every category "
                "one (categories with the same number share a bin)."
            )
        groups.setdefault(key, []).append(str(name))
    return [groups[k] for k in sorted(groups)]


def with_edit(text: str, name: str, bins: list) -> str:
    """The ``bin_edits`` text of a run with characteristic ``name``'s bins set to ``bins``
    (earlier edits of other characteristics kept).

    Raises:
        SpecError: ``text`` or ``bins`` not valid (:func:`parse_bin_edits`).
    """
    edits = parse_bin_edits(text)
    edits[name] = bins
    out = format_bin_edits(edits)
    parse_bin_edits(out)  # the combined text is checked like any other
    return out


def edit_params(logged: str, name: str, bins: list, note: str) -> dict[str, str]:
    """The hyperparameters of a new run with characteristic ``name``'s bins set by hand:
    ``bin_edits`` (:func:`with_edit` of the run's ``logged`` edits) and ``bin_note``.

    Raises:
        SpecError: no reason given (an edit is recorded with who made it and why), or
            edits that are not valid.
    """
    why = clean_note(note)
    if not why:
        raise SpecError(
            "Say why the bins are set by hand (e.g. 'policy bands of 12 months'): the reason "
            "is recorded with the new run, beside who set them."
        )
    return {"bin_edits": with_edit(logged, name, bins), "bin_note": why}


def edits_as_codes(edits: dict[str, list], categories: dict[str, list[str]]) -> dict[str, list]:
    """The edits as a scorecard fits them: cut points as they are, groups of category names
    as groups of category codes (positions in ``categories``), with every training category
    that no group names in a bin of its own.

    Args:
        edits: :func:`parse_bin_edits`' result.
        categories: each categorical characteristic's categories in code order (the
            preprocessor's ``OrdinalEncoder``, fitted on the training split).

    Raises:
        SpecError: a category that the training split does not have.
    """
    out: dict[str, list] = {}
    for name, bins in edits.items():
        if all(_number(v) for v in bins):
            out[name] = [float(v) for v in bins]
            continue
        known = {c: float(i) for i, c in enumerate(categories.get(name, ()))}
        unknown = [c for g in bins for c in g if c not in known]
        if unknown:
            raise SpecError(
                f"Bin edits of {name[:60]!r}: {unknown[0][:60]!r} is not a category of the "
                "training split. Use the names the Scorecard tab shows."
            )
        named = {c for g in bins for c in g}
        rest = [[c] for c in known if c not in named]
        out[name] = [[known[c] for c in g] for g in [*bins, *rest]]
    return out
