"""The run spec: everything a worker needs to train one model, as plain JSON."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field

from finml.data.spec import DatasetSpec, ImageDatasetSpec, dataset_spec_from_dict, format_list
from finml.data.split import cv_kind


@dataclass(frozen=True)
class RunSpec:
    """Everything a worker needs to train one model.

    Attributes:
        dataset: the dataset spec.
        model: a name from :func:`finml.models.registry.model_names`.
        params: hyperparameters (resolved, see :func:`finml.models.registry.resolve_params`).
        class_weights: weight classes inversely to their frequency in the training split.
        seed: random seed of model initialisation and shuffling.
        cv_folds: 0 for none, else k-fold cross-validation (2 to 20) on the training and
            validation rows (:mod:`finml.tasks.cv`) before the refit that is tested.
        tune_trials: 0 for none, else the trial budget of an Optuna search
            (:mod:`finml.tasks.tuning`) before the refit that is tested.
        tune_minutes: the study's time budget in minutes (0: trials alone bound it).
        gpus: GPUs the run asks of a Ray cluster (0 or 1; Keras models only; the local
            executor trains on the CPU).
    """

    dataset: DatasetSpec | ImageDatasetSpec
    model: str
    params: dict = field(default_factory=dict)
    class_weights: bool = False
    seed: int = 42
    cv_folds: int = 0
    tune_trials: int = 0
    tune_minutes: float = 0.0
    gpus: int = 0

    @property
    def task(self) -> str:
        """The name of the run's task (:data:`finml.tasks.TASKS`): the dataset's."""
        return self.dataset.task

    def run_params(self) -> dict[str, object]:
        """What the run store records of this spec as the run's parameters: model, task,
        dataset, positive class, seed, split, the classes or target, and ``hp.<name>`` for
        each hyperparameter."""
        ds = self.dataset
        params = {
            "model": self.model,
            "task": self.task,
            "dataset": ds.name,
            "dataset_id": ds.dataset_id,
            "positive_class": ds.positive,
            "seed": self.seed,
            "class_weights": self.class_weights,
            "cv_folds": self.cv_folds,
            "tune_trials": self.tune_trials,
            "tune_minutes": self.tune_minutes,
            "split": f"{ds.split.train}/{ds.split.val}/{ds.split.test}",
            "group_col": ds.split.group_col or "",
            "time_col": ds.split.time_col or "",
            **{f"hp.{k}": v for k, v in self.params.items()},
        }
        if self.gpus:
            params["gpus"] = self.gpus
        if isinstance(ds, ImageDatasetSpec):
            params.update(classes=format_list(ds.classes), image_size=ds.size, image_mode=ds.mode)
            return params
        params.update(
            target=ds.target,
            negative_class=ds.class_labels[0] if not ds.classes and ds.positive else "",
            n_numeric=len(ds.numeric),
            n_categorical=len(ds.categorical),
            cv_kind=cv_kind(ds.split) if self.cv_folds else "",
        )
        if ds.classes:
            params["classes"] = format_list(ds.classes)
        if ds.protected:
            params["protected"] = format_list(ds.protected)
        if ds.unit:
            params["unit"] = ds.unit
        if ds.horizon:
            params.update(entity_col=ds.entity_col, exog=format_list(ds.exog))
        if ds.known:
            params["known"] = format_list(ds.known)
        return params

    def run_tags(self) -> dict[str, str]:
        """The run's tags in the store: model, dataset, model family and task.

        Raises:
            SpecError: unknown model.
        """
        from finml.models.registry import get_model

        return {
            "finml.model": self.model,
            "finml.dataset": self.dataset.name,
            "finml.family": get_model(self.model).family,
            "finml.task": self.task,
        }

    def to_json(self) -> str:
        """Serialise to JSON text."""
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> RunSpec:
        """Parse what :meth:`to_json` wrote."""
        raw = json.loads(text)
        raw["dataset"] = dataset_spec_from_dict(raw["dataset"])
        return cls(**raw)


def spec_again(run_params: dict, dataset, **changes) -> RunSpec:
    """A new run's spec: a logged run's model, hyperparameters and settings (seed, class
    weights, folds, tuning) on ``dataset``, with the hyperparameters in ``changes`` set.

    Args:
        run_params: the logged run's parameters (text, as the run store keeps them).
        dataset: the dataset spec of the new run (the staged data the run may reach).
        **changes: hyperparameter name -> value.

    Returns:
        RunSpec: a hyperparameter the record no longer holds in a readable form takes its
        default; the settings are read as whole numbers within their ranges, else their
        defaults (seed 42, no folds, no tuning).

    Raises:
        SpecError: an unknown model, or a change that is not a valid value.
    """
    from finml.models.registry import logged_params, resolve_params

    model = str(run_params.get("model", ""))
    params = resolve_params(model, {**logged_params(model, run_params), **changes})

    def whole(key: str, low: int, high: int, default: int) -> int:
        try:
            value = int(float(run_params.get(key) or default))
        except (TypeError, ValueError, OverflowError):
            return default
        return value if low <= value <= high else default

    try:
        minutes = min(max(float(run_params.get("tune_minutes") or 0), 0.0), 600.0)
    except (TypeError, ValueError):
        minutes = 0.0
    folds, trials = whole("cv_folds", 2, 20, 0), whole("tune_trials", 2, 500, 0)
    return RunSpec(
        dataset,
        model,
        params,
        class_weights=run_params.get("class_weights") == "True",
        seed=whole("seed", 0, 2**31 - 1, 42),
        cv_folds=folds,
        tune_trials=trials,
        tune_minutes=minutes if trials else 0.0,
        gpus=whole("gpus", 0, 1, 0),
    )
