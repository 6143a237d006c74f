"""Multi-class classification of a table (a rating grade A-G, a product, a segment):
softmax probabilities of 3 to 20 classes, the k-class views, any class against the rest."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd

from finml.data.split import class_report
from finml.data.target import validate_classes
from finml.evaluation.metrics import image_metrics, multiclass_auc
from finml.tasks.table import TABLE_TAGS, ClassTableTask


def class_predictions(rows, y, proba, positive: int) -> pd.DataFrame:
    """Stored predictions of a k-class model: ``row``, ``y_true`` (class index), ``score``
    (the probability of class ``positive``) and ``p_<i>`` per class."""
    out = pd.DataFrame(
        {
            "row": np.asarray(rows).astype(np.int64),
            "y_true": np.asarray(y).astype(np.int64),
            "score": proba[:, positive].astype(np.float64),
        }
    )
    for i in range(proba.shape[1]):
        out[f"p_{i}"] = proba[:, i].astype(np.float64)
    return out


def positive_index(ds) -> int:
    """The class of the binary view (``ds.positive``), 0 if it is not one of the classes."""
    return ds.classes.index(ds.positive) if ds.positive in ds.classes else 0


class MulticlassTask(ClassTableTask):
    """3 to 20 classes: probabilities per class; test metrics accuracy, macro F1 and the
    one-vs-rest macro ROC-AUC (:func:`finml.evaluation.metrics.image_metrics`)."""

    name = "multiclass"
    label = "Multi-class classification"
    bundle_task = "table"
    importance_scoring = "roc_auc_ovr"
    probability_columns = True
    tiles = ("test_roc_auc", "test_accuracy", "test_macro_f1")
    tags = replace(
        TABLE_TAGS,
        headline="roc_auc",
        search_metric="roc_auc",
        step_metric="val_auc",
        fold_metrics=("roc_auc", "accuracy", "macro_f1"),
    )

    def n_classes(self, ds) -> int:
        """The dataset's classes."""
        return len(ds.classes)

    def target(self, frame, ds):
        """Class indices in ``ds.classes``, stratified on themselves."""
        y = validate_classes(frame[ds.target], tuple(ds.classes))
        return y, y

    def split_report(self, frame, y, strata, split, ds):
        """Rows per class and side (:func:`finml.data.split.class_report`)."""
        return class_report(y, tuple(ds.classes), split)

    def loss(self, y, raw) -> float:
        """Multinomial log loss."""
        from sklearn.metrics import log_loss

        return float(log_loss(y, raw, labels=range(raw.shape[1])))

    def meter(self, state):
        """``val_auc``: the one-vs-rest macro ROC-AUC."""
        return lambda y, raw: {"val_auc": multiclass_auc(y, raw)}

    def scores(self, y, out, ds) -> dict[str, float]:
        """Accuracy, macro F1 and ROC-AUC."""
        return image_metrics(y, out, positive_index(ds))

    def predictions(self, rows, y, out, ds) -> pd.DataFrame:
        """:func:`class_predictions`."""
        return class_predictions(rows, y, out, positive_index(ds))

    def class_names(self, ds) -> tuple[str, ...]:
        """The dataset's classes, in order."""
        return tuple(ds.classes)

    def positive(self, ds) -> int:
        """The class of interest (:func:`positive_index`)."""
        return positive_index(ds)

    def profile_scores(self, model, x):
        """The top class's probability."""
        return model.predict_proba_transformed(x).max(axis=1)
