"""What every fitter shares: the progress sink it reports to (every hook with a no-op
default, as a Keras callback has), the stop predicate it obeys, the data it is given and
the one result it returns. Nothing here knows about the UI or the run store: the worker
wires the sink to the store and the stop predicate to a stop request."""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

#: Seconds between two progress writes of :class:`SampledSink` (live curves stay live while
#: short epochs do not each pay a store write).
PROGRESS_EVERY_S = 0.5


class Sink:
    """Receives training progress. Every hook does nothing unless a subclass says
    otherwise, so a caller never asks what a sink can do.

    ``step`` counts epochs (or iterations) done, 1-based; a step may be reported again with
    more metrics, to be merged by step.
    """

    def on_step(self, step: int, total: int, metrics: dict[str, float]) -> None:
        """After each epoch / reporting step, with that step's metrics."""

    def on_steps(self, steps: list[tuple[int, int, dict[str, float]]]) -> None:
        """Several steps at once (:class:`SampledSink` flushes so); by default one
        :meth:`on_step` each."""
        for step in steps:
            self.on_step(*step)

    def on_fold(self, fold: int, total: int, metrics: dict[str, float]) -> None:
        """After each cross-validation (or backtest) fold, with its metrics."""

    def on_trial(self, trial: int, total: int, row: dict[str, object]) -> None:
        """After each trial of a hyperparameter search, with its row of the trials table."""

    def on_stage(self, what: str, done: int, total: int) -> None:
        """During work before the first step (e.g. extracting image features): ``done`` of
        ``total`` items of ``what``."""


class SampledSink(Sink):
    """Forward progress to ``sink`` at most every ``every_s`` seconds; keep every step.

    The first step is forwarded at once (the UI shows the run has started); later steps
    only once ``every_s`` has passed since the last forwarded one. :meth:`flush` forwards
    the steps held back in one ``on_steps`` call, so the stored curve is complete at the
    end. Folds and trials pass straight through.

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
        self.stage_at_ = -float("inf")

    def on_step(self, step: int, total: int, metrics: dict[str, float]) -> None:
        """Hold the step, and forward it (with any held before it) if it is time."""
        self.held_.append((step, total, dict(metrics)))
        now = self.clock()
        if now - self.last_ >= self.every_s:
            self.last_ = now
            self.flush()

    def flush(self) -> None:
        """Forward every held step in one ``on_steps`` call."""
        held, self.held_ = self.held_, []
        if held:
            self.sent_ += len(held)
            self.sink.on_steps(held)

    def on_fold(self, fold: int, total: int, metrics: dict[str, float]) -> None:
        """Forward at once."""
        self.sink.on_fold(fold, total, metrics)

    def on_trial(self, trial: int, total: int, row: dict[str, object]) -> None:
        """Forward at once."""
        self.sink.on_trial(trial, total, row)

    def on_stage(self, what: str, done: int, total: int) -> None:
        """Forward the first, the last, and others at most every ``every_s`` seconds."""
        now = self.clock()
        if done in (0, total) or now - self.stage_at_ >= self.every_s:
            self.stage_at_ = now
            self.sink.on_stage(what, done, total)


class ListSink(Sink):
    """A sink that keeps every step, fold and trial in memory (tests, notebooks)."""

    def __init__(self) -> None:
        self.steps: list[tuple[int, int, dict[str, float]]] = []
        self.folds: list[tuple[int, int, dict[str, float]]] = []
        self.trials: list[tuple[int, int, dict[str, object]]] = []
        self.stages: list[tuple[str, int, int]] = []

    def on_step(self, step: int, total: int, metrics: dict[str, float]) -> None:
        """Append ``(step, total, metrics)``."""
        self.steps.append((step, total, dict(metrics)))

    def on_fold(self, fold: int, total: int, metrics: dict[str, float]) -> None:
        """Append ``(fold, total, metrics)``."""
        self.folds.append((fold, total, dict(metrics)))

    def on_trial(self, trial: int, total: int, row: dict[str, object]) -> None:
        """Append ``(trial, total, row)``."""
        self.trials.append((trial, total, dict(row)))

    def on_stage(self, what: str, done: int, total: int) -> None:
        """Append ``(what, done, total)``."""
        self.stages.append((what, done, total))

    def history(self) -> pd.DataFrame:
        """The steps merged by step (a step reported again adds its metrics), like
        :meth:`finml.store.RunStore.history`: column ``step`` and one per metric."""
        merged: dict[int, dict[str, float]] = {}
        for step, _, metrics in self.steps:
            merged.setdefault(step, {}).update(metrics)
        rows = [{"step": step, **m} for step, m in sorted(merged.items())]
        return pd.DataFrame(rows, columns=None if rows else ["step"])


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


def sample(n: int, most: int, seed: int) -> np.ndarray:
    """Positions 0..n-1, or a sorted seeded sample of ``most`` of them (int64)."""
    if n <= most:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, most, replace=False))


@dataclass
class FitData:
    """What a fitter trains on: the arrays a task prepared, and how the task measures them.

    Attributes:
        x_train: the training inputs (preprocessed table, (n, p) float; images
            (n, size, size, channels) uint8; forecast windows (n, p) float32).
        y_train: the training target as the fitter sees it (class indices int, or a
            standardised number float, (n,) or (n, h)).
        x_val: the validation inputs, or ``None`` (a refit on every non-test row: train a
            fixed number of steps, report the training loss alone).
        y_val: the validation target, or ``None``.
        live: positions in the validation rows behind the live validation curves (a
            seeded sample of at most 20,000), or ``None`` for all of them.
        n_classes: the classes of a class target (the estimator is a classifier whose
            output is probabilities (n, k)); 0 for a numeric target (a regressor whose
            output is predictions on the fitter's scale).
        loss: ``loss(y, output) -> float``: the training objective's value (log loss, or
            the mean squared error of the standardised target), per step.
        meter: ``meter(y, output) -> {name: value}``: the validation metric of the live
            curves (``val_auc``, or ``val_rmse`` in the target's units).
        class_weight: balanced class weights (:func:`class_weight_dict`), or ``None``.
        window: the layout of forecasting windows, ``(lags, channels, extra)``: ``lags``
            past changes of ``channels`` series (the target and its exogenous columns,
            time-major) and ``extra`` inputs after them (rolling statistics, Fourier
            terms of the season); ``None`` for other inputs.
        categories: each categorical column's categories in code order, as the
            preprocessor fitted them on the training rows (a scorecard's bins set by hand
            name categories; forecasting windows of a panel: ``{"entity": names}``, the
            entities' codes in their last input); ``None`` when the inputs have no such
            columns.
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray | None = None
    y_val: np.ndarray | None = None
    live: np.ndarray | None = None
    n_classes: int = 2
    loss: Callable | None = None
    meter: Callable | None = None
    class_weight: dict | None = None
    window: tuple[int, int, int] | None = None
    categories: dict[str, list[str]] | None = None

    @property
    def has_val(self) -> bool:
        """True when there are validation rows to report on."""
        return self.x_val is not None and self.y_val is not None

    def live_val(self) -> tuple[np.ndarray, np.ndarray]:
        """The validation rows behind the live curves: (inputs, target)."""
        if self.live is None:
            return self.x_val, self.y_val
        return self.x_val[self.live], self.y_val[self.live]


@dataclass
class FitResult:
    """What one fit produced.

    Attributes:
        estimator: the fitted estimator (scikit-learn, Keras, or a list of them), or
            ``None`` if a stop request came before the first step.
        steps: epochs, iterations or fitted steps done.
        stopped: a stop request ended the fit early.
        val_output: the estimator's output on every validation row when the fit computed
            it anyway (probabilities (n, k), or predictions), else ``None``.
    """

    estimator: object = None
    steps: int = 0
    stopped: bool = False
    val_output: np.ndarray | None = None


class Fitter(ABC):
    """One model family's way to fit, for every task it serves: the task prepares the
    data and says how to measure it (:class:`FitData`), the family builds its estimator,
    trains it with live progress and obeys a stop request. Subclasses set :attr:`family`
    (``"sklearn"`` or ``"keras"``: how the model is stored) and :attr:`step_unit` (what
    one reported step is, in the progress bar's words)."""

    family = "sklearn"
    step_unit = "epoch"
    #: Forecasting: the forecasters this family's model may combine
    #: (:data:`finml.models.forecaster.MEMBERS`); more than one makes the run choose, on the
    #: validation origins, which of them to average (``finml.tasks.forecast.choose_members``).
    members: tuple[str, ...] = ("model",)
    #: Forecasting: refit the estimator on the training and validation origins before the
    #: test block, and on every origin before a backtest fold's block (a family without
    #: early stopping, whose fit needs no validation data: ridge, boosting, Auto's ridge;
    #: ``finml.tasks.forecast.refitted``).
    refits = False

    def members_for(self, params: dict) -> tuple[str, ...]:
        """The members a run with these hyperparameters combines (default :attr:`members`)."""
        return self.members

    @abstractmethod
    def fit(
        self,
        spec,
        params: dict,
        data: FitData,
        sink: Sink,
        should_stop: Callable[[], bool],
    ) -> FitResult:
        """Fit one model.

        Args:
            spec: the run spec (:class:`finml.tasks.spec.RunSpec`): model name, seed,
                dataset (its categorical columns).
            params: resolved hyperparameters.
            data: the arrays and measures of the task.
            sink: receives each step's ``loss``, ``val_loss`` and the task's metric.
            should_stop: checked after every batch, iteration or fitted step.

        Returns:
            FitResult.
        """

    def check(self, spec) -> None:
        """Refuse a run this family cannot train here, before it is queued (nothing to
        check by default).

        Raises:
            SpecError: what is missing, and how to get it.
        """
        return None

    def image_inputs(self, spec, data: dict, sink: Sink, should_stop) -> np.ndarray | None:
        """What this family trains on, from an image set's arrays
        (:func:`finml.data.staging.load_staged_images`): the images themselves, uint8
        (n, size, size, channels), unless a family works on something computed from them
        (then ``None`` when a stop request came first)."""
        return data["images"]

    def image_proba(self, model, x: np.ndarray) -> np.ndarray:
        """Class probabilities (n, k) float64 of rows of :meth:`image_inputs` by a fitted
        image model (:class:`finml.models.pipeline.FittedModel`)."""
        return model.predict_proba(x)


def scores(estimator, x: np.ndarray, n_classes: int) -> np.ndarray:
    """What an estimator gives for rows ``x``: class probabilities (n, k) float64 for a
    class target (a single sigmoid output becomes two columns), else its predictions."""
    if hasattr(estimator, "predict_proba"):
        return np.asarray(estimator.predict_proba(x), dtype=np.float64)
    if hasattr(estimator, "layers"):  # a Keras network
        batch = {"batch_size": 4096} if isinstance(x, np.ndarray) else {}  # or a tf.data set
        out = np.asarray(estimator.predict(x, verbose=0, **batch), dtype=np.float64)
    else:
        out = np.asarray(estimator.predict(x), dtype=np.float64)
    if n_classes and out.ndim == 2 and out.shape[1] == 1:  # one sigmoid: P(class 1)
        out = np.hstack([1.0 - out, out])
    return out


def one_step(estimator, data: FitData, sink: Sink) -> FitResult:
    """The result of a model fitted in one go (no epochs): report it as step 1 of 1 with
    its training loss and, when there are validation rows, their loss and the task's
    validation metric.

    Args:
        estimator: the fitted estimator.
        data: what it was fitted on (the task's loss and meter).
        sink: receives the one step.
    """
    k = data.n_classes
    metrics = {"loss": data.loss(data.y_train, scores(estimator, data.x_train, k))}
    val = None
    if data.has_val:
        val = scores(estimator, data.x_val, k)
        metrics["val_loss"] = data.loss(data.y_val, val)
        metrics.update(data.meter(data.y_val, val))
    sink.on_step(1, 1, metrics)
    return FitResult(estimator, 1, False, val)
