"""Runs for display: the leaderboard table, a progress label, the headline metric tiles."""

from __future__ import annotations

import pandas as pd

from finml.store import FINISHED, RunInfo


def runs_frame(runs: list[RunInfo], queue: dict[str, int] | None = None) -> pd.DataFrame:
    """A table of runs for display: name, model, dataset, status (with the place in the
    queue of a queued run), submitted, started (UTC), duration (s), key test metrics and the
    reason of a failure. One row per run, in the order given (newest first).

    Args:
        runs: the runs.
        queue: run id -> place in the queue (:func:`finml.training.jobs.queue_positions`).
    """
    queue = queue or {}
    rows = []
    for r in runs:
        status = f"{r.status} (place {queue[r.run_id]})" if r.run_id in queue else r.status
        rows.append(
            {
                "run": r.name,
                "model": r.model,
                "dataset": r.dataset,
                "status": status,
                "submitted": pd.Timestamp(r.submitted, unit="s").floor("s"),
                "started": pd.Timestamp(r.started, unit="s").floor("s") if r.started else None,
                "duration (s)": None if r.duration is None else round(r.duration, 1),
                "test accuracy": r.metrics.get("test_accuracy"),
                "test ROC-AUC": r.metrics.get("test_roc_auc"),
                "test Gini": r.metrics.get("test_gini"),
                "test KS": r.metrics.get("test_ks"),
                "test Brier": r.metrics.get("test_brier"),
                "reason": r.reason.splitlines()[0] if r.reason else "",
                "run id": r.run_id,
            }
        )
    return pd.DataFrame(rows)


def progress(run: RunInfo, history: pd.DataFrame) -> tuple[float, str]:
    """Progress of a run for a progress bar.

    Args:
        run: the run.
        history: its :meth:`RunStore.history`.

    Returns:
        (fraction in [0, 1], label such as ``"running · epoch 12 of 100"``). A finished run
        is complete even if early stopping ended it before the planned epochs.
    """
    done = int(history["step"].max()) if len(history) else 0
    unit = {"hgb": "iteration", "logreg": "fit"}.get(run.model, "epoch")
    total = run.total_steps or 0
    label = f"{run.status} · {unit} {done} of {total}" if total else run.status
    if run.status == FINISHED:
        return 1.0, label
    return (min(done / total, 1.0) if total else 0.0), label


#: Test metrics shown as tiles when a run ends, in order: (metric key, label).
HEADLINE = (
    ("test_roc_auc", "Test ROC-AUC"),
    ("test_accuracy", "Accuracy"),
    ("test_gini", "Gini"),
    ("test_ks", "KS statistic"),
    ("test_brier", "Brier score"),
    ("test_macro_f1", "Macro F1"),
)


def headline_metrics(run: RunInfo, table_keys: int = 4) -> list[tuple[str, float]]:
    """The test metrics a run logged, as (label, value) tiles: ROC-AUC, Gini, KS and Brier
    for tables; ROC-AUC, accuracy and what else it has for images (3+ classes log no Gini)."""
    keys = [k for k, _ in HEADLINE if k in run.metrics]
    if run.params.get("task", "table") == "table":
        keys = [k for k in keys if k != "test_accuracy"][:table_keys]
    labels = dict(HEADLINE)
    return [(labels[k], run.metrics[k]) for k in keys[:5]]
