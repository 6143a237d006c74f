"""A self-contained HTML model report of one run, built from what the run stored: data and
split audit, leakage screening, settings and seed, library versions, learning curves,
metrics with 95% confidence intervals and the confusion matrix at the chosen threshold,
costs, and explanations. Plotly's JavaScript is embedded once, so the file opens offline."""

from __future__ import annotations

import html
from datetime import UTC, datetime

import pandas as pd

from finml import charts, decision, evaluate
from finml.errors import FinmlError
from finml.store import RunStore

_CSS = """
body{font-family:system-ui,sans-serif;max-width:1100px;margin:2rem auto;color:#222}
h1{margin-bottom:0}h2{border-bottom:1px solid #ddd;padding-bottom:.2rem;margin-top:2rem}
table{border-collapse:collapse;margin:.5rem 0}td,th{border:1px solid #ddd;padding:.25rem .6rem}
th{background:#f5f5f5;text-align:left}.muted{color:#777}
"""


def _table(frame: pd.DataFrame, index: bool = False) -> str:
    return frame.to_html(index=index, border=0, float_format=lambda v: f"{v:.4f}", escape=True)


def _kv(pairs: dict) -> str:
    rows = "".join(
        f"<tr><th>{html.escape(str(k))}</th><td>{html.escape(str(v))}</td></tr>"
        for k, v in pairs.items()
    )
    return f"<table>{rows}</table>"


class _Figures:
    """Embeds plotly figures; the first one carries plotly.js so the file is self-contained."""

    def __init__(self) -> None:
        self.first = True

    def __call__(self, fig) -> str:
        out = fig.to_html(full_html=False, include_plotlyjs=self.first)
        self.first = False
        return out


def build_report(
    store: RunStore,
    run_id: str,
    threshold: float | None = None,
    cost_fp: float = 1.0,
    cost_fn: float = 1.0,
) -> str:
    """Build the HTML report of a run.

    Args:
        store: the run store.
        run_id: a finished or stopped run with test predictions.
        threshold: decision threshold (default: the one saved with the run, else 0.5).
        cost_fp: cost of a false positive.
        cost_fn: cost of a false negative.

    Returns:
        str: a complete HTML document.

    Raises:
        StoreError: the run has no test predictions.
    """
    run = store.get_run(run_id)
    test = store.read_frame(run_id, "predictions/test.parquet")
    val = store.read_frame(run_id, "predictions/validation.parquet")
    if threshold is None:
        threshold = run.threshold if run.threshold is not None else 0.5
    positive = run.params.get("positive_class", "positive")
    classes = run.params.get("classes", "")
    y, val_y, labels = evaluate.binary_view_of_run(run.params, test, val)
    score = test["score"].to_numpy()
    fig = _Figures()
    parts = [
        f"<h1>Model report: {html.escape(run.name)}</h1>",
        f"<p class=muted>Run {run.run_id} · status {run.status} · generated "
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC by finml</p>",
        "<h2>Settings</h2>",
        _kv({"model": run.model, "dataset": run.dataset, **dict(sorted(run.params.items()))}),
    ]
    parts += ["<h2>Data and split audit</h2>"]
    try:
        split = pd.DataFrame(store.read_json(run_id, "split_report.json"))
        parts.append(_table(split))
        if "groups shared" in split:
            shared = int(split["groups shared"].sum())
            parts.append(f"<p>Groups on more than one side: <b>{shared}</b> (must be 0).</p>")
    except FinmlError:
        parts.append("<p class=muted>No split audit was stored.</p>")
    parts.append(_leakage(run))
    parts += ["<h2>Library versions</h2>"]
    try:
        parts.append(_kv(store.read_json(run_id, "bundle/meta.json").get("versions", {})))
    except FinmlError:
        parts.append("<p class=muted>No bundle metadata.</p>")
    history = store.history(run_id)
    if len(history):
        parts += ["<h2>Learning curves</h2>", fig(charts.learning_curves(history))]
    cis = decision.metric_cis(y, score, threshold, n_boot=500)
    metrics = evaluate.binary_metrics(y, score, threshold)
    parts += [
        f"<h2>Test metrics at threshold {threshold:.3f}</h2>",
        f"<p>{len(y):,} test cases, {int(y.sum()):,} positive ({html.escape(positive)}); "
        "95% CIs by stratified bootstrap (500 resamples).</p>",
        _table(evaluate.metrics_table(metrics, cis)),
        fig(charts.confusion_matrix(evaluate.confusion(y, score, threshold), labels, threshold)),
    ]
    best, _ = decision.min_cost_threshold(val_y, val["score"].to_numpy(), cost_fp, cost_fn)
    curve = decision.expected_cost_curve(y, score, cost_fp, cost_fn, n=101)
    at = evaluate.expected_cost(evaluate.confusion(y, score, threshold), cost_fp, cost_fn)
    parts += [
        "<h2>Costs</h2>",
        f"<p>Cost of a false positive {cost_fp:g}, of a false negative {cost_fn:g}. Expected "
        f"cost on the test split at the chosen threshold: <b>{at:.3f}</b> per case. The "
        f"cost-minimising threshold on the validation split is {best:.3f}.</p>",
        fig(charts.cost_curve(curve, threshold, best)),
        "<h2>Credit pack</h2>",
        fig(charts.ks_plot(decision.ks_curve(y, score))),
        _table(decision.lift_table(y, score)),
        fig(
            charts.calibration_plot(
                decision.calibration_table(y, score),
                metrics["brier"],
                decision.hosmer_lemeshow(y, score),
            )
        ),
    ]
    parts += ["<h2>Explanations</h2>"]
    try:
        importance = store.read_frame(run_id, "explain/permutation_importance.parquet")
        parts.append(fig(charts.importance_bar(importance)))
    except FinmlError:
        parts.append(
            "<p class=muted>No permutation importance (image runs use Grad-CAM on the "
            "Evaluate page).</p>"
        )
    if classes:
        proba = test[[c for c in test.columns if c.startswith("p_")]].to_numpy()
        parts += [
            "<h2>Per class</h2>",
            _table(
                evaluate.per_class_metrics(
                    test["y_true"].to_numpy(), proba, tuple(classes.split(","))
                ),
                index=True,
            ),
        ]
    body = "\n".join(parts)
    title = html.escape(f"finml report: {run.name}")
    return (
        f"<!doctype html><html><head><meta charset=utf-8><title>{title}</title>"
        f"<style>{_CSS}</style></head><body>{body}</body></html>"
    )


def _leakage(run) -> str:
    """Single-column leakage screening of the run's staged table, if still available."""
    if run.params.get("task", "table") != "table":
        return ""
    from finml.data.staging import load_staged
    from finml.data.tabular import infer_schema, leakage_warnings

    try:
        frame = load_staged(run.params.get("dataset_id", ""))
    except FinmlError:
        return "<p class=muted>Leakage screening: the staged data is no longer available.</p>"
    target = run.params.get("target", "")
    if target not in frame.columns:
        return ""
    hits = leakage_warnings(frame, infer_schema(frame), target, run.params["positive_class"])
    if not hits:
        return (
            "<p>Leakage screening: no single column predicts the target with ROC-AUC &ge; 0.95.</p>"
        )
    items = "".join(f"<li>{html.escape(c)}: ROC-AUC {a:.3f}</li>" for c, a in hits)
    return f"<p><b>Possible leakage</b> (single columns, ROC-AUC &ge; 0.95):</p><ul>{items}</ul>"
