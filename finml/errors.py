"""Error types of finml. Each message says what is wrong, where, and how to fix it."""

from __future__ import annotations


class FinmlError(Exception):
    """Base class of every error finml raises on purpose.

    The message is written for the analyst: pages show ``str(error)`` as it is.
    """


class DataError(FinmlError):
    """An uploaded table or its content cannot be used as it is."""


class SplitError(FinmlError):
    """The requested train/validation/test split cannot be made."""


class TargetError(FinmlError):
    """The chosen target column cannot be trained on (one class, too few rows, ...)."""


class SpecError(FinmlError):
    """A run specification (model name, hyperparameter) is invalid."""


class StoreError(FinmlError):
    """The run store does not hold what was asked for."""


class BundleError(FinmlError):
    """A model bundle cannot be saved or loaded safely."""


#: Items a message lists before it says "and N more".
LIST_FIRST = 10
#: Characters of one listed item before it is cut.
ITEM_WIDTH = 60


def listing(items, first: int = LIST_FIRST, fmt=repr) -> str:
    """Items for a message: the first ``first``, each cut to :data:`ITEM_WIDTH` characters,
    then "and N more". A file with four million duplicate column names must not make a
    35 MB message.

    Args:
        items: a sequence (anything with ``len`` and slicing).
        first: how many to show.
        fmt: how to show one item (default ``repr``).

    Returns:
        str: e.g. ``"'a', 'b', 'c' and 7 more"``.
    """
    shown = []
    for item in items[:first]:
        text = fmt(item)
        shown.append(text if len(text) <= ITEM_WIDTH else text[: ITEM_WIDTH - 1] + "…")
    rest = len(items) - len(shown)
    return ", ".join(shown) + (f" and {rest:,} more" if rest > 0 else "")
