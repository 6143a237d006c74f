"""Exogenous columns known in advance (holidays, promotions, planned prices), trained for
real on Australian wine sales (`wineind`, monthly 1980-1994, from the pmdarima wheel) with
a promotion plan drawn once (seeded) and its lift added to the sales: the forecasters read
the planned changes from each origin to every step ahead, Predict reads the planned
values in the rows after the history, and every bad upload of them gets its own message."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from finml.data.series import known_ahead
from finml.errors import BundleError, DataError, SpecError, TargetError
from finml.evaluation.forecast import leaderboard
from finml.fitters.base import ListSink
from finml.models.bundle import load_bundle, save_bundle
from finml.prediction.forecast import extend_upload
from finml.tasks.forecast import run_forecast
from tests.conftest import PROMO_LIFT as LIFT
from tests.conftest import forecast_spec, wine_promotions


@pytest.fixture(scope="module")
def wine() -> pd.DataFrame:
    return wine_promotions()


def _ridge(frame, known=("promo",), **params):
    spec = forecast_spec("ridge_lags", 3, "sales", exog=("promo",), known=known, **params)
    return run_forecast(spec, frame, ListSink())


@pytest.fixture(scope="module")
def planned(wine):
    return _ridge(wine)


def test_the_changes_ahead_are_read_per_entity_step_by_step():
    exog = np.arange(24, dtype=np.float64).reshape(2, 6, 2)  # 2 entities, 6 periods, 2 columns
    exog[1] *= 10
    out = known_ahead(exog, np.array([1, 3]), 2, [1])  # column 1, origins 1 and 3, h = 2
    # entity 0: column 1 is 1, 3, 5, ...: +2 a period; entity 1: +20 a period
    np.testing.assert_array_equal(out, [[2, 4], [2, 4], [20, 40], [20, 40]])
    both = known_ahead(exog, np.array([1]), 2, [0, 1])  # step-major: a step's columns together
    np.testing.assert_array_equal(both[0], [2, 2, 4, 4])
    with pytest.raises(ValueError, match="their 2 values after each origin"):
        known_ahead(exog, np.array([4]), 2, [1])


def test_a_planned_promotion_is_learnt_and_read_ahead(wine, planned):
    blind = _ridge(wine, known=())  # the same column, its past changes only
    assert planned.model.known == ["promo"] and blind.model.known == []
    assert planned.model.n_inputs == blind.model.n_inputs + 3  # one change per step ahead
    assert planned.test_metrics["mase"] < 0.9 * blind.test_metrics["mase"]
    # the lift is learnt: promoting the second month after an origin raises that forecast
    model, test = planned.model, planned.test_predictions
    y = wine["sales"].to_numpy()[None]
    exog = wine[["promo"]].to_numpy()[None].copy()
    t = int(test["origin"].iloc[0])
    exog[0, t + 2] = 0.0
    off = model.predict_origins(y, np.array([t]), exog, dates=wine["date"])[0]
    exog[0, t + 2] = 1.0
    on = model.predict_origins(y, np.array([t]), exog, dates=wine["date"])[0]
    assert on[1] - off[1] == pytest.approx(LIFT, rel=0.3)
    assert on[1] - off[1] > 3 * max(abs(on[0] - off[0]), abs(on[2] - off[2]))  # its own step


def _upload(history: pd.DataFrame, ahead: pd.DataFrame) -> bytes:
    table = pd.concat([history, ahead.assign(sales=np.nan)], ignore_index=True)
    return table.to_csv(index=False, date_format="%Y-%m-%d").encode()


def test_predict_reads_the_planned_rows_after_the_history(wine, planned, tmp_path):
    loaded = load_bundle(save_bundle(tmp_path / "b", planned.model))
    assert loaded.known == ["promo"]
    test = planned.test_predictions
    t = int(test["origin"].iloc[-1])
    data = _upload(wine.iloc[: t + 1], wine.iloc[t + 1 : t + 4])
    out = extend_upload(loaded, data, "plan.csv", "date", "sales", 0.9)
    np.testing.assert_allclose(out.forecasts["y_pred"], test["y_pred"].to_numpy()[-3:])
    assert out.forecasts["date"].tolist() == wine["date"].iloc[t + 1 : t + 4].tolist()
    # a plan running past the horizon: the rows after the h periods are not read
    longer = _upload(wine.iloc[: t + 1], wine.iloc[t + 1 : t + 7])
    again = extend_upload(loaded, longer, "plan.csv", "date", "sales", 0.9)
    np.testing.assert_allclose(again.forecasts["y_pred"], out.forecasts["y_pred"])


def test_each_bad_plan_is_refused_with_what_to_fix(wine, planned, tmp_path):
    model = planned.model
    history, ahead = wine.iloc[:150], wine.iloc[150:153]

    def refused(data: bytes, match: str) -> None:
        with pytest.raises(DataError, match=match):
            extend_upload(model, data, "plan.csv", "date", "sales", 0.9)

    plain = history.to_csv(index=False, date_format="%Y-%m-%d").encode()
    refused(plain, r"planned values of 'promo' .* \(1992-07-01, 1992-08-01, 1992-09-01\): add a")
    refused(_upload(history, ahead.drop(index=151)), "there is no row for 1992-08-01")
    empty = ahead.assign(promo=ahead["promo"].astype(object))
    empty.loc[152, "promo"] = None
    refused(_upload(history, empty), "'promo' is empty on data row 153, a period to forecast")
    text = ahead.assign(promo=ahead["promo"].astype(object))
    text.loc[150, "promo"] = "yes"
    refused(_upload(history, text), "'promo' is 'yes' on data row 151")
    twice = pd.concat([ahead, ahead.iloc[[1]].assign(promo=1 - ahead["promo"].iloc[1])])
    refused(_upload(history, twice), "data rows 152 and 154 are both 1992-08-01. Keep one")
    bad_date = ahead.assign(date=ahead["date"].dt.strftime("%Y-%m-%d"))
    bad_date.loc[151, "date"] = "1992-13-01"
    refused(_upload(history, bad_date), "'1992-13-01' on data row 152, a period to forecast")
    huge = ahead.assign(promo=[0.0, 0.0, 1e40])  # a number, too large once standardised
    refused(_upload(history, huge), r"'promo' has .* planned change from the last period to 1992-0")
    gap = history.assign(sales=history["sales"].astype(object))
    gap.loc[100, "sales"] = None  # a month of the history left empty, not a planned one
    with pytest.raises(TargetError, match=r"empty on data row 101 \(1988-05-01\), inside the"):
        extend_upload(model, _upload(gap, ahead), "plan.csv", "date", "sales", 0.9)


def test_a_known_column_must_be_an_exogenous_one(wine):
    spec = forecast_spec("ridge_lags", 3, "sales", known=("promo",))
    with pytest.raises(DataError, match=r"'promo' must also be exogenous columns"):
        run_forecast(spec, wine, ListSink())


def test_a_forged_known_column_is_refused(planned, tmp_path):
    save_bundle(tmp_path / "b", planned.model)
    meta = json.loads((tmp_path / "b" / "meta.json").read_text())
    meta["forecaster"]["known"] = ["price"]  # not one of its exogenous columns
    (tmp_path / "b" / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(BundleError, match="known columns"):
        load_bundle(tmp_path / "b")


def test_a_network_over_the_sequence_is_refused_known_columns_before_it_is_queued(wine):
    from finml.tasks import get_task

    spec = forecast_spec("lstm_seq", 3, "sales", exog=("promo",), known=("promo",))
    with pytest.raises(SpecError, match="known in advance are read by the models on lags"):
        get_task("forecast").check_spec(spec)


#: An ARIMA(1,1,1)(0,1,1)12 (the airline model's family), its parameters estimated on the
#: data before the first origin: no order search, so the test stays fast.
ORDERS = [1, 1, 1, 0, 1, 1, 12, 0]


def test_arima_regresses_on_the_known_columns_and_reads_their_plans(wine):
    from finml.models.forecaster import FittedForecaster, arima_fits, arima_forecasts

    y, x = wine["sales"].to_numpy()[None], wine[["promo"]].to_numpy()[None]
    origins, end = np.arange(140, 173), 141
    actual = y[0, origins[:, None] + np.arange(1, 4)]
    error = {}
    for name, reg in (("blind", None), ("regressed", x)):
        fits = arima_fits(y, end, 12, [ORDERS], reg)
        error[name] = np.abs(arima_forecasts(y, origins, 3, end, 12, fits, reg) - actual).mean()
    assert error["regressed"] < 0.6 * error["blind"]
    # nothing of the target after an origin is read: sales doubled from month 146 on, the
    # filter runs through them (origins up to 172), the forecasts from 140-145 do not move
    fits = arima_fits(y, end, 12, [ORDERS], x)
    later = y.copy()
    later[0, 146:] *= 2
    moved = arima_forecasts(later, origins, 3, end, 12, fits, x)
    same = arima_forecasts(y, origins, 3, end, 12, fits, x)
    np.testing.assert_allclose(moved[:6], same[:6])
    assert not np.allclose(moved[6:], same[6:])
    # as Auto's member (orders kept, parameters on the history): the plan moves its step
    member = {"name": "arima", "forms": {"": ORDERS}}
    model = FittedForecaster(lags=1, horizon=3, season=12, exog=["promo"], known=["promo"])
    model.set_params(members=[member], entities=[""], entity_scales=[1.0])
    history, t = y[:, :150], 149
    plan = x[:, :153].copy()
    plan[0, 151] = 0.0
    off = model.predict_origins(history, np.array([t]), plan)[0]
    plan[0, 151] = 1.0
    on = model.predict_origins(history, np.array([t]), plan)[0]
    assert on[1] - off[1] == pytest.approx(LIFT, rel=0.3)
    assert on[0] == pytest.approx(off[0]) and on[2] == pytest.approx(off[2], abs=0.2 * LIFT)


def test_a_panel_reads_each_entitys_plan_and_names_the_one_missing(wine):
    shop_b = wine.assign(sales=wine["sales"] * 1.5, promo=np.roll(wine["promo"].to_numpy(), 5))
    panel = pd.concat([wine.assign(shop="A"), shop_b.assign(shop="B")], ignore_index=True)
    spec = forecast_spec("hgb_lags", 3, "sales", "shop", exog=("promo",), known=("promo",))
    result = run_forecast(spec, panel, ListSink())
    test = result.test_predictions
    t = int(test["origin"].iloc[-1])
    parts = {"A": wine, "B": shop_b}
    history = pd.concat([f.iloc[: t + 1].assign(shop=s) for s, f in parts.items()])
    plan = pd.concat([f.iloc[t + 1 : t + 4].assign(shop=s) for s, f in parts.items()])
    plan = plan.assign(sales=np.nan)
    data = pd.concat([history, plan]).to_csv(index=False).encode()
    out = extend_upload(result.model, data, "p.csv", "date", "sales", 0.9, entity_col="shop")
    want = pd.concat([test[test["entity"] == s].tail(3) for s in parts])["y_pred"]
    np.testing.assert_allclose(out.forecasts["y_pred"], want.to_numpy())
    short = pd.concat([history, plan.iloc[:5]]).to_csv(index=False).encode()
    with pytest.raises(DataError, match="no row of entity 'B' for 1994-08-01"):
        extend_upload(result.model, short, "p.csv", "date", "sales", 0.9, entity_col="shop")


def test_auto_with_autoarima_reads_the_plan_in_training_and_in_predict(wine, tmp_path):
    quarters = wine.set_index("date").resample("QS").sum().reset_index()  # promo: months 0-3

    def auto(known):
        spec = forecast_spec("auto", 2, "sales", exog=("promo",), known=known, arima=True)
        return run_forecast(spec, quarters, ListSink())

    planned, blind = auto(("promo",)), auto(())
    assert planned.test_metrics["arima_mase"] < 0.7 * blind.test_metrics["arima_mase"]
    assert "arima" in [m["name"] for m in planned.model.members]
    board = leaderboard(planned.test_predictions, None, planned.val_predictions, ["promo"])
    assert "AutoARIMA (orders by AICc), regressed on 'promo'" in board["forecaster"].tolist()
    loaded = load_bundle(save_bundle(tmp_path / "b", planned.model))
    history, plan = quarters.iloc[:50], quarters.iloc[50:52].assign(sales=np.nan)
    out = {}
    for promoted in (0.0, 2.0):  # two more months promoted in the second quarter ahead
        plan.loc[51, "promo"] = promoted
        data = pd.concat([history, plan]).to_csv(index=False).encode()
        out[promoted] = extend_upload(loaded, data, "p.csv", "date", "sales", 0.9).forecasts
    lift = out[2.0]["y_pred"].to_numpy() - out[0.0]["y_pred"].to_numpy()
    assert lift[1] > 0.5 * LIFT and lift[1] > 3 * abs(lift[0])
