"""Chart layout on real runs: legends below the plot, long names wrapped, round ticks on
second y-axes, whole-number epochs, no learning curve for a one-shot fit, cost-curve labels
apart, and the test cost's interval."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from finml.evaluation import credit, metrics, thresholds
from finml.fitters.base import ListSink
from finml.reporting import charts


@pytest.fixture(scope="module")
def fits():
    """A logistic regression (one fit) and a boosted model (iterations) of German Credit,
    trained for real: {model: (the history it reported, its result)}."""
    from finml.data.demo import demo_frame
    from finml.tasks import train_spec
    from tests.conftest import GERMAN, table_spec

    german = demo_frame(GERMAN)
    out = {}
    for model, params in (("logreg", {}), ("hgb", {"max_iter": 40})):
        sink = ListSink()
        result = train_spec(table_spec(german, model, params=params, seed=42), german, sink)
        out[model] = (sink.history(), result)
    return out


def _scores(result):
    test = result.test_predictions
    return test["y_true"].to_numpy(int), test["score"].to_numpy(float)


def test_a_one_shot_fit_gets_no_learning_curve_of_lone_dots(fits):
    flat, _ = fits["logreg"]
    assert charts.curve_steps(flat) == 1 and not charts.has_learning_curve(flat)
    fig = charts.learning_curves(flat)
    assert not fig.data  # no lone markers pretending to be a curve
    note = fig.layout.annotations[0].text.replace("<br>", " ")
    assert "fitted in one step" in note and "validation loss" in note
    assert "training loss" in charts.one_shot_note(flat)
    boosted, _ = fits["hgb"]
    assert charts.has_learning_curve(boosted)
    histories = {"logreg": flat, "hgb": boosted}
    assert charts.one_shot_runs(histories) == ["logreg"]
    overlay = charts.overlay_learning(histories)
    assert [t.name for t in overlay.data] == ["hgb"]


def test_epoch_axes_have_whole_number_ticks(fits):
    boosted, _ = fits["hgb"]
    fig = charts.learning_curves(boosted)
    axis = fig.layout.xaxis
    assert axis.tickformat == "d" and axis.tickmode == "linear"
    assert axis.dtick == int(axis.dtick) >= 1
    short = boosted[boosted["step"] <= 3]  # a short run: every epoch, never 1.5
    assert charts.epoch_axis(short["step"])["dtick"] == 1
    assert charts.epoch_axis(short["step"])["tick0"] == 1
    long = charts.epoch_axis(range(1, 201))
    assert long["dtick"] == int(long["dtick"]) > 1


def test_second_y_axes_have_round_ticks(fits):
    boosted, result = fits["hgb"]
    auc_axis = charts.learning_curves(boosted).layout.yaxis2
    assert auc_axis.tickmode == "linear" and auc_axis.dtick == pytest.approx(0.1)
    assert auc_axis.range == pytest.approx((0.4, 1.0))
    y, score = _scores(result)
    lift = credit.lift_table(y, score)
    fig = charts.gains_chart(lift)
    right, left = fig.layout.yaxis2, fig.layout.yaxis
    assert right.tickmode == "linear" and right.tick0 == 0
    mantissa = right.dtick / 10 ** np.floor(np.log10(right.dtick))
    assert round(mantissa, 6) in (1, 2, 2.5, 5)  # 0.5, not 0.434
    assert right.range[1] >= lift["lift"].max()
    # five lift steps span 0-100 % on the left axis: the grid lines meet
    assert right.range[1] / right.dtick == pytest.approx(left.range[1] / left.dtick)
    assert charts.nice_axis(0.0, 1.303, zero=True)["dtick"] == 0.5
    assert charts.nice_step(0.6, 6) == pytest.approx(0.1)


def test_legends_sit_below_and_long_run_names_wrap(fits):
    _, result = fits["logreg"]
    y, score = _scores(result)
    fpr, tpr = metrics.roc_points(y, score)
    long = "logreg · C=0.01, class weights, seed=7 · German Credit (Statlog) · 3f9a2b1c"
    fig = charts.overlay_roc({long: (fpr, tpr, 0.8), "hgb · 1a2b3c4d": (fpr, tpr, 0.7)})
    assert fig.layout.legend.orientation == "h" and fig.layout.legend.y < 0
    first = fig.data[0].name
    lines = first.split("<br>")
    assert len(lines) <= charts.LEGEND_LINES
    assert all(len(line) <= charts.LEGEND_WIDTH + len(" (AUC = 0.800)") for line in lines)
    assert long not in first and "3f9a2b1c" in fig.data[0].hovertemplate
    band = charts.roc_with_band(
        pd.DataFrame({"fpr": fpr, "tpr": tpr, "lower": tpr, "upper": tpr}), (0.8, 0.75, 0.85)
    )
    assert band.layout.legend.orientation == "h" and band.layout.legend.y < 0
    assert charts.legend_name("<b>x</b>") == "&lt;b&gt;x&lt;/b&gt;"


def test_cost_curve_labels_do_not_overlap(fits):
    _, result = fits["logreg"]
    y, score = _scores(result)
    curve = thresholds.expected_cost_curve(y, score, 1.0, 5.0)
    fig = charts.cost_curve(curve, 0.14, 0.13)  # two thresholds 0.01 apart
    chosen, best = (a for a in fig.layout.annotations)
    assert {chosen.text, best.text} == {"chosen", "minimum (validation)"}
    assert chosen.y != best.y  # one at the top of the plot, the other at the bottom
    assert {chosen.yanchor, best.yanchor} == {"top", "bottom"}
    assert fig.layout.xaxis.range == (0, 1)  # a label does not stretch the threshold axis
    same = charts.cost_curve(curve, 0.13, 0.13)
    assert [a.text for a in same.layout.annotations] == ["chosen = minimum (validation)"]


def test_the_test_cost_of_a_threshold_and_its_interval(fits):
    _, result = fits["logreg"]
    y, score = _scores(result)
    curve = thresholds.expected_cost_curve(y, score, 1.0, 5.0)
    for t in (0.05, 0.134, 0.5, 0.9):
        cost, low, high = thresholds.cost_interval(curve, t, 1.0, 5.0)
        exact = thresholds.expected_cost(metrics.confusion(y, score, t), 1.0, 5.0)
        assert cost == pytest.approx(exact) and low < cost < high
    # the normal interval agrees with a stratified bootstrap of the same cost
    rng = np.random.default_rng(0)
    pos, neg = score[y == 1], score[y == 0]
    boot = [
        (
            1.0 * (rng.choice(neg, len(neg)) >= 0.134).sum()
            + 5.0 * (rng.choice(pos, len(pos)) < 0.134).sum()
        )
        / len(y)
        for _ in range(2000)
    ]
    _, low, high = thresholds.cost_interval(curve, 0.134, 1.0, 5.0)
    assert low == pytest.approx(np.percentile(boot, 2.5), abs=0.03)
    assert high == pytest.approx(np.percentile(boot, 97.5), abs=0.03)
    table = thresholds.cost_points(curve, {"chosen": 0.5, "Youden J": 0.3}, 1.0, 5.0)
    assert table["threshold"].tolist() == ["chosen", "Youden J"]
    assert (table["95% CI low"] < table["test cost per case"]).all()
