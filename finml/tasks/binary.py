"""Binary classification of a table (a credit default, a diagnosis): the probability of
the positive class, a decision threshold, the credit pack, SHAP reason codes."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd

from finml.data.split import split_report
from finml.data.target import validate_target
from finml.evaluation.metrics import THRESHOLD_FREE, binary_metrics
from finml.tasks.table import TABLE_TAGS, ClassTableTask


class BinaryTask(ClassTableTask):
    """Two classes: the model gives the positive class's probability ``score``; the test
    metrics are :func:`finml.evaluation.metrics.binary_metrics` at 0.5 (Evaluate moves the
    threshold)."""

    name = "binary"
    label = "Binary classification"
    bundle_task = "table"
    importance_scoring = "roc_auc"
    tiles = ("test_roc_auc", "test_gini", "test_ks", "test_brier")
    tags = replace(
        TABLE_TAGS,
        threshold=True,
        headline="roc_auc",
        search_metric="roc_auc",
        step_metric="val_auc",
        fold_metrics=THRESHOLD_FREE,
        fairness=True,
    )

    def target(self, frame, ds):
        """0/1 labels (1: the positive class), stratified on themselves."""
        y = validate_target(frame, ds.target, ds.positive)
        return y, y

    def split_report(self, frame, y, strata, split, ds):
        """Rows and positives per side (:func:`finml.data.split.split_report`)."""
        return split_report(frame, y, split, ds.split)

    def loss(self, y, raw) -> float:
        """Log loss of the positive class's probability."""
        from sklearn.metrics import log_loss

        return float(log_loss(y, raw[:, 1], labels=[0, 1]))

    def meter(self, state):
        """``val_auc``: ROC-AUC of the positive class's probability."""
        from sklearn.metrics import roc_auc_score

        return lambda y, raw: {"val_auc": float(roc_auc_score(y, raw[:, 1]))}

    def scores(self, y, out, ds) -> dict[str, float]:
        """:func:`finml.evaluation.metrics.binary_metrics` at threshold 0.5."""
        return binary_metrics(y, out[:, 1], 0.5)

    def fold_counts(self, y) -> dict[str, int]:
        """Positives of a fold."""
        return {"positives": int(y.sum())}

    def predictions(self, rows, y, out, ds) -> pd.DataFrame:
        """``row``, ``y_true`` (0/1) and ``score`` (the positive class's probability)."""
        return pd.DataFrame(
            {"row": rows.astype(np.int64), "y_true": y.astype(np.int8), "score": out[:, 1]}
        )

    def class_names(self, ds) -> tuple[str, ...]:
        """The negative class, then the positive (``ds.class_labels``)."""
        return tuple(ds.class_labels)

    def positive(self, ds) -> int:
        """Class 1 is the positive."""
        return 1

    def profile_scores(self, model, x):
        """The positive class's probability."""
        return model.predict_proba_transformed(x)[:, 1]
