"""The Keras MLP of a table (finml.fitters.networks) obeys a stop request after the
current batch and keeps what it has."""

from __future__ import annotations

from tests.fitters.test_boosting import stopped_after


def test_mlp_stops_after_the_current_batch_and_keeps_what_it_has(german_spec):
    result, _ = stopped_after(german_spec("mlp", epochs=300, patience=300), 2)
    assert result.status == "stopped"
    assert result.steps == 3  # the stop is seen after the first batch of epoch 3
    assert len(result.test_predictions) == 200  # the partial model was still evaluated
