"""Forecasting benchmark: finml's Auto and its ridge against the automatic statistical
models (AutoETS, Theta) and the naive baselines on 11 public series, at one step ahead and
at one season ahead, all through finml's own core (its split, origins and scales).

Series (all from data sets inside the statsmodels wheel, no download):
- ``statsmodels.datasets.co2``: Mauna Loa CO2, weekly 1958-2001, averaged to 526 months
  (the few missing weeks interpolated);
- ``statsmodels.datasets.elnino``: sea-surface temperature, monthly 1950-2010 (732);
- ``statsmodels.datasets.elec_equip``: euro-area electrical equipment orders, monthly
  1995-2016 (257; not seasonally adjusted);
- ``statsmodels.datasets.macrodata``: US quarterly 1959-2009 (203): real GDP, real
  consumption, real investment, real government spending, real disposable income, CPI,
  M1 and the unemployment rate.

Metric: MASE on the seasonal naive's in-sample scale (M4), geometric mean over the series
(and, for reference, the fixed mean of Auto's three members, which Auto does not use);
90% interval coverage and MSIS of Auto; seconds per run. Then the time of a run of Auto on
a 100-entity monthly panel (synthetic, seeded: only its time is read).

Run: ``.venv/bin/python bench/bench_forecast.py``.
"""

from __future__ import annotations

import time
import warnings

import numpy as np
import pandas as pd

from finml.data.series import SeriesSpec, load_series
from finml.data.spec import DatasetSpec
from finml.data.split import SplitSpec
from finml.fitters.base import Sink
from finml.models.registry import resolve_params
from finml.tasks.forecast import run_forecast
from finml.tasks.spec import RunSpec

#: Columns of the test forecasts compared, and their names in the table.
COLUMNS = {
    "auto": "finml Auto",
    "fixed_mean": "mean of Auto's three (fixed)",
    "ridge": "finml ridge (8 lags)",
    "ets": "AutoETS",
    "theta": "Theta",
    "seasonal_naive": "seasonal naive",
    "naive": "naive",
}


def series_set() -> dict[str, pd.DataFrame]:
    """The 11 series as tables with ``date`` and ``y``."""
    from statsmodels.datasets import co2, elec_equip, elnino, macrodata

    out = {}
    c = co2.load_pandas().data["co2"].resample("MS").mean().interpolate()
    out["co2 (M)"] = pd.DataFrame({"date": c.index, "y": c.to_numpy()})
    e = elnino.load_pandas().data
    values = e.drop(columns="YEAR").to_numpy().ravel()
    start = f"{int(e['YEAR'].iloc[0])}-01-01"
    out["elnino (M)"] = pd.DataFrame(
        {"date": pd.date_range(start, periods=len(values), freq="MS"), "y": values}
    )
    q = elec_equip.load_pandas().data.iloc[:, 0]
    out["elec_equip (M)"] = pd.DataFrame({"date": pd.DatetimeIndex(q.index), "y": q.to_numpy()})
    m = macrodata.load_pandas().data
    dates = pd.date_range("1959-01-01", periods=len(m), freq="QS")
    for col in ("realgdp", "realcons", "realinv", "realgovt", "realdpi", "cpi", "m1", "unemp"):
        out[f"{col} (Q)"] = pd.DataFrame({"date": dates, "y": m[col].to_numpy()})
    return out


def spec(model: str, horizon: int, entity: str = "", **params) -> RunSpec:
    """finml's default run of ``model``: a 70/15/15 split in time, seed 42."""
    ds = DatasetSpec(
        "0" * 32,
        "bench",
        "y",
        "",
        (),
        (),
        split=SplitSpec(0.7, 0.15, 0.15, time_col="date"),
        task="forecast",
        horizon=horizon,
        entity_col=entity,
    )
    return RunSpec(ds, model, resolve_params(model, params), seed=42)


def mase(table: pd.DataFrame, column: str) -> float:
    """Mean absolute error over the seasonal naive's in-sample MAE."""
    return float(np.mean(np.abs(table[column] - table["y_true"]) / table["scale_seasonal"]))


def main() -> None:
    warnings.simplefilter("ignore")
    rows = []
    for name, frame in series_set().items():
        season = 12 if "(M)" in name else 4
        for h in (1, season):
            t0 = time.perf_counter()
            auto = run_forecast(spec("auto", h), frame, Sink())
            seconds = time.perf_counter() - t0
            ridge = run_forecast(spec("ridge_lags", h), frame, Sink())
            test = auto.test_predictions
            series = load_series(frame, SeriesSpec("date", "y", h))
            origins = np.sort(test["origin"].unique())
            refit = auto.model.window_forecasts(series.values, origins).ravel()
            table = test.assign(
                auto=test["y_pred"],
                ridge=ridge.test_predictions["y_pred"],
                fixed_mean=(refit + test["ets"] + test["theta"]) / 3,
            )
            choice = auto.records["forecast_choice.json"]["chosen"]
            row = {"series": name, "h": "1" if h == 1 else "season", "n": len(frame)}
            row |= {label: mase(table, col) for col, label in COLUMNS.items()}
            row |= {
                "Auto chose": "+".join(choice),
                "coverage 90%": auto.test_metrics["coverage_90"],
                "MSIS": auto.test_metrics["msis"],
                "Auto s": seconds,
            }
            rows.append(row)
            print(
                f"{name:16} h={h:2}  Auto {row['finml Auto']:.3f}  ETS {row['AutoETS']:.3f}  "
                f"{row['Auto chose']:16} {seconds:5.1f} s",
                flush=True,
            )
    df = pd.DataFrame(rows)
    pd.set_option("display.width", 200)
    print("\nPer series (MASE, seasonal scale):")
    print(df.round(3).to_string(index=False))
    labels = list(COLUMNS.values())
    print("\nGeometric mean of MASE (seasonal scale) over the series:")
    geo = df.groupby("h")[labels].apply(lambda g: np.exp(np.log(g).mean())).T
    print(geo.round(3).to_string())
    for h, g in df.groupby("h"):
        best = min(("AutoETS", "Theta"), key=lambda c: geo.loc[c, h])
        print(
            f"h={h}: Auto beats seasonal naive on {(g['finml Auto'] < g['seasonal naive']).sum()}"
            f" of {len(g)}, {best} (the best automatic statistical model) on "
            f"{(g['finml Auto'] < g[best]).sum()}; 90% coverage {g['coverage 90%'].mean():.3f},"
            f" MSIS {np.exp(np.log(g['MSIS']).mean()):.2f}"
        )
    co2 = df[df["series"] == "co2 (M)"]["Auto s"]
    print(f"\nAuto on a {len(series_set()['co2 (M)'])}-point monthly series: {co2.max():.1f} s")
    rng = np.random.default_rng(0)
    n, entities = 120, 100
    dates = pd.date_range("2010-01-01", periods=n, freq="MS")
    t = np.arange(n)
    panel = pd.concat(
        pd.DataFrame(
            {
                "date": dates,
                "entity": f"e{i:03d}",
                "y": 100
                + rng.normal(0, 1) * t / 10
                + 10 * np.sin(2 * np.pi * t / 12)
                + rng.normal(0, 2, n).cumsum() / 3,
            }
        )
        for i in range(entities)
    )
    t0 = time.perf_counter()
    run_forecast(spec("auto", 1, entity="entity"), panel, Sink())
    print(f"Auto on a {entities}-entity panel of {n} months, h=1: {time.perf_counter() - t0:.1f} s")


if __name__ == "__main__":
    main()
