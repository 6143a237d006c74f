"""What the table and image trainers share: the progress sink they report to, the stop
predicate they obey, the result they return, and balanced class weights. Nothing here knows
about the UI or the run store: the worker wires the sink to the store and the stop predicate
to a stop file."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import pandas as pd

from finml.data.split import Split


class Sink(Protocol):
    """Receives training progress. ``step`` counts epochs (or iterations) done, 1-based."""

    def on_step(self, step: int, total: int, metrics: dict[str, float]) -> None:
        """Called after each epoch / reporting step with that step's metrics."""


class ListSink:
    """A sink that keeps every step in memory (tests, notebooks)."""

    def __init__(self) -> None:
        self.steps: list[tuple[int, int, dict[str, float]]] = []

    def on_step(self, step: int, total: int, metrics: dict[str, float]) -> None:
        """Append ``(step, total, metrics)``."""
        self.steps.append((step, total, dict(metrics)))


@dataclass
class TrainResult:
    """What one training run produced.

    Attributes:
        status: ``"finished"`` or ``"stopped"`` (a stop request ended it early).
        steps: epochs (or boosting iterations) completed.
        split: the row positions of each side.
        split_report: the audit table of :func:`finml.data.split.split_report`.
        model: the fitted model (``None`` if stopped before any step).
        val_predictions: columns ``row`` (int, position in the data), ``y_true`` (class
            index), ``score`` (float probability of the positive class) and, for images,
            ``p_<i>`` per class.
        test_predictions: same columns, for the test split (empty if no model).
        test_metrics: headline metrics on the test split.
        importance: permutation importance on the validation split
            (:func:`finml.evaluation.explain.permutation_importances`), tables only.
    """

    status: str
    steps: int
    split: Split
    split_report: pd.DataFrame
    model: object = None
    val_predictions: pd.DataFrame = field(default_factory=pd.DataFrame)
    test_predictions: pd.DataFrame = field(default_factory=pd.DataFrame)
    test_metrics: dict[str, float] = field(default_factory=dict)
    importance: pd.DataFrame = field(default_factory=pd.DataFrame)


def never_stop() -> bool:
    """A stop predicate that never asks to stop."""
    return False


def class_weight_dict(y_train: np.ndarray, n_classes: int = 2) -> dict[int, float]:
    """Balanced class weights from the training labels: ``n / (n_classes * n_class)``
    (``sklearn.utils.class_weight.compute_class_weight("balanced")``).

    Args:
        y_train: int class indices of the training split, shape (n,).
        n_classes: number of classes; every class must occur in ``y_train``.
    """
    from sklearn.utils.class_weight import compute_class_weight

    classes = np.arange(n_classes)
    weights = compute_class_weight("balanced", classes=classes, y=y_train)
    return {int(c): float(w) for c, w in zip(classes, weights, strict=True)}
