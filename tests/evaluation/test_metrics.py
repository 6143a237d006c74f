"""Metrics against hand computations and scikit-learn."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import f1_score, roc_auc_score, roc_curve

from finml.evaluation import metrics as evaluate
from finml.evaluation import thresholds

# A worked example: 4 positives, 6 negatives.
Y = np.array([1, 1, 1, 1, 0, 0, 0, 0, 0, 0])
S = np.array([0.9, 0.8, 0.4, 0.35, 0.7, 0.3, 0.2, 0.2, 0.1, 0.05])


def test_confusion_and_rates_by_hand():
    # at 0.5: TP = 2 (0.9, 0.8), FN = 2, FP = 1 (0.7), TN = 5
    assert evaluate.confusion(Y, S, 0.5).tolist() == [[5, 1], [2, 2]]
    m = evaluate.binary_metrics(Y, S, 0.5)
    assert m["accuracy"] == pytest.approx(7 / 10)
    assert m["precision"] == pytest.approx(2 / 3)
    assert m["recall"] == pytest.approx(2 / 4)
    assert m["specificity"] == pytest.approx(5 / 6)
    assert m["npv"] == pytest.approx(5 / 7)
    assert m["f1"] == pytest.approx(f1_score(Y, S >= 0.5))


def test_threshold_free_metrics_by_hand():
    m = evaluate.threshold_free_metrics(Y, S)
    # AUC = share of (positive, negative) pairs ranked correctly: 6 + 6 + 5 + 5 = 22 of 24
    assert m["roc_auc"] == pytest.approx(22 / 24)
    assert m["gini"] == pytest.approx(2 * 22 / 24 - 1)
    assert m["brier"] == pytest.approx(np.mean((S - Y) ** 2))
    fpr, tpr, _ = roc_curve(Y, S)
    assert m["ks"] == pytest.approx(np.max(tpr - fpr))  # KS = max(TPR - FPR)


def test_metrics_table():
    table = evaluate.metrics_table(evaluate.binary_metrics(Y, S))
    assert table["metric"].tolist()[0] == "Accuracy"
    assert "KS statistic" in table["metric"].tolist()


def test_per_class_metrics_by_hand():
    # 3 classes; predictions by argmax: true 0 -> [0, 0, 1], true 1 -> [1, 1], true 2 -> [2, 0]
    y = np.array([0, 0, 0, 1, 1, 2, 2])
    pred = np.array([0, 0, 1, 1, 1, 2, 0])
    proba = np.eye(3)[pred] * 0.8 + 0.2 / 3
    table = evaluate.per_class_metrics(y, proba, ("a", "b", "c"))
    a = table.loc["a"]  # TP 2, FN 1, FP 1, TN 3
    assert (a["sensitivity"], a["specificity"], a["PPV"], a["NPV"]) == pytest.approx(
        (2 / 3, 3 / 4, 2 / 3, 3 / 4)
    )
    assert a["F1"] == pytest.approx(2 / 3)
    assert table.loc["b", "sensitivity"] == 1.0 and table.loc["c", "PPV"] == 1.0
    assert table.loc["macro avg", "sensitivity"] == pytest.approx((2 / 3 + 1 + 1 / 2) / 3)
    weighted = (3 * 2 / 3 + 2 * 1 + 2 * 1 / 2) / 7
    assert table.loc["weighted avg", "sensitivity"] == pytest.approx(weighted)
    assert table.loc["weighted avg", "support"] == 7
    cm = evaluate.multiclass_confusion(y, pred, 3)
    assert cm.tolist() == [[2, 1, 0], [0, 2, 0], [1, 0, 1]]


def test_multiclass_auc_and_ovr_curves_match_sklearn():
    rng = np.random.default_rng(3)
    y = rng.integers(0, 3, 300)
    proba = rng.dirichlet(np.ones(3), 300) + np.eye(3)[y] * 0.5
    proba /= proba.sum(axis=1, keepdims=True)
    assert evaluate.multiclass_auc(y, proba) == pytest.approx(
        roc_auc_score(y, proba, multi_class="ovr")
    )
    aucs = [auc for _, _, auc in evaluate.ovr_roc(y, proba)]
    assert np.mean(aucs) == pytest.approx(evaluate.multiclass_auc(y, proba))
    m = evaluate.image_metrics(y, proba, positive=1)
    assert set(m) == {"accuracy", "macro_f1", "roc_auc"}  # no binary pack for 3 classes


def test_cell_masks_partition_the_rows_like_the_confusion_matrix():
    (tn, fp), (fn, tp) = evaluate.confusion(Y, S, 0.5)
    masks = {c: evaluate.cell_mask(Y, S, 0.5, c) for c in evaluate.CELLS}
    assert [int(masks[c].sum()) for c in ("TN", "FP", "FN", "TP")] == [tn, fp, fn, tp]
    assert np.sum(list(masks.values()), axis=0).tolist() == [1] * len(Y)
    assert S[masks["FP"]].tolist() == [0.7]


def test_binary_view_of_table_and_image_runs():
    import pandas as pd

    test = pd.DataFrame(
        {"y_true": [0, 1, 2, 1], "score": [0.2, 0.7, 0.1, 0.6]}
        | {f"p_{i}": [0.1 * (i + 1)] * 4 for i in range(3)}
    )
    val = test.iloc[[2, 0]]
    params = {"classes": "a,b,c", "positive_class": "b"}
    y, s, vy, vs, labels = evaluate.binary_view_of_run(params, test, val)
    assert vs.tolist() == [0.2, 0.2]
    assert (y.tolist(), vy.tolist(), labels) == ([0, 1, 0, 1], [0, 0], ("not b", "b"))
    assert s.tolist() == [0.2] * 4  # p_1: the chosen class's probability
    y, s, _, _, labels = evaluate.binary_view_of_run(params, test, val, positive="c")
    assert y.tolist() == [0, 0, 1, 0] and s.tolist() == pytest.approx([0.3] * 4)
    table = test[["y_true", "score"]].clip(upper=1)
    y, s, _, _, labels = evaluate.binary_view_of_run(
        {"positive_class": "bad", "negative_class": "good"}, table, table
    )
    assert labels == ("good", "bad") and y.tolist() == [0, 1, 1, 1]
    assert s.tolist() == [0.2, 0.7, 0.1, 0.6]
    assert thresholds.expected_cost(np.array([[5, 1], [2, 2]]), 1, 5) == pytest.approx(1.1)


def test_rates_from_counts_work_on_arrays_and_empty_denominators():
    rates = evaluate.rates_from_counts(np.array([5, 0]), np.array([1, 0]), 2, np.array([2, 0]))
    assert rates["precision"].tolist() == pytest.approx([2 / 3, 0.0])
    assert rates["npv"].tolist() == pytest.approx([5 / 7, 0.0])


def test_mean_and_sample_sd_over_folds():
    from finml.evaluation.metrics import mean_sd

    assert mean_sd([1.0, 2.0, 3.0]) == (2.0, 1.0)  # sd with ddof 1
    assert mean_sd([0.7]) == (0.7, 0.0)  # one fold: no spread, not NaN
