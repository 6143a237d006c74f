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
