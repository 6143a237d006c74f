"""Figures of the two numeric-target demos: every model against its baselines on the test
split, with 95% bootstrap CIs (the figures in the README).

- Regression, German Credit loan amount (credit_amount from the other attributes,
  creditability left out), quintile-stratified 60/20/20 split, seed 42: ridge, boosting and
  the Keras MLP against the mean baseline (the training mean as every prediction), with the
  90% split-conformal interval's test coverage.
- Forecasting, US real consumption (statsmodels macrodata), one quarter ahead, 70/15/15 in
  time: every forecaster against the naive, seasonal naive, AutoETS and Theta forecasts
  on MASE; the same with real disposable income as an exogenous column; and the panel demo
  (five macro series, one global model, MASE averaged over the entities).

Usage: python bench/bench_targets.py [HORIZON]
"""

from __future__ import annotations

import sys
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def ci(cis, key: str) -> str:
    row = cis.loc[key]
    return f"{row['value']:.3f} [{row['lower']:.3f}, {row['upper']:.3f}]"


def regression() -> None:
    from finml.data.demo import LEAVE_OUT, demo_frame
    from finml.data.schema import default_features, infer_schema
    from finml.data.spec import DatasetSpec
    from finml.evaluation.regression import coverage_table, regression_cis
    from finml.fitters.base import ListSink
    from finml.models.registry import resolve_params
    from finml.tasks import train_spec
    from finml.tasks.spec import RunSpec

    demo = "German Credit: loan amount (regression)"
    frame = demo_frame(demo)
    numeric, categorical = default_features(infer_schema(frame), "credit_amount", LEAVE_OUT[demo])
    ds = DatasetSpec("0" * 32, demo, "credit_amount", "", tuple(numeric), tuple(categorical))
    ds = replace(ds, task="regression")
    print("| model | test RMSE (DM) | test MAE (DM) | R² | 90% interval covers |")
    print("| --- | --- | --- | --- | --- |")
    baseline = None
    for model in ("ridge", "hgb_reg", "mlp_reg"):
        t0 = time.perf_counter()
        result = train_spec(RunSpec(ds, model, resolve_params(model)), frame, ListSink())
        test = result.test_predictions
        y, pred = test["y_true"].to_numpy(), test["y_pred"].to_numpy()
        cis = regression_cis(y, pred)
        cover = coverage_table(y, pred, result.model.intervals).set_index("nominal")
        print(
            f"| {model} | {ci(cis, 'rmse')} | {ci(cis, 'mae')} | {ci(cis, 'r2')} | "
            f"{cover.loc[0.9, 'covered']:.3f} | ({time.perf_counter() - t0:.1f} s)"
        )
        baseline = (y, result.test_metrics)
    y, m = baseline
    print(f"| mean baseline | {m['baseline_rmse']:.1f} | {m['baseline_mae']:.1f} | < 0 | |")


def forecasting(
    horizon: int,
    demo: str = "US macroeconomic series (forecasting)",
    target: str = "realcons",
    entity: str = "",
    exog: tuple[str, ...] = (),
    title: str = "US real consumption",
) -> None:
    from finml.data.demo import demo_frame
    from finml.data.spec import DatasetSpec
    from finml.data.split import SplitSpec
    from finml.evaluation.forecast import FORECASTERS, leaderboard
    from finml.evaluation.regression import mase_scale
    from finml.fitters.base import ListSink
    from finml.models.registry import model_names_for, resolve_params
    from finml.tasks.forecast import run_forecast
    from finml.tasks.spec import RunSpec

    frame = demo_frame(demo)
    split = SplitSpec(0.7, 0.15, 0.15, time_col="date")
    ds = DatasetSpec("0" * 32, "macro", target, "", (), (), split=split)
    ds = replace(ds, task="forecast", horizon=horizon, entity_col=entity, exog=exog)
    print(f"\n{title}, {horizon} quarter(s) ahead (test: 2002 Q2 to 2009 Q3)")
    print("| forecaster | test MASE [95% CI] | test RMSE | epochs / fits | seconds |")
    print("| --- | --- | --- | --- | --- |")
    last = None
    for model in model_names_for("forecast"):
        t0 = time.perf_counter()
        result = run_forecast(RunSpec(ds, model, resolve_params(model)), frame, ListSink())
        board = leaderboard(result.test_predictions, mase_scale(_prefixed(result)))
        row = board.set_index("forecaster").loc["this model"]
        print(
            f"| {model} | {row['MASE']:.3f} [{row['MASE 95% CI']}] | {row['RMSE']:.1f} | "
            f"{result.steps} | {time.perf_counter() - t0:.1f} |"
        )
        last = board
    board = last.set_index("forecaster")
    for name in (n for n in FORECASTERS.values() if n != "this model" and n in board.index):
        row = board.loc[name]
        print(f"| {name} | {row['MASE']:.3f} [{row['MASE 95% CI']}] | {row['RMSE']:.1f} | | |")


def _prefixed(result) -> dict:
    return {f"test_{k}": v for k, v in result.test_metrics.items()}


if __name__ == "__main__":
    h = int(sys.argv[1]) if len(sys.argv) > 1 else 1
    regression()
    forecasting(h)
    forecasting(h, exog=("realdpi",), title="US real consumption, exogenous realdpi")
    forecasting(
        h,
        "US macroeconomic panel (forecasting per series)",
        "value",
        "series",
        title="US macro panel (5 series, MASE averaged over entities)",
    )
