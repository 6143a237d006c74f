"""The fitted forecaster, the forecasting networks, and the baselines every forecasting run
is judged against.

A forecaster learns, at each origin t, the next h changes ``y[t+k] - y[t]`` from the last p
changes (:func:`finml.data.series.windows`), both standardised with training-window
statistics; its forecast is ``y[t]`` plus the decoded changes. The naive forecast is the
special case of predicting no change, so a model that learns nothing ties with it.

Baselines (Hyndman & Athanasopoulos, Forecasting: Principles and Practice, 3rd ed., 2021,
sections 5.2 and 8): naive (the last value), seasonal naive (the value one season earlier),
and ETS (``statsmodels.tsa.holtwinters.ExponentialSmoothing`` with an additive trend; its
smoothing parameters estimated once on the training segment, then filtered through each
origin's history with those parameters fixed).
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin

from finml.data.series import windows
from finml.models.pipeline import EAGER_ROWS
from finml.models.safe_load import check_network_size


class FittedForecaster(RegressorMixin, BaseEstimator):
    """A fitted forecaster of one series, or a global one of a panel of series.

    Args:
        estimator: a multi-output ``Ridge``, a list of h ``HistGradientBoostingRegressor``
            (one per step ahead), or a Keras network with h linear outputs.
        lags: p, past changes per window.
        horizon: h, steps ahead.
        x_mean, x_scale: standardisation of the inputs, float lists of length p.
        t_mean, t_scale: standardisation of the targets, float lists of length h.
        season: season length in steps.
        freq: pandas frequency of the dates (``"QS-OCT"``, ``"MS"``, ...).
        intervals: split-conformal half-widths per level and step,
            ``{"0.9": [q_1, ..., q_h]}``, in units of the entity's scale (the target's
            units where ``entity_scales`` is absent).
        meta: provenance, JSON.
        exog: the exogenous columns whose past changes are inputs (names, X of them).
        rolling: whether the inputs end with the mean and sd of the last p changes.
        entities: the entity names of a panel (``[""]`` for one series).
        entity_scales: each entity's scale of changes (its training naive MAE); changes are
            learned in these units, so one model serves series of any size. ``None``: 1.
    """

    def __init__(
        self,
        estimator=None,
        lags=8,
        horizon=4,
        x_mean=None,
        x_scale=None,
        t_mean=None,
        t_scale=None,
        season=1,
        freq="",
        intervals=None,
        meta=None,
        exog=(),
        rolling=False,
        entities=("",),
        entity_scales=None,
    ):
        self.estimator = estimator
        self.lags = lags
        self.horizon = horizon
        self.x_mean = x_mean
        self.x_scale = x_scale
        self.t_mean = t_mean
        self.t_scale = t_scale
        self.season = season
        self.freq = freq
        self.intervals = intervals
        self.meta = meta
        self.exog = exog
        self.rolling = rolling
        self.entities = entities
        self.entity_scales = entity_scales

    def fit(self, X=None, y=None):
        """Do nothing and return ``self``: training fits the parts."""
        return self

    @property
    def family(self) -> str:
        """``"sklearn"`` or ``"keras"``."""
        est = self.estimator
        return "sklearn" if isinstance(est, list) or hasattr(est, "get_params") else "keras"

    def encode(self, x: np.ndarray) -> np.ndarray:
        """Standardised windows, float32 (m, p)."""
        return ((x - np.asarray(self.x_mean)) / np.asarray(self.x_scale)).astype(np.float32)

    def decode(self, z: np.ndarray) -> np.ndarray:
        """Changes from the origin's value in the target's units, float64 (m, h)."""
        z = np.asarray(z, dtype=np.float64).reshape(-1, self.horizon)
        return z * np.asarray(self.t_scale) + np.asarray(self.t_mean)

    def predict_changes(self, z: np.ndarray) -> np.ndarray:
        """The estimator's standardised outputs for standardised windows: float64 (m, h)."""
        est = self.estimator
        if isinstance(est, list):
            return np.column_stack([e.predict(z) for e in est])
        if self.family == "sklearn":
            return np.asarray(est.predict(z), dtype=np.float64).reshape(len(z), -1)
        out = est(z, training=False) if len(z) <= EAGER_ROWS else est.predict(z, verbose=0)
        return np.asarray(out, dtype=np.float64).reshape(len(z), -1)

    @property
    def n_inputs(self) -> int:
        """Inputs per window: p per channel (the target and each exogenous column), and 2
        rolling statistics."""
        return int(self.lags) * (1 + len(self.exog or ())) + (2 if self.rolling else 0)

    def scales_for(self, entities) -> np.ndarray:
        """The scale of each named entity, float64 (E,); ``NaN`` for one not trained on."""
        known = dict(zip(self.entities or ("",), self.entity_scales or [1.0], strict=False))
        return np.array([known.get(str(e), np.nan) for e in entities], dtype=np.float64)

    def predict_origins(
        self, y: np.ndarray, origins: np.ndarray, exog=None, scales=None
    ) -> np.ndarray:
        """Forecasts from each origin of each entity: ``y[e, t]`` plus the decoded changes
        times the entity's scale, float64 (E * m, h), entity-major.

        Args:
            y: the series, float64 (n,), or a panel (E, n).
            origins: positions t >= p (only ``y[:, :t+1]`` is read for origin t).
            exog: the exogenous columns, float64 (E, n, X), when the model has any.
            scales: the entities' scales, float (E,); default the trained ones (one per
                row of ``y``).
        """
        y = np.atleast_2d(np.asarray(y, dtype=np.float64))
        s = np.asarray(self.entity_scales or [1.0] * len(y) if scales is None else scales)
        x, _ = windows(
            y, origins, self.lags, self.horizon, scales=s, exog=exog, rolling=self.rolling
        )
        changes = self.decode(self.predict_changes(self.encode(x)))
        o = np.asarray(origins, dtype=np.int64)
        return (
            y[:, o][:, :, None] + changes.reshape(len(y), len(o), -1) * s[:, None, None]
        ).reshape(-1, self.horizon)

    def predict(self, X, exog=None, scale: float | None = None) -> np.ndarray:
        """The next h values after the history ``X`` (a 1-D series): float64 (h,).

        Args:
            X: the history in date order, float (n,).
            exog: its exogenous columns, float (n, X), when the model has any.
            scale: the entity's scale; default the trained one of a single series, else
                the history's own naive one-step MAE.

        Raises:
            ValueError: fewer than p + 1 values, or exogenous columns missing.
        """
        y = np.asarray(X, dtype=np.float64).reshape(-1)
        if len(y) <= self.lags:
            raise ValueError(f"The history needs more than {self.lags} values to forecast from.")
        if self.exog and (exog is None or np.shape(exog) != (len(y), len(self.exog))):
            raise ValueError(f"The history needs the exogenous columns {list(self.exog)}.")
        if scale is None:
            scales = self.entity_scales or [1.0]
            scale = scales[0] if len(scales) == 1 else float(np.mean(np.abs(np.diff(y)))) or 1.0
        ex = None if not self.exog else np.asarray(exog, dtype=np.float64)[None]
        return self.predict_origins(y, np.array([len(y) - 1]), ex, [scale])[0]


def naive_forecasts(y: np.ndarray, origins: np.ndarray, horizon: int) -> np.ndarray:
    """The naive forecast (the origin's value for every step) of a series (n,) or panel
    (E, n): float64 (E * m, h), entity-major."""
    y = np.atleast_2d(np.asarray(y, dtype=np.float64))
    return np.repeat(y[:, origins].reshape(-1, 1), horizon, axis=1)


def seasonal_naive_forecasts(
    y: np.ndarray, origins: np.ndarray, horizon: int, season: int
) -> np.ndarray:
    """The seasonal naive forecast: step k repeats the value one season before its target
    date, ``y[t + k - m * ceil(k / m)]``; with m = 1 it is the naive forecast. Series (n,)
    or panel (E, n) -> float64 (E * m, h), entity-major."""
    y = np.atleast_2d(np.asarray(y, dtype=np.float64))
    k = np.arange(1, horizon + 1)
    back = k - season * np.ceil(k / season).astype(int)  # <= 0: at or before the origin
    return y[:, np.asarray(origins)[:, None] + back[None, :]].reshape(-1, horizon)


#: The ETS forms AutoETS chooses from (error, trend, damped, season), as R's
#: ``forecast::ets`` allows them by default (Hyndman & Khandakar 2008): no multiplicative
#: trend, no additive error with a multiplicative season; multiplicative forms only for a
#: positive series, seasonal ones only with two full seasons of training data.
ETS_FORMS = tuple(
    (error, trend, damped, season)
    for error in ("add", "mul")
    for trend, damped in ((None, False), ("add", False), ("add", True))
    for season in (None, "add", "mul")
    if not (error == "add" and season == "mul")
)


def _ets_model(y: np.ndarray, form, period: int):
    from statsmodels.tsa.exponential_smoothing.ets import ETSModel

    error, trend, damped, season = form
    return ETSModel(
        y,
        error=error,
        trend=trend,
        damped_trend=damped,
        seasonal=season,
        seasonal_periods=period if season else None,
        initialization_method="heuristic",
    )


def auto_ets(y: np.ndarray, period: int):
    """The ETS form with the lowest AICc on ``y`` (statsmodels ``ETSModel``, maximum
    likelihood of the smoothing parameters; the initial states by Hyndman et al.'s
    heuristic from the first seasons, 8x faster than estimating them on a monthly series
    and the same choice on the ones we checked), among :data:`ETS_FORMS` that suit it.

    Args:
        y: float64 (n,) training values, n >= 10.
        period: the season's length (1: no season).

    Returns:
        (form, fitted parameters).
    """
    import warnings

    positive = bool(np.all(y > 0))
    seasonal = period > 1 and len(y) >= 2 * period + 2
    best = None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence notes of the optimiser
        for form in ETS_FORMS:
            error, _, _, season = form
            if (not positive and "mul" in (error, season)) or (season and not seasonal):
                continue
            try:
                fit = _ets_model(y, form, period).fit(disp=False)
            except (ValueError, np.linalg.LinAlgError):
                continue
            if np.isfinite(fit.aicc) and (best is None or fit.aicc < best[0]):
                best = (fit.aicc, form, fit.params)
    if best is None:
        raise ValueError("No ETS form could be fitted to this series.")
    return best[1], best[2]


def ets_forecasts(
    y: np.ndarray, origins: np.ndarray, horizon: int, train_end: int, season: int = 1
) -> np.ndarray:
    """AutoETS forecasts from each origin: the form and parameters chosen by AICc on
    ``y[:train_end]`` (:func:`auto_ets`), then held fixed while each origin's own history
    is smoothed; one AutoETS per entity of a panel. Series (n,) or panel (E, n) -> float64
    (E * m, h), entity-major.

    Raises:
        ValueError: fewer than 10 training values.
    """
    y = np.atleast_2d(np.asarray(y, dtype=np.float64))
    return np.concatenate([_ets_one(row, origins, horizon, train_end, season) for row in y])


def _ets_one(y, origins, horizon: int, train_end: int, season: int) -> np.ndarray:
    import warnings

    if train_end < 10:
        raise ValueError("ETS needs at least 10 training values.")
    form, params = auto_ets(y[:train_end], season)
    out = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for t in np.asarray(origins):
            if form[0] == "mul" and np.any(y[: t + 1] <= 0):  # a form the history leaves
                out.append(np.repeat(y[t], horizon))
                continue
            smoothed = _ets_model(y[: t + 1], form, season).smooth(params)
            out.append(np.asarray(smoothed.forecast(horizon)))
    return np.asarray(out, dtype=np.float64).reshape(len(out), horizon)


def theta_forecasts(
    y: np.ndarray, origins: np.ndarray, horizon: int, season: int = 1
) -> np.ndarray:
    """Theta method forecasts (Assimakopoulos & Nikolopoulos 2000; statsmodels
    ``ThetaModel``: theta = 2, seasonally adjusted by multiplicative classical
    decomposition when a season is detected), refitted on each origin's history. Series
    (n,) or panel (E, n) -> float64 (E * m, h), entity-major."""
    import warnings

    from statsmodels.tsa.forecasting.theta import ThetaModel

    y = np.atleast_2d(np.asarray(y, dtype=np.float64))
    out = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for row in y:
            for t in np.asarray(origins):
                history = row[: t + 1]
                period = season if season > 1 and len(history) >= 2 * season else 1
                deseason = period > 1 and bool(np.all(history > 0))
                try:
                    fit = ThetaModel(history, period=period, deseasonalize=deseason).fit()
                    out.append(np.asarray(fit.forecast(horizon)))
                except (ValueError, np.linalg.LinAlgError):  # too short: the last value
                    out.append(np.repeat(history[-1], horizon))
    return np.asarray(out, dtype=np.float64).reshape(len(out), horizon)


def build_sequence_net(
    kind: str, lags: int, horizon: int, params: dict, *, seed: int, channels: int = 1, extra=0
):
    """A Keras network over a window of p standardised changes (of ``channels`` columns,
    time-major, plus ``extra`` summary inputs for the MLP) with h linear outputs.

    Architectures: ``"mlp"``: Dense layers; ``"cnn"``: two ``Conv1D`` (kernel 3, causal
    padding) and global average pooling; ``"lstm"`` / ``"gru"``: one recurrent layer. Each
    ends in ``Dropout`` and ``Dense(h)``. Loss: MSE; optimizer: Adam.

    Args:
        kind: ``"mlp"``, ``"cnn"``, ``"lstm"`` or ``"gru"``.
        lags: p, the window length.
        horizon: h, the outputs.
        params: ``units``, ``dropout``, ``learning_rate``.
        seed: weight initialisation and dropout.
        channels: the target and the exogenous columns (1 + X).
        extra: inputs after the window (rolling statistics; MLP only).
    """
    import keras

    keras.utils.set_random_seed(seed)
    units = int(params["units"])
    inputs = keras.Input(shape=(lags * channels + extra,), name="changes")
    if kind == "mlp":
        h = keras.layers.Dense(units, activation="relu")(inputs)
        h = keras.layers.Dense(units, activation="relu")(h)
    else:
        seq = keras.layers.Reshape((lags, channels))(inputs)
        if kind == "cnn":
            h = keras.layers.Conv1D(units, 3, padding="causal", activation="relu")(seq)
            h = keras.layers.Conv1D(units, 3, padding="causal", activation="relu")(h)
            h = keras.layers.GlobalAveragePooling1D()(h)
        else:
            layer = keras.layers.LSTM if kind == "lstm" else keras.layers.GRU
            h = layer(units)(seq)
    h = keras.layers.Dropout(params["dropout"])(h)
    outputs = keras.layers.Dense(horizon, name="changes_ahead")(h)
    model = keras.Model(inputs, outputs, name=f"finml_{kind}_forecaster")
    check_network_size(model)
    model.compile(optimizer=keras.optimizers.Adam(params["learning_rate"]), loss="mse")
    return model
