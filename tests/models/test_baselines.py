"""The statistical baselines of forecasting runs (finml.models.forecaster): AutoETS chosen
by AICc among R's default forms, and the Theta method, against statsmodels itself."""

from __future__ import annotations

import numpy as np

from finml.models.forecaster import (
    auto_ets,
    ets_forecasts,
    seasonal_naive_forecasts,
    theta_forecasts,
)


def _seasonal(n: int = 144, seed: int = 0) -> np.ndarray:
    """Monthly, trending, multiplicative season (airline-like), positive."""
    t = np.arange(n)
    rng = np.random.default_rng(seed)
    return (100 + 2 * t) * (1 + 0.25 * np.sin(2 * np.pi * t / 12)) * rng.normal(1, 0.02, n)


def test_auto_ets_picks_a_seasonal_trending_form_and_beats_seasonal_naive():
    y = _seasonal()
    form, _ = auto_ets(y[:120], 12)
    _, trend, _, season = form
    assert trend == "add" and season in ("add", "mul"), form
    origins = np.arange(119, 144 - 6)
    ets = ets_forecasts(y, origins, 6, 120, 12)
    snaive = seasonal_naive_forecasts(y, origins, 6, 12)
    actual = np.stack([y[o + 1 : o + 7] for o in origins])
    assert np.abs(ets - actual).mean() < 0.6 * np.abs(snaive - actual).mean()


def test_the_first_origin_s_forecast_is_statsmodels_own_fit():
    from statsmodels.tsa.exponential_smoothing.ets import ETSModel

    y = _seasonal(seed=1)
    form, _ = auto_ets(y[:120], 12)
    error, trend, damped, season = form
    direct = ETSModel(
        y[:120],
        error=error,
        trend=trend,
        damped_trend=damped,
        seasonal=season,
        seasonal_periods=12,
        initialization_method="heuristic",
    ).fit(disp=False)
    ours = ets_forecasts(y, np.array([119]), 6, 120, 12)[0]
    np.testing.assert_allclose(ours, direct.forecast(6), rtol=1e-6)


def test_a_series_with_zeros_gets_only_additive_forms_and_panels_stay_entity_major():
    rng = np.random.default_rng(2)
    y = np.cumsum(rng.normal(0, 1, 80))
    y[10] = 0.0
    form, _ = auto_ets(y[:60], 1)
    assert form[0] == "add" and form[3] is None
    panel = np.vstack([y, y * 3])  # one AutoETS per entity
    out = ets_forecasts(panel, np.array([59, 60]), 2, 60, 1)
    assert out.shape == (4, 2)
    np.testing.assert_allclose(out[2:], 3 * out[:2], rtol=1e-3, atol=1e-3)


def test_theta_is_statsmodels_at_its_fit_and_rolls_its_level_after():
    from statsmodels.tsa.forecasting.theta import ThetaModel

    y = _seasonal(seed=3)
    out = theta_forecasts(y, np.array([99, 100, 130]), 3, 12)
    direct = ThetaModel(y[:100], period=12, deseasonalize=True).fit().forecast(3)
    np.testing.assert_allclose(out[0], direct, rtol=1e-9)  # the fit's own end: exact
    # later origins: the same parameters, the level rolled on; close to refitting there
    for row, origin in zip(out[1:], (100, 130), strict=True):
        refit = ThetaModel(y[: origin + 1], period=12, deseasonalize=True).fit().forecast(3)
        assert not np.allclose(row, out[0])
        np.testing.assert_allclose(row, refit, rtol=0.02)


def test_ets_from_one_smoothing_equals_smoothing_each_origin_s_history():
    from finml.models.forecaster import _ets_model, ets_fits

    y = _seasonal(n=160, seed=4)
    fits = ets_fits(y, 120, 12)
    origins = np.array([119, 131, 150])
    out = ets_forecasts(y, origins, 4, 120, 12, fits)
    form, params = fits[0]
    for row, t in zip(out, origins, strict=True):
        alone = _ets_model(y[: t + 1], form, 12).smooth(params).forecast(4)
        np.testing.assert_allclose(row, alone, rtol=1e-9)


def test_a_constant_entity_of_a_panel_is_forecast_as_its_constant():
    from finml.models.forecaster import ets_fits

    panel = np.vstack([_seasonal(n=60, seed=5), np.full(60, 7.0)])
    fits = ets_fits(panel, 48, 12)
    out = ets_forecasts(panel, np.array([47, 50]), 3, 48, 12, fits)
    np.testing.assert_allclose(out[2:], 7.0)
    assert not np.allclose(out[:2], panel[0, [47, 50]][:, None])


def test_auto_arima_is_pmdarima_at_its_fit_and_filters_each_later_history_with_it():
    """AutoARIMA's forecast at its fit's end is pmdarima's own; later origins are the
    Kalman filter through each origin's history with the parameters held (checked against
    filtering that history alone); on an airline-like series it beats the seasonal naive."""
    import pmdarima

    from finml.models.forecaster import ARIMA_LIMITS, _arima_model, arima_fits, arima_forecasts

    y = _seasonal(n=150, seed=6)
    fits = arima_fits(y, 120, 12)
    order, params = fits[0]
    assert order[6] == 12 and order[1] + order[4] >= 1, order  # seasonal, differenced
    theirs = pmdarima.auto_arima(
        y[:120],
        m=12,
        seasonal=True,
        stepwise=True,
        information_criterion="aicc",
        suppress_warnings=True,
        error_action="ignore",
        **ARIMA_LIMITS,
    )
    origins = np.array([119, 125, 140])
    out = arima_forecasts(y, origins, 6, 120, 12, fits)
    np.testing.assert_allclose(out[0], theirs.predict(6), rtol=1e-9)
    for row, t in zip(out[1:], origins[1:], strict=True):
        alone = _arima_model(y[: t + 1], order).filter(params).forecast(6)
        np.testing.assert_allclose(row, alone, rtol=1e-9)
    every = np.arange(119, 150 - 6)
    actual = np.stack([y[o + 1 : o + 7] for o in every])
    arima = arima_forecasts(y, every, 6, 120, 12, fits)
    snaive = seasonal_naive_forecasts(y, every, 6, 12)
    assert np.abs(arima - actual).mean() < 0.8 * np.abs(snaive - actual).mean()


def test_given_arima_orders_are_refitted_and_a_constant_entity_gets_its_constant():
    from finml.models.forecaster import arima_fits, arima_forecasts

    panel = np.vstack([_seasonal(n=60, seed=7), np.full(60, 7.0)])
    fits = arima_fits(panel, 48, 12)
    assert fits[1] == (None, None)
    out = arima_forecasts(panel, np.array([47, 50]), 3, 48, 12, fits)
    np.testing.assert_allclose(out[2:], 7.0)
    # the chosen orders given back: the same orders, parameters estimated again
    again = arima_fits(panel[:1], 48, 12, [fits[0][0]])
    assert again[0][0] == fits[0][0]
    np.testing.assert_allclose(again[0][1], fits[0][1], rtol=1e-3, atol=1e-6)
    # a seasonal order on a history shorter than two seasons: AutoARIMA chooses again
    short = arima_fits(panel[:1], 20, 12, [fits[0][0]])
    assert short[0][0][6] == 1
