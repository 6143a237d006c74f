"""What a task is: a name in the one word set, the tags that say what it supports (in the
spirit of scikit-learn's ``__sklearn_tags__``), and the result of one training run.

Pages, jobs, bundles, the store and reporting ask a task (:func:`finml.tasks.get_task`)
what it supports and how its runs are ranked, never compare task names.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field

import pandas as pd

from finml.data.split import Split
from finml.errors import SpecError


@dataclass(frozen=True)
class TaskTags:
    """What a task supports and how its runs are judged.

    Attributes:
        cross_validation: k-fold cross-validation of the training and validation rows (a
            rolling-origin backtest for forecasting).
        tuning: an Optuna search of the hyperparameters.
        shap: SHAP values of its runs (a summary on Evaluate, reasons on Predict).
        importance: permutation importance of its runs.
        intervals: prediction intervals (split-conformal).
        classes: it predicts classes (probabilities, a threshold, a confusion matrix); else
            a number.
        threshold: a decision threshold on one class's probability (two classes).
        headline: the test metric its runs are ranked on (``roc_auc``, ``rmse``, ``mase``).
        higher_is_better: a larger headline is better.
        ranks_on_validation: a run without cross-validation is ranked on the headline over
            its validation rows or origins (metric ``validation_<headline>``, where the run
            logged one), not over the test ones: ranking runs on the test split selects on
            it.
        search_metric: the metric a search is judged on, on the validation rows or the
            folds (``roc_auc``, ``rmse``, ``mase``); the trials table calls it
            ``val_<name>``.
        step_metric: the validation metric of the learning curves, per step (``val_auc``,
            ``val_rmse``): what the search's pruner sees.
        fold_metrics: the metrics each cross-validation fold reports (``fold_<name>``).
        fairness: protected attributes can be marked for a fair-lending analysis of its
            decisions (approval rates and adverse impact ratios by group).
    """

    cross_validation: bool = False
    tuning: bool = False
    shap: bool = False
    importance: bool = False
    intervals: bool = False
    classes: bool = True
    threshold: bool = False
    headline: str = "roc_auc"
    higher_is_better: bool = True
    ranks_on_validation: bool = False
    search_metric: str = "roc_auc"
    step_metric: str = "val_auc"
    fold_metrics: tuple[str, ...] = ()
    fairness: bool = False


@dataclass
class TrainResult:
    """What one training run produced.

    Attributes:
        status: ``"finished"`` or ``"stopped"`` (a stop request ended it early).
        steps: epochs (or boosting iterations, fitted steps) completed.
        split: the row positions of each side.
        split_report: the audit table of the split.
        model: the fitted model (``None`` if stopped before any step).
        val_predictions: the validation rows' predictions (the task's columns: ``row``,
            ``y_true`` and ``score`` / ``p_<i>`` or ``y_pred``); out-of-fold predictions
            with a ``fold`` column for a cross-validated run.
        test_predictions: the same columns for the test split (empty if no model).
        test_metrics: headline metrics on the test split.
        importance: permutation importance on the validation split (tables).
        cv: the cross-validation (:class:`finml.tasks.cv.CVResult`) or backtest of a run
            that asked for one; then the model was refit on every non-test row.
        tuning: the Optuna study (:class:`finml.tasks.tuning.TuneResult`) of a run that
            asked for one; the model was refit with its best parameters.
        records: other JSON records of the run, by artifact name (a forecast's choice of
            members: ``forecast_choice.json``).
        validation_metrics: headline metrics on the validation split, logged as
            ``validation_<key>`` (a task that ranks on them, :attr:`TaskTags.ranks_on_validation`).
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
    records: dict = field(default_factory=dict)
    validation_metrics: dict[str, float] = field(default_factory=dict)


class Task(ABC):
    """A kind of target finml trains on. Subclasses set the class attributes and
    implement :meth:`train`; :class:`finml.tasks.table.TableTask` is the one template of
    a table run.

    Attributes:
        name: the task's word (stored in run parameters, dataset specs and tags).
        label: what the pages call it.
        data_kind: ``"table"`` or ``"images"``: what its dataset is and how it is staged.
        bundle_task: the ``task`` field of its bundles' ``meta.json`` (bundle format 2's
            own vocabulary: ``"table"`` for two or more classes of a table).
        evaluation: how its stored predictions are read: ``"classes"`` (probabilities per
            row), ``"values"`` (a number per row) or ``"forecasts"`` (long-form forecasts
            per origin and step); tasks that share one share the evaluation code.
        domain: whose words its pages speak: ``"credit"`` (approve, refuse) or
            ``"medical"`` (sensitivity at a specificity, clinical operating points).
        probability_columns: its predictions hold ``p_<i>`` for every class.
        cv_label: what its cross-validation is called on the pages.
        tiles: the test metrics shown as tiles when a run ends, in order (a run shows
            the first :attr:`n_tiles` it logged).
        n_tiles: most tiles a run shows.
        tile_labels: its own labels of tile metrics (over
            :data:`finml.reporting.runs.HEADLINE`'s).
        tags: what it supports (:class:`TaskTags`).
    """

    name = ""
    label = ""
    data_kind = "table"
    bundle_task = ""
    evaluation = "classes"
    domain = "credit"
    probability_columns = False
    cv_label = "cross-validation"
    tiles: tuple[str, ...] = ()
    n_tiles = 5
    tile_labels: dict[str, str] = {}  # noqa: RUF012 (read-only)
    tags = TaskTags()

    def __repr__(self) -> str:
        return f"<task {self.name}>"

    def check_model(self, model: str) -> None:
        """Refuse a model that does not serve this task.

        Raises:
            SpecError: unknown model, or one of another task.
        """
        from finml.models.registry import get_model

        info = get_model(model)
        if self.name not in info.tasks:
            raise SpecError(f"{info.label} does not do {self.label.lower()}; choose one that does.")

    def check_spec(self, spec) -> None:
        """Refuse what this task does not support (cross-validation, tuning) and a model of
        another task.

        Raises:
            SpecError: said plainly.
        """
        from finml.fitters import get_fitter

        self.check_model(spec.model)
        get_fitter(spec.model).check(spec)
        if spec.cv_folds and not self.tags.cross_validation:
            raise SpecError(f"Cross-validation is not offered for {self.label.lower()}.")
        if spec.tune_trials and not self.tags.tuning:
            raise SpecError(f"Tuning is not offered for {self.label.lower()}.")

    def load(self, dataset_id: str, settings):
        """The staged data of a run (a table, or the arrays of an image set)."""
        from finml.data.staging import load_staged

        return load_staged(dataset_id, settings)

    def log_inputs(self, store, run_id: str, spec, data, settings) -> None:
        """Record the run's training table as an MLflow dataset input (name, digest of the
        staged file, schema: :meth:`finml.store.RunStore.log_dataset`), for lineage."""
        from finml.data.staging import dataset_digest

        digest = dataset_digest(spec.dataset.dataset_id, settings)
        store.log_dataset(run_id, data, spec.dataset.name, spec.dataset.target, digest)

    @abstractmethod
    def train(self, spec, data, sink, should_stop, *, explain: bool = True, **options):
        """Train ``spec`` on its staged ``data`` and evaluate once on the test split.

        Returns:
            TrainResult.
        """

    def explain(self, spec, data, result: TrainResult) -> pd.DataFrame:
        """Permutation importance of a trained run (empty: the task has none)."""
        return pd.DataFrame()

    def shap(self, spec, data, result: TrainResult):
        """(data-row positions, :class:`finml.evaluation.shap_values.ShapValues`) of a
        trained run's validation rows, or ``None``: the task has no SHAP values."""
        return None

    def headline(self, metrics: dict[str, float]) -> float | None:
        """The run's value of :attr:`TaskTags.headline` (the cross-validated mean where the
        run has one, else the validation value where the task ranks on it and the run has
        one, else the test value), or ``None``."""
        h = self.tags.headline
        keys = (f"cv_{h}_mean", *((f"validation_{h}",) if self.tags.ranks_on_validation else ()))
        for key in (*keys, f"test_{h}"):
            if key in metrics:
                return metrics[key]
        return None
