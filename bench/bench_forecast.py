"""Forecasting benchmark: finml's Auto (with and without AutoARIMA as a fourth member), its
ridge and its boosting against the automatic statistical models (AutoETS, AutoARIMA,
Theta) and the naive baselines on 16 public series, at one step ahead and at one season
ahead, all through finml's own core (its split, origins and scales).

Series (all from data sets inside the statsmodels and pmdarima wheels, no download):
- ``statsmodels.datasets.co2``: Mauna Loa CO2, weekly 1958-2001, averaged to 526 months
  (the few missing weeks interpolated);
- ``statsmodels.datasets.elnino``: sea-surface temperature, monthly 1950-2010 (732);
- ``statsmodels.datasets.elec_equip``: euro-area electrical equipment orders, monthly
  1995-2016 (257; not seasonally adjusted);
- ``statsmodels.datasets.macrodata``: US quarterly 1959-2009 (203): real GDP, real
  consumption, real investment, real government spending, real disposable income, CPI,
  M1 and the unemployment rate;
- ``pmdarima.datasets`` (R's classic series, stored in the wheel's code): AirPassengers
  (monthly 1949-1960, 144; multiplicative season), ``wineind`` (Australian wine sales,
  monthly 1980-1994, 176), ``woolyrnq`` (Australian woollen yarn production, quarterly
  1965-1994, 119), ``ausbeer`` (Australian beer production, quarterly 1956-2008, 211) and
  ``austres`` (Australian residents, quarterly 1971-1994, 89): the textbook seasonal
  series of Hyndman's ``fpp`` data, nearer the issue's held-out set than the seasonally
  adjusted macro data.

Metric: MASE on the seasonal naive's in-sample scale (M4), geometric mean over the series
(and, for reference, the fixed mean of Auto's three members, which Auto does not use);
90% interval coverage and MSIS of Auto, and the coverage of AutoETS's own 90% intervals
(its state-space model's) on the same origins; seconds per run. Then the time of a run of Auto on
a 100-entity monthly panel (synthetic, seeded: only its time is read), and of Auto with
AutoARIMA on 10 of its entities.

``panel`` instead: finml's global boosting on a real panel, the 12 quarterly series of
``statsmodels.datasets.macrodata`` (203 quarters each), with and without the entity as a
categorical feature (``entity_feature``): MASE per entity (seasonal scale), geometric mean
over the entities, at h = 1 and 4, with seconds per run.

``known`` instead: columns known in advance, on Australian wine sales (``wineind``, 176
months) with a seeded promotion plan (a quarter of the months, each +6,000 litres: the
tests' ``wine_promotions``; synthetic, as no package we may install ships a series with a
real known-in-advance regressor), h = 3: test MASE (seasonal scale) of ridge, boosting,
Auto and Auto with AutoARIMA (and on the one-step scale) reading ``promo`` as a
past-only exogenous column against reading its plan, and AutoARIMA's own test MAE in
litres each way.

``heldout`` instead: the same comparison on 12 other series that no default was chosen on
(:func:`heldout_set`), as issue 22's check on series the project has not seen.

``boxcox`` instead: finml's ridge and boosting on lags (8) on the series itself, on its
log and on its Box-Cox transform (lambda by Guerrero's method on the periods each model
is fitted on) on the 16 series: geometric mean MASE (seasonal scale), on how many series
Box-Cox is lower than each of the other two, and the lambdas.

``seasonal`` instead: finml's ridge and boosting on lags (8) with and without the seasonal
difference (``seasonal_difference``) on the 16 series, and Auto by default against Auto
deciding it on validation ("when validation says"): geometric mean MASE (seasonal scale)
and on how many series it is lower.

Run: ``.venv/bin/python bench/bench_forecast.py [panel | seasonal | known | boxcox |
heldout]``.
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
from finml.models.registry import SEASONAL_CHOSEN, resolve_params
from finml.tasks.forecast import run_forecast
from finml.tasks.spec import RunSpec

#: Columns of the test forecasts compared, and their names in the table.
COLUMNS = {
    "auto": "finml Auto",
    "auto_series": "finml Auto, ridge never on log",
    "auto_arima": "finml Auto + AutoARIMA",
    "fixed_mean": "mean of Auto's three (fixed)",
    "ridge": "finml ridge (8 lags)",
    "boosting": "finml boosting (8 lags)",
    "ets": "AutoETS",
    "theta": "Theta",
    "arima": "AutoARIMA",
    "seasonal_naive": "seasonal naive",
    "naive": "naive",
}


def series_set() -> dict[str, pd.DataFrame]:
    """The 16 series as tables with ``date`` and ``y``."""
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
    return out | pmdarima_series()


def pmdarima_series() -> dict[str, pd.DataFrame]:
    """Five of R's classic seasonal series from the pmdarima wheel (arrays in its code)."""
    from pmdarima import datasets

    def table(values, start: str, freq: str) -> pd.DataFrame:
        values = np.asarray(values, dtype=np.float64)
        values = values[np.isfinite(values)]  # ausbeer ends with a missing quarter
        return pd.DataFrame(
            {"date": pd.date_range(start, periods=len(values), freq=freq), "y": values}
        )

    return {
        "AirPassengers (M)": table(datasets.load_airpassengers(), "1949-01-01", "MS"),
        "wineind (M)": table(datasets.load_wineind(), "1980-01-01", "MS"),
        "woolyrnq (Q)": table(datasets.load_woolyrnq(), "1965-01-01", "QS"),
        "ausbeer (Q)": table(datasets.load_ausbeer(), "1956-01-01", "QS"),
        "austres (Q)": table(datasets.load_austres(), "1971-04-01", "QS"),
    }


def spec(
    model: str, horizon: int, entity: str = "", target="y", exog=(), known=(), **params
) -> RunSpec:
    """finml's default run of ``model``: a 70/15/15 split in time, seed 42 (exogenous
    columns ``exog``, of which ``known`` are known in advance)."""
    ds = DatasetSpec(
        "0" * 32,
        "bench",
        target,
        "",
        (),
        (),
        split=SplitSpec(0.7, 0.15, 0.15, time_col="date"),
        task="forecast",
        horizon=horizon,
        entity_col=entity,
        exog=tuple(exog),
        known=tuple(known),
    )
    return RunSpec(ds, model, resolve_params(model, params), seed=42)


def mase(table: pd.DataFrame, column: str) -> float:
    """Mean absolute error over the seasonal naive's in-sample MAE."""
    return float(np.mean(np.abs(table[column] - table["y_true"]) / table["scale_seasonal"]))


def pooled(rows: pd.DataFrame, column: str) -> float:
    """A coverage pooled over every test forecast (each series' coverage weighted by its
    test rows), beside the plain mean over the series, which weighs a 55-quarter series'
    few test values as much as a 700-month series' hundreds."""
    kept = rows[column].notna()  # AutoETS has no bounds where no form fitted
    return float(np.average(rows.loc[kept, column], weights=rows.loc[kept, "test rows"]))


def heldout_set() -> dict[str, pd.DataFrame]:
    """12 series that no default of finml was chosen on (none is in :func:`series_set`),
    all inside the statsmodels and pmdarima wheels: monthly sunspot numbers (pmdarima,
    the last 480 months to 1983), German quarterly inflation and interest rate
    (``statsmodels.datasets.interest_inflation``, 107 quarters, 1972-1998), Danish
    quarterly money, income, prices and two interest rates
    (``statsmodels.datasets.danish_data``, 55 quarters, 1974-1987), and the four US
    quarterly columns of ``macrodata`` the bench set leaves out (T-bill rate, inflation,
    real interest rate, population; 203 quarters)."""
    from pmdarima import datasets
    from statsmodels.datasets import danish_data, interest_inflation, macrodata

    spots = np.asarray(datasets.load_sunspots(), dtype=np.float64)[-480:]
    months = pd.date_range("1944-01-01", periods=len(spots), freq="MS")
    out = {"sunspots (M)": pd.DataFrame({"date": months, "y": spots})}
    _quarterly(out, "germany {} (Q)", interest_inflation, "1972-04-01", ("Dp", "R"))
    _quarterly(
        out, "denmark {} (Q)", danish_data, "1974-01-01", ("lrm", "lry", "lpy", "ibo", "ide")
    )
    _quarterly(out, "{} (Q)", macrodata, "1959-01-01", ("tbilrate", "infl", "realint", "pop"))
    return out


def _quarterly(out: dict, name: str, dataset, start: str, columns) -> None:
    """Add each of ``columns`` of a statsmodels ``dataset`` to ``out`` as a quarterly series
    (``date`` from ``start``, ``y``) under ``name.format(column)``."""
    data = dataset.load_pandas().data
    dates = pd.date_range(start, periods=len(data), freq="QS")
    for col in columns:
        out[name.format(col)] = pd.DataFrame({"date": dates, "y": data[col].to_numpy()})


def cases(frames: dict[str, pd.DataFrame] | None = None):
    """Each series (default :func:`series_set`) at one step and one season ahead: (name,
    table, h)."""
    for name, frame in (series_set() if frames is None else frames).items():
        for h in (1, 12 if "(M)" in name else 4):
            yield name, frame, h


def main(frames: dict[str, pd.DataFrame] | None = None) -> None:
    """The comparison on :func:`series_set` (or ``frames``), then (on the bench set) the
    time of Auto on a long series and on a 100-entity panel."""
    warnings.simplefilter("ignore")
    rows = []
    for name, frame, h in cases(frames):
        t0 = time.perf_counter()
        auto = run_forecast(spec("auto", h), frame, Sink())
        seconds = time.perf_counter() - t0
        ridge = run_forecast(spec("ridge_lags", h), frame, Sink())
        boosting = run_forecast(spec("hgb_lags", h), frame, Sink())
        series_only = run_forecast(spec("auto", h, log="no"), frame, Sink())
        t0 = time.perf_counter()
        with_arima = run_forecast(spec("auto", h, arima=True), frame, Sink())
        arima_seconds = time.perf_counter() - t0
        test = auto.test_predictions
        series = load_series(frame, SeriesSpec("date", "y", h))
        origins = np.sort(test["origin"].unique())
        refit = auto.model.window_forecasts(series.values, origins).ravel()
        table = test.assign(
            auto=test["y_pred"],
            auto_series=series_only.test_predictions["y_pred"],
            auto_arima=with_arima.test_predictions["y_pred"],
            arima=with_arima.test_predictions["arima"],
            ridge=ridge.test_predictions["y_pred"],
            boosting=boosting.test_predictions["y_pred"],
            fixed_mean=(refit + test["ets"] + test["theta"]) / 3,
        )
        choice = auto.records["forecast_choice.json"]["chosen"]
        row = {"series": name, "h": "1" if h == 1 else "season", "n": len(frame)}
        row |= {label: mase(table, col) for col, label in COLUMNS.items()}
        row |= {
            "Auto chose": "+".join(choice)
            + (" (log)" if auto.model.log else "")
            + (" (recursive)" if auto.model.recursive else ""),
            "coverage 90%": auto.test_metrics["coverage_90"],
            "test rows": int(test["y_true"].notna().sum()),
            "AutoETS coverage 90%": auto.test_metrics.get("ets_coverage_90", np.nan),
            "MSIS": auto.test_metrics["msis"],
            "Auto s": seconds,
            "Auto+ARIMA chose": "+".join(with_arima.records["forecast_choice.json"]["chosen"]),
            "coverage 90% (+ARIMA)": with_arima.test_metrics["coverage_90"],
            "Auto+ARIMA s": arima_seconds,
        }
        rows.append(row)
        print(
            f"{name:16} h={h:2}  Auto {row['finml Auto']:.3f}  ETS {row['AutoETS']:.3f}  "
            f"ARIMA {row['AutoARIMA']:.3f}  Auto+ARIMA {row['finml Auto + AutoARIMA']:.3f}  "
            f"{row['Auto chose']:16} {seconds:5.1f} s / {arima_seconds:5.1f} s",
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
        best = min(("AutoETS", "Theta", "AutoARIMA"), key=lambda c: geo.loc[c, h])
        for auto, cover in (
            ("finml Auto", "coverage 90%"),
            ("finml Auto + AutoARIMA", "coverage 90% (+ARIMA)"),
        ):
            print(
                f"h={h}: {auto} beats seasonal naive on {(g[auto] < g['seasonal naive']).sum()}"
                f" of {len(g)}, {best} (the best automatic statistical model) on "
                f"{(g[auto] < g[best]).sum()}; 90% coverage {g[cover].mean():.3f} (mean over "
                f"the series), {pooled(g, cover):.3f} (pooled over the test forecasts)"
            )
        own = g["AutoETS coverage 90%"]
        print(
            f"h={h}: AutoETS's own 90% intervals (its model's) covered {own.mean():.3f} (mean "
            f"over the series), {pooled(g, 'AutoETS coverage 90%'):.3f} (pooled)"
        )
    if frames is not None:
        return
    co2 = df[df["series"] == "co2 (M)"]
    print(
        f"\nAuto on a {len(series_set()['co2 (M)'])}-point monthly series: "
        f"{co2['Auto s'].max():.1f} s; with AutoARIMA {co2['Auto+ARIMA s'].max():.1f} s"
    )
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
    few = panel[panel["entity"].isin([f"e{i:03d}" for i in range(10)])]
    t0 = time.perf_counter()
    run_forecast(spec("auto", 1, entity="entity", arima=True), few, Sink())
    print(f"Auto + AutoARIMA on 10 of those entities, h=1: {time.perf_counter() - t0:.1f} s")


def panel_bench() -> None:
    """Boosting on the macrodata panel with and without the entity feature."""
    from statsmodels.datasets import macrodata

    warnings.simplefilter("ignore")
    m = macrodata.load_pandas().data.drop(columns=["year", "quarter"])
    m["date"] = pd.date_range("1959-01-01", periods=len(m), freq="QS")
    panel = m.melt(id_vars="date", var_name="entity", value_name="y")
    print(f"macrodata panel: {panel['entity'].nunique()} series x {len(m)} quarters")
    for h in (1, 4):
        out = {}
        for on in (False, True):
            t0 = time.perf_counter()
            run = run_forecast(spec("hgb_lags", h, "entity", entity_feature=on), panel, Sink())
            seconds = time.perf_counter() - t0
            test = run.test_predictions
            err = np.abs(test["y_pred"] - test["y_true"]) / test["scale_seasonal"]
            out[on] = err.groupby(test["entity"]).mean()
            geo = float(np.exp(np.log(out[on]).mean()))
            print(f"h={h} entity feature {'on ' if on else 'off'}: MASE {geo:.3f}  {seconds:.1f} s")
        better = int((out[True] < out[False]).sum())
        print(f"h={h}: the entity feature lowers MASE on {better} of {len(out[True])} entities")


def seasonal_bench() -> None:
    """Ridge and boosting on lags with and without the seasonal difference."""
    warnings.simplefilter("ignore")
    rows = []
    for name, frame, h in cases():
        row = {"series": name, "h": "1" if h == 1 else "season"}
        for model in ("ridge_lags", "hgb_lags"):
            for on in (False, True):
                run = run_forecast(spec(model, h, seasonal_difference=on), frame, Sink())
                row[(model, on)] = mase(run.test_predictions, "y_pred")
        for on, value in ((False, "no"), (True, SEASONAL_CHOSEN)):
            run = run_forecast(spec("auto", h, seasonal_difference=value), frame, Sink())
            row[("auto", on)] = mase(run.test_predictions, "y_pred")
            row["auto took it"] = run.model.seasonal_difference
        rows.append(row)
    df = pd.DataFrame(rows)
    for h, g in df.groupby("h"):
        print(f"h={h:6} Auto took the seasonal difference on {g['auto took it'].sum()} of {len(g)}")
    models = ("ridge_lags", "hgb_lags", "auto")
    for (h, g), model in ((hg, m) for hg in df.groupby("h") for m in models):
        off, on = g[(model, False)], g[(model, True)]
        geo = [float(np.exp(np.log(v).mean())) for v in (off, on)]
        how = "deciding it on validation" if model == "auto" else "with the seasonal difference"
        print(
            f"h={h:6} {model:10}: MASE {geo[0]:.3f} without, {geo[1]:.3f} {how}; lower on "
            f"{(on < off).sum()} of {len(g)} series"
        )


def known_bench() -> None:
    """Models with and without the plan of a column known in advance (``promo``)."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from tests.conftest import wine_promotions

    warnings.simplefilter("ignore")
    frame, h = wine_promotions(), 3
    runs = (("ridge_lags", {}), ("hgb_lags", {}), ("auto", {}), ("auto", {"arima": True}))
    for model, params in runs:
        name = model + (" + AutoARIMA" if params else "")
        scores = []
        for known in ((), ("promo",)):
            t0 = time.perf_counter()
            run = run_forecast(
                spec(model, h, "", "sales", ("promo",), known, **params), frame, Sink()
            )
            test = run.test_predictions
            scores.append(mase(test, "y_pred"))
            extra = ""
            if "arima" in test:
                mae = float(np.mean(np.abs(test["arima"] - test["y_true"])))
                origins = test["origin"].nunique()
                extra = f"; AutoARIMA alone MAE {mae:,.0f} litres over {origins} origins"
            way = "with the plan " if known else "past values only"
            print(
                f"{name:20} {way}: test MASE {scores[-1]:.3f} (one-step scale "
                f"{run.test_metrics['mase']:.3f}){extra} "
                f"({time.perf_counter() - t0:.1f} s)",
                flush=True,
            )
        print(f"{name:20} with the plan / without: {scores[1] / scores[0]:.2f}")


def boxcox_bench() -> None:
    """Ridge and boosting on the series, its log and its Box-Cox transform."""
    warnings.simplefilter("ignore")
    ways = {"series": {}, "log": {"log": True}, "Box-Cox": {"boxcox": True}}
    rows = []
    for name, frame, h in cases():
        row = {"series": name, "h": "1" if h == 1 else "season"}
        for model in ("ridge_lags", "hgb_lags"):
            for way, params in ways.items():
                run = run_forecast(spec(model, h, **params), frame, Sink())
                row[(model, way)] = mase(run.test_predictions, "y_pred")
                if run.model.boxcox:
                    row["lambda"] = run.model.boxcox[0]
        rows.append(row)
    df = pd.DataFrame(rows)
    lambdas = df.drop_duplicates("series").set_index("series")["lambda"]
    print("Box-Cox lambda of the boosting at h = 1 (refitted before the test block):")
    print(lambdas.round(3).to_string())
    for (h, g), model in ((hg, m) for hg in df.groupby("h") for m in ("ridge_lags", "hgb_lags")):
        geo = {w: float(np.exp(np.log(g[(model, w)]).mean())) for w in ways}
        box = g[(model, "Box-Cox")]
        print(
            f"h={h:6} {model:10}: MASE "
            + ", ".join(f"{w} {v:.3f}" for w, v in geo.items())
            + f"; Box-Cox lower than the series on {(box < g[(model, 'series')]).sum()}, than"
            f" the log on {(box < g[(model, 'log')]).sum()} of {len(g)}"
        )


if __name__ == "__main__":
    import sys

    modes = {
        "panel": panel_bench,
        "seasonal": seasonal_bench,
        "known": known_bench,
        "boxcox": boxcox_bench,
        "heldout": lambda: main(heldout_set()),
    }
    modes.get(sys.argv[1] if sys.argv[1:] else "", main)()
