"""Real training on the German Credit demo (small, seeded)."""

from __future__ import annotations

import numpy as np
import pytest

from finml.data.staging import load_staged
from finml.evaluation.metrics import binary_metrics
from finml.fitters.base import ListSink
from finml.tasks import train_spec


@pytest.mark.parametrize("model", ["logreg", "hgb", "mlp"])
def test_default_settings_reach_the_auc_floor(model, german_spec, german):
    spec = german_spec(model)
    sink = ListSink()
    result = train_spec(spec, load_staged(spec.dataset.dataset_id), sink)
    assert result.status == "finished"
    # a plain logistic regression gets ~0.79 in 5-fold CV on this data: 0.75 is a floor
    assert result.test_metrics["roc_auc"] >= 0.75, result.test_metrics
    assert len(result.test_predictions) == 200
    assert set(result.test_predictions["row"]) == set(result.split.test.tolist())
    recomputed = binary_metrics(
        result.test_predictions["y_true"].to_numpy(), result.test_predictions["score"].to_numpy()
    )
    assert recomputed["roc_auc"] == pytest.approx(result.test_metrics["roc_auc"])
    history = sink.history()
    assert len(history) and history[["loss", "val_loss"]].notna().all(axis=None)
    # ROC-AUC at up to 20 evenly spread steps (boosting), the last one among them
    auc = history.dropna(subset=["val_auc"])
    assert len(auc) == min(len(history), 20) and auc["step"].iloc[-1] == history["step"].max()
    # the fitted pipeline scores raw rows exactly as the stored test predictions
    rows = load_staged(spec.dataset.dataset_id).iloc[result.test_predictions["row"]]
    np.testing.assert_allclose(
        result.model.positive_score(rows), result.test_predictions["score"], rtol=1e-6
    )
    assert history["step"].is_monotonic_increasing and history["step"].iloc[0] == 1
