"""The forecasters on windows of past changes (:mod:`finml.tasks.forecast` makes the
windows): ridge on the lags, one boosted model per step ahead, and the Keras networks over
the window (MLP, 1-D CNN, LSTM, GRU: :func:`finml.models.forecaster.build_sequence_net`).
Each learns the standardised next ``h`` changes and reports the loss, the validation loss
and the validation RMSE in the target's units (the task's meter)."""

from __future__ import annotations

import numpy as np

from finml.errors import SpecError
from finml.fitters.base import FitData, FitResult, Fitter
from finml.fitters.boosting import plain_numeric_passthrough


def _mse(y: np.ndarray, out: np.ndarray) -> float:
    return float(np.mean((np.asarray(out) - y) ** 2))


class RidgeLagsFitter(Fitter):
    """``sklearn.linear_model.Ridge`` on the lagged changes, all steps ahead at once."""

    family = "sklearn"
    step_unit = "fit"
    refits = True

    def check(self, spec) -> None:
        """Refuse the recursive strategy with exogenous columns, before the run is queued.

        Raises:
            SpecError: said plainly, with the two ways out.
        """
        if (spec.params or {}).get("strategy") == "recursive" and spec.dataset.exog:
            raise SpecError(
                "The recursive strategy feeds each forecast back as the next input, and the "
                "exogenous columns' future values are not known: choose the direct "
                "strategy, or no exogenous columns."
            )

    def fit(self, spec, params, data: FitData, sink, should_stop) -> FitResult:
        """One fit; see :meth:`finml.fitters.base.Fitter.fit`."""
        from sklearn.linear_model import Ridge

        est = Ridge(alpha=params["alpha"]).fit(data.x_train, data.y_train)
        val = est.predict(data.x_val)
        metrics = {
            "loss": _mse(data.y_train, est.predict(data.x_train)),
            "val_loss": _mse(data.y_val, val),
            **data.meter(data.y_val, val),
        }
        sink.on_step(1, 1, metrics)
        return FitResult(est, 1, False, val)


class AutoFitter(RidgeLagsFitter):
    """Auto: ridge on the lags (two seasons of them), AutoETS and Theta, and AutoARIMA when
    the run asks for it (``arima``); the run chooses on the validation origins (and two
    blocks before them) which of
    them to average, and refits the ridge on the training and validation origins before
    the test block."""

    members = ("model", "ets", "theta")

    def members_for(self, params: dict) -> tuple[str, ...]:
        """The three members, and ``"arima"`` when ``params["arima"]``."""
        return (*self.members, "arima") if params.get("arima") else self.members


class BoostedLagsFitter(Fitter):
    """One ``HistGradientBoostingRegressor`` per step ahead (a list of them); progress
    after each step ahead (the step is the unit), a stop request between two (a
    forecaster needs every step, so a stopped fit keeps nothing). With ``data.categories``
    (a panel's entity codes) the windows' last input is a categorical feature."""

    family = "sklearn"
    step_unit = "step ahead"
    refits = True

    def fit(self, spec, params, data: FitData, sink, should_stop) -> FitResult:
        """``h`` fits; see :meth:`finml.fitters.base.Fitter.fit`."""
        from finml.models.tabular import build_regressor

        z_tr, zt_tr, z_va, zt_va = data.x_train, data.y_train, data.x_val, data.y_val
        h, models = zt_tr.shape[1], []
        leaf = min(params["min_samples_leaf"], max(1, len(z_tr) // 4))  # a short series
        # a panel's entity code, the windows' last input (FittedForecaster.entity_feature)
        coded = np.arange(z_tr.shape[1]) == z_tr.shape[1] - 1 if data.categories else None
        for k in range(h):
            est = build_regressor("hgb_reg", {**params, "min_samples_leaf": leaf}, seed=spec.seed)
            if coded is not None:
                est.set_params(categorical_features=coded)
            models.append(est.fit(z_tr, zt_tr[:, k]))
            plain_numeric_passthrough(est)
            train = np.column_stack([m.predict(z_tr) for m in models])
            done = np.column_stack([m.predict(z_va) for m in models])
            metrics = {
                "loss": _mse(zt_tr[:, : k + 1], train),
                "val_loss": _mse(zt_va[:, : k + 1], done),
            }
            sink.on_step(k + 1, h, metrics)
            if should_stop() and k + 1 < h:
                return FitResult(None, k + 1, True)
        full = np.column_stack([m.predict(z_va) for m in models])
        sink.on_step(h, h, data.meter(zt_va, full))
        return FitResult(models, h, False, full)


#: The Keras architecture of each sequence model.
NETS = {"mlp_lags": "mlp", "cnn_seq": "cnn", "lstm_seq": "lstm", "gru_seq": "gru"}


class SequenceNetFitter(Fitter):
    """A Keras network over the window (:data:`NETS`), early-stopped on the validation
    windows; the validation RMSE in the target's units after every epoch."""

    family = "keras"

    def check(self, spec) -> None:
        """Refuse columns known in advance for a network over the sequence (CNN, LSTM,
        GRU), before the run is queued: it reads the window as p periods of past changes,
        and the planned changes ahead are not part of that sequence.

        Raises:
            SpecError: said plainly, with the ways out.
        """
        if NETS[spec.model] != "mlp" and spec.dataset.known:
            raise SpecError(
                "The CNN, LSTM and GRU read a sequence of past changes only; the columns "
                "known in advance are read by the models on lags (ridge, boosting, MLP) and "
                "Auto. Choose one of those, or no column known in advance."
            )

    def fit(self, spec, params, data: FitData, sink, should_stop) -> FitResult:
        """Train the network; see :meth:`finml.fitters.base.Fitter.fit`."""
        from finml.fitters.callbacks import fit_validated
        from finml.models.forecaster import build_sequence_net

        lags, channels, extra = data.window
        horizon = data.y_train.shape[1]
        net = build_sequence_net(
            NETS[spec.model], lags, horizon, params, seed=spec.seed, channels=channels, extra=extra
        )
        val = (data.x_val, data.y_val)
        epochs, stopped = fit_validated(
            net, data, data.x_train, data.y_train, val, params, sink, should_stop
        )
        return FitResult(None, 0, True) if epochs == 0 else FitResult(net, epochs, stopped)
