"""The progress plumbing every fitter shares (finml.fitters.base)."""

from __future__ import annotations

import numpy as np
import pytest

from finml.fitters.base import FitData, ListSink, Sink, sample


def test_a_sink_has_a_no_op_for_every_hook_and_batches_fall_back_to_steps():
    class Steps(Sink):
        def __init__(self):
            self.seen = []

        def on_step(self, step, total, metrics):
            self.seen.append(step)

    sink = Steps()
    sink.on_fold(1, 2, {"roc_auc": 0.7})  # nothing to do, nothing raised
    sink.on_trial(0, 3, {"trial": 0})
    sink.on_steps([(1, 2, {"loss": 1.0}), (2, 2, {"loss": 0.5})])
    assert sink.seen == [1, 2]


def test_the_live_validation_rows_are_a_seeded_sample():
    rows = sample(50_000, 20_000, seed=3)
    assert len(rows) == 20_000 and np.all(np.diff(rows) > 0)
    assert np.array_equal(rows, sample(50_000, 20_000, seed=3))
    live = np.array([5, 1])
    data = FitData(
        np.zeros((4, 1)), np.zeros(4), np.arange(8.0)[:, None], 10 + np.arange(8.0), live=live
    )
    x, y = data.live_val()  # the validation rows named by ``live``, inputs with their targets
    assert x[:, 0].tolist() == [5.0, 1.0] and y.tolist() == [15.0, 11.0] and data.has_val


def test_progress_is_sampled_and_every_step_arrives_in_the_end():
    from finml.fitters.base import SampledSink

    now = [0.0]
    moments = []

    class Clocked(ListSink):
        def on_step(self, step, total, metrics):
            moments.append(now[0])
            super().on_step(step, total, metrics)

    sink = Clocked()
    sampled = SampledSink(sink, every_s=1.0, clock=lambda: now[0])
    for step in range(1, 11):
        sampled.on_step(step, 10, {"loss": 1.0 / step})
        now[0] += 0.3  # a step every 0.3 s
    # forwarded at t=0 (the first step at once), then at most once a second
    assert sorted(set(moments)) == pytest.approx([0.0, 1.2, 2.4])
    assert [s for s, _, _ in sink.steps] == list(range(1, 10))  # step 10 still held
    sampled.flush()
    assert [s for s, _, _ in sink.steps] == list(range(1, 11))  # none was lost
