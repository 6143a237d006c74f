"""What the table and image trainers share: the progress sink they report to, the stop
predicate they obey, the result they return, and balanced class weights. Nothing here knows
about the UI or the run store: the worker wires the sink to the store and the stop predicate
to a stop file."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import pandas as pd

from finml.data.split import Split


class Sink(Protocol):
    """Receives training progress. ``step`` counts epochs (or iterations) done, 1-based; a
    step may be reported again with more metrics, to be merged by step."""

    def on_step(self, step: int, total: int, metrics: dict[str, float]) -> None:
        """Called after each epoch / reporting step with that step's metrics."""


#: Seconds between two progress writes of :class:`SampledSink` (live curves stay live while
#: short epochs do not each pay a store write).
PROGRESS_EVERY_S = 0.5


class SampledSink:
    """Forward progress to ``sink`` at most every ``every_s`` seconds; keep every step.

    The first step is forwarded at once (the UI shows the run has started); later steps
    only once ``every_s`` has passed since the last forwarded one. :meth:`flush` forwards
    the steps held back, in one ``on_steps`` call when the sink has it, so the stored
    curve is complete at the end.

    Args:
        sink: the sink to forward to.
        every_s: minimum seconds between two forwarded steps (0 forwards every step).
        clock: monotonic clock in seconds (tests pass their own).
    """

    def __init__(self, sink: Sink, every_s: float = PROGRESS_EVERY_S, clock=time.monotonic):
        self.sink = sink
        self.every_s = every_s
        self.clock = clock
        self.held_: list[tuple[int, int, dict[str, float]]] = []
        self.sent_ = 0
        self.last_ = -float("inf")

    def on_step(self, step: int, total: int, metrics: dict[str, float]) -> None:
        """Hold the step, and forward it (with any held before it) if it is time."""
        self.held_.append((step, total, dict(metrics)))
        now = self.clock()
        if now - self.last_ >= self.every_s:
            self.last_ = now
            self.flush()

    def flush(self) -> None:
        """Forward every held step (one batch where the sink supports ``on_steps``)."""
        held, self.held_ = self.held_, []
        if not held:
            return
        self.sent_ += len(held)
        if hasattr(self.sink, "on_steps"):
            self.sink.on_steps(held)
        else:
            for step in held:
                self.sink.on_step(*step)


class ListSink:
    """A sink that keeps every step (and every cross-validation fold) in memory (tests,
    notebooks)."""

    def __init__(self) -> None:
        self.steps: list[tuple[int, int, dict[str, float]]] = []
        self.folds: list[tuple[int, int, dict[str, float]]] = []

    def on_fold(self, fold: int, total: int, metrics: dict[str, float]) -> None:
        """Append ``(fold, total, metrics)``."""
        self.folds.append((fold, total, dict(metrics)))

    def on_step(self, step: int, total: int, metrics: dict[str, float]) -> None:
        """Append ``(step, total, metrics)``."""
        self.steps.append((step, total, dict(metrics)))

    def history(self) -> pd.DataFrame:
        """The steps merged by step (a step reported again adds its metrics), like
        :meth:`finml.store.RunStore.history`: column ``step`` and one per metric."""
        merged: dict[int, dict[str, float]] = {}
        for step, _, metrics in self.steps:
            merged.setdefault(step, {}).update(metrics)
        rows = [{"step": step, **m} for step, m in sorted(merged.items())]
        return pd.DataFrame(rows, columns=None if rows else ["step"])


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
        cv: the cross-validation (:class:`finml.training.cv.CVResult`) of a run that asked
            for it; then ``val_predictions`` are its out-of-fold predictions (with a
            ``fold`` column) and the model was refit on every non-test row.
        tuning: the Optuna study (:class:`finml.training.tuning.TuneResult`) of a run that
            asked for one; the model was refit with its best parameters.
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
    cv: object = None
    tuning: object = None


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
