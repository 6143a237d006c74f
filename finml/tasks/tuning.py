"""Hyperparameter search with Optuna (Akiba et al., "Optuna: A Next-generation
Hyperparameter Optimization Framework", KDD 2019): a TPE sampler and a median pruner on the
task's validation metric (ROC-AUC of a classifier, maximised; RMSE of a regression or
MASE of a forecast's backtest, minimised), over the ranges the registry marks for tuning
(``Param.tune``).

Every trial trains on the training split and is judged on the validation split, or, when
the run is cross-validated, on the mean out-of-fold metric over the training and
validation rows (each fold reported to the pruner); the test split takes no part. Each
trial goes to the sink as it ends (``on_trial``), which the worker records as an MLflow
child run of the study's run. The best parameters are then refit by the task and tested
once.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from finml.errors import SpecError
from finml.fitters.base import Sink
from finml.models.registry import get_model, resolve_params
from finml.store import JUDGED_PREFIXES

#: Trials the median pruner lets finish before it prunes, and steps before it judges one.
PRUNER_STARTUP_TRIALS = 3
PRUNER_WARMUP_STEPS = 5


@dataclass
class TuneResult:
    """What a study produced.

    Attributes:
        trials: one row per trial: ``trial`` (0-based), ``state`` (``complete``,
            ``pruned`` or ``failed``), the judged value (column :attr:`metric`),
            ``seconds``, ``steps`` and one column per tuned hyperparameter.
        best_params: the complete hyperparameters of the best trial (resolved).
        best_value: its judged value.
        stopped: a stop request ended the study.
        metric: the name of the judged value (``val_roc_auc``, ``val_rmse``,
            ``backtest_mase``).
    """

    trials: pd.DataFrame = field(default_factory=pd.DataFrame)
    best_params: dict = field(default_factory=dict)
    best_value: float = float("nan")
    stopped: bool = False
    metric: str = "val_roc_auc"


def best_params_of(tuning: TuneResult) -> dict | None:
    """The best trial's hyperparameters, for the refit that is tested once.

    Returns:
        The parameters, or ``None`` when a stop request ended the study.

    Raises:
        SpecError: no trial finished (all pruned or failed).
    """
    if tuning.stopped:
        return None
    if not tuning.best_params:
        raise SpecError(
            "No trial of the search finished (all were pruned or failed). Give it more "
            "trials or time, or train with the form's values."
        )
    return tuning.best_params


def search_space(model: str) -> dict:
    """Optuna distributions of the tunable hyperparameters of ``model``.

    Returns:
        name -> ``optuna.distributions`` object (float, int or categorical).

    Raises:
        SpecError: unknown model.
    """
    from optuna.distributions import (
        CategoricalDistribution,
        FloatDistribution,
        IntDistribution,
    )

    space = {}
    for p in get_model(model).params:
        if not p.tune:
            continue
        if p.kind in ("choice", "layers"):
            space[p.name] = CategoricalDistribution(list(p.tune))
            continue
        low, high = p.tune
        log = low > 0 and (p.log or high / low >= 100)
        if p.kind == "int":
            space[p.name] = IntDistribution(int(low), int(high), log=log)
        else:
            space[p.name] = FloatDistribution(float(low), float(high), log=log)
    return space


class _PruningSink(Sink):
    """Forwards each step's validation metric (``key``) to the trial and flags it for
    pruning."""

    def __init__(self, trial, key: str):
        self.trial = trial
        self.key = key
        self.pruned = False

    def on_step(self, step: int, total: int, metrics: dict[str, float]) -> None:
        if self.key in metrics and np.isfinite(metrics[self.key]):
            self.trial.report(float(metrics[self.key]), step)
            self.pruned = self.pruned or self.trial.should_prune()


def tune(
    spec,
    params: dict,
    score: Callable,
    sink: Sink,
    should_stop: Callable[[], bool],
    warmup_steps: int = PRUNER_WARMUP_STEPS,
    *,
    metric: str = "val_roc_auc",
    step_key: str = "val_auc",
    maximize: bool = True,
) -> TuneResult:
    """Run an Optuna study of ``spec.tune_trials`` trials (or ``spec.tune_minutes``).

    Args:
        spec: the run spec (:class:`finml.tasks.spec.RunSpec`): model, seed and budget.
        params: the form's hyperparameters; the tuned ones are drawn, the rest kept.
        score: ``score(trial_params, reporter, should_stop) -> (value | None, steps)``:
            trains with ``trial_params`` and returns the judged value (``None`` when
            halted); it passes intermediate values to ``reporter.on_step`` (epochs, or
            folds) for the pruner, under ``step_key``.
        sink: receives ``on_trial(trial, total, row)`` after each trial (``row`` as in
            :attr:`TuneResult.trials`).
        should_stop: True ends the study after the current batch or iteration.
        warmup_steps: steps before the median pruner judges a trial.
        metric: the judged value's name (the trials table's column).
        step_key: the per-step metric the pruner sees.
        maximize: a larger value is better (ROC-AUC); else smaller (RMSE, MASE).

    Returns:
        TuneResult.
    """
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    space = search_space(spec.model)
    study = optuna.create_study(
        direction="maximize" if maximize else "minimize",
        sampler=optuna.samplers.TPESampler(seed=spec.seed),
        pruner=optuna.pruners.MedianPruner(
            n_startup_trials=PRUNER_STARTUP_TRIALS, n_warmup_steps=warmup_steps
        ),
    )
    rows: list[dict] = []
    stopped = False

    def objective(trial) -> float:
        nonlocal stopped
        drawn = {name: _suggest(trial, name, dist) for name, dist in space.items()}
        trial_params = resolve_params(spec.model, {**params, **drawn})
        pruning = _PruningSink(trial, step_key)
        started = time.monotonic()
        value, steps = score(trial_params, pruning, lambda: should_stop() or pruning.pruned)
        trial.set_user_attr("seconds", time.monotonic() - started)
        trial.set_user_attr("steps", steps)
        if should_stop():
            stopped = True
            trial.study.stop()
        if value is None:
            raise optuna.TrialPruned()
        return float(value)

    def record(study_, trial) -> None:
        row = {
            "trial": trial.number,
            "state": trial.state.name.lower(),
            metric: trial.value if trial.value is not None else float("nan"),
            "seconds": round(float(trial.user_attrs.get("seconds", 0.0)), 2),
            "steps": int(trial.user_attrs.get("steps", 0)),
            **trial.params,
        }
        rows.append(row)
        sink.on_trial(trial.number, spec.tune_trials, row)

    study.optimize(
        objective,
        n_trials=spec.tune_trials,
        timeout=spec.tune_minutes * 60 if spec.tune_minutes else None,
        callbacks=[record],
        catch=(ValueError, ArithmeticError),
    )
    result = TuneResult(trials=pd.DataFrame(rows), stopped=stopped, metric=metric)
    complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    if complete:
        best = study.best_trial
        result.best_params = resolve_params(spec.model, {**params, **best.params})
        result.best_value = float(best.value)
    return result


def trial_metric(trials: pd.DataFrame) -> str:
    """The judged value's column of a stored trials table (``val_roc_auc`` before runs of
    other tasks were tuned)."""
    judged = [c for c in trials.columns if c.startswith(JUDGED_PREFIXES)]
    return judged[0] if judged else "val_roc_auc"


def study_from_trials(model: str, trials: pd.DataFrame, maximize: bool = True):
    """An in-memory Optuna study rebuilt from a stored trials table, for Optuna's own
    charts (``optuna.visualization.plot_optimization_history``,
    ``plot_param_importances``).

    Args:
        model: the registry model the trials tuned.
        trials: rows as in :attr:`TuneResult.trials`.
        maximize: the study's direction (its task's :attr:`TaskTags.higher_is_better`).

    Returns:
        optuna.Study with the complete trials (pruned and failed ones left out).
    """
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    space = search_space(model)
    metric = trial_metric(trials)
    study = optuna.create_study(direction="maximize" if maximize else "minimize")
    for _, row in trials[trials["state"] == "complete"].iterrows():
        values = {name: _native(row[name], dist) for name, dist in space.items() if name in row}
        study.add_trial(
            optuna.trial.create_trial(
                params=values,
                distributions={name: space[name] for name in values},
                value=float(row[metric]),
            )
        )
    return study


def _suggest(trial, name: str, dist):
    """Draw ``name`` from ``dist`` through the trial's public ``suggest_*`` methods."""
    from optuna.distributions import CategoricalDistribution, IntDistribution

    if isinstance(dist, CategoricalDistribution):
        return trial.suggest_categorical(name, dist.choices)
    if isinstance(dist, IntDistribution):
        return trial.suggest_int(name, dist.low, dist.high, log=dist.log)
    return trial.suggest_float(name, dist.low, dist.high, log=dist.log)


def _native(value, dist):
    """A stored value (a number, or text as MLflow keeps parameters) as the type its
    distribution takes."""
    from optuna.distributions import FloatDistribution, IntDistribution

    if isinstance(dist, IntDistribution):
        return int(float(value))
    if isinstance(dist, FloatDistribution):
        return float(value)
    return str(value)
