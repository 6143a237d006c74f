"""Forecasting (a series over time, or a panel of them): check the series, split it in
time order, fit the windows' standardisation and the model on the training
origins only (through the model's fitter, :mod:`finml.fitters.forecasting`), report live
loss, validation loss and validation RMSE, calibrate per-step split-conformal intervals on
the validation origins, and score the model and the baselines (naive, seasonal naive,
AutoETS, Theta) on the validation origins (statistical baselines fitted on the training
periods) and once on the test origins (fitted on every period before them; so is a model
whose fitter ``refits``, :func:`refitted`: ridge, boosting, Auto), with MASE on
the naive forecast's one-step in-sample MAE and on the seasonal naive's (M4). A model whose
fitter has several ``members`` (Auto) chooses on the validation origins and the blocks
before them (:func:`choice_blocks`) which of them to average (:func:`choose_members`).
Cross-validation is a rolling-origin backtest, and a hyperparameter search is judged on the
backtest's mean MASE."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np
import pandas as pd

from finml.data.series import (
    SeriesSpec,
    chronological_split,
    load_series,
    naive_scales,
    require_positive,
    segment_report,
)
from finml.data.split import Split
from finml.errors import DataError, SpecError, SplitError, TargetError
from finml.evaluation.regression import conformal_quantiles, regression_metrics
from finml.fitters import get_fitter
from finml.fitters.base import PROGRESS_EVERY_S, FitData, SampledSink, Sink, never_stop
from finml.fitters.forecasting import NETS
from finml.models.forecaster import (
    FittedForecaster,
    arima_fits,
    arima_forecasts,
    boxcox_transform,
    ets_fits,
    ets_forecasts,
    ets_intervals,
    guerrero_lambda,
    naive_forecasts,
    seasonal_naive_forecasts,
    theta_forecasts,
)
from finml.models.registry import LOG_CHOSEN, SEASONAL_CHOSEN, STRATEGY_CHOSEN, resolve_params
from finml.tasks.base import Task, TaskTags, TrainResult
from finml.tasks.spec import RunSpec
from finml.tasks.tuning import best_params_of, tune

#: The baselines every forecasting run is scored against, in display order (AutoARIMA
#: only in the runs that ask for it: an Auto run with ``arima``).
BASELINES = ("naive", "seasonal_naive", "ets", "theta", "arima")

#: The statistical members a model may combine, whose forecasts the baselines hold.
STATISTICAL = ("ets", "theta", "arima")

#: Fewest origins the first backtest fold trains on.
MIN_FOLD_ORIGINS = 20

#: Backtest folds a search is judged on when the run asks for none.
SEARCH_FOLDS = 3

#: Blocks of origins before the validation block that Auto's choice also reads (each as
#: long as the validation block, every forecaster fitted on the periods before it).
CHOICE_BLOCKS = 2


def run_forecast(
    spec: RunSpec,
    frame: pd.DataFrame,
    sink: Sink,
    should_stop: Callable[[], bool] = never_stop,
    *,
    progress_every_s: float = PROGRESS_EVERY_S,
) -> TrainResult:
    """Train the forecasting ``spec`` on ``frame`` and score it once on the test origins.

    Args:
        spec: the run spec: ``dataset.task == "forecast"``, ``dataset.split.time_col`` the
            date column, ``dataset.horizon`` the steps ahead, ``dataset.split.val`` /
            ``.test`` the shares of periods, ``dataset.entity_col`` (a panel: one global
            model over every entity's windows, each entity's changes in units of its own
            training naive MAE), ``dataset.exog`` and ``dataset.known`` (those known in
            advance: their changes to each step ahead are inputs too); a forecasting model
            with its ``lags``.
        frame: the table, one row per period (per entity and period for a panel).
        sink: receives ``loss`` / ``val_loss`` (standardised changes) and ``val_rmse``
            (target units, over every step ahead) per epoch or per fitted step.
        should_stop: checked after every batch (networks) or fitted step (boosting).
        progress_every_s: seconds between two progress calls.

    Returns:
        TrainResult: ``val_predictions`` / ``test_predictions`` in long form
        (:func:`forecast_table`, and one column per baseline); ``test_metrics`` of the
        model (:func:`finml.evaluation.regression.regression_metrics`, with MASE: for a
        panel the mean of the entities' MASEs) and ``<baseline>_mase`` / ``<baseline>_rmse``
        for each baseline; the model's ``intervals`` hold per-step conformal half-widths in
        units of the entity scale.

    Raises:
        TargetError: the target cannot be forecast (text, inf, constant, horizon < 1, a
            value at or below 0 with ``log``).
        SplitError: bad dates (unparseable, duplicate within an entity, irregular), an
            unbalanced panel, a horizon longer than the test window, or too short a series.
        DataError: an exogenous column that is not a finite number on every row, or a
            known-in-advance column that is not an exogenous one.
        SpecError: not a forecasting model, or rolling features asked of a sequence model.
    """
    ds = spec.dataset
    FORECAST.check_spec(spec)
    params = resolve_params(spec.model, spec.params)
    h = int(ds.horizon)
    if params.get("rolling") and spec.model in NETS and NETS[spec.model] != "mlp":
        raise SpecError("Rolling-window features are for the models on lags, not sequences.")
    sspec = SeriesSpec(
        ds.split.time_col or "", ds.target, h, 1, 0, ds.entity_col, ds.exog, ds.known
    )
    series = load_series(frame, sspec)
    # lags 0: two seasons of them, at least 8
    p = int(params["lags"]) or max(AUTO_MIN_LAGS, 2 * series.season)
    params = {**params, "lags": p}
    if "fourier" in params:  # at most half the season (none without a season)
        params["fourier"] = min(int(params["fourier"]), series.season // 2)
    y = series.values
    m = series.season if seasonal_difference(params, series.season) else 0
    seg = chronological_split(
        series.n, h, p, ds.split.val, ds.split.test, len(series.entities), seasonal=m
    )
    val_o, test_o = seg.origins("val"), seg.origins("test")
    result = TrainResult(
        status="finished", steps=0, split=_rows(seg), split_report=segment_report(seg, series)
    )
    params, log_record = resolve_log(spec, params, series, seg)
    params, strategy_record = resolve_strategy(spec, params, series, seg)
    params, seasonal_record = resolve_seasonal_difference(spec, params, series, seg)
    if should_stop():
        result.status = "stopped"
        return result
    if spec.tune_trials:
        result.tuning = search(spec, params, series, seg, sink, should_stop)
        params = best_params_of(result.tuning)  # the best trial, refit below, tested once
        if params is None:
            result.status = "stopped"
            return result
    if spec.cv_folds:
        result.cv = backtest(spec, params, series, seg, sink, should_stop)
        if result.cv.stopped:
            result.status = "stopped"
            return result
    sampled = SampledSink(sink, progress_every_s)
    model, steps, stopped = fit_forecaster(
        spec, params, series, seg.origins("train"), val_o, sampled, should_stop
    )
    sampled.flush()
    result.steps, result.status = steps, "stopped" if stopped else "finished"
    if model is None:
        return result
    ex, season = series.exog, series.season
    scales = np.asarray(model.entity_scales)  # MASE's one-step scale: the training periods'
    # MASE's second scale, the M4 convention: the seasonal naive's in-sample MAE
    seasonal = naive_scales(y, seg.train[1], season)
    members = get_fitter(spec.model).members_for(params)
    arima = "arima" in members
    # AutoETS (and AutoARIMA) on the training periods for validation, then on every
    # period before the test block for the test
    val = baselines(series, val_o, h, seg.val[0], scales, seasonal, arima=arima)
    test_fits = statistical_fits(y, seg.test[0], season, arima, regressors(series))
    val_pred = model.predict_origins(y, val_o, ex, dates=series.dates)
    if len(members) > 1:
        earlier = choice_blocks(spec, params, series, seg, seasonal)
        model, val_pred = combined(
            spec, params, series, model, val, val_pred, test_fits, seg.test[0], earlier
        )
        record = model.meta.pop("choice") | log_record | strategy_record | seasonal_record
        result.records["forecast_choice.json"] = record
        # the intervals are calibrated on the chosen mean's errors in every block it read
        chosen = [m["name"] for m in model.members]
        calib_o, calib_pred = pooled(earlier, chosen, val_o, val_pred, len(series.entities))
    else:
        calib_o, calib_pred = val_o, val_pred
        if get_fitter(spec.model).refits:  # the test block's model saw validation too
            again = refitted(spec, params, series, seg.test[0], val_o, should_stop)
            if again is None:  # stopped during the refit: the fit on training is tested
                result.status = "stopped"
            model = again or model
    # normalised conformal: each error in units of its origin's recent mean absolute change
    model.set_params(interval_window=interval_window(season))
    units = model.interval_units(y, calib_o)
    model.set_params(intervals=conformal_per_step(y, calib_o, calib_pred, units))
    result.model = model
    if model.boxcox:  # the lambdas the tested model read (Evaluate says them)
        result.records["boxcox.json"] = boxcox_record(model.entities, model.boxcox)
    val["y_pred"] = val_pred.ravel()
    val["interval_unit"] = row_units(model, y, val_o, h)
    result.val_predictions = val
    scores = scored(val)
    result.validation_metrics = {k: scores[k] for k in ("mase", "mase_seasonal") if k in scores}
    # The test origins are scored here, once, after training is over.
    table = baselines(series, test_o, h, seg.test[0], scales, seasonal, test_fits)
    # a statistical member's test forecasts are its baseline's (same fits, same origins)
    known = {m: table[m].to_numpy() for m in STATISTICAL if m in table}
    table["y_pred"] = model.predict_origins(y, test_o, ex, known=known, dates=series.dates).ravel()
    table["interval_unit"] = row_units(model, y, test_o, h)
    result.test_predictions = table
    units = table["interval_unit"].to_numpy()
    result.test_metrics = scored(table) | interval_scores(table, model.intervals, units)
    # AutoETS's own intervals (its model's forecast distribution), beside the conformal ones
    lower, upper = ets_intervals(y, test_o, h, season, test_fits["ets"])
    result.test_metrics |= {f"ets_{k}": v for k, v in band_scores(table, lower, upper).items()}
    return result


#: The local unit of the intervals covers this many seasons of changes (at least
#: :data:`AUTO_MIN_LAGS` changes): :func:`finml.models.forecaster.local_units`.
INTERVAL_SEASONS = 2


def interval_window(season: int) -> int:
    """Changes in an origin's local unit: two seasons, at least 8 (:func:`local_units
    <finml.models.forecaster.local_units>`)."""
    return max(AUTO_MIN_LAGS, INTERVAL_SEASONS * int(season))


def row_units(model: FittedForecaster, y: np.ndarray, origins: np.ndarray, h: int) -> np.ndarray:
    """Each long-form forecast row's interval unit (its origin's, repeated over the h
    steps), float64 (E * m * h,), entity-major."""
    return np.repeat(model.interval_units(y, origins).ravel(), h)


def combined(spec, params, series, model, val, val_pred, test_fits, block_start: int, earlier=()):
    """Auto's members (the fitter's ``members``): choose on the validation origins and the
    ``earlier`` blocks (:func:`choose_members`), refit the estimator on every origin before
    the block to forecast (a fitter that ``refits``), and give the model its members, the
    ETS (ARIMA) one with the forms (orders) AutoETS (AutoARIMA) chose on every period before
    that block.

    Args:
        val: the validation baselines (:func:`baselines`); gains ``model_alone``.
        val_pred: the estimator's validation forecasts, float (E * m, h).
        test_fits: :func:`statistical_fits` before the block.
        block_start: the first period of the block to forecast (the test block's, or a
            backtest fold's).
        earlier: :func:`choice_blocks`: the members' forecasts on blocks before validation.

    Returns:
        (the model, with ``meta["choice"]`` the record of the choice; the chosen mean's
        validation forecasts).
    """
    fitter = get_fitter(spec.model)
    names = fitter.members_for(params)
    shape = val_pred.shape
    forecasts = {
        "model": val_pred,
        **{m: val[m].to_numpy().reshape(shape) for m in STATISTICAL if m in names},
    }
    actual, scale = val["y_true"].to_numpy(), val["scale_seasonal"].to_numpy()
    seen = forecasts
    if earlier:  # the earlier blocks first: the per-origin losses stay in time order
        seen = {
            m: np.concatenate([*(b.forecasts[m] for b in earlier), forecasts[m]]) for m in names
        }
        actual = np.concatenate([*(b.actual for b in earlier), actual])
        scale = np.concatenate([*(b.scale for b in earlier), scale])
    chosen, record = choose_members(seen, actual, scale, names)
    val["model_alone"] = val_pred.ravel()
    if fitter.refits:  # the estimator again, on every origin before the test block
        val_o = np.unique(val["origin"].to_numpy())
        model = refitted(spec, params, series, block_start, val_o)  # one ridge fit
    forms = {  # None: no form fitted that entity (its forecast is the naive one)
        name: {
            e: list(form) if form else None
            for e, (form, _) in zip(series.entities, fits, strict=True)
        }
        for name, fits in test_fits.items()
    }
    members = [{"name": m, "forms": forms[m]} if m in forms else {"name": m} for m in chosen]
    model.set_params(members=members, meta={**(model.meta or {}), "choice": record})
    return model, np.mean([forecasts[m] for m in chosen], axis=0)


def refitted(
    spec, params, series, block_start: int, val_o: np.ndarray, should_stop=never_stop
) -> FittedForecaster | None:
    """The estimator fitted again (standardisation, entity scales and model) on every
    origin whose h targets precede ``block_start``: the training and validation origins
    before the test block, or every origin before a backtest fold's block. For a fitter
    that ``refits``, whose fit reads no validation data (ridge, boosting: no early
    stopping on the validation origins), so the periods validation judged also train
    the model that forecasts the block. Silent: its losses are not logged.

    Args:
        block_start: the first period of the block to forecast.
        val_o: origins for the fit's validation meter, int (m,) (not logged).
        should_stop: checked between two steps of the fit (boosting's steps ahead).

    Returns:
        The refitted model, or ``None`` if a stop request came during the refit.
    """
    h, first = int(spec.dataset.horizon), first_origin(params, series.season)
    every = np.arange(first, block_start - h, dtype=np.int64)
    model, _, stopped = fit_forecaster(spec, params, series, every, val_o, Sink(), should_stop)
    return None if stopped else model


class Block(NamedTuple):
    """A block of origins before validation that Auto's choice reads (:func:`choice_blocks`):
    its ``origins`` int (m,), each member's ``forecasts`` float (E * m, h), entity-major,
    the ``actual`` values and their seasonal ``scale``, float (E * m * h,)."""

    origins: np.ndarray
    forecasts: dict
    actual: np.ndarray
    scale: np.ndarray


def pooled(earlier, chosen, val_o, val_pred, n_entities: int):
    """The origins and forecasts of the chosen mean over the ``earlier`` blocks and the
    validation block, entity-major over all of them (for :func:`conformal_per_step`).

    Returns:
        (origins int (M,), forecasts float (E * M, h))."""
    h = val_pred.shape[1]
    blocks = [(b.origins, np.mean([b.forecasts[m] for m in chosen], axis=0)) for b in earlier]
    blocks.append((val_o, val_pred))
    origins = np.concatenate([o for o, _ in blocks])
    pred = np.concatenate([p.reshape(n_entities, len(o), h) for o, p in blocks], axis=1)
    return origins, pred.reshape(-1, h)


def choice_blocks(spec, params, series, seg, seasonal) -> list[Block]:
    """The members' forecasts on up to :data:`CHOICE_BLOCKS` blocks of origins before the
    validation block, for Auto's choice (a rolling-origin backtest over the training
    periods: each block as long as the validation block; the estimator fitted on the
    origins whose targets precede the block, AutoETS / AutoARIMA / Theta on the periods
    up to its first origin). A block whose estimator would see fewer than
    :data:`MIN_FOLD_ORIGINS` origins is left out. The test periods take no part.

    Returns:
        The :class:`Block` s, oldest first.
    """
    y, h, first = series.values, int(spec.dataset.horizon), first_origin(params, series.season)
    names = get_fitter(spec.model).members_for(params)
    val_o = seg.origins("val")
    out = []
    for block, past in choice_origins(val_o, first, h, validation=False):
        model, _, _ = fit_forecaster(spec, params, series, past, block, Sink(), never_stop)
        scales = np.asarray(model.entity_scales)
        table = baselines(
            series, block, h, int(block[0]) + 1, scales, seasonal, arima="arima" in names
        )
        pred = model.window_forecasts(y, block, series.exog, dates=series.dates)
        forecasts = {
            m: pred if m == "model" else table[m].to_numpy().reshape(pred.shape) for m in names
        }
        actual, scale = table["y_true"].to_numpy(), table["scale_seasonal"].to_numpy()
        out.append(Block(block, forecasts, actual, scale))
    return out


def resolve_log(spec, params, series, seg) -> tuple[dict, dict]:
    """Whether the estimator forecasts ``log y`` (``params["log"]``): as asked (``True`` /
    ``"yes"``, ``False`` / ``"no"``), or, with :data:`~finml.models.registry.LOG_CHOSEN`,
    on the log when the estimator alone fitted that way has a lower MASE (seasonal scale)
    than fitted on the series by more than one standard error of the per-origin
    difference (:func:`mean_error`, the rule :func:`choose_members` uses) over the
    validation block and the :data:`CHOICE_BLOCKS` blocks before it, each forecast by the
    estimator fitted on the origins whose targets precede it (no test value enters the
    comparison; a series with a value at or below 0 anywhere, the test periods included,
    since the test windows would read its log, stays as it is). Decided once per run,
    before any search or backtest, whose folds and trials then keep it (their scores may
    be a little optimistic for the earlier folds, which it saw).

    Returns:
        (the params with ``log`` decided (``"yes"`` / ``"no"`` where it was chosen); the
        record for ``forecast_choice.json``:
        ``{"log": {"chosen", "rule", "validation_mase": {"series", "log"},
        "standard_error"}}`` when chosen, else ``{}``).

    Raises:
        TargetError: ``log`` asked of a series with a value at or below 0.
    """
    value = params.get("log", False)
    if asks(params, "boxcox"):
        fix = 'Set "Box-Cox transform" to no, or forecast a positive column.'
        require_positive(series, spec.dataset.target, TargetError, fix, "Box-Cox transform")
    if value != LOG_CHOSEN:
        if wants_log(params):
            fix = 'Set "Forecast the log of the series" to no, or forecast a positive column.'
            require_positive(series, spec.dataset.target, TargetError, fix)
        return params, {}

    rule = (
        "the estimator alone fitted on the log of the series if its validation MASE is lower "
        "than on the series itself by more than one standard error"
    )
    why_not = "" if (series.values > 0).all() else "a value <= 0"
    ways = {"series": "no", "log": "yes"}  # as the form writes them
    return one_se_decision(spec, params, series, seg, ("log", "log"), ways, rule, why_not)


def resolve_strategy(spec, params, series, seg) -> tuple[dict, dict]:
    """The multi-step strategy of the estimator (``params["strategy"]``): as asked, or,
    with :data:`~finml.models.registry.STRATEGY_CHOSEN`, recursive when the estimator
    alone that way has a lower MASE than direct by more than one standard error on the
    blocks :func:`resolve_log` reads (direct for one step ahead, where both are the same,
    and with exogenous columns, whose future values a recursive forecast would need).

    Returns:
        (the params with ``strategy`` ``"direct"`` or ``"recursive"``; the record for
        ``forecast_choice.json``: ``{"recursive": {"chosen", "rule", "validation_mase":
        {"direct", "recursive"}, "standard_error"}}`` when chosen, else ``{}``).
    """
    if params.get("strategy", "direct") != STRATEGY_CHOSEN:  # with exogenous columns:
        return params, {}  # direct only (the fitter's check refuses recursive before)

    rule = (
        "the estimator alone recursive if its validation MASE is lower than direct by more "
        "than one standard error"
    )
    one_step = int(spec.dataset.horizon) == 1
    why_not = "one step ahead" if one_step else "exogenous columns" if series.exog_names else ""
    ways = {"direct": "direct", "recursive": "recursive"}
    key = ("strategy", "recursive")
    return one_se_decision(spec, params, series, seg, key, ways, rule, why_not)


def resolve_seasonal_difference(spec, params, series, seg) -> tuple[dict, dict]:
    """Whether the estimator reads the seasonal difference (``params
    ["seasonal_difference"]``): as asked, or, with
    :data:`~finml.models.registry.SEASONAL_CHOSEN`, when the estimator alone that way has
    a lower MASE than on the series' own changes by more than one standard error on the
    blocks :func:`resolve_log` reads whose fits have enough origins from a season later
    (never for a series without a season).

    Returns:
        (the params with ``seasonal_difference`` ``"yes"`` or ``"no"``; the record for
        ``forecast_choice.json``: ``{"seasonal_difference": {"chosen", "rule",
        "validation_mase": {"changes", "seasonal difference"}, "standard_error"}}`` when
        chosen, else ``{}``).
    """
    if params.get("seasonal_difference", False) != SEASONAL_CHOSEN:
        return params, {}
    rule = (
        "the estimator alone on the seasonal difference if its validation MASE is lower than "
        "on the series' own changes by more than one standard error"
    )
    why_not = "" if series.season > 1 else "no season"
    ways = {"changes": "no", "seasonal difference": "yes"}
    key = ("seasonal_difference", "seasonal_difference")
    return one_se_decision(spec, params, series, seg, key, ways, rule, why_not)


def one_se_decision(spec, params, series, seg, key, ways: dict, rule: str, why_not: str):
    """A decision on the estimator between two ways of a parameter: the second, unless
    ``why_not`` says it does not apply, when the estimator alone that way has a lower
    MASE (seasonal scale) than the first by more than one standard error of the
    per-origin difference (:func:`estimator_losses`, :func:`mean_error`).

    Args:
        key: (the parameter, the record's key).
        ways: the two ways' names in the record -> the parameter's values, the default
            first.
        rule: the rule in words, for the record; why_not: the reason the second way is
            not tried, or ``""``.

    Returns:
        (the params with the way taken; ``{record key: {"chosen": bool, "rule", and when
        measured "validation_mase": {way: MASE}, "standard_error"}}``).
    """
    (name, record_key), (first, second) = key, list(ways)

    def decided(taken: bool, record: dict) -> tuple[dict, dict]:
        value = ways[second if taken else first]
        return {**params, name: value}, {record_key: {"chosen": taken, **record}}

    if why_not:
        return decided(False, {"rule": why_not})
    variants = [{**params, name: value} for value in ways.values()]
    loss = estimator_losses(spec, series, seg, variants)
    if loss is None:
        return decided(False, {"rule": "too few origins"})
    diff = loss[0] - loss[1]
    record = {
        "rule": rule,
        "validation_mase": {first: float(loss[0].mean()), second: float(loss[1].mean())},
        "standard_error": mean_error(diff, int(spec.dataset.horizon)),
    }
    return decided(bool(diff.mean() > record["standard_error"]), record)


def estimator_losses(spec, series, seg, variants: list[dict]) -> list[np.ndarray] | None:
    """The estimator alone with each of the ``variants`` (params), fitted before each of
    the validation block and the :data:`CHOICE_BLOCKS` blocks before it on the origins
    whose targets precede the block: each origin's mean absolute error over the h steps
    in units of the entity's seasonal naive MAE on the training periods (MASE's M4
    scale).

    Returns:
        One float64 array (E * M,) per variant over the same origins, or ``None`` when
        fewer than 2 origins could be forecast (a series too short to fit before any
        block).
    """
    y, h = series.values, int(spec.dataset.horizon)
    first = max(first_origin(v, series.season) for v in variants)
    val_o = seg.origins("val")
    seasonal = naive_scales(y, seg.train[1], series.season)
    errors = [[] for _ in variants]
    for block, past in choice_origins(val_o, first, h):
        actual = y[:, block[:, None] + np.arange(1, h + 1)[None, :]].reshape(-1, h)
        unit = np.repeat(seasonal, len(block))[:, None]
        for v, out in zip(variants, errors, strict=True):
            model, _, _ = fit_forecaster(spec, v, series, past, block, Sink(), never_stop)
            pred = model.window_forecasts(y, block, series.exog, dates=series.dates)
            out.append((np.abs(pred - actual) / unit).mean(axis=1))  # per origin
    loss = [np.concatenate(e) if e else np.empty(0) for e in errors]
    return loss if len(loss[0]) >= 2 else None


def choice_origins(val_o: np.ndarray, first: int, h: int, validation: bool = True):
    """The blocks Auto's decisions read, oldest first: :data:`CHOICE_BLOCKS` blocks of
    as many origins as the validation block ``val_o`` before it, then (with
    ``validation``) the validation block itself; each with the origins whose h targets
    precede it (from ``first`` on, :func:`first_origin`). A block with fewer than
    :data:`MIN_FOLD_ORIGINS` of those is left out.

    Yields:
        (the block's origins int (m,), the origins to fit on int (k,)).
    """
    for j in range(CHOICE_BLOCKS, -1 if validation else 0, -1):
        block = val_o - j * len(val_o)
        past = np.arange(first, int(block[0]) - h + 1, dtype=np.int64)
        if len(past) >= MIN_FOLD_ORIGINS:
            yield block, past


#: The most entities whose codes a boosted model reads as one categorical input
#: (scikit-learn's histogram boosting holds at most ``max_bins`` = 255 categories).
MAX_ENTITY_CODES = 255


def entity_feature(params: dict, series) -> bool:
    """Whether the windows end with the entity's code (``params["entity_feature"]``, a
    panel of 2 to :data:`MAX_ENTITY_CODES` entities; a larger panel's model goes without)."""
    return bool(params.get("entity_feature")) and 1 < len(series.entities) <= MAX_ENTITY_CODES


def boxcox_record(entities, lambdas) -> dict:
    """The run's ``boxcox.json`` of a Box-Cox model: ``{"lambda": {entity: lambda}}``
    (entity ``""`` for one series), from its entities and lambdas (E,) each."""
    pairs = zip(map(str, entities or ("",)), lambdas, strict=True)
    return {"lambda": {e: float(v) for e, v in pairs}}


def boxcox_words(record: dict) -> str:
    """What Evaluate says of a Box-Cox model's lambdas (the run's ``boxcox.json``:
    ``{"lambda": {entity: lambda}}``, ``""`` for one series): the value, or the range over
    a panel's entities.

    Raises:
        DataError: a record that is not of that shape.
    """
    lam = (record or {}).get("lambda") if isinstance(record, dict) else None
    if not isinstance(lam, dict) or not lam:
        raise DataError("boxcox.json holds no lambda.")
    values = sorted(float(v) for v in lam.values())
    what = (
        f"lambda = {values[0]:.3f}"
        if len(values) == 1
        else f"lambda from {values[0]:.3f} to {values[-1]:.3f} over the {len(values)} entities"
    )
    return (
        f"The model forecasts the Box-Cox transform of the series, {what} (Guerrero's "
        "method, fitted on the periods the tested model was fitted on: training, and "
        "validation too for a model refitted before the test block; 0 is the log, 1 the "
        "series itself), and its forecasts are transformed back."
    )


def entity_code_note(asked: bool, n_entities: int) -> str:
    """What Evaluate says when a run asked for the entity as a feature and its panel had
    more entities than the boosted model holds codes for (the model went without), else
    ``""``.

    Args:
        asked: the run's ``entity_feature`` parameter.
        n_entities: the panel's entities (0 or 1 for one series).
    """
    if not asked or n_entities <= MAX_ENTITY_CODES:
        return ""
    return (
        f"Entity as a feature was asked for, but this panel has {n_entities:,} entities and "
        f"the boosted model holds at most {MAX_ENTITY_CODES} categories: the model was "
        "trained without the entity code (one global model on each entity's scaled "
        "changes). Split the panel into groups of at most "
        f"{MAX_ENTITY_CODES} entities to give each its code."
    )


def asks(params: dict, name: str) -> bool:
    """Whether ``params[name]`` asks for it: ``True`` or ``"yes"``."""
    value = params.get(name, False)
    return value is True or value == "yes"


def wants_log(params: dict) -> bool:
    """Whether ``params["log"]`` asks for the log of the series (``True`` or ``"yes"``)."""
    return asks(params, "log")


def seasonal_difference(params: dict, season: int) -> bool:
    """Whether the estimator reads the seasonal difference (``params
    ["seasonal_difference"]``, a series with a season: m > 1)."""
    return asks(params, "seasonal_difference") and int(season) > 1


def first_origin(params: dict, season: int) -> int:
    """The first origin a model with ``params`` forecasts from: p changes before it, and a
    season more with the seasonal difference
    (:attr:`~finml.models.forecaster.FittedForecaster.first_origin`)."""
    return int(params["lags"]) + (int(season) if seasonal_difference(params, season) else 0)


#: The fewest lags a model asking for "two seasons" gets.
AUTO_MIN_LAGS = 8


def statistical_fits(
    y: np.ndarray, fit_end: int, season: int, arima: bool = False, regressors=None
) -> dict:
    """AutoETS's forms (and AutoARIMA's orders, when ``arima``, on the known columns'
    ``regressors`` (:func:`regressors`) when there are any) with their parameters on the
    periods before ``fit_end``: ``{"ets": ets_fits(...), "arima": arima_fits(...)}``
    (:func:`finml.models.forecaster.ets_fits`, :func:`~finml.models.forecaster.arima_fits`).

    Raises:
        ValueError: fewer than 10 periods before ``fit_end``.
    """
    fits = {"ets": ets_fits(y, fit_end, season)}
    if arima:
        fits["arima"] = arima_fits(y, fit_end, season, None, regressors)
    return fits


def regressors(series) -> np.ndarray | None:
    """The known-in-advance columns of ``series`` (:attr:`Series.known_names`) as
    AutoARIMA's regressors, float64 (E, n, K); ``None`` without any."""
    if not series.known_names:
        return None
    columns = [series.exog_names.index(c) for c in series.known_names]
    return series.exog[:, :, columns]


def baselines(
    series, origins, h: int, fit_end: int, scales, seasonal, fits=None, arima: bool = False
) -> pd.DataFrame:
    """The long-form table of forecasts from ``origins`` (:func:`forecast_table`, ``y_pred``
    left NaN) with a column per baseline: naive, seasonal naive, AutoETS (form and
    parameters on the periods before ``fit_end``, then rolled through the origins), Theta
    (the same way) and, when asked, AutoARIMA (the same way), and ``scale_seasonal`` (each
    entity's seasonal naive MAE: MASE's M4 scale).

    Args:
        series: the checked series (:class:`finml.data.series.Series`).
        origins: int (m,); h: steps ahead; fit_end: the statistical models' data end.
        scales: the entities' one-step scales, float (E,); seasonal: their seasonal ones.
        fits: :func:`statistical_fits` when already made (its ``"arima"`` key adds the
            AutoARIMA column).
        arima: add AutoARIMA (when ``fits`` is not given).

    Raises:
        ValueError: fewer than 10 periods before ``fit_end``.
    """
    y, season = series.values, series.season
    x = regressors(series)
    fits = statistical_fits(y, fit_end, season, arima, x) if fits is None else fits
    blank = np.full((len(y) * len(origins), h), np.nan)
    table = forecast_table(series, origins, blank, h, scales)
    table["naive"] = naive_forecasts(y, origins, h).ravel()
    table["seasonal_naive"] = seasonal_naive_forecasts(y, origins, h, season).ravel()
    table["ets"] = ets_forecasts(y, origins, h, fit_end, season, fits["ets"]).ravel()
    table["theta"] = theta_forecasts(y, origins, h, season).ravel()
    if "arima" in fits:
        arima_fit = fits["arima"]
        table["arima"] = arima_forecasts(y, origins, h, fit_end, season, arima_fit, x).ravel()
    table["scale_seasonal"] = np.repeat(np.asarray(seasonal, dtype=np.float64), len(origins) * h)
    return table


def choose_members(
    forecasts: dict[str, np.ndarray], actual: np.ndarray, scale: np.ndarray, names
) -> tuple[list[str], dict]:
    """Auto's choice on the validation origins: the equal-weight mean of every member,
    unless the best one alone or the best k together (k below the number of members) have a
    lower MASE by more than one standard error of the paired per-origin difference
    (:func:`mean_error`, as in the Diebold-Mariano test; the one-standard-error rule,
    Hastie, Tibshirani & Friedman 2009, 7.10; the default stays the combination because
    combinations beat their members on average: M4, Makridakis et al. 2020).

    Args:
        forecasts: member name -> validation forecasts, float (E * m, h), entity-major.
        actual: the validation actuals, float (E * m * h,), in the same order.
        scale: each forecast's seasonal scale (MASE's denominator), float (E * m * h,).
        names: the members in display order.

    Returns:
        (the chosen member names, the record: each candidate's validation MASE, its
        members, whether chosen, and the rule in words).
    """
    h = next(iter(forecasts.values())).shape[1]

    def losses(members) -> np.ndarray:
        mean = np.mean([np.asarray(forecasts[m]).reshape(-1, h) for m in members], axis=0)
        return (np.abs(mean.ravel() - actual) / scale).reshape(-1, h).mean(axis=1)

    names = list(names)
    alone = {m: float(losses([m]).mean()) for m in names}
    ranked = sorted(names, key=alone.get)
    everything = losses(ranked)
    chosen, gain = ranked, 0.0
    for k in range(1, len(ranked)):
        diff = everything - losses(ranked[:k])
        se = mean_error(diff, h)
        if diff.mean() > se and diff.mean() > gain:
            chosen, gain = ranked[:k], float(diff.mean())
    candidates = [ranked[:k] for k in range(1, len(ranked) + 1)]
    candidates += [[m] for m in ranked[1:]]
    record = {
        "rule": "equal-weight mean of every member unless the best one or few are better on "
        "the validation block and the blocks of origins before it by more than one standard "
        "error",
        "chosen": chosen,
        "candidates": [
            {
                "members": c,
                "validation_mase": float(losses(c).mean()),
                "chosen": c == chosen,
            }
            for c in candidates
        ],
    }
    return chosen, record


def mean_error(diff: np.ndarray, h: int) -> float:
    """The standard error of the mean of per-origin loss differences of h-step forecasts:
    their autocovariances up to lag h - 1 summed (forecasts from nearby origins share
    targets), the variance Diebold & Mariano (1995) use; the plain variance where that sum
    is not positive. ``inf`` for fewer than two values."""
    d = np.asarray(diff, dtype=np.float64)
    n = len(d)
    if n < 2:
        return float("inf")
    c = d - d.mean()
    gamma = [float(c @ c) / n] + [float(c[k:] @ c[:-k]) / n for k in range(1, min(h, n))]
    long_run = gamma[0] + 2 * sum(gamma[1:])
    return float(np.sqrt((long_run if long_run > 0 else gamma[0]) / n))


def interval_scores(table: pd.DataFrame, intervals: dict, units: np.ndarray) -> dict[str, float]:
    """The 90% interval's test coverage and MSIS (:func:`band_scores`) of the model's
    conformal intervals.

    Args:
        table: the test forecasts (``step``, ``y_true``, ``y_pred``, ``scale_seasonal``).
        intervals: the model's per-step half-widths (``{"0.9": [q_1..q_h]}``).
        units: each row's unit of the half-widths (its origin's local unit, or its
            entity's scale for runs before local units), float (n,).
    """
    q = (intervals or {}).get("0.9")
    if not q or "scale_seasonal" not in table:
        return {}
    half = table["step"].map(lambda k: q[k - 1]).to_numpy() * units
    pred = table["y_pred"].to_numpy()
    return band_scores(table, pred - half, pred + half)


def band_scores(table: pd.DataFrame, lower, upper) -> dict[str, float]:
    """A 90% interval's coverage (share of actuals inside) and MSIS (the M4 mean scaled
    interval score at alpha = 0.1, Makridakis et al. 2020: width plus 2 / alpha times each
    miss, over the seasonal scale; lower is better), over the rows of ``table``
    (``y_true``, ``scale_seasonal``) where the actual and both bounds are known.

    Args:
        table: the long-form forecasts; lower, upper: the bounds of each row, float (n,)
            (or (E * m, h), entity-major: raveled in the table's order).
    """
    y = table["y_true"].to_numpy()
    lower = np.asarray(lower, dtype=np.float64).ravel()
    upper = np.asarray(upper, dtype=np.float64).ravel()
    keep = np.isfinite(y) & np.isfinite(lower) & np.isfinite(upper)
    if not keep.any():
        return {}
    y, lo, up = y[keep], lower[keep], upper[keep]
    score = (up - lo) + 20 * (lo - y) * (y < lo) + 20 * (y - up) * (y > up)
    return {
        "coverage_90": float(np.mean((y >= lo) & (y <= up))),
        "msis": float(np.mean(score / table["scale_seasonal"].to_numpy()[keep])),
    }


def scored(table: pd.DataFrame) -> dict[str, float]:
    """The model's metrics on long-form forecasts (MASE with each row's ``scale``, and
    ``mase_seasonal`` with its ``scale_seasonal`` when there is one), and
    ``<baseline>_mase`` / ``<baseline>_rmse`` (/ ``<baseline>_mase_seasonal``) for each
    baseline column present."""
    actual, scale = table["y_true"].to_numpy(), table["scale"].to_numpy()
    seasonal = table["scale_seasonal"].to_numpy() if "scale_seasonal" in table else None
    metrics = {}
    for name in ("y_pred", *BASELINES):
        if name not in table:
            continue
        pred = table[name].to_numpy()
        values = regression_metrics(actual, pred, scale)
        if seasonal is not None:
            values["mase_seasonal"] = regression_metrics(actual, pred, seasonal)["mase"]
        if name == "y_pred":
            metrics |= values
        else:
            keys = ("mase", "rmse", "mase_seasonal")
            metrics |= {f"{name}_{k}": values[k] for k in keys if k in values}
    return metrics


def fit_forecaster(spec, params, series, train_o, val_o, sink, should_stop):
    """Fit the entities' scales on the training periods (each entity's naive one-step MAE
    up to the last training target), the windows' standardisation on the training origins
    and the model on their windows, with early stopping (networks) on the validation
    origins. Training origins before the model's first origin (p, and a season more with
    the seasonal difference) are left out here, for every caller.

    Returns:
        (the :class:`FittedForecaster` or ``None`` if stopped before any step, steps done,
        stopped).
    """
    y, p, h = series.values, int(params["lags"]), int(spec.dataset.horizon)
    end = int(train_o[-1]) + h + 1  # the training periods: up to the last training target
    scales = naive_scales(y, end)
    lambdas = lambda_scales = None
    if asks(params, "boxcox"):  # lambda by Guerrero's method on the training periods only
        lambdas = [guerrero_lambda(row[:end], series.season) for row in y]
        lambda_scales = naive_scales(boxcox_transform(y, np.asarray(lambdas)), end).tolist()
    rolling, fourier = bool(params.get("rolling", False)), int(params.get("fourier", 0))
    model = FittedForecaster(
        lags=p,
        horizon=h,
        season=series.season,
        freq=series.freq,
        exog=list(series.exog_names),
        rolling=rolling,
        entities=list(series.entities),
        entity_scales=scales.tolist(),
        fourier=fourier,
        log=wants_log(params),
        recursive=params.get("strategy") == "recursive",
        entity_feature=entity_feature(params, series),
        seasonal_difference=seasonal_difference(params, series.season),
        known=list(series.known_names),
        boxcox=lambdas,
        boxcox_scales=lambda_scales,
    )
    train_o = train_o[train_o >= model.first_origin]
    x_tr, t_tr, base, s = model.inputs(y, train_o, series.exog, dates=series.dates)
    x_va, t_va, _, _ = model.inputs(y, val_o, series.exog, dates=series.dates)
    t_tr, t_va = t_tr[:, : model.outputs], t_va[:, : model.outputs]  # recursive: the next one
    x_mean, x_scale = x_tr.mean(axis=0), _scale(x_tr.std(axis=0))
    if model.entity_feature:  # the entity's code stays a code
        x_mean[-1], x_scale[-1] = 0.0, 1.0
    model.set_params(
        x_mean=x_mean.tolist(),
        x_scale=x_scale.tolist(),
        t_mean=t_tr.mean(axis=0).tolist(),
        t_scale=_scale(t_tr.std(axis=0)).tolist(),
    )
    z_tr, z_va = model.encode(x_tr), model.encode(x_va)
    zt_tr, zt_va = _standard(model, t_tr), _standard(model, t_va)
    # the validation RMSE in the target's units: the forecast levels against the actual ones
    ahead = val_o[:, None] + np.arange(1, model.outputs + 1)[None, :]
    actual = y[:, ahead].reshape(-1, model.outputs)

    def meter(_, raw) -> dict[str, float]:
        pred = model.levels(base, val_o, model.decode(np.asarray(raw)), s)
        return {"val_rmse": float(np.sqrt(np.mean((pred - actual) ** 2)))}

    channels = 1 + len(model.exog)
    window = (p, channels, model.n_inputs - p * channels)
    codes = {"entity": list(model.entities)} if model.entity_feature else None
    data = FitData(
        z_tr, zt_tr, z_va, zt_va, n_classes=0, meter=meter, window=window, categories=codes
    )
    fit = get_fitter(spec.model).fit(spec, params, data, sink, should_stop)
    if fit.estimator is None:
        return None, fit.steps, True
    return model.set_params(estimator=fit.estimator), fit.steps, fit.stopped


@dataclass
class Backtest:
    """A rolling-origin backtest: ``folds`` has one row per fold (``fold``, ``origins``,
    ``from`` / ``to`` dates of its targets, ``mase``, ``rmse``, ``mae``, ``naive_mase``);
    ``forecasts`` the folds' forecasts in the long form of :func:`forecast_table` with a
    ``fold`` column; ``stopped`` when a stop request ended it."""

    folds: pd.DataFrame
    stopped: bool = False
    forecasts: pd.DataFrame = field(default_factory=pd.DataFrame)

    def summary(self) -> dict[str, float]:
        """``cv_<metric>_mean`` and ``cv_<metric>_sd`` over the folds."""
        from finml.evaluation.metrics import mean_sd

        out = {}
        for key in ("mase", "rmse", "mae", "naive_mase"):
            if key in self.folds and len(self.folds):
                out[f"cv_{key}_mean"], out[f"cv_{key}_sd"] = mean_sd(self.folds[key])
        return out


def backtest(spec, params, series, seg, sink, should_stop) -> Backtest:
    """Rolling-origin backtesting with an expanding window over the training and validation
    periods (the test periods stay out): their origins are cut into ``spec.cv_folds + 1``
    consecutive blocks; fold i is refitted from scratch (standardisation and model) on the
    origins before block i, less the last h (so no training target is a fold target), with
    the last 15% of those for early stopping (and the origins before those, less the last
    h, to train on), and scored on block i; a fitter that ``refits`` is then refitted on
    all of them (:func:`refitted`), as the run is before its test block.

    Each fold reports ``on_fold(i, k, metrics)`` to the sink when it has one.

    Raises:
        SplitError: too few origins for that many folds.
    """
    y, h, k = series.values, int(spec.dataset.horizon), int(spec.cv_folds)
    origins = np.arange(first_origin(params, series.season), seg.val[1] - h, dtype=np.int64)
    blocks = np.array_split(origins, k + 1)
    if min(len(b) for b in blocks[1:]) < 1 or len(blocks[0]) < MIN_FOLD_ORIGINS:
        raise SplitError(
            f"{k} backtest folds need more than {len(origins)} forecast origins before the "
            "test window; use fewer folds or a longer series."
        )
    rows, tables, stopped = [], [], False
    for i in range(1, k + 1):
        block = blocks[i]
        past = origins[origins <= block[0] - h]
        n_inner = max(h, round(0.15 * len(past)))
        inner_val = past[-n_inner:]
        inner_train = past[past <= inner_val[0] - h]
        model, _, stopped = fit_forecaster(
            spec, params, series, inner_train, inner_val, Sink(), should_stop
        )
        if stopped or model is None:
            return Backtest(pd.DataFrame(rows), stopped=True)
        scale = naive_scales(y, block[0] + 1)  # MASE's scale from the fold's own past
        fitter = get_fitter(spec.model)
        if len(fitter.members_for(params)) > 1:  # choose on the inner validation
            model = fold_members(spec, params, series, model, inner_train, inner_val, block)
        elif fitter.refits:  # as the run before its test block: on every origin before
            model = refitted(spec, params, series, int(block[0]) + 1, inner_val, should_stop)
            if model is None:
                return Backtest(pd.DataFrame(rows), stopped=True)
        pred = model.predict_origins(y, block, series.exog, dates=series.dates)
        table = forecast_table(series, block, pred, h, scale)
        table["naive"] = naive_forecasts(y, block, h).ravel()
        m = scored(table)
        row = {
            "fold": i,
            "origins": len(block),
            "from": str(series.dates[block[0] + 1].date()),
            "to": str(series.dates[block[-1] + h].date()),
            "mase": m["mase"],
            "rmse": m["rmse"],
            "mae": m["mae"],
            "naive_mase": m["naive_mase"],
        }
        rows.append(row)
        tables.append(table.drop(columns="naive").assign(fold=i))
        sink.on_fold(i, k, {key: row[key] for key in ("mase", "rmse", "mae", "naive_mase")})
    return Backtest(pd.DataFrame(rows), forecasts=pd.concat(tables, ignore_index=True))


def fold_members(spec, params, series, model, inner_train, inner_val, block):
    """A backtest fold of a model with members: the choice made on the fold's inner
    validation origins (statistical members fitted on the periods before them), then the
    estimator refitted and AutoETS's forms chosen on every period before the fold's block,
    as the run does before its test block (:func:`combined`)."""
    y, h, season = series.values, int(spec.dataset.horizon), series.season
    seasonal = naive_scales(y, int(inner_train[-1]) + h + 1, season)
    start = int(inner_val[0]) + 1
    arima = "arima" in get_fitter(spec.model).members_for(params)
    scales = np.asarray(model.entity_scales)
    inner = baselines(series, inner_val, h, start, scales, seasonal, arima=arima)
    val_pred = model.predict_origins(y, inner_val, series.exog, dates=series.dates)
    fits = statistical_fits(y, int(block[0]) + 1, season, arima, regressors(series))
    return combined(spec, params, series, model, inner, val_pred, fits, int(block[0]) + 1)[0]


def conformal_per_step(
    y: np.ndarray, origins: np.ndarray, pred: np.ndarray, scales=None
) -> dict[str, list[float]]:
    """Split-conformal half-widths of each step ahead, from the validation origins'
    absolute errors: for level 1 - a, the ceil((n + 1)(1 - a))-th smallest of the n errors
    of that step (Lei et al., JASA 2018; the finite-sample quantile MAPIE uses). MAPIE's
    ``SplitConformalRegressor`` calibrates a single-output estimator, so the h steps of a
    forecast are calibrated here one by one with the same rule.

    Args:
        y: the series, float64 (n,), or a panel (E, n).
        origins: the validation origins, int (m,).
        pred: their forecasts, float64 (E * m, h), entity-major.
        scales: each entity's scale, float (E,), or each origin's unit of each entity,
            float (E, m) (:meth:`FittedForecaster.interval_units`): errors are pooled over
            the entities and origins in these units (default 1: the target's units).

    Returns:
        ``{"0.8": [q_1..q_h], "0.9": [...], "0.95": [...]}``, in those units (half-width
        at an origin of entity e: q times its unit). Where a level needs more
        validation errors than there are (n < 1 / a - 1), the largest error is used and the
        interval may cover less than nominal.
    """
    y = np.atleast_2d(np.asarray(y, dtype=np.float64))
    h = pred.shape[1]
    s = np.ones(len(y)) if scales is None else np.asarray(scales, dtype=np.float64)
    ahead = np.asarray(origins)[:, None] + np.arange(1, h + 1)[None, :]
    actual = y[:, ahead].reshape(-1, h)
    per_row = s.reshape(-1, 1) if s.ndim == 2 else np.repeat(s, len(origins))[:, None]
    quantiles = conformal_quantiles(np.abs(actual - pred) / per_row)
    return {level: [float(v) for v in q] for level, q in quantiles.items()}


def forecast_table(
    series, origins: np.ndarray, pred: np.ndarray, h: int, scales=None
) -> pd.DataFrame:
    """Forecasts in long form: one row per (entity, origin, step), entity-major, with
    ``entity`` (``""`` for one series), ``origin``, ``origin_date``, ``step``, ``row`` (the
    target's position), ``date``, ``y_true`` (NaN beyond the series), ``y_pred`` and
    ``scale`` (the entity's scale: MASE's denominator, the intervals' unit)."""
    values = series.values
    e, n = values.shape
    origins = np.asarray(origins, dtype=np.int64)
    steps = np.tile(np.arange(1, h + 1), len(origins))
    origin = np.repeat(origins, h)
    rows = origin + steps
    inside = rows < n
    clipped = np.minimum(rows, n - 1)
    actual = np.where(inside[None, :], values[:, clipped], np.nan)
    s = np.ones(e) if scales is None else np.asarray(scales, dtype=np.float64)
    return pd.DataFrame(
        {
            "entity": np.repeat(np.asarray(series.entities, dtype=object), len(rows)),
            "origin": np.tile(origin, e),
            "origin_date": np.tile(series.dates[origin], e),
            "step": np.tile(steps, e),
            "row": np.tile(rows, e),
            "date": np.tile(series.dates[clipped], e),
            "y_true": actual.ravel(),
            "y_pred": np.asarray(pred, dtype=np.float64).ravel(),
            "scale": np.repeat(s, len(rows)),
        }
    )


def _scale(sd: np.ndarray) -> np.ndarray:
    return np.where(sd > 0, sd, 1.0)


def _standard(model: FittedForecaster, t: np.ndarray) -> np.ndarray:
    return ((t - np.asarray(model.t_mean)) / np.asarray(model.t_scale)).astype(np.float32)


def _rows(seg) -> Split:
    """The periods of each segment as a :class:`Split`."""
    return Split(*(np.arange(*getattr(seg, p), dtype=np.int64) for p in ("train", "val", "test")))


def search(spec, params, series, seg, sink, should_stop):
    """The Optuna study of a forecasting run, each trial judged on the mean MASE of a
    rolling-origin backtest (the run's folds, else :data:`SEARCH_FOLDS`) over the training
    and validation periods; the pruner sees the running mean after each fold. The test
    periods take no part."""
    from dataclasses import replace

    folds = spec.cv_folds or SEARCH_FOLDS
    judged = replace(spec, cv_folds=folds)

    def score(trial_params, reporter, stop):
        seen: list[float] = []

        class Folds(Sink):
            def on_fold(self, fold, total, metrics):
                seen.append(metrics["mase"])
                reporter.on_step(fold, total, {"backtest_mase": float(np.mean(seen))})

        result = backtest(judged, trial_params, series, seg, Folds(), stop)
        if result.stopped or result.folds.empty:
            return None, len(seen)
        return float(result.folds["mase"].mean()), len(seen)

    return tune(
        spec,
        params,
        score,
        sink,
        should_stop,
        warmup_steps=1,
        metric="backtest_mase",
        step_key="backtest_mase",
        maximize=False,
    )


class ForecastTask(Task):
    """Forecasting the next h periods of a series (or of each entity of a panel) from its
    past changes: test MASE against naive, seasonal naive and ETS on the same origins,
    per-step intervals, a rolling-origin backtest as its cross-validation."""

    name = "forecast"
    label = "Forecasting"
    bundle_task = "forecast"
    evaluation = "forecasts"
    cv_label = "backtest"
    # MASE on the seasonal naive's scale (the M4 convention) leads, beside the seasonal
    # naive's and AutoETS's on the same scale and the one-step MASE; runs from before the
    # seasonal scale show the one-step MASE beside the naive's and AutoETS's, and RMSE.
    tiles = (
        "test_mase_seasonal",
        "test_seasonal_naive_mase_seasonal",
        "test_ets_mase_seasonal",
        "test_mase",
        "test_naive_mase",
        "test_ets_mase",
        "test_rmse",
    )
    n_tiles = 4
    tile_labels = {  # noqa: RUF012 (read-only)
        "test_mase_seasonal": "MASE (seasonal scale)",
        "test_seasonal_naive_mase_seasonal": "Seasonal naive MASE",
        "test_ets_mase_seasonal": "AutoETS MASE",
        "test_mase": "MASE (one-step scale)",
    }
    tags = TaskTags(
        cross_validation=True,
        tuning=True,
        intervals=True,
        classes=False,
        headline="mase",
        higher_is_better=False,
        ranks_on_validation=True,
        search_metric="mase",
        step_metric="backtest_mase",
        fold_metrics=("mase", "rmse", "mae", "naive_mase"),
    )

    def check_spec(self, spec) -> None:
        """As every task, and refuse the log and the Box-Cox transform asked together
        (the log is Box-Cox at lambda 0: one transform or the other), before the run is
        queued.

        Raises:
            SpecError: said plainly, with the way out.
        """
        super().check_spec(spec)
        params = spec.params or {}
        if asks(params, "boxcox") and wants_log(params):
            raise SpecError(
                'Both "Forecast the log of the series" and "Box-Cox transform" are on: the '
                "log is the Box-Cox transform with lambda 0. Choose one of them."
            )

    def train(self, spec, frame, sink, should_stop=never_stop, *, explain=False, **options):
        """:func:`run_forecast` (``explain`` is unused: forecasts have no importance)."""
        return run_forecast(spec, frame, sink, should_stop, **options)


FORECAST = ForecastTask()
