"""A self-contained HTML model report of one run, built from what the run stored: data and
split audit, leakage screening, settings and seed, library versions, learning curves,
metrics with 95% confidence intervals and the confusion matrix at the chosen threshold,
costs, the field's own pack (credit or clinical), and explanations.

The page is a Jinja2 template (``templates/report.html.j2``) with autoescaping on, so
run names, column names and class labels are always text. Plotly's JavaScript is embedded
once, so the file opens offline.
"""

from __future__ import annotations

import contextlib
import functools
from datetime import UTC, datetime

import pandas as pd

from finml.access import ScopedStore
from finml.data.spec import parse_list
from finml.errors import FinmlError
from finml.evaluation import bootstrap, credit, metrics, thresholds
from finml.reporting import charts, formats
from finml.reporting.domains import CLINICAL_TARGETS, domain_of
from finml.tasks import get_task


def _environment():
    from jinja2 import Environment, PackageLoader, select_autoescape

    env = Environment(
        loader=PackageLoader("finml.reporting", "templates"),
        autoescape=select_autoescape(["html", "j2"], default=True),
    )
    env.globals["table"] = _table
    return env


def _table(frame: pd.DataFrame, index: bool = False):
    """A DataFrame as an HTML table, its cells escaped by pandas."""
    from markupsafe import Markup

    html = frame.to_html(index=index, border=0, float_format=lambda v: f"{v:.4f}", escape=True)
    return Markup(html)


class _Figures:
    """Plotly figures as HTML; the first one carries plotly.js so the file is self-contained."""

    def __init__(self) -> None:
        self.first = True

    def __call__(self, fig):
        from markupsafe import Markup

        out = fig.to_html(full_html=False, include_plotlyjs=self.first)
        self.first = False
        return Markup(out)


def build_report(
    store: ScopedStore,
    run_id: str,
    threshold: float | None = None,
    cost_fp: float = 1.0,
    cost_fn: float = 1.0,
) -> str:
    """Build the HTML report of a run.

    Args:
        store: the user's :class:`finml.access.ScopedStore` (the run's rows are reached
            through :mod:`finml.run_data`, with its ownership rule).
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
    numeric = {"values": _regression_report, "forecasts": _forecast_report}
    evaluation = get_task(run.params.get("task")).evaluation
    if evaluation in numeric:
        return numeric[evaluation](store, run, test)
    val = store.read_frame(run_id, "predictions/validation.parquet")
    if threshold is None:
        threshold = run.threshold if run.threshold is not None else 0.5
    domain = domain_of(run.params)
    y, score, val_y, val_score, labels = metrics.binary_view_of_run(run.params, test, val)
    fig = _Figures()
    figures = {}
    history = store.history(run_id)
    if len(history):
        figures["learning"] = fig(charts.learning_curves(history))
    values = metrics.binary_metrics(y, score, threshold)
    cis = bootstrap.metric_cis(y, score, threshold)
    cm = metrics.confusion(y, score, threshold)
    figures["confusion"] = fig(charts.confusion_matrix(cm, labels, threshold))
    best, _ = thresholds.min_cost_threshold(val_y, val_score, cost_fp, cost_fn)
    curve = thresholds.expected_cost_curve(y, score, cost_fp, cost_fn)
    figures["cost"] = fig(charts.cost_curve(curve, threshold, best))
    context = {
        "lift": None,
        "clinical": None,
        "per_class": None,
    }
    if domain.name == "credit":
        figures["ks"] = fig(charts.ks_plot(credit.ks_curve(y, score)))
        context["lift"] = credit.lift_table(y, score)
        figures["calibration"] = fig(
            charts.calibration_plot(
                credit.calibration_table(y, score),
                values["brier"],
                credit.hosmer_lemeshow(y, score),
            )
        )
    else:
        context["clinical"] = thresholds.clinical_operating_points(
            val_y, val_score, y, score, CLINICAL_TARGETS
        )
    try:
        importance = store.read_frame(run_id, "explain/permutation_importance.parquet")
        figures["importance"] = fig(charts.importance_bar(importance))
    except FinmlError:
        pass
    classes = run.params.get("classes", "")
    if classes:
        proba = test[[c for c in test.columns if c.startswith("p_")]].to_numpy()
        names = tuple(parse_list(classes))
        context["per_class"] = metrics.per_class_metrics(test["y_true"].to_numpy(), proba, names)
    from finml.models.bundle import load_run_bundle

    model = functools.cache(lambda: load_run_bundle(store, run_id))  # loaded once, if at all
    context["scorecard"] = _scorecard(run, model)
    credit_run = domain.name == "credit"
    context["stability"] = _stability(store, run, model, test, score) if credit_run else None
    context["fair_lending"] = _fair_lending(store, run, test, y, score, threshold)
    return _render(
        "report.html.j2",
        store,
        run,
        figures,
        leakage=_leakage(store, run),
        threshold=threshold,
        n_test=len(y),
        n_positive=int(y.sum()),
        labels=labels,
        n_resamples=bootstrap.N_RESAMPLES,
        metrics=metrics.metrics_table(domain.shown_metrics(values), cis),
        domain=domain,
        cost_labels=domain.cost_labels(*labels),
        cost_fp=cost_fp,
        cost_fn=cost_fn,
        cost_at=thresholds.expected_cost(cm, cost_fp, cost_fn),
        best=best,
        **context,
    )


def _render(template: str, store: ScopedStore, run, figures: dict, **context) -> str:
    """Render a report template with what every report shows (settings, split audit,
    library versions, figures)."""
    from finml.reporting.documentation import load_documentation, report_sections

    split, shared = _split_audit(store, run.run_id)
    doc = load_documentation(store, run.run_id)
    return (
        _environment()
        .get_template(template)
        .render(
            run=run,
            generated=f"{datetime.now(UTC):%Y-%m-%d %H:%M}",
            settings=_settings(run),
            split=split,
            shared=shared,
            versions=_versions(store, run.run_id),
            figures=figures,
            documentation=report_sections(doc),
            documented=doc if doc.get("sections") else None,
            **{"leakage": None, **context},
        )
    )


def _regression_report(store: ScopedStore, run, test: pd.DataFrame) -> str:
    """The report of a regression run: metrics with CIs against the mean baseline, interval
    coverage, fit and residual charts, error by decile, permutation importance."""
    from finml.evaluation import regression
    from finml.reporting import regression_charts as rc

    y, pred = test["y_true"].to_numpy(), test["y_pred"].to_numpy()
    scale = regression.mase_scale(run.metrics)
    values = regression.regression_metrics(y, pred, scale)
    fig = _Figures()
    figures = {}
    history = store.history(run.run_id)
    if len(history):
        figures["learning"] = fig(charts.learning_curves(history))
    intervals = None
    with contextlib.suppress(FinmlError):
        intervals = store.read_json(run.run_id, "intervals.json")
    target = run.params.get("target", "target")
    unit = run.params.get("unit", "")
    residuals = y - pred
    deciles = regression.error_by_decile(y, pred)
    from finml.models.bundle import run_target_floor

    half = (intervals or {}).get("0.9")
    floor = run_target_floor(store, run.run_id) if half is not None else None
    figures["fit"] = fig(rc.predicted_vs_actual(test, target, half, floor))
    figures["residuals"] = fig(rc.residuals_vs_predicted(test))
    figures["distribution"] = fig(
        rc.residual_distribution(residuals, regression.qq_points(residuals))
    )
    figures["deciles"] = fig(rc.error_by_decile(deciles))
    try:
        importance = store.read_frame(run.run_id, "explain/permutation_importance.parquet")
        figures["importance"] = fig(charts.importance_bar(importance, score="RMSE"))
    except FinmlError:
        pass
    return _render(
        "regression_report.html.j2",
        store,
        run,
        figures,
        n_test=len(y),
        n_resamples=bootstrap.N_RESAMPLES,
        metrics=formats.regression_metric_table(
            values, regression.regression_cis(y, pred, scale), unit
        ),
        mape_note=regression.mape_note(y),
        baseline_rmse=formats.amount(run.metrics.get("test_baseline_rmse"), unit),
        baseline_mae=formats.amount(run.metrics.get("test_baseline_mae"), unit),
        coverage=None
        if not intervals
        else formats.coverage_display(regression.coverage_table(y, pred, intervals), unit),
        deciles=deciles,
    )


#: Run parameters a report never lists: pointers into the workspace, not settings.
INTERNAL_PARAMS = frozenset({"dataset_id"})


def _settings(run) -> dict:
    params = {k: v for k, v in sorted(run.params.items()) if k not in INTERNAL_PARAMS}
    return {"model": run.model, "dataset": run.dataset, **params}


def _split_audit(store: ScopedStore, run_id: str) -> tuple[pd.DataFrame | None, int | None]:
    try:
        split = pd.DataFrame(store.read_json(run_id, "split_report.json"))
    except FinmlError:
        return None, None
    shared = int(split["groups shared"].sum()) if "groups shared" in split else None
    if "from" in split:  # a series' segments: their first and last periods as periods
        with contextlib.suppress(FinmlError, KeyError, ValueError):
            from finml.data.series import infer_frequency

            dates = pd.to_datetime(store.read_frame(run_id, "predictions/test.parquet")["date"])
            split = formats.forecast_table(split, infer_frequency(dates))
    return split, shared


def _versions(store: ScopedStore, run_id: str) -> dict:
    try:
        return store.read_json(run_id, "bundle/meta.json").get("versions", {})
    except FinmlError:
        return {}


def _leakage(store, run) -> dict | None:
    """Single-column leakage screening of the run's staged table, if the run may still
    reach it (:mod:`finml.run_data`: its owner's own rows, never an import's)."""
    task = get_task(run.params.get("task"))
    if not (task.tags.threshold and task.data_kind == "table"):  # screened: binary tables
        return None
    from finml.data.schema import infer_schema
    from finml.data.target import leakage_warnings
    from finml.run_data import run_table

    frame = run_table(store, run.run_id)
    if frame is None:
        return {"available": False, "hits": []}
    target = run.params.get("target", "")
    if target not in frame.columns:
        return None
    hits = leakage_warnings(frame, infer_schema(frame), target, run.params["positive_class"])
    return {"available": True, "hits": hits}


def _scorecard(run, bundle) -> dict | None:
    """A scorecard run's scaling, characteristics (IV) and points table, else ``None``;
    ``bundle()`` gives the run's model."""
    from finml.reporting import scorecard

    if not scorecard.is_scorecard_run(run.params):
        return None
    model = bundle()
    if scorecard.scorecard_of(model) is None:
        return None
    return {
        "words": scorecard.scaling_words(model),
        "characteristics": scorecard.characteristics_table(model),
        "points": scorecard.points_table(model),
    }


def _stability(store, run, bundle, test, score) -> dict | None:
    """Population stability of the test split against the training split: the score's PSI
    and each characteristic's (CSI), with the shift test and band of
    :func:`finml.evaluation.drift.psi_table`; ``available`` is False when the run's rows or
    its training profile are out of reach. ``None`` for a run without a table model;
    ``bundle()`` gives the run's model."""
    from finml.evaluation import drift
    from finml.run_data import run_table

    try:
        model = bundle()
    except FinmlError:
        return {"available": False}
    profile = getattr(model, "profile", None)
    if not profile or "score" not in profile:
        return None
    frame = run_table(store, run.run_id)
    if frame is None:
        return {"available": False}
    rows = frame.iloc[test["row"].to_numpy()]
    table = drift.psi_table(profile, rows, score)
    return {"available": True, "table": table, "rows": len(rows), "min_rows": drift.MIN_ROWS}


def _fair_lending(store, run, test, y, score, threshold) -> dict | None:
    """The fair-lending table of each protected attribute of the run (on the test split at
    ``threshold``), if it marked any; ``available`` is False when the run may no longer
    reach its rows (:mod:`finml.run_data`)."""
    from finml.evaluation import fairness
    from finml.run_data import run_table

    protected = parse_list(run.params.get("protected"))
    if not protected:
        return None
    frame = run_table(store, run.run_id)
    if frame is None:
        return {"available": False, "tables": []}
    tables = []
    for name in protected:
        try:
            table, summary = fairness.fairness_of_attribute(
                frame, test["row"].to_numpy(), name, y, score, threshold
            )
        except FinmlError:
            continue  # a column gone, or one group only: nothing to compare
        tables.append({"name": name, "table": table.round(3), "summary": summary})
    return {
        "available": True,
        "tables": tables,
        "min_group": fairness.MIN_GROUP,
        "four_fifths": fairness.FOUR_FIFTHS,
    }


def _validation(store: ScopedStore, run) -> pd.DataFrame | None:
    """The run's validation forecasts, or ``None`` where it has none."""
    try:
        return store.read_frame(run.run_id, "predictions/validation.parquet")
    except FinmlError:
        return None


def _forecast_report(store: ScopedStore, run, test: pd.DataFrame) -> str:
    """The report of a forecasting run: the model against the baselines on MASE with CIs,
    errors and coverage by step, and the forecasts of each step ahead over time."""
    from finml.evaluation import forecast
    from finml.reporting import regression_charts as rc

    intervals = {}
    with contextlib.suppress(FinmlError):
        intervals = store.read_json(run.run_id, "intervals.json")
    fig = _Figures()
    figures = {}
    history = store.history(run.run_id)
    if len(history):
        figures["learning"] = fig(charts.learning_curves(history))
    names = forecast.entities(test)
    shown_entities = names[:3] or [None]  # a panel: its first three entities
    steps = []
    for entity in shown_entities:
        own = forecast.for_entity(test, entity)
        truth = forecast.actuals(own)
        of = f"{entity}: " if entity is not None else ""
        for step in sorted(own["step"].unique()):
            title = f"{of}actual and {step}-step-ahead forecasts (test segment), 90% interval"
            shown = forecast.step_forecasts(own, intervals, int(step))
            steps.append(fig(rc.forecast_chart(truth["date"], truth["y_true"], shown, title)))
    return _render(
        "forecast_report.html.j2",
        store,
        run,
        figures,
        board=forecast.run_leaderboard(run, test, _validation(store, run)).round(4),
        by_step=formats.forecast_table(forecast.by_step(test, intervals), decimals=4),
        by_entity=formats.forecast_table(forecast.by_entity(test), decimals=4) if names else None,
        n_entities=len(names),
        step_figures=steps,
        n_test=int(test["origin"].nunique()),
    )
