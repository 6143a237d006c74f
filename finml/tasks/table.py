"""The one template of a training run on a table, for every table task (binary,
multi-class, regression): check the target, split, prepare the features, (search the
hyperparameters), (cross-validate), fit the preprocessing on the training rows only, fit
the model with live progress through its family's fitter, assemble the fitted model,
score the validation rows, and touch the test split once, at the end.

A table task fills in small hooks (:class:`TableTask`): what its target is and how the
split is stratified, how the fitter sees the target, how its outputs are scored, what its
prediction columns are and what its fitted model is.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Callable

import numpy as np
import pandas as pd

from finml.data.split import make_split
from finml.errors import SpecError, listing
from finml.evaluation.drift import training_profile
from finml.evaluation.explain import permutation_importances
from finml.evaluation.shap_values import explain_rows, explainer_kind, fit_background
from finml.fitters.base import PROGRESS_EVERY_S, FitData, SampledSink, Sink, never_stop, sample
from finml.models.features import (
    category_lists,
    encoding_of,
    fit_preprocessing,
    prepare_features,
)
from finml.models.pipeline import FittedModel
from finml.models.registry import resolve_params
from finml.tasks.base import Task, TaskTags, TrainResult
from finml.tasks.cv import cross_validate
from finml.tasks.tuning import best_params_of, tune

#: Most training rows scored for the training profile's score bins (a seeded sample above
#: this; the standard error of a decile estimated from 20,000 rows is about 0.002).
PROFILE_ROWS = 20_000

#: Most validation rows behind the live curves of gradient boosting and the networks (a
#: seeded sample above this): they are scored again after every tree or epoch, so this
#: bounds what progress costs. The stored validation predictions cover every row.
LIVE_VAL_ROWS = 20_000

#: Validation rows behind a run's SHAP summary, per explainer (a seeded sample above this):
#: the permutation explainer costs about 0.08 s a row (MLP, 2 cores) and shares the CPU
#: with the next run once the worker released its slot, so it explains fewer rows.
SHAP_ROWS = {"tree": 300, "linear": 300, "permutation": 60}


#: What every table task supports (a task sets its classes and metrics on top).
TABLE_TAGS = TaskTags(cross_validation=True, tuning=True, shap=True, importance=True)


class TableTask(Task):
    """A task whose dataset is a table; :meth:`train` is the template of its runs."""

    data_kind = "table"
    #: The permutation-importance scorer (scikit-learn's name).
    importance_scoring = "roc_auc"

    # -- hooks -----------------------------------------------------------------------------
    @abstractmethod
    def target(self, frame: pd.DataFrame, ds) -> tuple[np.ndarray, np.ndarray]:
        """(the checked target of every row, what a stratified split keeps balanced).

        Raises:
            TargetError: the target cannot be trained on.
        """

    @abstractmethod
    def split_report(self, frame, y, strata, split, ds) -> pd.DataFrame:
        """The audit table of the split (counts per side)."""

    def target_state(self, y_train: np.ndarray, params: dict):
        """What the fitter's target is derived with, fitted on the training rows only (a
        regression's standardisation); ``None`` for classes."""
        return None

    def fit_target(self, state, y: np.ndarray) -> np.ndarray:
        """The target as the fitter learns it."""
        return y

    def decode(self, state, raw: np.ndarray) -> np.ndarray:
        """The task's outputs (probabilities (n, k), or predictions in the target's units)
        from the fitter's raw outputs."""
        return raw

    def n_classes(self, ds) -> int:
        """Classes of the target (0: a number)."""
        return 2

    @abstractmethod
    def loss(self, y, raw) -> float:
        """The training objective's value on the fitter's scale."""

    @abstractmethod
    def meter(self, state) -> Callable[[np.ndarray, np.ndarray], dict[str, float]]:
        """``meter(y as the fitter sees it, raw output) -> {search_metric: value}``."""

    @abstractmethod
    def scores(self, y: np.ndarray, out: np.ndarray, ds) -> dict[str, float]:
        """Every metric of outputs ``out`` against ``y`` (a fold's row, the test split)."""

    def fold_counts(self, y: np.ndarray) -> dict[str, int]:
        """Counts a fold's row shows beside its size (``positives`` of a binary target)."""
        return {}

    @abstractmethod
    def predictions(self, rows: np.ndarray, y: np.ndarray, out: np.ndarray, ds) -> pd.DataFrame:
        """The stored prediction columns of ``rows``."""

    @abstractmethod
    def assemble(self, estimator, pre, numeric, categorical, ds, state):
        """The fitted model (:class:`finml.models.pipeline.FittedModel` or
        :class:`~finml.models.pipeline.FittedRegressor`)."""

    @abstractmethod
    def profile_scores(self, model, x: np.ndarray) -> np.ndarray:
        """The score whose distribution the training profile keeps (for PSI)."""

    @abstractmethod
    def output(self, model, x: np.ndarray) -> np.ndarray:
        """The task's outputs of preprocessed rows through the assembled model."""

    def test_metrics(self, y_test, out, *, y_train, frame, split, ds) -> dict[str, float]:
        """The test split's metrics (defaults to :meth:`scores`)."""
        return self.scores(y_test, out, ds)

    def calibrate(self, model, X_val: pd.DataFrame, y_val, oof: pd.DataFrame | None) -> None:
        """Fit what is calibrated on held-out rows (a regression's intervals)."""

    def check_spec(self, spec) -> None:
        """Also refuse monotone constraints or a scorecard's trends on columns that are not
        numeric features
        (:func:`finml.models.tabular.check_monotone`), and bins set by hand for columns that
        are not characteristics or of the other kind
        (:func:`finml.models.bin_edits.check_bin_edits`).

        Raises:
            SpecError: said plainly.
        """
        from finml.models.bin_edits import check_bin_edits, parse_bin_edits
        from finml.models.registry import parse_monotone, parse_names, parse_trends
        from finml.models.tabular import check_monotone

        super().check_spec(spec)
        ds = spec.dataset
        check_monotone(parse_monotone(spec.params.get("monotone", "")), ds.numeric)
        check_monotone(parse_trends(spec.params.get("trends", "")), ds.numeric, "Trends")
        edits = parse_bin_edits(spec.params.get("bin_edits", ""))
        check_bin_edits(edits, ds.numeric, ds.categorical)
        unknown = set(parse_names(spec.params.get("excluded", ""))) - {*ds.numeric, *ds.categorical}
        if unknown:
            raise SpecError(
                f"Characteristics left out: {listing(sorted(unknown), 3)} are not features of "
                "this dataset."
            )

    # -- the template ------------------------------------------------------------------------
    def raw(self, estimator, x: np.ndarray) -> np.ndarray:
        """The fitter's raw outputs of an estimator on preprocessed rows."""
        from finml.fitters.base import scores

        return scores(estimator, x, 2 if self.tags.classes else 0)

    def fit_data(self, spec, state, x_train, y_train, x_val, y_val, pre=None) -> FitData:
        """What the fitter gets: the arrays, the target as it learns it, the loss and the
        validation meter of this task, and the categories the preprocessor ``pre`` coded
        (:func:`finml.models.features.category_lists`)."""
        from finml.fitters.base import class_weight_dict

        k = self.n_classes(spec.dataset)
        weights = None
        if spec.class_weights and k:
            weights = class_weight_dict(y_train, k)
        live = None
        if y_val is not None and len(y_val) > LIVE_VAL_ROWS:
            live = sample(len(y_val), LIVE_VAL_ROWS, spec.seed)
        return FitData(
            x_train,
            self.fit_target(state, y_train),
            x_val,
            None if y_val is None else self.fit_target(state, y_val),
            live,
            n_classes=k,
            loss=self.loss,
            meter=self.meter(state),
            class_weight=weights,
            categories=None if pre is None else category_lists(pre, spec.dataset.categorical),
        )

    def train(
        self,
        spec,
        frame: pd.DataFrame,
        sink: Sink,
        should_stop: Callable[[], bool] = never_stop,
        *,
        explain: bool = True,
        progress_every_s: float = PROGRESS_EVERY_S,
    ) -> TrainResult:
        """Train ``spec`` on ``frame`` and evaluate once on the test split.

        Args:
            spec: the run spec (dataset choices, model, hyperparameters, seed, folds,
                trials).
            frame: the staged table, shape (n_rows, n_columns).
            sink: receives ``on_step`` with each epoch's (or iteration's) metrics, sampled
                to at most one call per ``progress_every_s`` (the held-back steps arrive at
                the end, so the sink ends up with every step; a step may come again with
                more metrics: merge by step), ``on_fold`` and ``on_trial``.
            should_stop: checked after every batch or iteration; True ends the run early,
                keeping what was trained.
            explain: also compute permutation importance (:meth:`explain`). The worker
                passes False and computes it after the test metrics are logged.
            progress_every_s: seconds between two progress calls (0: every step at once).

        Returns:
            TrainResult.

        Raises:
            TargetError: the target cannot be trained on.
            SplitError: the split (or the folds) cannot be made.
            SpecError: a model of another task, bad hyperparameters, or what the task
                does not support.
            DataError: feature columns missing.
        """
        from finml.fitters import get_fitter

        ds = spec.dataset
        self.check_spec(spec)
        params = resolve_params(spec.model, spec.params)
        y, strata = self.target(frame, ds)
        split = make_split(frame, strata, ds.split)
        report = self.split_report(frame, y, strata, split, ds)
        numeric, categorical = list(ds.numeric), list(ds.categorical)
        native = encoding_of(spec.model, params) == "native"  # its codes read Arrow's text
        X = prepare_features(frame, numeric, categorical, arrow_text=native)
        result = TrainResult(status="finished", steps=0, split=split, split_report=report)
        if should_stop():
            result.status = "stopped"
            return result
        fitter = get_fitter(spec.model)
        fit_rows, val_rows = split.train, split.val
        non_test = np.sort(np.concatenate([split.train, split.val]))
        if spec.tune_trials:
            result.tuning = self.search(spec, frame, X, y, strata, split, params, sink, should_stop)
            params = best_params_of(result.tuning)  # the best trial, refit below, tested once
            if params is None:
                result.status = "stopped"
                return result
        if spec.cv_folds:
            cv = cross_validate(
                self, spec, frame, X, y, strata, non_test, params, sink, should_stop
            )
            result.cv = cv
            if cv.stopped:
                result.status = "stopped"
                return result
            # The model behind the test metrics is refit on every non-test row, with no
            # validation rows left: a network trains for the folds' median best epochs.
            fit_rows, val_rows = non_test, None
            if fitter.family == "keras":
                params = {**params, "epochs": max(1, cv.best_steps)}
        pre, x_train, x_val = fit_preprocessing(
            X, numeric, categorical, params, fit_rows, val_rows, model=spec.model
        )
        state = self.target_state(y[fit_rows], params)
        y_val = None if val_rows is None else y[val_rows]
        data = self.fit_data(spec, state, x_train, y[fit_rows], x_val, y_val, pre)
        sampled = SampledSink(sink, progress_every_s)
        fit = fitter.fit(spec, params, data, sampled, should_stop)
        sampled.flush()
        result.steps = fit.steps
        result.status = "stopped" if fit.stopped else "finished"
        if fit.estimator is None:
            return result
        model = self.assemble(fit.estimator, pre, numeric, categorical, ds, state)
        rows = sample(len(fit_rows), PROFILE_ROWS, spec.seed)
        model.set_params(
            profile=training_profile(
                X.iloc[fit_rows],
                numeric,
                categorical,
                self.profile_scores(model, x_train[rows]),
                target=None if self.tags.classes else y[fit_rows],  # a number's range
            ),
            background=fit_background(x_train, spec.seed),
        )
        result.model = model
        if result.cv is not None:  # thresholds and intervals come from the out-of-fold rows
            result.val_predictions = result.cv.oof
            self.calibrate(model, X.iloc[non_test], y[non_test], result.cv.oof)
        else:
            raw = fit.val_output
            val_out = self.decode(state, raw) if raw is not None else self.output(model, x_val)
            result.val_predictions = self.predictions(split.val, y_val, val_out, ds)
            self.calibrate(model, X.iloc[split.val], y_val, None)
        # The test split is touched here, once, after training is over.
        test_out = self.output(model, model.transform(X.iloc[split.test]))
        result.test_predictions = self.predictions(split.test, y[split.test], test_out, ds)
        result.test_metrics = self.test_metrics(
            y[split.test], test_out, y_train=y[split.train], frame=frame, split=split, ds=ds
        )
        if explain:
            result.importance = self.explain(spec, frame, result)
        return result

    def search(self, spec, frame, X, y, strata, split, params, sink, should_stop):
        """The Optuna study of a run: each trial judged on the validation split's
        :attr:`~finml.tasks.base.TaskTags.search_metric`, or on its mean over the folds
        when the run is cross-validated (the pruner sees each fold)."""
        from finml.fitters import get_fitter

        tags, ds = self.tags, spec.dataset
        judged = {
            "metric": f"val_{tags.search_metric}",
            "step_key": tags.step_metric,
            "maximize": tags.higher_is_better,
        }
        if spec.cv_folds:
            non_test = np.sort(np.concatenate([split.train, split.val]))

            def by_folds(trial_params, reporter, stop):
                folds = _FoldsToPruner(reporter, tags.search_metric, tags.step_metric)
                cv = cross_validate(
                    self, spec, frame, X, y, strata, non_test, trial_params, folds, stop
                )
                value = None if cv.stopped else float(cv.folds[tags.search_metric].mean())
                return value, len(folds.seen)

            return tune(spec, params, by_folds, sink, should_stop, warmup_steps=1, **judged)

        fitter = get_fitter(spec.model)

        def on_validation(trial_params, reporter, stop):
            pre, x_train, x_val = fit_preprocessing(
                X,
                ds.numeric,
                ds.categorical,
                trial_params,
                split.train,
                split.val,
                model=spec.model,
            )
            state = self.target_state(y[split.train], trial_params)
            data = self.fit_data(spec, state, x_train, y[split.train], x_val, y[split.val], pre)
            fit = fitter.fit(spec, trial_params, data, reporter, stop)
            if fit.stopped or fit.estimator is None:
                return None, fit.steps
            raw = fit.val_output if fit.val_output is not None else self.raw(fit.estimator, x_val)
            return float(data.meter(data.y_val, raw)[tags.step_metric]), fit.steps

        return tune(spec, params, on_validation, sink, should_stop, **judged)

    def explain(self, spec, frame: pd.DataFrame, result: TrainResult) -> pd.DataFrame:
        """Permutation importance of a trained run on its validation rows (the out-of-fold
        rows of a cross-validated run): the drop of :attr:`importance_scoring` when one raw
        feature column is shuffled (:func:`finml.evaluation.explain.permutation_importances`).

        Returns:
            The importance table (empty if the run has no model).
        """
        if result.model is None:
            return pd.DataFrame()
        ds = spec.dataset
        val = result.val_predictions["row"].to_numpy()
        X_val = prepare_features(frame.iloc[val], list(ds.numeric), list(ds.categorical))
        y_val = result.val_predictions["y_true"].to_numpy()
        return permutation_importances(
            result.model, X_val, y_val, spec.seed, scoring=self.importance_scoring
        )

    def shap(self, spec, frame: pd.DataFrame, result: TrainResult):
        """SHAP values of a trained run on (a seeded sample of :data:`SHAP_ROWS`)
        validation rows: the run's SHAP summary, computed after the result is shown.

        Returns:
            (data-row positions, int64 (n,); their
            :class:`finml.evaluation.shap_values.ShapValues`), or ``None`` if the run has
            no model or the task no SHAP values.
        """
        if result.model is None or not self.tags.shap:
            return None
        val = result.val_predictions["row"].to_numpy()
        most = SHAP_ROWS[explainer_kind(result.model)]
        rows = val[sample(len(val), most, spec.seed)]
        return rows, explain_rows(result.model, frame.iloc[rows], seed=spec.seed)


class ClassTableTask(TableTask):
    """A table task whose model gives class probabilities (binary, multi-class): its
    fitted model is a :class:`~finml.models.pipeline.FittedModel` of
    :meth:`class_names`, whose class :meth:`positive` is the class of interest."""

    @abstractmethod
    def class_names(self, ds) -> tuple[str, ...]:
        """The model's classes, in the order of its probability columns."""

    @abstractmethod
    def positive(self, ds) -> int:
        """The index of the class of interest among :meth:`class_names`."""

    def assemble(self, estimator, pre, numeric, categorical, ds, state):
        """A :class:`~finml.models.pipeline.FittedModel` of the task's classes."""
        return FittedModel(
            estimator=estimator,
            preprocessor=pre,
            numeric=tuple(numeric),
            categorical=tuple(categorical),
            class_names=self.class_names(ds),
            positive=self.positive(ds),
        )

    def output(self, model, x):
        """Class probabilities, shape (n, k), float64."""
        return model.predict_proba_transformed(x)


class _FoldsToPruner(Sink):
    """Passes the running mean of the folds' metric to the pruner, one step per fold."""

    def __init__(self, reporter: Sink, key: str, step_key: str):
        self.reporter = reporter
        self.key = key
        self.step_key = step_key
        self.seen: list[float] = []

    def on_fold(self, fold: int, total: int, metrics: dict[str, float]) -> None:
        self.seen.append(metrics[self.key])
        self.reporter.on_step(fold, total, {self.step_key: float(np.mean(self.seen))})
