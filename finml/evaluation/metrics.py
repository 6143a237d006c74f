"""Binary and per-class metrics computed from stored scores (no model needed).

Conventions: ``y_true`` is an int array of 0/1 of shape (n,), 1 = positive class (the event,
e.g. a bad loan); ``score`` a float array of shape (n,) in [0, 1], the predicted probability
of the positive class; a row is predicted positive when ``score >= threshold``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from finml.data.spec import parse_list

#: Display names of the metrics returned by :func:`binary_metrics`, in table order.
METRIC_LABELS = {
    "accuracy": "Accuracy",
    "precision": "Precision (PPV)",
    "recall": "Recall (sensitivity)",
    "specificity": "Specificity",
    "npv": "NPV",
    "f1": "F1",
    "roc_auc": "ROC-AUC",
    "gini": "Gini",
    "ks": "KS statistic",
    "brier": "Brier score",
}


#: Metrics that do not depend on the threshold.
THRESHOLD_FREE = ("roc_auc", "gini", "ks", "brier")


def mean_sd(values) -> tuple[float, float]:
    """Mean and sample standard deviation (ddof 1; 0 for a single value) of per-fold values.

    Args:
        values: float array of shape (k,), k >= 1.
    """
    v = np.asarray(values, dtype=np.float64)
    return float(v.mean()), float(v.std(ddof=1)) if len(v) > 1 else 0.0


def confusion(y_true: np.ndarray, score: np.ndarray, threshold: float = 0.5) -> np.ndarray:
    """Confusion matrix at ``threshold``.

    Returns:
        np.ndarray: int64 array of shape (2, 2), ``[[TN, FP], [FN, TP]]`` (rows: true class
        0, 1; columns: predicted class 0, 1), as ``sklearn.metrics.confusion_matrix``.
    """
    from sklearn.metrics import confusion_matrix

    pred = (np.asarray(score) >= threshold).astype(int)
    return confusion_matrix(np.asarray(y_true).astype(int), pred, labels=[0, 1])


def ks_statistic(y_true: np.ndarray, score: np.ndarray) -> float:
    """Kolmogorov-Smirnov statistic: the largest gap ``max(TPR - FPR)`` between the
    cumulative score distributions of the two classes, read off
    ``sklearn.metrics.roc_curve`` (equal to ``scipy.stats.ks_2samp``'s statistic for a
    model that ranks events higher).

    Returns:
        float in [0, 1].
    """
    from sklearn.metrics import roc_curve

    fpr, tpr, _ = roc_curve(y_true, score)
    return float(np.max(tpr - fpr))


def threshold_free_metrics(y_true: np.ndarray, score: np.ndarray) -> dict[str, float]:
    """ROC-AUC, Gini (= 2 * AUC - 1), KS statistic and Brier score (mean squared error of
    the probabilities, ``sklearn.metrics.brier_score_loss``)."""
    from sklearn.metrics import brier_score_loss, roc_auc_score

    auc = float(roc_auc_score(y_true, score))
    return {
        "roc_auc": auc,
        "gini": 2 * auc - 1,
        "ks": ks_statistic(y_true, score),
        "brier": float(brier_score_loss(y_true, score)),
    }


def binary_metrics(
    y_true: np.ndarray, score: np.ndarray, threshold: float = 0.5
) -> dict[str, float]:
    """All metrics of :data:`METRIC_LABELS` at ``threshold``.

    Precision (PPV) = TP / (TP + FP), recall (sensitivity) = TP / (TP + FN),
    specificity = TN / (TN + FP), NPV = TN / (TN + FN); a ratio with an empty denominator
    is 0. F1 is the harmonic mean of precision and recall.

    Returns:
        dict: metric name -> value.
    """
    (tn, fp), (fn, tp) = confusion(y_true, score, threshold)
    rates = {k: float(v) for k, v in rates_from_counts(tn, fp, fn, tp).items()}
    return {**rates, **threshold_free_metrics(y_true, score)}


def rates_from_counts(tn, fp, fn, tp) -> dict[str, np.ndarray | float]:
    """Accuracy, precision (PPV), recall (sensitivity), specificity, NPV and F1 from the four
    cells of a confusion matrix; a ratio with an empty denominator is 0.

    Args:
        tn, fp, fn, tp: counts, scalars or float arrays of one shape (e.g. one per
            bootstrap resample).

    Returns:
        dict: metric name -> value, of the counts' shape.
    """
    tn, fp, fn, tp = (np.asarray(v, dtype=float) for v in (tn, fp, fn, tp))

    def ratio(a, b):
        return np.divide(a, b, out=np.zeros(np.broadcast(a, b).shape), where=b != 0)

    precision, recall = ratio(tp, tp + fp), ratio(tp, tp + fn)
    return {
        "accuracy": ratio(tp + tn, tp + tn + fp + fn),
        "precision": precision,
        "recall": recall,
        "specificity": ratio(tn, tn + fp),
        "npv": ratio(tn, tn + fn),
        "f1": ratio(2 * precision * recall, precision + recall),
    }


def roc_points(y_true: np.ndarray, score: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """ROC curve: (false-positive rates, true-positive rates), ``sklearn.metrics.roc_curve``."""
    from sklearn.metrics import roc_curve

    fpr, tpr, _ = roc_curve(y_true, score)
    return fpr, tpr


def pr_points(y_true: np.ndarray, score: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """Precision-recall curve: (recall, precision, average precision)."""
    from sklearn.metrics import average_precision_score, precision_recall_curve

    precision, recall, _ = precision_recall_curve(y_true, score)
    return recall, precision, float(average_precision_score(y_true, score))


def metrics_table(metrics: dict[str, float], cis: pd.DataFrame | None = None) -> pd.DataFrame:
    """Metrics as a table (``metric``, ``value`` and, given bootstrap intervals from
    :func:`finml.evaluation.bootstrap.metric_cis`, ``95% CI``) in :data:`METRIC_LABELS` order."""
    keys = [k for k in METRIC_LABELS if k in metrics]
    table = pd.DataFrame(
        {
            "metric": [METRIC_LABELS[k] for k in keys],
            "value": [round(float(metrics[k]), 4) for k in keys],
        }
    )
    if cis is not None:
        table["95% CI"] = [
            f"{cis.loc[k, 'lower']:.3f} – {cis.loc[k, 'upper']:.3f}" if k in cis.index else ""
            for k in keys
        ]
    return table


def multiclass_auc(y_true: np.ndarray, proba: np.ndarray) -> float:
    """ROC-AUC of class probabilities: of column 1 for two classes, else the one-vs-rest
    macro average (``sklearn.metrics.roc_auc_score(multi_class="ovr")``).

    Args:
        y_true: int class indices, shape (n,).
        proba: float probabilities, shape (n, k).
    """
    from sklearn.metrics import roc_auc_score

    if proba.shape[1] == 2:
        return float(roc_auc_score(y_true, proba[:, 1]))
    return float(
        roc_auc_score(
            y_true, proba, multi_class="ovr", average="macro", labels=np.arange(proba.shape[1])
        )
    )


def multiclass_confusion(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> np.ndarray:
    """Confusion matrix of k classes: int64 array (k, k), rows true, columns predicted."""
    from sklearn.metrics import confusion_matrix

    return confusion_matrix(y_true, y_pred, labels=np.arange(n_classes))


#: Per-class metrics (one-vs-rest): key in :func:`rates_from_counts` -> column name.
PER_CLASS = {
    "recall": "sensitivity",
    "specificity": "specificity",
    "precision": "PPV",
    "npv": "NPV",
    "f1": "F1",
}


def per_class_metrics(
    y_true: np.ndarray, proba: np.ndarray, classes: tuple[str, ...]
) -> pd.DataFrame:
    """Sensitivity, specificity, PPV, NPV and F1 of each class (one-vs-rest, predicted class
    = argmax of the probabilities), plus macro and weighted (by support) averages.

    Args:
        y_true: int class indices, shape (n,).
        proba: probabilities, shape (n, k).
        classes: class names.

    Returns:
        DataFrame indexed by class name (then ``macro avg``, ``weighted avg``) with columns
        ``sensitivity``, ``specificity``, ``PPV``, ``NPV``, ``F1``, ``support``.
    """
    cm = multiclass_confusion(y_true, proba.argmax(axis=1), len(classes))
    total = cm.sum()
    rows = {}
    for i, name in enumerate(classes):
        tp = cm[i, i]
        fn, fp = cm[i].sum() - tp, cm[:, i].sum() - tp
        rates = rates_from_counts(total - tp - fn - fp, fp, fn, tp)
        rows[name] = {label: float(rates[key]) for key, label in PER_CLASS.items()}
        rows[name]["support"] = int(cm[i].sum())
    table = pd.DataFrame.from_dict(rows, orient="index")
    metrics = list(PER_CLASS.values())
    support = table["support"].to_numpy()
    macro = {m: float(table[m].mean()) for m in metrics}
    weighted = {m: float(np.average(table[m], weights=support)) for m in metrics}
    table.loc["macro avg"] = {**macro, "support": int(support.sum())}
    table.loc["weighted avg"] = {**weighted, "support": int(support.sum())}
    table["support"] = table["support"].astype(int)
    return table


def image_metrics(y_true: np.ndarray, proba: np.ndarray, positive: int) -> dict[str, float]:
    """Headline metrics of a k-class classifier: accuracy, macro F1, ROC-AUC
    (:func:`multiclass_auc`) and, for two classes, :func:`binary_metrics` of the positive
    class at 0.5.

    Args:
        y_true: int class indices, shape (n,).
        proba: probabilities, shape (n, k).
        positive: index of the positive class (binary analyses).
    """
    from sklearn.metrics import accuracy_score, f1_score

    pred = proba.argmax(axis=1)
    out = {
        "accuracy": float(accuracy_score(y_true, pred)),
        "macro_f1": float(f1_score(y_true, pred, average="macro")),
        "roc_auc": multiclass_auc(y_true, proba),
    }
    if proba.shape[1] == 2:
        out.update(binary_metrics((y_true == positive).astype(int), proba[:, positive], 0.5))
    return out


def ovr_roc(y_true: np.ndarray, proba: np.ndarray) -> list[tuple[np.ndarray, np.ndarray, float]]:
    """One-vs-rest ROC curve of each class: [(fpr, tpr, auc), ...] in class order."""
    from sklearn.metrics import roc_auc_score, roc_curve

    out = []
    for i in range(proba.shape[1]):
        y = (y_true == i).astype(int)
        if y.min() == y.max():
            out.append((np.array([0.0, 1.0]), np.array([0.0, 1.0]), float("nan")))
            continue
        fpr, tpr, _ = roc_curve(y, proba[:, i])
        out.append((fpr, tpr, float(roc_auc_score(y, proba[:, i]))))
    return out


#: Cells of a binary confusion matrix: (true class, predicted class).
CELLS = {"TP": (1, 1), "FP": (0, 1), "FN": (1, 0), "TN": (0, 0)}


def cell_mask(y_true: np.ndarray, score: np.ndarray, threshold: float, cell: str) -> np.ndarray:
    """Rows in one cell (``"TP"``, ``"FP"``, ``"FN"``, ``"TN"``) of the confusion matrix at
    ``threshold``: a bool array of shape (n,)."""
    truth, predicted = CELLS[cell]
    return (np.asarray(y_true) == truth) & ((np.asarray(score) >= threshold) == bool(predicted))


def binary_view_of_run(
    params: dict[str, str], test: pd.DataFrame, val: pd.DataFrame, positive: str | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, tuple[str, str]]:
    """The binary view of a run's stored test and validation predictions. Tables: as
    stored. Image runs: one class (``positive``, default the run's positive class) against
    the rest, scored by that class's probability.

    Args:
        params: the run's logged parameters (``positive_class``, ``negative_class``,
            ``classes`` for image runs).
        test: stored test predictions (``y_true``, ``score``, and ``p_<i>`` for images).
        val: stored validation predictions, same columns.
        positive: the class to view against the rest (image runs).

    Returns:
        (test labels, test scores, validation labels, validation scores, (negative name,
        positive name)); labels int 0/1, scores float.
    """
    positive = positive or params.get("positive_class", "positive")
    classes = params.get("classes", "")
    if classes:
        names = parse_list(classes)
        pos = names.index(positive)
        negative = names[1 - pos] if len(names) == 2 else f"not {positive}"
        column = f"p_{pos}"
        return (
            (test["y_true"] == pos).to_numpy(int),
            test[column].to_numpy(float),
            (val["y_true"] == pos).to_numpy(int),
            val[column].to_numpy(float),
            (negative, positive),
        )
    negative = params.get("negative_class") or f"not {positive}"
    return (
        test["y_true"].to_numpy(int),
        test["score"].to_numpy(float),
        val["y_true"].to_numpy(int),
        val["score"].to_numpy(float),
        (negative, positive),
    )
