"""Fourier terms of the season as inputs of the forecasters on lags, trained for real on
Mauna Loa CO2 (monthly, from the statsmodels wheel): they carry the month a model on one
lag cannot see, the phase comes from the calendar in training and in Predict alike, and
the bundle keeps them, checked on load."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from finml.errors import BundleError
from finml.fitters.base import ListSink
from finml.models.bundle import load_bundle, save_bundle
from finml.prediction.forecast import extend_series
from finml.tasks.forecast import run_forecast
from tests.conftest import forecast_spec


@pytest.fixture(scope="module")
def co2() -> pd.DataFrame:
    from statsmodels.datasets import co2

    c = co2.load_pandas().data["co2"].resample("MS").mean().interpolate()
    return pd.DataFrame({"date": c.index, "co2": c.to_numpy()})


def _run(frame, **params):
    spec = forecast_spec("ridge_lags", horizon=3, target="co2", lags=1, **params)
    return run_forecast(spec, frame, ListSink())


@pytest.fixture(scope="module")
def seasonal(co2):
    return _run(co2, fourier=6)


def test_fourier_terms_give_a_one_lag_ridge_the_season(co2, seasonal):
    plain = _run(co2)
    assert plain.model.n_inputs == 3 and seasonal.model.n_inputs == 3 + 11
    m, base = seasonal.test_metrics, plain.test_metrics
    # one change cannot tell March from September; the month's terms can
    assert m["mase"] < 0.5 * base["mase"], (m["mase"], base["mase"])
    assert m["mase"] < m["seasonal_naive_mase"] and base["mase"] > 0.9 * base["seasonal_naive_mase"]


def test_fourier_pairs_are_capped_at_half_the_season(co2):
    quarterly = co2.iloc[::3].reset_index(drop=True)
    result = _run(quarterly, fourier=26)
    assert result.model.fourier == 2 and result.model.n_inputs == 3 + 3


def test_predict_reads_the_season_from_the_uploaded_dates(co2, seasonal, tmp_path):
    loaded = load_bundle(save_bundle(tmp_path / "b", seasonal.model))
    assert loaded.fourier == 6
    test = seasonal.test_predictions
    origin = int(test["origin"].iloc[-1])
    history = co2.iloc[: origin + 1]
    forecasts, _ = extend_series(loaded, history, "date", "co2", 0.9)
    np.testing.assert_allclose(forecasts["y_pred"], test["y_pred"].to_numpy()[-3:])
    # the same values six months later in the year: the forecast follows the dates
    later = history.assign(
        date=pd.date_range(
            history["date"].iloc[0] + pd.DateOffset(months=6), periods=len(history), freq="MS"
        )
    )
    moved, _ = extend_series(loaded, later, "date", "co2", 0.9)
    assert np.abs(moved["y_pred"].to_numpy() - forecasts["y_pred"].to_numpy()).max() > 0.5


@pytest.mark.parametrize("bad", [True, -1, 1.5, "6", 7])
def test_a_forged_number_of_fourier_pairs_is_refused(seasonal, tmp_path, bad):
    path = save_bundle(tmp_path / "b", seasonal.model)
    meta = json.loads((path / "meta.json").read_text())
    meta["forecaster"]["fourier"] = bad
    (path / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(BundleError, match="Fourier pairs"):
        load_bundle(path)
