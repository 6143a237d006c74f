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


class FittedForecaster(RegressorMixin, BaseEstimator):
    """A fitted forecaster of one series.

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
            ``{"0.9": [q_1, ..., q_h]}``, in the target's units.
        meta: provenance, JSON.
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

    def predict_origins(self, y: np.ndarray, origins: np.ndarray) -> np.ndarray:
        """Forecasts from each origin: ``y[t]`` plus the decoded changes, float64 (m, h).

        Args:
            y: the series, float64 (n,).
            origins: positions t >= p (only ``y[:t+1]`` is read for origin t).
        """
        x, _ = windows(y, origins, self.lags, self.horizon)
        changes = self.decode(self.predict_changes(self.encode(x)))
        return np.asarray(y, dtype=np.float64)[origins][:, None] + changes

    def predict(self, X) -> np.ndarray:
        """The next h values after the history ``X`` (a 1-D series): float64 (h,).

        Raises:
            ValueError: fewer than p + 1 values.
        """
        y = np.asarray(X, dtype=np.float64).reshape(-1)
        if len(y) <= self.lags:
            raise ValueError(f"The history needs more than {self.lags} values to forecast from.")
        return self.predict_origins(y, np.array([len(y) - 1]))[0]


def naive_forecasts(y: np.ndarray, origins: np.ndarray, horizon: int) -> np.ndarray:
    """The naive forecast (the origin's value for every step), float64 (m, h)."""
    return np.repeat(np.asarray(y, dtype=np.float64)[origins][:, None], horizon, axis=1)


def seasonal_naive_forecasts(
    y: np.ndarray, origins: np.ndarray, horizon: int, season: int
) -> np.ndarray:
    """The seasonal naive forecast: step k repeats the value one season before its target
    date, ``y[t + k - m * ceil(k / m)]``; with m = 1 it is the naive forecast. (m, h)."""
    y = np.asarray(y, dtype=np.float64)
    k = np.arange(1, horizon + 1)
    back = k - season * np.ceil(k / season).astype(int)  # <= 0: at or before the origin
    return y[np.asarray(origins)[:, None] + back[None, :]]


def ets_forecasts(y: np.ndarray, origins: np.ndarray, horizon: int, train_end: int) -> np.ndarray:
    """ETS forecasts (additive trend, no season) from each origin, with the smoothing
    parameters estimated on ``y[:train_end]`` only, then held fixed while each origin's
    own history is filtered. float64 (m, h).

    Raises:
        ValueError: fewer than 10 training values.
    """
    import warnings

    from statsmodels.tsa.holtwinters import ExponentialSmoothing

    y = np.asarray(y, dtype=np.float64)
    if train_end < 10:
        raise ValueError("ETS needs at least 10 training values.")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence notes of the optimiser
        fitted = ExponentialSmoothing(y[:train_end], trend="add").fit()
        keep = {
            k: fitted.params[k]
            for k in ("smoothing_level", "smoothing_trend", "initial_level", "initial_trend")
        }
        out = []
        for t in np.asarray(origins):
            model = ExponentialSmoothing(
                y[: t + 1],
                trend="add",
                initialization_method="known",
                initial_level=keep["initial_level"],
                initial_trend=keep["initial_trend"],
            )
            res = model.fit(
                smoothing_level=keep["smoothing_level"],
                smoothing_trend=keep["smoothing_trend"],
                optimized=False,
            )
            out.append(res.forecast(horizon))
    return np.asarray(out, dtype=np.float64).reshape(len(out), horizon)


def build_sequence_net(kind: str, lags: int, horizon: int, params: dict, *, seed: int):
    """A Keras network over a window of p standardised changes with h linear outputs.

    Architectures: ``"mlp"``: Dense layers; ``"cnn"``: two ``Conv1D`` (kernel 3, causal
    padding) and global average pooling; ``"lstm"`` / ``"gru"``: one recurrent layer. Each
    ends in ``Dropout`` and ``Dense(h)``. Loss: MSE; optimizer: Adam.

    Args:
        kind: ``"mlp"``, ``"cnn"``, ``"lstm"`` or ``"gru"``.
        lags: p, the window length.
        horizon: h, the outputs.
        params: ``units``, ``dropout``, ``learning_rate``.
        seed: weight initialisation and dropout.
    """
    import keras

    keras.utils.set_random_seed(seed)
    units = int(params["units"])
    inputs = keras.Input(shape=(lags,), name="changes")
    if kind == "mlp":
        h = keras.layers.Dense(units, activation="relu")(inputs)
        h = keras.layers.Dense(units, activation="relu")(h)
    else:
        seq = keras.layers.Reshape((lags, 1))(inputs)
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
    model.compile(optimizer=keras.optimizers.Adam(params["learning_rate"]), loss="mse")
    return model
