"""Image classification (scans, photos): a group-aware split (a patient or a near-duplicate
group on one side), the image CNNs trained on ``tf.data`` (:mod:`finml.fitters.vision`),
the per-class metrics and Grad-CAM. Importing this module does not import TensorFlow."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from finml.data.split import class_report, make_split
from finml.errors import DataError, listing
from finml.evaluation.metrics import image_metrics, multiclass_auc
from finml.fitters.base import FitData, Sink, class_weight_dict, never_stop
from finml.models.pipeline import FittedModel
from finml.models.registry import resolve_params
from finml.tasks.base import Task, TaskTags, TrainResult
from finml.tasks.multiclass import MulticlassTask, class_predictions
from finml.tasks.tuning import best_params_of, tune


def encode_labels(labels: np.ndarray, classes: tuple[str, ...]) -> np.ndarray:
    """Class indices (int64, shape (n,)) of ``labels`` in ``classes``.

    Raises:
        DataError: a label is not one of ``classes``.
    """
    index = {c: i for i, c in enumerate(classes)}
    unknown = sorted(set(labels.tolist()) - set(index))
    if unknown:
        raise DataError(
            f"Labels {listing(unknown, 5)} are not among the classes {listing(classes)}."
        )
    return np.array([index[v] for v in labels.tolist()], dtype=np.int64)


class ImageTask(Task):
    """Two or more classes of images; the binary view of the positive class on Evaluate;
    test metrics accuracy, macro F1, ROC-AUC (and the binary ones for two classes)."""

    name = "images"
    label = "Image classification"
    data_kind = "images"
    bundle_task = "images"
    domain = "medical"
    probability_columns = True
    #: a medical field's tiles: no credit scorecard measures (Gini, KS)
    tiles = ("test_roc_auc", "test_accuracy", "test_macro_f1", "test_brier")
    tags = TaskTags(
        tuning=True,
        classes=True,
        threshold=True,
        headline="roc_auc",
        search_metric="roc_auc",
        step_metric="val_auc",
    )

    def load(self, dataset_id: str, settings):
        """The staged image set's arrays (:func:`finml.data.staging.load_staged_images`),
        and under ``cache_prefix`` where what is computed from them may be cached."""
        from finml.data.staging import cache_prefix, load_staged_images

        arrays = load_staged_images(dataset_id, settings)
        return {**arrays, "cache_prefix": cache_prefix(dataset_id, settings)}

    def log_inputs(self, store, run_id: str, spec, data, settings) -> None:
        """Nothing: an image set is not a table MLflow's dataset inputs describe."""

    def fit_data(self, spec, images, y, split) -> FitData:
        """The training and validation images (or what the model family computes from
        them), their labels, the log loss, and ROC-AUC as the meter."""
        k = len(spec.dataset.classes)
        weights = class_weight_dict(y[split.train], k) if spec.class_weights else None
        return FitData(
            images[split.train],
            y[split.train],
            images[split.val],
            y[split.val],
            n_classes=k,
            loss=MulticlassTask().loss,  # the multinomial log loss over the k classes
            meter=lambda y_val, proba: {"val_auc": multiclass_auc(y_val, proba)},
            class_weight=weights,
        )

    def train(
        self,
        spec,
        data: dict[str, np.ndarray],
        sink: Sink,
        should_stop: Callable[[], bool] = never_stop,
        *,
        explain: bool = False,
        **options,
    ) -> TrainResult:
        """Train ``spec`` (an image model) on a staged image set and evaluate once on test.

        Args:
            spec: run spec with an :class:`~finml.data.spec.ImageDatasetSpec`.
            data: arrays from :func:`finml.data.staging.load_staged_images`.
            sink: receives ``on_step`` after each epoch (loss, val_loss, val_auc), and
                ``on_trial`` after each trial of a search.
            should_stop: checked after every batch.
            explain: unused (image runs are explained by Grad-CAM, on demand).

        Returns:
            TrainResult (``test_metrics`` from
            :func:`finml.evaluation.metrics.image_metrics`).

        Raises:
            DataError, SplitError, SpecError: bad labels, an impossible split, bad
                parameters, a model of another task.
        """
        from finml.fitters import get_fitter

        ds = spec.dataset
        self.check_spec(spec)
        params = resolve_params(spec.model, spec.params)
        y = encode_labels(data["labels"], ds.classes)
        groups = data["groups"]
        split = make_split(pd.DataFrame({"group": groups}), y, ds.split)
        report = class_report(y, ds.classes, split, groups if ds.split.group_col else None)
        result = TrainResult(status="finished", steps=0, split=split, split_report=report)
        if should_stop():
            result.status = "stopped"
            return result
        fitter = get_fitter(spec.model)
        images = fitter.image_inputs(spec, data, sink, should_stop)  # or their ImageNet features
        if images is None:
            result.status = "stopped"
            return result
        fit_data = self.fit_data(spec, images, y, split)
        if spec.tune_trials:

            def score(trial_params, reporter, stop):
                fit = fitter.fit(spec, trial_params, fit_data, reporter, stop)
                if fit.stopped or fit.estimator is None:
                    return None, fit.steps
                model = FittedModel(estimator=fit.estimator, class_names=ds.classes)
                proba = fitter.image_proba(model, images[split.val])
                return float(multiclass_auc(y[split.val], proba)), fit.steps

            result.tuning = tune(spec, params, score, sink, should_stop)
            params = best_params_of(result.tuning)  # the best trial, refit here, tested once
            if params is None:
                result.status = "stopped"
                return result
        fit = fitter.fit(spec, params, fit_data, sink, should_stop)
        result.steps, result.status = fit.steps, "stopped" if fit.stopped else "finished"
        if fit.estimator is None:
            return result
        positive = ds.classes.index(ds.positive)
        result.model = FittedModel(
            estimator=fit.estimator, class_names=ds.classes, positive=positive
        )
        val_proba = fitter.image_proba(result.model, images[split.val])
        result.val_predictions = class_predictions(split.val, y[split.val], val_proba, positive)
        # The test split is touched here, once, after training is over.
        test_proba = fitter.image_proba(result.model, images[split.test])
        result.test_predictions = class_predictions(split.test, y[split.test], test_proba, positive)
        result.test_metrics = image_metrics(y[split.test], test_proba, positive)
        return result
