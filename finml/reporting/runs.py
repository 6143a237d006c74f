"""Runs for display: the leaderboard table, a progress label, the headline metric tiles."""

from __future__ import annotations

import time
from collections import Counter

import pandas as pd

from finml import access
from finml.data.spec import parse_list
from finml.evaluation.metrics import METRIC_LABELS, mean_sd
from finml.evaluation.regression import REGRESSION_LABELS
from finml.store import ACTIVE, FINISHED, RUNNING, RunInfo
from finml.tasks import get_task


def runs_frame(
    runs: list[RunInfo],
    queue: dict[str, int] | None = None,
    owners: bool = False,
    intervals: dict[str, tuple[float, float] | None] | None = None,
) -> pd.DataFrame:
    """A table of runs for display, narrow enough to read at 1024 px: the run's name
    (:func:`run_names`: model, the settings that tell it apart, a short id), the metric it
    is ranked on and its 95% CI, its rank, what it is ranked on, then status, model,
    dataset, times, the test metrics any of the runs logged, the reason of a failure and
    the run id. One row per run, in the order given (newest first). Give it the runs of
    one task and dataset (:func:`run_groups`): ranks are only among those.

    Args:
        runs: the runs.
        queue: run id -> place in the queue (:func:`finml.training.jobs.queue_positions`;
            0: its worker is starting).
        owners: add ``owner`` (display name) and ``shared`` after the rank (team mode).
        intervals: run id -> 95% CI of the ranked metric (:func:`ranked_interval`), or
            ``None`` where there is none.
    """
    queue = queue or {}
    intervals = intervals or {}
    ranks = leaderboard_ranks(runs)
    names = run_names(runs)
    headlines = {get_task(r.params.get("task")).tags.headline for r in runs}
    ranked = METRIC_NAMES.get(h := headlines.pop(), h) if len(headlines) == 1 else "ranked value"
    rows = []
    for r in runs:
        waiting = queue_words(queue.get(r.run_id))
        status = f"{r.status} ({waiting})" if waiting else r.status
        who = {}
        if owners:
            who = {"owner": access.owner_display(r), "shared": access.is_shared(r)}
        ci = intervals.get(r.run_id)
        rows.append(
            {
                "run": names[r.run_id],
                ranked: get_task(r.params.get("task")).headline(r.metrics),
                "95% CI": None if ci is None else f"{ci[0]:.3f} – {ci[1]:.3f}",
                "rank": ranks.get(r.run_id),
                "ranked on": ranking_metric(r)[1],
                **who,
                "status": status,
                "model": r.model,
                "dataset": r.dataset,
                "submitted": pd.Timestamp(r.submitted, unit="s").floor("s"),
                "started": pd.Timestamp(r.started, unit="s").floor("s") if r.started else None,
                "duration (s)": None if r.duration is None else round(r.duration, 1),
                **{label: r.metrics.get(key) for label, key in BOARD_METRICS.items()},
                "reason": r.reason.splitlines()[0] if r.reason else "",
                "run id": r.run_id,
            }
        )
    table = pd.DataFrame(rows)
    unused = [c for c in BOARD_METRICS if c in table and table[c].isna().all()]
    return table.drop(columns=unused)


#: Metric columns of the leaderboard (label -> logged metric); those no run of the table
#: logged are left out.
BOARD_METRICS = {
    "CV ROC-AUC": "cv_roc_auc_mean",
    "CV ROC-AUC sd": "cv_roc_auc_sd",
    "test accuracy": "test_accuracy",
    "test ROC-AUC": "test_roc_auc",
    "test Gini": "test_gini",
    "test KS": "test_ks",
    "test Brier": "test_brier",
    "test RMSE": "test_rmse",
    "test MAE": "test_mae",
    "test R²": "test_r2",
    "test MASE": "test_mase",
}


#: Seconds between the Train page's polls of an active run: faster for the first
#: :data:`FAST_POLL_WINDOW_S` seconds after submit (a table of 10k to 100k rows shows its
#: test metrics within them, and a 1 s poll adds 0.5 s on average to Start -> tiles), then
#: once a second, so that a long run's polling costs the server little. Not 0.25 s: in the
#: browser (bench/bench_browser.py, 2 cores) polling 4 times a second slowed the worker it
#: watched (100k rows: the run ended after 8.7 / 4.5 s, one-hot / native, against 6.2 /
#: 3.1 s with 1 s polls), more than the faster poll saved.
FAST_POLL_S, POLL_S, FAST_POLL_WINDOW_S = 0.5, 1.0, 60.0


def poll_interval(run: RunInfo, now: float | None = None) -> float | None:
    """How often the Train page polls ``run``: :data:`FAST_POLL_S` within
    :data:`FAST_POLL_WINDOW_S` seconds of its submit, :data:`POLL_S` after, ``None`` (no
    polling) once it has ended.

    Args:
        run: the run watched.
        now: the time, seconds since the epoch (default: the clock).

    Returns:
        float | None: seconds between polls.
    """
    if run.status not in ACTIVE:
        return None
    age = (time.time() if now is None else now) - run.submitted
    return FAST_POLL_S if age < FAST_POLL_WINDOW_S else POLL_S


#: Seconds between two redraws of an active run's learning curves (their own fragment on
#: the Train page). The chart is most of what a poll costs the server (the figure's JSON)
#: and the browser (plotly's redraw), and both share the machine's cores with the worker.
CURVE_POLL_S = 2.0


def curve_interval(run: RunInfo) -> float | None:
    """How often the Train page redraws ``run``'s learning curves: every
    :data:`CURVE_POLL_S` seconds while it is active, ``None`` (not again) once it has
    ended."""
    return CURVE_POLL_S if run.status in ACTIVE else None


#: An active run's learning curves are drawn from this many seconds after it started
#: (left the queue) on, and all of them once it ends. Redrawing a plotly chart took the
#: browser 0.3-0.9 s of its main thread on 2 cores beside the worker, which delayed the
#: next poll and with it a short run's test tiles; a run that ends sooner shows its
#: curves at the end only.
LIVE_CURVES_AFTER_S = 15.0


def live_curves(run: RunInfo, now: float | None = None) -> bool:
    """Whether the Train page draws ``run``'s learning curves: once it has ended, or
    :data:`LIVE_CURVES_AFTER_S` seconds after it started (never while it is queued).

    Args:
        run: the run watched.
        now: the time, seconds since the epoch (default: the clock).
    """
    if run.status not in ACTIVE:
        return True
    if run.started is None:
        return False
    return (time.time() if now is None else now) - run.started >= LIVE_CURVES_AFTER_S


def queue_words(place: int | None) -> str:
    """A queued run's place in words: ``"starting a worker"`` (place 0),
    ``"place 2 in the queue"``; "" when it is not queued (None)."""
    if place is None:
        return ""
    return "starting a worker" if place == 0 else f"place {place} in the queue"


def ranking_metric(run: RunInfo) -> tuple[float | None, str]:
    """What a run is ranked on among the runs of its task: the task's headline metric
    (:attr:`finml.tasks.base.TaskTags.headline`: ROC-AUC, RMSE, MASE), its mean over the
    cross-validation folds when the run has one (an estimate over every non-test row),
    else on the validation split where the task ranks on it (forecasting), else on the test
    split; (value with larger = better, or None; which, in words)."""
    task = get_task(run.params.get("task"))
    name = METRIC_NAMES.get(task.tags.headline, task.tags.headline)
    value = task.headline(run.metrics)
    if value is None:
        return None, ""
    cv = f"cv_{task.tags.headline}_mean" in run.metrics
    folds = run.params.get("cv_folds", "k")
    validation = task.tags.ranks_on_validation and f"validation_{task.tags.headline}" in run.metrics
    which = (
        f"{folds}-fold {task.cv_label} {name}"
        if cv
        else f"validation {name}"
        if validation
        else f"test {name}"
    )
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
            groups.setdefault(group_of(r), []).append((value, r.run_id))
    ranks = {}
    for scored in groups.values():
        scored.sort(key=lambda item: -item[0])
        ranks.update({run_id: i for i, (_, run_id) in enumerate(scored, start=1)})
    return ranks


def group_of(run: RunInfo) -> tuple[str, str]:
    """The leaderboard group of a run: (its task's name, its dataset's name)."""
    return get_task(run.params.get("task")).name, run.dataset


def group_label(group: tuple[str, str], count: int | None = None) -> str:
    """A leaderboard group in words: ``"Binary classification · German Credit (Statlog)"``,
    with `` (3 runs)`` given ``count``."""
    task, dataset = group
    words = f"{get_task(task).label} · {dataset}"
    if count is not None:
        words += f" ({count} run{'s' if count != 1 else ''})"
    return words


def run_groups(runs: list[RunInfo]) -> dict[tuple[str, str], list[RunInfo]]:
    """The runs by leaderboard group (:func:`group_of`: task and dataset), the group of the
    newest run first, each group's runs in the order given."""
    groups: dict[tuple[str, str], list[RunInfo]] = {}
    for r in runs:
        groups.setdefault(group_of(r), []).append(r)
    return groups


#: Run parameters that are not settings a user chose, or that another part of the name or
#: the group already says (``protected``: a list of columns, too long for a name; the
#: feature counts already tell such runs apart).
_NOT_SETTINGS = {
    "model",
    "task",
    "dataset",
    "dataset_id",
    "negative_class",
    "tune_minutes",
    "cv_kind",
    "classes",
    "protected",
}
#: Words for the settings a name may show (others show as their parameter name).
_SETTING_WORDS = {
    "cv_folds": "CV folds",
    "tune_trials": "trials",
    "positive_class": "positive",
    "n_numeric": "numeric",
    "n_categorical": "categorical",
    "group_col": "groups",
    "time_col": "time",
    "class_weights": "class weights",
    "image_size": "size",
    "image_mode": "mode",
}
#: Most settings a run name shows.
NAME_SETTINGS = 3
#: Characters of the run id a name ends with.
SHORT_ID = 8


def _setting(key: str, value: str) -> str:
    """One setting as a name shows it: ``C=0.1``, ``seed=7``, ``class weights`` /
    ``no class weights`` for a flag."""
    word = _SETTING_WORDS.get(key, key.removeprefix("hp."))
    if value in ("True", "False"):
        return word if value == "True" else f"no {word}"
    try:
        value = f"{float(value):g}"
    except ValueError:
        value = value or "none"
    return f"{word}={value}"


def _default_name(run: RunInfo) -> bool:
    """True when the run has the name finml gives (``"<model> · <dataset>"``, or the
    model), not one a user chose."""
    return run.name in (run.model, f"{run.model} · {run.dataset}")


def run_names(runs: list[RunInfo]) -> dict[str, str]:
    """Names that tell runs apart: the model (or the name a user gave the run), the
    settings in which it differs from the other runs of the same model among ``runs`` (up
    to :data:`NAME_SETTINGS`, hyperparameters first), the dataset where ``runs`` hold more
    than one, and the first :data:`SHORT_ID` characters of its id, e.g.
    ``"logreg · C=0.1 · 3f9a2b1c"``. A name a user gave (renamed on the Runs page) is
    kept as it is where no other run has it. Two runs never share a name.

    Args:
        runs: the runs named together (one leaderboard group, or the runs compared).

    Returns:
        run id -> name.
    """
    by_model: dict[str, list[RunInfo]] = {}
    for r in runs:
        by_model.setdefault(r.model, []).append(r)
    differ: dict[str, list[str]] = {}
    for model, same in by_model.items():
        keys = sorted({k for r in same for k in r.params} - _NOT_SETTINGS)
        varied = [k for k in keys if len({r.params.get(k, "") for r in same}) > 1]
        order = [k for k in varied if k.startswith("hp.")] + [
            k for k in varied if not k.startswith("hp.")
        ]
        differ[model] = order[:NAME_SETTINGS]
    datasets = len({r.dataset for r in runs}) > 1
    given = Counter(r.name for r in runs if not _default_name(r))
    names = {}
    for r in runs:
        if given.get(r.name) == 1 and not datasets:
            names[r.run_id] = r.name  # a name the user gave, and only one run has it
            continue
        parts = [r.model if _default_name(r) else r.name]
        settings = [_setting(k, r.params.get(k, "")) for k in differ[r.model]]
        if settings:
            parts.append(", ".join(settings))
        if datasets:
            parts.append(r.dataset)
        parts.append(r.run_id[:SHORT_ID])
        names[r.run_id] = " · ".join(parts)
    return names


#: Normal quantile of a two-sided 95% interval.
_Z95 = 1.959964


def ranked_interval(run: RunInfo, test: pd.DataFrame | None = None) -> tuple[float, float] | None:
    """A 95% interval of the metric a run is ranked on (:func:`ranking_metric`).

    A cross-validated run: the t interval of the mean over its k folds (mean ± t(k-1) sd /
    sqrt(k); the folds share training rows, so it is a rough guide). Otherwise, from its
    stored test predictions: a two-class ROC-AUC by DeLong's variance
    (:func:`finml.evaluation.compare.delong_interval`, as the Runs page's DeLong test), a
    regression RMSE as the square root of the normal interval of
    the mean squared error. ``None`` where neither applies (k classes, forecasts without a
    backtest, no predictions).

    Args:
        run: the run.
        test: its stored test predictions (``predictions/test.parquet``), or ``None``.
    """
    from scipy.stats import t as student

    task = get_task(run.params.get("task"))
    key = task.tags.headline
    mean, sd = run.metrics.get(f"cv_{key}_mean"), run.metrics.get(f"cv_{key}_sd")
    k = int(float(run.params.get("cv_folds", 0) or 0))
    if mean is not None and sd is not None and k >= 2:
        half = float(student.ppf(0.975, k - 1)) * sd / k**0.5
        low, high = mean - half, mean + half
        return (max(low, 0.0), min(high, 1.0)) if key == "roc_auc" else (max(low, 0.0), high)
    value = run.metrics.get(f"test_{key}")
    if value is None or test is None or not len(test):
        return None
    if key == "roc_auc" and task.evaluation == "classes":
        from finml.evaluation.metrics import binary_view_of_run

        if len(parse_list(run.params.get("classes"))) > 2:
            return None  # a macro one-vs-rest AUC: no closed-form interval
        from finml.errors import DataError
        from finml.evaluation.compare import delong_interval

        y, score = binary_view_of_run(run.params, test, test)[:2]
        try:
            return delong_interval(y, score)
        except DataError:
            return None
    if key == "rmse" and task.evaluation == "values" and {"y_true", "y_pred"} <= set(test):
        squared = (test["y_true"] - test["y_pred"]).to_numpy(float) ** 2
        if len(squared) < 2:
            return None
        mse, se = squared.mean(), squared.std(ddof=1) / len(squared) ** 0.5
        return max(mse - _Z95 * se, 0.0) ** 0.5, (mse + _Z95 * se) ** 0.5
    return None


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
    now: float | None = None,
) -> tuple[float, str]:
    """Progress of a run for a progress bar.

    Args:
        run: the run.
        history: its :meth:`RunStore.history`.
        folds: its :meth:`RunStore.fold_history` (cross-validated runs).
        trials: its :meth:`RunStore.trials` (runs with a hyperparameter search).
        now: the time, seconds since the epoch (defaults to ``time.time()``).

    Returns:
        (fraction in [0, 1], label such as ``"running · epoch 12 of 100 · 0:42 elapsed,
        about 2:10 left"``). A finished run
        is complete even if early stopping ended it before the planned epochs.
    """
    k = int(run.params.get("cv_folds", 0) or 0)
    n = int(run.params.get("tune_trials", 0) or 0)
    searching = n and (folds is None or not len(folds))
    if searching and run.status == RUNNING and not len(history):
        done = 0 if trials is None else len(trials)
        fraction = min(done / (n + 1), 1.0)
        label = f"{run.status} · search: {done} of {n} trials done"
        return fraction, label + timing_words(run, fraction, now)
    if k and run.status == RUNNING and not len(history):
        done = 0 if folds is None else len(folds)
        what = get_task(run.params.get("task")).cv_label
        label = f"{run.status} · {what}: {done} of {k} folds done"
        return done / (k + 1), label + timing_words(run, done / (k + 1), now)
    stage = run.stage
    if stage and run.status == RUNNING and not len(history):  # e.g. extracting features
        what, done, total = stage
        fraction = min(done / max(total, 1), 1.0)
        label = f"{run.status} · {what}: {done:,} of {total:,}"
        return fraction, label + timing_words(run, fraction, now)
    done = int(history["step"].max()) if len(history) else 0
    unit = step_unit(run.model)
    total = run.total_steps or 0
    label = f"{run.status} · {unit} {done} of {total}" if total else run.status
    if run.status == FINISHED:
        return 1.0, label
    fraction = min(done / total, 1.0) if total else 0.0
    return fraction, label + timing_words(run, fraction, now)


def step_unit(model: str) -> str:
    """What one step of ``model``'s progress is (its fitter's ``step_unit``: epoch,
    iteration, fit, step ahead); "step" for a model this finml does not know (an import)."""
    from finml.errors import SpecError
    from finml.fitters import get_fitter

    try:
        return get_fitter(model).step_unit
    except (SpecError, KeyError):
        return "step"


def clock(seconds: float) -> str:
    """A duration as ``m:ss`` or ``h:mm:ss`` (seconds rounded)."""
    m, s = divmod(round(seconds), 60)
    h, m = divmod(m, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def timing_words(run: RunInfo, fraction: float, now: float | None = None) -> str:
    """A running run's elapsed time and, once a step is done, the time left at the pace
    so far (a linear estimate, as Weights & Biases and tqdm show it): ``" · 0:42 elapsed,
    about 2:10 left"``; "" for a run that is not running.

    Args:
        run: the run (``started`` in seconds since the epoch).
        fraction: the part done, in [0, 1].
        now: the time (seconds since the epoch); defaults to ``time.time()``.
    """
    if run.status != RUNNING or run.started is None:
        return ""
    elapsed = max((time.time() if now is None else now) - run.started, 0.0)
    words = f" · {clock(elapsed)} elapsed"
    if 0 < fraction < 1:
        words += f", about {clock(elapsed * (1 - fraction) / fraction)} left"
    return words


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
    return [(label, run.metrics[key]) for key, label in _tiles(run)]


def _tiles(run: RunInfo) -> list[tuple[str, str]]:
    """(metric key, label) of the run's tiles: its task's that it logged, at most the
    task's ``n_tiles``, labelled by the task where it has its own words."""
    task = get_task(run.params.get("task"))
    labels = dict(HEADLINE) | {"test_naive_mase": "Naive MASE", "test_ets_mase": "AutoETS MASE"}
    labels |= task.tile_labels
    return [(k, labels[k]) for k in task.tiles if k in run.metrics][: task.n_tiles]


def headline_tiles(run: RunInfo) -> list[tuple[str, str]]:
    """:func:`headline_metrics` as (label, text) tiles, each value by its kind
    (:func:`finml.reporting.formats.metric_text`): errors in the target's units (RMSE, MAE)
    with thousands separators and the target's unit (run parameter ``unit``) where one was
    given, unitless metrics (ROC-AUC, R², MASE) to 3 decimals."""
    from finml.reporting.formats import metric_text

    unit = run.params.get("unit", "")
    return [(label, metric_text(key, run.metrics[key], unit)) for key, label in _tiles(run)]


def numeric_comparison(runs: list[RunInfo]) -> pd.DataFrame:
    """Test metrics of regression or forecasting runs side by side: run (its name of
    :func:`run_names`), model, RMSE, MAE, R² (regression), MASE and the naive forecast's
    MASE (forecasting), where logged."""
    keys = {
        "test RMSE": "test_rmse",
        "test MAE": "test_mae",
        "test R²": "test_r2",
        "test MASE": "test_mase",
        "naive MASE": "test_naive_mase",
    }
    names = run_names(runs)
    rows = [
        {
            "run": names[r.run_id],
            "model": r.model,
            **{k: r.metrics.get(m) for k, m in keys.items()},
        }
        for r in runs
    ]
    table = pd.DataFrame(rows)
    return table.dropna(axis=1, how="all")
