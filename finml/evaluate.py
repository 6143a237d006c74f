"""Binary-classification metrics and curves, computed from stored scores (no model needed).

Conventions: ``y_true`` is an int array of 0/1 of shape (n,), 1 = positive class (the event,
e.g. a bad loan); ``score`` a float array of shape (n,) in [0, 1], the predicted probability
of the positive class; a row is predicted positive when ``score >= threshold``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

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
    """Kolmogorov-Smirnov statistic: the largest gap between the score distributions of the
    two classes (``scipy.stats.ks_2samp``), equal to ``max(TPR - FPR)`` over thresholds.

    Returns:
        float in [0, 1].
    """
    from scipy.stats import ks_2samp

    y = np.asarray(y_true).astype(bool)
    s = np.asarray(score, dtype=float)
    return float(ks_2samp(s[y], s[~y]).statistic)


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
    return {**rates_from_counts(tn, fp, fn, tp), **threshold_free_metrics(y_true, score)}


def rates_from_counts(tn: float, fp: float, fn: float, tp: float) -> dict[str, float]:
    """Accuracy, precision (PPV), recall (sensitivity), specificity, NPV and F1 from the four
    cells of a confusion matrix; a ratio with an empty denominator is 0."""

    def ratio(a: float, b: float) -> float:
        return float(a / b) if b else 0.0

    precision, recall = ratio(tp, tp + fp), ratio(tp, tp + fn)
    return {
        "accuracy": ratio(tp + tn, tp + tn + fp + fn),
        "precision": precision,
        "recall": recall,
        "specificity": ratio(tn, tn + fp),
        "npv": ratio(tn, tn + fn),
        "f1": ratio(2 * precision * recall, precision + recall),
    }


def youden_threshold(y_true: np.ndarray, score: np.ndarray) -> float:
    """Threshold that maximises Youden's J = sensitivity + specificity - 1 (Youden 1950).

    Call it on validation scores, never on the test split.

    Returns:
        float in [0, 1].
    """
    from sklearn.metrics import roc_curve

    fpr, tpr, thr = roc_curve(y_true, score)
    best = int(np.argmax(tpr - fpr))
    return float(np.clip(thr[best], 0.0, 1.0))


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
    :func:`finml.decision.metric_cis`, ``95% CI``) in :data:`METRIC_LABELS` order."""
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


def operating_point(y_true: np.ndarray, score: np.ndarray, threshold: float) -> tuple[float, float]:
    """(false-positive rate, true-positive rate) at ``threshold``, for marking the ROC curve."""
    (tn, fp), (fn, tp) = confusion(y_true, score, threshold)
    return (fp / (fp + tn) if fp + tn else 0.0, tp / (tp + fn) if tp + fn else 0.0)


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
        fn = cm[i].sum() - tp
        fp = cm[:, i].sum() - tp
        tn = total - tp - fn - fp

        def ratio(a, b):
            return float(a / b) if b else 0.0

        sens, ppv = ratio(tp, tp + fn), ratio(tp, tp + fp)
        rows[name] = {
            "sensitivity": sens,
            "specificity": ratio(tn, tn + fp),
            "PPV": ppv,
            "NPV": ratio(tn, tn + fn),
            "F1": ratio(2 * sens * ppv, sens + ppv),
            "support": int(cm[i].sum()),
        }
    table = pd.DataFrame.from_dict(rows, orient="index")
    metrics = ["sensitivity", "specificity", "PPV", "NPV", "F1"]
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
    params: dict[str, str], test: pd.DataFrame, val: pd.DataFrame
) -> tuple[np.ndarray, np.ndarray, tuple[str, str]]:
    """The binary labels of a run's stored test and validation predictions, and the display
    names of class 0 and 1. Tables: as stored. Image runs: the positive class against the
    rest (``params["classes"]``).

    Returns:
        (test labels, validation labels, (negative name, positive name)); int arrays.
    """
    positive = params.get("positive_class", "positive")
    classes = params.get("classes", "")
    if classes:
        names = classes.split(",")
        pos = names.index(positive)
        negative = names[1 - pos] if len(names) == 2 else f"not {positive}"
        y, val_y = (test["y_true"] == pos), (val["y_true"] == pos)
    else:
        negative = params.get("negative_class") or f"not {positive}"
        y, val_y = test["y_true"], val["y_true"]
    return y.to_numpy(int), val_y.to_numpy(int), (negative, positive)


def expected_cost(cm: np.ndarray, cost_fp: float, cost_fn: float) -> float:
    """Expected cost per case of a 2x2 confusion matrix ``[[TN, FP], [FN, TP]]``."""
    return float((cost_fp * cm[0, 1] + cost_fn * cm[1, 0]) / cm.sum())
