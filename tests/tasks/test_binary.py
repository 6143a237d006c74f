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


def test_the_training_profile_reads_a_seeded_sample_of_training_rows(german_spec, monkeypatch):
    """Above ``PROFILE_FEATURE_ROWS`` training rows the feature profile (drift bins and
    category shares) comes from a seeded sample of them, and says how many it read."""
    from finml.tasks import table

    spec = german_spec("logreg")
    frame = load_staged(spec.dataset.dataset_id)
    result = train_spec(spec, frame, ListSink())
    whole = result.model.profile
    # every training row when there are fewer than the limit
    assert whole["categorical"]["purpose"]["n"] == len(result.split.train) == 600
    monkeypatch.setattr(table, "PROFILE_FEATURE_ROWS", 300)
    first = train_spec(spec, frame, ListSink()).model.profile
    again = train_spec(spec, frame, ListSink()).model.profile
    assert first["categorical"]["purpose"]["n"] == 300
    assert first["numeric"]["credit_amount"]["n"] == 300
    assert first == again  # seeded
    assert first["numeric"]["credit_amount"] != whole["numeric"]["credit_amount"]
    assert first["score"] == whole["score"]  # the score bins keep their own sample
