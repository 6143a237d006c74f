"""Runs for display: the leaderboard table, a progress label, the headline metric tiles."""

from __future__ import annotations

import pandas as pd

from finml import access
from finml.evaluation.metrics import METRIC_LABELS, mean_sd
from finml.evaluation.regression import REGRESSION_LABELS
from finml.store import FINISHED, RUNNING, RunInfo
from finml.tasks import get_task


def runs_frame(
    runs: list[RunInfo], queue: dict[str, int] | None = None, owners: bool = False
) -> pd.DataFrame:
    """A table of runs for display: name, model, dataset, status (with the place in the
    queue of a queued run), submitted, started (UTC), duration (s), key test metrics and the
    reason of a failure. One row per run, in the order given (newest first).

    Args:
        runs: the runs.
        queue: run id -> place in the queue (:func:`finml.training.jobs.queue_positions`).
        owners: add ``owner`` (display name) and ``shared`` after the name (team mode).
    """
    queue = queue or {}
    ranks = leaderboard_ranks(runs)
    rows = []
    for r in runs:
        status = f"{r.status} (place {queue[r.run_id]})" if r.run_id in queue else r.status
        who = {}
        if owners:
            who = {"owner": access.owner_display(r), "shared": access.is_shared(r)}
        rows.append(
            {
                "run": r.name,
                **who,
                "model": r.model,
                "dataset": r.dataset,
                "status": status,
                "submitted": pd.Timestamp(r.submitted, unit="s").floor("s"),
                "started": pd.Timestamp(r.started, unit="s").floor("s") if r.started else None,
                "duration (s)": None if r.duration is None else round(r.duration, 1),
                "rank": ranks.get(r.run_id),
                "ranked on": ranking_metric(r)[1],
                "CV ROC-AUC": r.metrics.get("cv_roc_auc_mean"),
                "CV ROC-AUC sd": r.metrics.get("cv_roc_auc_sd"),
                "test accuracy": r.metrics.get("test_accuracy"),
                "test ROC-AUC": r.metrics.get("test_roc_auc"),
                "test Gini": r.metrics.get("test_gini"),
                "test KS": r.metrics.get("test_ks"),
                "test Brier": r.metrics.get("test_brier"),
                "test RMSE": r.metrics.get("test_rmse"),
                "test MAE": r.metrics.get("test_mae"),
                "test R²": r.metrics.get("test_r2"),
                "test MASE": r.metrics.get("test_mase"),
                "reason": r.reason.splitlines()[0] if r.reason else "",
                "run id": r.run_id,
            }
        )
    return pd.DataFrame(rows)


def ranking_metric(run: RunInfo) -> tuple[float | None, str]:
    """What a run is ranked on among the runs of its task: the task's headline metric
    (:attr:`finml.tasks.base.TaskTags.headline`: ROC-AUC, RMSE, MASE), its mean over the
    cross-validation folds when the run has one (an estimate over every non-test row),
    else on the test split; (value with larger = better, or None; which, in words)."""
    task = get_task(run.params.get("task"))
    name = METRIC_NAMES.get(task.tags.headline, task.tags.headline)
    value = task.headline(run.metrics)
    if value is None:
        return None, ""
    cv = f"cv_{task.tags.headline}_mean" in run.metrics
    folds = run.params.get("cv_folds", "k")
    which = f"{folds}-fold {task.cv_label} {name}" if cv else f"test {name}"
    if not task.tags.higher_is_better:
        return -value, f"{which} (lower is better)"
    return value, which


def leaderboard_ranks(runs: list[RunInfo]) -> dict[str, int]:
    """Rank (1 = best) of each run with results among the runs of the same task and
    dataset (runs of other tasks or data were not scored on the same rows, nor on the
    same metric), by :func:`ranking_metric`."""
    groups: dict[tuple[str, str], list[tuple[float, str]]] = {}
    for r in runs:
        value = ranking_metric(r)[0]
        if value is not None:
            key = (get_task(r.params.get("task")).name, r.dataset)
            groups.setdefault(key, []).append((value, r.run_id))
    ranks = {}
    for scored in groups.values():
        scored.sort(key=lambda item: -item[0])
        ranks.update({run_id: i for i, (_, run_id) in enumerate(scored, start=1)})
    return ranks


def cv_table(folds: pd.DataFrame) -> pd.DataFrame:
    """Cross-validation results for display: one row per metric with its mean, sample sd
    and the value of each fold.

    Args:
        folds: the per-fold table of :class:`finml.tasks.cv.CVResult` (``fold`` and one
            column per metric).

    Returns:
        DataFrame with ``metric`` (finml's label), ``mean``, ``sd``, ``fold 1`` ... ``fold k``.
    """
    rows = []
    labels = METRIC_LABELS | {"macro_f1": "Macro F1"} | REGRESSION_LABELS
    for key, label in labels.items():
        if key not in folds:
            continue
        mean, sd = mean_sd(folds[key])
        row = {"metric": label, "mean": mean, "sd": sd}
        row.update({f"fold {int(f)}": v for f, v in zip(folds["fold"], folds[key], strict=True)})
        rows.append(row)
    return pd.DataFrame(rows)


def progress(
    run: RunInfo,
    history: pd.DataFrame,
    folds: pd.DataFrame | None = None,
    trials: pd.DataFrame | None = None,
) -> tuple[float, str]:
    """Progress of a run for a progress bar.

    Args:
        run: the run.
        history: its :meth:`RunStore.history`.
        folds: its :meth:`RunStore.fold_history` (cross-validated runs).
        trials: its :meth:`RunStore.trials` (runs with a hyperparameter search).

    Returns:
        (fraction in [0, 1], label such as ``"running · epoch 12 of 100"``). A finished run
        is complete even if early stopping ended it before the planned epochs.
    """
    k = int(run.params.get("cv_folds", 0) or 0)
    n = int(run.params.get("tune_trials", 0) or 0)
    searching = n and (folds is None or not len(folds))
    if searching and run.status == RUNNING and not len(history):
        done = 0 if trials is None else len(trials)
        return min(done / (n + 1), 1.0), f"{run.status} · search: {done} of {n} trials done"
    if k and run.status == RUNNING and not len(history):
        done = 0 if folds is None else len(folds)
        what = get_task(run.params.get("task")).cv_label
        label = f"{run.status} · {what}: {done} of {k} folds done"
        return done / (k + 1), label
    done = int(history["step"].max()) if len(history) else 0
    units = {"hgb": "iteration", "hgb_reg": "iteration", "hgb_lags": "step ahead"}
    units |= {"logreg": "fit", "ridge": "fit", "ridge_lags": "fit"}
    unit = units.get(run.model, "epoch")
    total = run.total_steps or 0
    label = f"{run.status} · {unit} {done} of {total}" if total else run.status
    if run.status == FINISHED:
        return 1.0, label
    return (min(done / total, 1.0) if total else 0.0), label


#: Readable names of the headline metrics runs are ranked on.
METRIC_NAMES = {"roc_auc": "ROC-AUC", "rmse": "RMSE", "mase": "MASE"}

#: Test metrics shown as tiles when a run ends, in order: (metric key, label).
HEADLINE = (
    ("test_roc_auc", "Test ROC-AUC"),
    ("test_accuracy", "Accuracy"),
    ("test_gini", "Gini"),
    ("test_ks", "KS statistic"),
    ("test_brier", "Brier score"),
    ("test_macro_f1", "Macro F1"),
    ("test_rmse", "Test RMSE"),
    ("test_mae", "MAE"),
    ("test_r2", "R²"),
    ("test_smape", "sMAPE (%)"),
    ("test_mase", "MASE"),
)


def headline_metrics(run: RunInfo) -> list[tuple[str, float]]:
    """The test metrics a run logged, as (label, value) tiles: its task's
    (:attr:`finml.tasks.base.Task.tiles`: ROC-AUC, Gini, KS and Brier for binary tables;
    ROC-AUC, accuracy and macro F1 for k classes; RMSE, MAE, R² and MASE for regression; a
    forecast's MASE beside the naive and ETS baselines' and its RMSE), those it has."""
    labels = dict(HEADLINE) | {"test_naive_mase": "Naive MASE", "test_ets_mase": "ETS MASE"}
    tiles = get_task(run.params.get("task")).tiles
    return [(labels[k], run.metrics[k]) for k in tiles if k in run.metrics][:5]


def numeric_comparison(runs: list[RunInfo]) -> pd.DataFrame:
    """Test metrics of regression or forecasting runs side by side: run, model, RMSE, MAE,
    R² (regression), MASE and the naive forecast's MASE (forecasting), where logged."""
    keys = {
        "test RMSE": "test_rmse",
        "test MAE": "test_mae",
        "test R²": "test_r2",
        "test MASE": "test_mase",
        "naive MASE": "test_naive_mase",
    }
    rows = [
        {"run": r.name, "model": r.model, **{k: r.metrics.get(m) for k, m in keys.items()}}
        for r in runs
    ]
    table = pd.DataFrame(rows)
    return table.dropna(axis=1, how="all")
