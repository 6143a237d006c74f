"""The fitted forecaster, the forecasting networks, and the baselines every forecasting run
is judged against.

A forecaster learns, at each origin t, the next h changes ``y[t+k] - y[t]`` from the last p
changes (:func:`finml.data.series.windows`), both standardised with training-window
statistics; its forecast is ``y[t]`` plus the decoded changes (of ``log y``, then
exponentiated, for a model on the log; a recursive model learns the next change only and
is applied h times). The naive forecast is the special case of predicting no change, so
a model that learns nothing ties with it.

Baselines (Hyndman & Athanasopoulos, Forecasting: Principles and Practice, 3rd ed., 2021,
sections 5.2, 8 and 9): naive (the last value), seasonal naive (the value one season
earlier), AutoETS (statsmodels ``ETSModel``, the form chosen by AICc) and Theta (statsmodels
``ThetaModel``), each fitted once on the periods before a block of origins and rolled
through them with its parameters fixed. AutoETS and Theta are also members a forecaster
may average with its estimator (Auto: :attr:`FittedForecaster.members`).
"""

from __future__ import annotations

import numpy as np
from scipy import special
from sklearn.base import BaseEstimator, RegressorMixin

from finml.data.series import fourier_terms, known_ahead, naive_scales, season_phase, windows
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
            ``{"0.9": [q_1, ..., q_h]}``, in units of :meth:`interval_units` (the entity's
            scale before local units; the target's units where ``entity_scales`` is
            absent).
        meta: provenance, JSON.
        exog: the exogenous columns whose past changes are inputs (names, X of them).
        rolling: whether the inputs end with the mean and sd of the last p changes.
        entities: the entity names of a panel (``[""]`` for one series).
        entity_scales: each entity's scale of changes (its training naive MAE); changes are
            learned in these units, so one model serves series of any size. ``None``: 1.
        members: the forecasters whose equal-weight mean is the forecast
            (:data:`MEMBERS`): ``{"name": "model"}`` (the estimator on the windows),
            ``{"name": "ets", "forms": {entity: [error, trend, damped, season]}}`` (AutoETS
            with the form chosen by AICc on the data before the test block; its parameters
            are estimated on the history up to the first origin of each call),
            ``{"name": "theta"}`` (refitted on each origin's history) and
            ``{"name": "arima", "forms": {entity: [p, d, q, P, D, Q, m, intercept]}}``
            (AutoARIMA's orders, chosen like ETS's forms). ``None``: the estimator alone
            (every forecaster before Auto).
        interval_window: the intervals' unit at an origin (:meth:`interval_units`): 0, the
            entity's scale (runs before local units); w > 0, the mean absolute change over
            the last w changes up to the origin.
        fourier: K, pairs of Fourier terms of the season at the origin that end each
            window (:func:`finml.data.series.fourier_terms`; 0: none, as before them); the
            phase comes from each period's date (:func:`finml.data.series.season_phase`).
        log: the estimator reads and forecasts changes of ``log y`` (relative changes, so
            unit-free: every entity's scale of them is 1) and its forecast is
            ``exp(log y[t] + change)``, the median of a forecast that is symmetric in logs;
            for positive series whose swings grow with their level. ``entity_scales`` stay
            in the target's units (MASE, intervals).
        boxcox: the Box-Cox parameter lambda of each entity, float in [0, 1] (E,), or
            ``None`` (no transform): the estimator reads and forecasts changes of
            ``g(y) = (y ** lambda - 1) / lambda`` (``log y`` at 0; Box & Cox 1964),
            lambda fitted by Guerrero's method (1993; statsmodels' ``BoxCox``) on the
            periods the estimator is fitted on (training; training and validation for
            the refit before the test block), and the forecast is g's inverse of ``g(y[t]) +
            change``; bounded by the log (0) and the series itself (1), so the inverse is
            defined for every forecast (a level whose inverse would be below 0 is 0).
        boxcox_scales: the scale of each entity's transformed changes (their naive
            one-step MAE over the training periods), float > 0 (E,), with ``boxcox``.
        recursive: the multi-step strategy. ``False`` (direct, as before it): the estimator
            gives the h changes at once; ``True``: it gives the next change only, and the
            forecast feeds each step's change back into the window for the next
            (Taieb et al. 2012; a model without exogenous columns: their future is unknown).
        entity_feature: each window ends with its entity's code, the position of its name
            in ``entities`` (-1 for an entity not trained on, which the boosted trees read
            as a missing value), a categorical input of a global model of a panel, as
            Nixtla's mlforecast reads ``unique_id`` as a static feature: the trees can
            learn what differs between entities beyond their scale. Its standardisation
            is the identity (mean 0, scale 1).
        seasonal_difference: the estimator reads and forecasts the changes of the
            seasonal difference ``z[t] = y[t] - y[t-m]`` (m the season; of ``log y`` for a
            :attr:`log` model), and the forecast adds back the value one season earlier
            (``y[t+k] = z[t+k] + y[t+k-m]``, that value itself forecast for k > m): the
            model learns what changes from one season to the next, the seasonal pattern
            being carried by the data (Hyndman & Athanasopoulos 2021, 9.1). Needs p + m
            periods before the first origin.
        known: those of :attr:`exog` whose values are known in advance (holidays,
            promotions, planned prices): each window also holds their changes from the
            origin to each of the h steps ahead (:func:`finml.data.series.known_ahead`), before
            the entity's code, so a forecast needs their next h values (direct strategy
            only, as with any exogenous column). ``()``: none (every model before them).
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
        members=None,
        interval_window=0,
        fourier=0,
        log=False,
        recursive=False,
        entity_feature=False,
        seasonal_difference=False,
        known=(),
        boxcox=None,
        boxcox_scales=None,
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
        self.members = members
        self.interval_window = interval_window
        self.fourier = fourier
        self.log = log
        self.recursive = recursive
        self.entity_feature = entity_feature
        self.seasonal_difference = seasonal_difference
        self.known = known
        self.boxcox = boxcox
        self.boxcox_scales = boxcox_scales

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

    @property
    def outputs(self) -> int:
        """Changes the estimator gives per window: h (direct), 1 (recursive)."""
        return 1 if self.recursive else int(self.horizon)

    def decode(self, z: np.ndarray) -> np.ndarray:
        """Changes from the origin's value in units of the entity's scale, float64 (m,
        :attr:`outputs`)."""
        z = np.asarray(z, dtype=np.float64).reshape(-1, self.outputs)
        return z * np.asarray(self.t_scale) + np.asarray(self.t_mean)

    def predict_changes(self, z: np.ndarray) -> np.ndarray:
        """The estimator's standardised outputs for standardised windows: float64 (m,
        :attr:`outputs`)."""
        est = self.estimator
        if isinstance(est, list):
            return np.column_stack([e.predict(z) for e in est])
        if self.family == "sklearn":
            return np.asarray(est.predict(z), dtype=np.float64).reshape(len(z), -1)
        out = est(z, training=False) if len(z) <= EAGER_ROWS else est.predict(z, verbose=0)
        return np.asarray(out, dtype=np.float64).reshape(len(z), -1)

    @property
    def n_inputs(self) -> int:
        """Inputs per window: p per channel (the target and each exogenous column), 2
        rolling statistics, the Fourier terms, h per known column and the entity's code."""
        return window_inputs(
            int(self.lags),
            len(self.exog or ()),
            bool(self.rolling),
            self.season,
            self.fourier,
            bool(self.entity_feature),
            int(self.horizon) * len(self.known or ()),
        )

    def regressors(self, exog) -> np.ndarray | None:
        """The :attr:`known` columns of ``exog`` (float64 (E, N, X)) as AutoARIMA's
        regressors, float64 (E, N, K); ``None`` without known columns."""
        if not self.known or exog is None:
            return None
        return np.asarray(exog, dtype=np.float64)[:, :, self.known_columns]

    @property
    def known_columns(self) -> list[int]:
        """The positions of the :attr:`known` columns among the :attr:`exog` ones."""
        names = list(self.exog or ())
        return [names.index(c) for c in self.known or ()]

    def entity_codes(self, names) -> np.ndarray:
        """The code of each named entity (:attr:`entity_feature`): its position among
        the trained ``entities``, -1 for one not trained on; float64 (E,)."""
        known = {str(e): i for i, e in enumerate(self.entities or ("",))}
        return np.array([known.get(str(e), -1) for e in names], dtype=np.float64)

    def terms(self, dates) -> np.ndarray | None:
        """The Fourier terms of each of ``dates`` (float64 (n, F)), or ``None`` without
        any.

        Raises:
            ValueError: the model reads Fourier terms and no dates are given.
        """
        if not self.fourier:
            return None
        if dates is None:
            raise ValueError("This forecaster reads the season from the dates: give them.")
        phase = season_phase(dates, self.freq, int(self.season))
        return fourier_terms(phase, int(self.season), int(self.fourier))

    @property
    def first_origin(self) -> int:
        """The first position the estimator forecasts from: p changes before it (of the
        seasonal difference, which starts a season in, with :attr:`seasonal_difference`)."""
        return int(self.lags) + (int(self.season) if self.seasonal_difference else 0)

    @property
    def min_history(self) -> int:
        """Fewest periods a history needs: :attr:`first_origin` + 1, and 10 for a
        statistical member."""
        statistical = any(m["name"] != "model" for m in self.members or ())
        return max(self.first_origin + 1, 10 if statistical else 0)

    def interval_units(self, y: np.ndarray, origins: np.ndarray, scales=None) -> np.ndarray:
        """The unit of the intervals' half-widths at each origin of each entity: float64
        (E, m), :func:`local_units` with :attr:`interval_window` (0: each entity's scale).

        Args:
            y: the series (n,) or panel (E, n); origins: int (m,).
            scales: the entities' scales, float (E,); default the trained ones.
        """
        y = np.atleast_2d(np.asarray(y, dtype=np.float64))
        s = np.asarray(self.entity_scales or [1.0] * len(y) if scales is None else scales)
        return local_units(y, origins, int(self.interval_window or 0), s)

    def scales_for(self, entities) -> np.ndarray:
        """The scale of each named entity, float64 (E,); ``NaN`` for one not trained on."""
        known = dict(zip(self.entities or ("",), self.entity_scales or [1.0], strict=False))
        return np.array([known.get(str(e), np.nan) for e in entities], dtype=np.float64)

    def predict_origins(
        self,
        y: np.ndarray,
        origins: np.ndarray,
        exog=None,
        scales=None,
        entities=None,
        known=None,
        dates=None,
    ) -> np.ndarray:
        """Forecasts from each origin of each entity, float64 (E * m, h), entity-major: the
        equal-weight mean of the :attr:`members` (by default the estimator alone: ``y[e,
        t]`` plus the decoded changes times the entity's scale; for a :attr:`log` model
        ``exp`` of ``log y[e, t]`` plus the decoded changes of the log).

        Args:
            y: the series, float64 (n,), or a panel (E, n).
            origins: positions t >= :attr:`first_origin` (only ``y[:, :t+1]`` is read for
                origin t).
            exog: the exogenous columns, float64 (E, n, X), when the model has any.
            scales: the entities' scales, float (E,); default the trained ones (one per
                row of ``y``); a :attr:`log` model reads relative changes and ignores them.
            entities: the names of the rows of ``y`` (default the trained ones): which
                ETS form each uses (an entity not trained on gets AutoETS on its history).
            known: statistical members' forecasts from these origins already made the same
                way (the run's baselines), by member name: used instead of fitting again.
            dates: the n dates of ``y``'s periods (needed when the model reads
                :attr:`fourier` terms).
        """
        if not self.members:
            return self.window_forecasts(y, origins, exog, scales, dates, entities)
        known = known or {}
        parts = [
            self.window_forecasts(y, origins, exog, scales, dates, entities)
            if m["name"] == "model"
            else np.asarray(known[m["name"]], dtype=np.float64).reshape(-1, self.horizon)
            if m["name"] in known
            else member_forecasts(
                m,
                y,
                origins,
                self.horizon,
                self.season,
                self._forms(m, y, entities),
                self.regressors(exog),
            )
            for m in self.members
        ]
        return np.mean(parts, axis=0)

    def _forms(self, member: dict, y, entities) -> list | None:
        """The ETS form or ARIMA orders of each row of ``y`` (``None`` where AutoETS or
        AutoARIMA must choose)."""
        if "forms" not in member:
            return None
        names = list(self.entities or ("",)) if entities is None else list(entities)
        forms = member.get("forms", {})
        return [tuple(forms[str(e)]) if forms.get(str(e)) else None for e in names][
            : len(np.atleast_2d(y))
        ]

    def inputs(
        self,
        y: np.ndarray,
        origins: np.ndarray,
        exog=None,
        scales=None,
        dates=None,
        entities=None,
        boxcox=None,
    ):
        """The windows as the estimator reads them, before standardisation
        (:func:`finml.data.series.windows` of ``y``, or of ``log y`` for a :attr:`log`
        model, of its seasonal difference with :attr:`seasonal_difference`, then the
        :attr:`known` columns' changes ahead, then the entity's code with
        :attr:`entity_feature`), with the series read and the scales used.

        Args: as :meth:`predict_origins` (``y`` positive for a :attr:`log` or
            :attr:`boxcox` model; origins from :attr:`first_origin`); ``boxcox``: the
            rows' lambdas and scales (:meth:`boxcox_for`) when already looked up.

        Returns:
            (x float64 (E * m, :attr:`n_inputs`), the targets float64 (E * m, h) in units
            of the scales, or ``None`` where an origin has fewer than h values after it,
            the series read (``log y`` for a log model, never differenced) float64 (E, n),
            the scales float64 (E,)).
        """
        y = np.atleast_2d(np.asarray(y, dtype=np.float64))
        if self.log:  # relative changes: unit-free, every entity's scale 1
            with np.errstate(divide="ignore", invalid="ignore"):
                y, s = np.log(y), np.ones(len(y))
        elif self.boxcox:  # the transformed series, in its own units per entity
            lam, s = self.boxcox_for(y, entities) if boxcox is None else boxcox
            y = boxcox_transform(y, lam)
        else:
            s = np.asarray(self.entity_scales or [1.0] * len(y) if scales is None else scales)
        read = y
        self._from_first(origins)
        if self.seasonal_difference:  # z[t] = y[t] - y[t-m]; the first m undefined
            m = int(self.season)
            read = np.concatenate([np.full((len(y), m), np.nan), y[:, m:] - y[:, :-m]], axis=1)
        x, targets = windows(
            read,
            origins,
            self.lags,
            self.horizon,
            scales=s,
            exog=exog,
            rolling=self.rolling,
            fourier=self.terms(dates),
        )
        if self.known:  # exog may run h periods past y: the planned values
            x = np.column_stack([x, known_ahead(exog, origins, self.horizon, self.known_columns)])
        if self.entity_feature:
            names = list(self.entities or ("",))[: len(y)] if entities is None else entities
            x = np.column_stack([x, np.repeat(self.entity_codes(names), len(origins))])
        return x, targets, y, s

    def window_forecasts(
        self, y: np.ndarray, origins: np.ndarray, exog=None, scales=None, dates=None, entities=None
    ) -> np.ndarray:
        """The estimator's forecasts on the windows (see :meth:`predict_origins`)."""
        lam = self.boxcox_for(y, entities) if self.boxcox else None  # fitted once if new
        x, _, base, s = self.inputs(y, origins, exog, scales, dates, entities, lam)
        o = np.asarray(origins, dtype=np.int64)
        if self.recursive:
            changes = self._recursive_changes(x, o, len(base), dates)
        else:
            changes = self.decode(self.predict_changes(self.encode(x)))
        return self.levels(base, o, changes, s, None if lam is None else lam[0])

    def _from_first(self, origins) -> np.ndarray:
        """The origins, int64 (m,), checked to start at :attr:`first_origin` with
        :attr:`seasonal_difference` (an earlier one would read ``y[t - m]`` from the
        series' end).

        Raises:
            ValueError: an origin before :attr:`first_origin`.
        """
        o = np.asarray(origins, dtype=np.int64)
        if self.seasonal_difference and len(o) and o.min() < self.first_origin:
            raise ValueError(f"Origins start at {self.first_origin} for this forecaster.")
        return o

    def levels(
        self,
        base: np.ndarray,
        origins: np.ndarray,
        changes: np.ndarray,
        s: np.ndarray,
        lam: np.ndarray | None = None,
    ) -> np.ndarray:
        """The forecast values from the estimator's cumulative changes: the origin's value
        (of the seasonal difference with :attr:`seasonal_difference`, then the value one
        season earlier added back, step by step) plus the changes times the entity's
        scale, exponentiated for a :attr:`log` model.

        Args:
            base: the series read by :meth:`inputs`, float64 (E, n).
            origins: int (m,); changes: the decoded changes of k <= h steps ahead, float64
                (E * m, k); s: the scales, float64 (E,).
            lam: each row's Box-Cox lambda, float64 (E,), for a :attr:`boxcox` model
                (default the trained ones, in the trained order).

        Returns:
            float64 (E * m, k), in the target's units.
        """
        o = self._from_first(origins)
        e = len(base)
        steps = np.asarray(changes).reshape(e, len(o), -1) * s[:, None, None]
        if not self.seasonal_difference:
            level = base[:, o][:, :, None] + steps
        else:
            m = int(self.season)
            level = (base[:, o] - base[:, o - m])[:, :, None] + steps  # z[t+k]
            for k in range(1, steps.shape[2] + 1):  # y[t+k] = z[t+k] + y[t+k-m]
                level[:, :, k - 1] += base[:, o + k - m] if k <= m else level[:, :, k - 1 - m]
        if self.boxcox:
            lam = np.asarray(self.boxcox if lam is None else lam, dtype=np.float64)
            return boxcox_inverse(level, lam[:e]).reshape(e * len(o), -1)
        with np.errstate(over="ignore"):
            return (np.exp(level) if self.log else level).reshape(e * len(o), -1)

    def boxcox_for(self, y: np.ndarray, entities=None) -> tuple[np.ndarray, np.ndarray]:
        """The Box-Cox lambda of each row of ``y`` and the scale of its transformed
        changes, float64 (E,) each: the trained ones by entity name (rows in the trained
        order by default); for an entity not trained on, lambda fitted on its own history
        (:func:`guerrero_lambda`) and the naive one-step MAE of its transformed history.

        Args:
            y: the series (n,) or panel (E, n), positive.
            entities: the names of the rows of ``y`` (default the trained ones).
        """
        y = np.atleast_2d(np.asarray(y, dtype=np.float64))
        names = list(self.entities or ("",))[: len(y)] if entities is None else list(entities)
        pairs = zip(self.boxcox, self.boxcox_scales, strict=True)
        trained = dict(zip(map(str, self.entities or ("",)), pairs, strict=True))
        lam, s = np.empty(len(y)), np.empty(len(y))
        for i, name in enumerate(names):
            if str(name) in trained:
                lam[i], s[i] = trained[str(name)]
            else:
                lam[i] = guerrero_lambda(y[i], int(self.season))
                s[i] = naive_scales(boxcox_transform(y[i : i + 1], lam[i : i + 1]), y.shape[1])[0]
        return lam, s

    def _recursive_changes(self, x: np.ndarray, origins: np.ndarray, n_entities: int, dates):
        """The h cumulative changes from each origin (in units of the entity's scale),
        float64 (E * m, h): the next change from the window, which then drops its oldest
        change and takes the forecast one (rolling statistics recomputed, the season's
        terms moved one period on, the entity's code kept)."""
        p, k = int(self.lags), int(self.fourier or 0)
        phase = None
        if k:
            phase = np.tile(season_phase(dates, self.freq, int(self.season))[origins], n_entities)
        total, out = np.zeros(len(x)), []
        for step in range(1, int(self.horizon) + 1):
            change = self.decode(self.predict_changes(self.encode(x)))[:, 0]
            total = total + change
            out.append(total)
            lags = np.column_stack([x[:, 1:p], change])
            parts = [lags]
            if self.rolling:
                parts += [lags.mean(axis=1), lags.std(axis=1)]
            if k:
                parts.append(fourier_terms((phase + step) % int(self.season), int(self.season), k))
            if self.entity_feature:
                parts.append(x[:, -1])
            x = np.column_stack(parts)
        return np.column_stack(out)

    def predict(self, X, exog=None, scale: float | None = None, dates=None) -> np.ndarray:
        """The next h values after the history ``X`` (a 1-D series): float64 (h,).

        Args:
            X: the history in date order, float (n,).
            exog: its exogenous columns, float (n, X), when the model has any; (n + h, X)
                with :attr:`known` columns (their planned values in the h periods after).
            scale: the entity's scale; default the trained one of a single series, else
                the history's own naive one-step MAE.
            dates: the history's n dates (needed when the model reads :attr:`fourier`
                terms).

        Raises:
            ValueError: fewer than :attr:`min_history` values, exogenous columns or dates
                missing.
        """
        y = np.asarray(X, dtype=np.float64).reshape(-1)
        if len(y) < self.min_history:
            raise ValueError(
                f"The history needs {self.min_history} values or more to forecast from."
            )
        periods = len(y) + (int(self.horizon) if self.known else 0)
        if self.exog and (exog is None or np.shape(exog) != (periods, len(self.exog))):
            ahead = f", over the {self.horizon} periods after it too" if self.known else ""
            raise ValueError(f"The history needs the exogenous columns {list(self.exog)}{ahead}.")
        if scale is None:
            scales = self.entity_scales or [1.0]
            scale = scales[0] if len(scales) == 1 else float(np.mean(np.abs(np.diff(y)))) or 1.0
        ex = None if not self.exog else np.asarray(exog, dtype=np.float64)[None]
        # one series, named "": a single series' own name, an entity a panel model did not
        # see (the scale above, the entity code -1, a fresh AutoETS / AutoARIMA choice)
        origin = np.array([len(y) - 1])
        return self.predict_origins(y, origin, ex, [scale], [""], dates=dates)[0]


def window_inputs(
    lags: int,
    n_exog: int,
    rolling: bool,
    season: int,
    fourier: int,
    entity: bool = False,
    ahead: int = 0,
) -> int:
    """Inputs per window (:func:`finml.data.series.windows`): p per channel (the target
    and each of the X exogenous columns), 2 rolling statistics, the 2K Fourier terms
    (2K - 1 when K is half the season: that sine is zero), the ``ahead`` changes of the
    known columns (h per column) and the entity's code."""
    k = int(fourier or 0)
    terms = 2 * k - (1 if k and 2 * k == int(season) else 0)
    fixed = (2 if rolling else 0) + terms + int(ahead) + int(entity)
    return int(lags) * (1 + int(n_exog)) + fixed


#: The smallest local unit, as a share of the entity's scale (a flat stretch of history
#: would otherwise give intervals of width 0).
LOCAL_UNIT_FLOOR = 0.01


def local_units(y: np.ndarray, origins: np.ndarray, window: int, scales) -> np.ndarray:
    """Each origin's local scale: the mean absolute change ``|y[i] - y[i-1]|`` over the last
    ``window`` changes up to the origin (fewer near the start), at least
    :data:`LOCAL_UNIT_FLOOR` times the entity's scale; with ``window`` 0 the entity's scale.
    The unit of the normalised (locally weighted) split-conformal intervals: half-width =
    quantile of the calibration errors divided by their origin's unit, times the unit at
    the forecast's origin (Papadopoulos et al. 2008; Lei et al., JASA 2018, 5.2), so the
    intervals widen when the series has recently moved more than the calibration periods.

    Args:
        y: float64 (E, n); origins: int (m,); window: changes per unit (0: none).
        scales: each entity's scale, float (E,).

    Returns:
        float64 (E, m).
    """
    y = np.atleast_2d(np.asarray(y, dtype=np.float64))
    o = np.asarray(origins, dtype=np.int64)
    s = np.asarray(scales, dtype=np.float64).reshape(-1, 1)
    if window <= 0:
        return np.repeat(s, len(o), axis=1)
    total = np.concatenate(
        [np.zeros((len(y), 1)), np.cumsum(np.abs(np.diff(y, axis=1)), axis=1)], axis=1
    )
    start = np.maximum(o - window, 0)
    count = (o - start).astype(np.float64)
    mean = (total[:, o] - total[:, start]) / np.where(count > 0, count, 1.0)
    mean = np.where(count > 0, mean, s)
    return np.maximum(mean, LOCAL_UNIT_FLOOR * s)


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


#: The forecasters a :class:`FittedForecaster` may combine (its ``members``).
MEMBERS = ("model", "ets", "theta", "arima")

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


def ets_fits(y: np.ndarray, train_end: int, season: int = 1, forms=None) -> list[tuple]:
    """Each entity's ETS form and parameters on ``y[:train_end]``: the given form with its
    parameters estimated by maximum likelihood, or where none is given (or the given one
    does not suit the history: a multiplicative form on values <= 0, a season without two
    full seasons), the form :func:`auto_ets` chooses by AICc.

    Args:
        y: series (n,) or panel (E, n), float64.
        train_end: the values used are ``y[:, :train_end]``.
        season: the season's length (1: none).
        forms: one ``(error, trend, damped, season)`` or ``None`` per entity, or ``None``.

    Returns:
        ``[(form, params), ...]``, one per entity; ``(None, None)`` where no form can be
        fitted (a constant history): that entity gets the naive forecast.

    Raises:
        ValueError: fewer than 10 training values.
    """
    return _entity_fits(
        y,
        train_end,
        forms,
        "ETS",
        suits=lambda form, history: _suits(form, history, season),
        refit=lambda history, form, _: _ets_model(history, form, season).fit(disp=False).params,
        choose=lambda history, _: auto_ets(history, season),
    )


def _entity_fits(y, train_end: int, forms, what: str, suits, refit, choose) -> list[tuple]:
    """Each entity's ``(form, params)`` on ``y[:, :train_end]``: ``(form, refit(history,
    form, e))`` for a given form that ``suits`` the history and fits, else
    ``choose(history, e)`` (e: the entity's row), else ``(None, None)`` (that entity gets
    the naive forecast).

    Raises:
        ValueError: fewer than 10 training values.
    """
    import warnings
    from contextlib import suppress

    if train_end < 10:
        raise ValueError(f"{what} needs at least 10 training values.")
    out = []
    for i, row in enumerate(np.atleast_2d(np.asarray(y, dtype=np.float64))):
        history = row[:train_end]
        form = None if forms is None else forms[i]
        fit = None
        if form is not None and suits(form, history):
            with warnings.catch_warnings(), suppress(ValueError, np.linalg.LinAlgError):
                warnings.simplefilter("ignore")  # convergence notes of the optimiser
                fit = (form, refit(history, form, i))
        if fit is None:
            try:
                fit = choose(history, i)
            except ValueError:  # no form fits (a constant history): the naive forecast
                fit = (None, None)
        out.append(fit)
    return out


def _suits(form, history: np.ndarray, period: int) -> bool:
    error, _, _, season = form
    positive = bool(np.all(history > 0))
    seasonal = period > 1 and len(history) >= 2 * period + 2
    return (positive or "mul" not in (error, season)) and (seasonal or not season)


def ets_forecasts(
    y: np.ndarray, origins: np.ndarray, horizon: int, train_end: int, season: int = 1, fits=None
) -> np.ndarray:
    """AutoETS forecasts from each origin: the form and parameters chosen by AICc on
    ``y[:train_end]`` (:func:`auto_ets`; or ``fits`` from :func:`ets_fits`), then held
    fixed while each origin's own history is smoothed; one AutoETS per entity of a panel.
    Series (n,) or panel (E, n) -> float64 (E * m, h), entity-major.

    Raises:
        ValueError: fewer than 10 training values.
    """
    y = np.atleast_2d(np.asarray(y, dtype=np.float64))
    fits = ets_fits(y, train_end, season) if fits is None else fits
    return np.concatenate(
        [_ets_one(row, origins, horizon, fit, season) for row, fit in zip(y, fits, strict=True)]
    )


def _ets_one(y, origins, horizon: int, fit, season: int) -> np.ndarray:
    """One entity's forecasts from each origin: the history up to the last origin smoothed
    once with the fit's parameters, then a dynamic prediction of the h steps after each
    origin (the same numbers as smoothing each origin's history on its own, 5x faster).
    A multiplicative form stops at the first value <= 0: origins from there get the naive
    forecast."""
    return _ets_paths(y, origins, horizon, fit, season)[0]


def _ets_paths(y, origins, horizon: int, fit, season: int, level: float | None = None):
    """:func:`_ets_one`'s forecasts, float64 (m, h), and with ``level`` the bounds of
    AutoETS's own prediction interval at that level (statsmodels' ``get_prediction``:
    exact for the linear forms, simulated for the multiplicative ones, 1,000 paths with a
    fixed seed so a run repeats; NaN where the forecast is the naive fallback), else
    ``None`` twice."""
    import warnings

    import pandas as pd

    form, params = fit
    origins = np.asarray(origins, dtype=np.int64)
    out = np.repeat(y[origins][:, None], horizon, axis=1).astype(np.float64)
    lower, upper = (np.full_like(out, np.nan), np.full_like(out, np.nan)) if level else (None,) * 2
    if form is None:
        return out, lower, upper
    end = int(origins.max()) + 1
    if form[0] == "mul" or form[3] == "mul":
        bad = np.flatnonzero(y[:end] <= 0)
        end = int(bad[0]) if len(bad) else end
    inside = origins < end
    if not inside.any():
        return out, lower, upper
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # a pandas series: statsmodels 0.15's prediction results need an index
        smoothed = _ets_model(pd.Series(y[:end]), form, season).smooth(params)
        for i in np.flatnonzero(inside):
            t = int(origins[i])
            if not level:
                out[i] = np.asarray(smoothed.predict(start=t + 1, end=t + horizon, dynamic=0))
                continue
            frame = smoothed.get_prediction(  # a multiplicative form's: simulated, seeded
                start=t + 1, end=t + horizon, dynamic=0, rng=np.random.default_rng(0)
            ).summary_frame(alpha=1 - level)
            out[i] = frame["mean"].to_numpy()
            lower[i], upper[i] = frame["pi_lower"].to_numpy(), frame["pi_upper"].to_numpy()
    return out, lower, upper


def ets_intervals(
    y: np.ndarray, origins: np.ndarray, horizon: int, season: int, fits, level: float = 0.9
) -> tuple[np.ndarray, np.ndarray]:
    """AutoETS's own prediction intervals from each origin (its state-space model's
    forecast distribution, Hyndman et al. 2008, ch. 6; statsmodels' ``get_prediction``), for
    the forecasts of :func:`ets_forecasts` with the same ``fits``: the statistical
    workhorse's intervals, measured beside finml's conformal ones.

    Args:
        y: the series (n,) or panel (E, n); origins: int (m,); horizon: h.
        season: the season length; fits: :func:`ets_fits` (one per entity).
        level: the nominal coverage.

    Returns:
        (lower, upper), float64 (E * m, h), entity-major; NaN where AutoETS fitted no form
        (the naive forecast) or a multiplicative form met a value <= 0.
    """
    y = np.atleast_2d(np.asarray(y, dtype=np.float64))
    paths = [
        _ets_paths(row, origins, horizon, fit, season, level)
        for row, fit in zip(y, fits, strict=True)
    ]
    return np.concatenate([p[1] for p in paths]), np.concatenate([p[2] for p in paths])


def member_forecasts(
    member: dict, y, origins, horizon: int, season: int, forms=None, regressors=None
):
    """A statistical member's forecasts from each origin (see
    :attr:`FittedForecaster.members`): ETS with its ``forms`` and ARIMA with its orders
    (and the known columns' ``regressors``, float64 (E, N, K), N > max(origins) + h, when
    given), parameters estimated on the history up to the first origin; Theta refitted at
    every origin. Series (n,) or panel (E, n) -> float64 (E * m, h), entity-major.

    Raises:
        ValueError: an unknown member.
    """
    origins = np.asarray(origins, dtype=np.int64)
    end = int(origins[0]) + 1
    if member["name"] == "ets":
        return ets_forecasts(y, origins, horizon, end, season, ets_fits(y, end, season, forms))
    if member["name"] == "arima":
        fits = arima_fits(y, end, season, forms, regressors)
        return arima_forecasts(y, origins, horizon, end, season, fits, regressors)
    if member["name"] == "theta":
        return theta_forecasts(y, origins, horizon, season)
    raise ValueError(f"Unknown forecaster member {member['name']!r}.")


#: AutoARIMA's search space (pmdarima ``auto_arima``, stepwise): Hyndman & Khandakar's
#: (2008) stepwise search with the non-seasonal orders up to 3 and the seasonal ones up to
#: 1 instead of 5 and 2: one search on 370 months of CO2 took 11.6 s instead of 35 s.
ARIMA_LIMITS = {"max_p": 3, "max_q": 3, "max_P": 1, "max_Q": 1, "maxiter": 50}


def _arima_model(y: np.ndarray, order, regressors=None):
    """statsmodels ``SARIMAX`` of ``order`` = [p, d, q, P, D, Q, m, intercept] on ``y``
    (with ``regressors``, float64 (n, K): a regression on them with ARIMA errors),
    specified exactly as pmdarima fits it (``trend="c"`` when it has an intercept)."""
    from statsmodels.tsa.statespace.sarimax import SARIMAX

    p, d, q, sp, sd, sq, m, intercept = (int(v) for v in order)
    return SARIMAX(
        y,
        exog=regressors,
        order=(p, d, q),
        seasonal_order=(sp, sd, sq, m) if m > 1 else (0, 0, 0, 0),
        trend="c" if intercept else None,
    )


def auto_arima(y: np.ndarray, period: int, regressors=None):
    """The ARIMA orders with the lowest AICc on ``y`` by pmdarima's ``auto_arima``
    (Hyndman & Khandakar 2008: the differences d by KPSS tests, the seasonal difference D
    by the OCSB test, then a stepwise search of the orders within :data:`ARIMA_LIMITS`;
    parameters by maximum likelihood in statsmodels ``SARIMAX``); seasonal only with two
    full seasons and two more values. With ``regressors``, a regression on them with
    ARIMA errors (pmdarima's ``X``; Hyndman & Athanasopoulos 2021, 10.1).

    Args:
        y: float64 (n,) training values, n >= 10.
        period: the season's length (1: no season).
        regressors: the known columns over the same n periods, float64 (n, K), or ``None``.

    Returns:
        (orders ``[p, d, q, P, D, Q, m, intercept]`` as ints, fitted parameters float64).

    Raises:
        ValueError: no ARIMA could be fitted (a constant series, too short).
    """
    import warnings

    import pmdarima

    if np.ptp(y) == 0:  # pmdarima fits a constant as white noise about 0
        raise ValueError("No ARIMA can be fitted to a constant series.")
    m = period if period > 1 and len(y) >= 2 * period + 2 else 1
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence notes of the optimiser
        try:
            fit = pmdarima.auto_arima(
                y,
                X=regressors,
                m=m,
                seasonal=m > 1,
                stepwise=True,
                information_criterion="aicc",
                suppress_warnings=True,
                error_action="ignore",
                **ARIMA_LIMITS,
            )
        except (ValueError, np.linalg.LinAlgError) as exc:
            raise ValueError(f"No ARIMA could be fitted to this series: {exc}") from exc
    res = fit.arima_res_
    seasonal = tuple(fit.seasonal_order) if m > 1 else (0, 0, 0)
    order = [*fit.order, *seasonal[:3], m, int(res.model.k_trend > 0)]
    return [int(v) for v in order], np.asarray(res.params, dtype=np.float64)


def arima_fits(
    y: np.ndarray, train_end: int, season: int = 1, forms=None, regressors=None
) -> list[tuple]:
    """Each entity's ARIMA orders and parameters on ``y[:train_end]``: the given orders
    with their parameters estimated by maximum likelihood, or where none are given (or
    they need more history: a seasonal model without two full seasons), the orders
    :func:`auto_arima` chooses by AICc.

    Args:
        y: series (n,) or panel (E, n), float64.
        train_end: the values used are ``y[:, :train_end]``.
        season: the season's length (1: none).
        forms: one ``[p, d, q, P, D, Q, m, intercept]`` or ``None`` per entity, or ``None``.
        regressors: the known columns, float64 (E, N, K) with N >= train_end, or ``None``.

    Returns:
        ``[(orders, params), ...]``, one per entity; ``(None, None)`` where no ARIMA can be
        fitted (a constant history): that entity gets the naive forecast.

    Raises:
        ValueError: fewer than 10 training values.
    """

    def suits(order, history) -> bool:  # a constant gets the naive forecast
        seasons = order[6] <= 1 or len(history) >= 2 * order[6] + 2
        return bool(np.ptp(history) > 0) and seasons

    def past(e: int):  # entity e's regressors over its history
        return None if regressors is None else np.asarray(regressors)[e, :train_end]

    def refit(history, order, e):
        model = _arima_model(history, order, past(e))
        return np.asarray(model.fit(disp=False, maxiter=50).params)

    return _entity_fits(
        y,
        train_end,
        forms,
        "ARIMA",
        suits=suits,
        refit=refit,
        choose=lambda history, e: auto_arima(history, season, past(e)),
    )


def arima_forecasts(
    y: np.ndarray,
    origins: np.ndarray,
    horizon: int,
    train_end: int,
    season: int = 1,
    fits=None,
    regressors=None,
) -> np.ndarray:
    """AutoARIMA forecasts from each origin: the orders and parameters chosen on
    ``y[:train_end]`` (:func:`auto_arima`; or ``fits`` from :func:`arima_fits`), then held
    fixed while the Kalman filter runs through each origin's own history (the same numbers
    as filtering each origin's history on its own); one AutoARIMA per entity of a panel.
    With the known columns' ``regressors`` (float64 (E, N, K), N > max(origins) + h, the
    planned values included), a regression on them with ARIMA errors, each forecast
    reading their values in the periods it forecasts; the values of ``y`` after an origin
    are never read (a dynamic prediction from the period after it).
    Series (n,) or panel (E, n) -> float64 (E * m, h), entity-major.

    Raises:
        ValueError: fewer than 10 training values.
    """
    import warnings

    y = np.atleast_2d(np.asarray(y, dtype=np.float64))
    origins = np.asarray(origins, dtype=np.int64)
    fits = arima_fits(y, train_end, season, None, regressors) if fits is None else fits
    end = int(origins.max()) + 1
    out = []
    for e, (row, (order, params)) in enumerate(zip(y, fits, strict=True)):
        one = np.repeat(row[origins][:, None], horizon, axis=1).astype(np.float64)
        if order is not None:
            history, x = row[:end], None
            if regressors is not None:  # missing values after the last origin: in sample
                history = np.concatenate([history, np.full(horizon, np.nan)])
                x = np.asarray(regressors, dtype=np.float64)[e, : end + horizon]
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                filtered = _arima_model(history, order, x).filter(params)
                for i, t in enumerate(origins):
                    one[i] = filtered.predict(start=int(t) + 1, end=int(t) + horizon, dynamic=0)
        out.append(one)
    return np.concatenate(out)


def theta_forecasts(
    y: np.ndarray, origins: np.ndarray, horizon: int, season: int = 1, fit_end: int | None = None
) -> np.ndarray:
    """Theta method forecasts (Assimakopoulos & Nikolopoulos 2000; theta = 2, seasonally
    adjusted by classical decomposition when statsmodels' test finds a season). The model
    is fitted once by statsmodels ``ThetaModel`` on ``y[:fit_end]`` (default: the history up
    to the first origin): the drift b0, the SES weight alpha and the seasonal indices; then,
    like ETS, its SES level is rolled through each later origin's history with them fixed,
    and the forecast made by ThetaModel's formula (Hyndman & Billah 2003):
    ``(l_T + b0 / 2 * (k - 1 + 1 / alpha - (1 - alpha) ** n / alpha))`` re-seasonalised,
    n = T + 1 values. At the fit's own end this is exactly ThetaModel's forecast. Series
    (n,) or panel (E, n) -> float64 (E * m, h), entity-major.
    """
    y = np.atleast_2d(np.asarray(y, dtype=np.float64))
    origins = np.asarray(origins, dtype=np.int64)
    end = int(origins[0]) + 1 if fit_end is None else int(fit_end)
    return np.concatenate([_theta_one(row, origins, horizon, season, end) for row in y])


def _theta_one(row: np.ndarray, origins: np.ndarray, horizon: int, season: int, end: int):
    import warnings

    from scipy.signal import lfilter
    from statsmodels.tsa.forecasting.theta import ThetaModel

    history = row[:end]
    period = season if season > 1 and len(history) >= 2 * season else 1
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            model = ThetaModel(
                history, period=period, deseasonalize=period > 1 and bool(np.all(history > 0))
            )
            fit = model.fit()
            # the seasonal index of each position mod period, read from ThetaModel's forecast
            parts = fit.forecast_components(max(period, 1))
        except (ValueError, np.linalg.LinAlgError):  # too short: the last value
            return np.repeat(row[origins][:, None], horizon, axis=1)
    alpha, b0 = float(fit.params["alpha"]), float(fit.params["b0"])
    multiplicative = model.method.startswith("mul")
    index = np.empty(period)
    index[(len(history) + np.arange(period)) % period] = parts["seasonal"].to_numpy()[:period]
    at = index[np.arange(len(row)) % period]
    x = row / at if multiplicative else row - at
    last = int(origins.max())
    level = lfilter([alpha], [1.0, alpha - 1.0], x[: last + 1], zi=[(1.0 - alpha) * x[0]])[0]
    k = np.arange(horizon, dtype=np.float64)
    n = origins + 1.0
    drift = k[None, :] + (1.0 / alpha - (1.0 - alpha) ** n[:, None] / alpha if alpha > 0 else 0.0)
    out = level[origins][:, None] + 0.5 * b0 * drift
    ahead = index[(origins[:, None] + 1 + np.arange(horizon)[None, :]) % period]
    return out * ahead if multiplicative else out + ahead


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
        extra: inputs after the window (rolling statistics and Fourier terms; MLP only).
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


def guerrero_lambda(values: np.ndarray, season: int) -> float:
    """The Box-Cox lambda of a positive series by Guerrero's method (Guerrero 1993: the
    lambda that makes the ratio of each season's standard deviation to its mean ** (1 -
    lambda) most nearly constant; statsmodels' ``BoxCox``, groups of one season, or of 4
    periods without one as Guerrero & Perera 2004), bounded to [0, 1]: the log at 0, the
    series itself at 1.

    Args:
        values: the series, float64 (n,), every finite value > 0 (missing ones skipped).
        season: the season's length (1: none).

    Returns:
        float: lambda in [0, 1]; 1 for fewer than two groups of finite values or when
        every group is flat (the criterion is then undefined).
    """
    from statsmodels.base.transform import BoxCox

    x = np.asarray(values, dtype=np.float64)
    x = x[np.isfinite(x)]
    group = int(season) if int(season) > 1 else 4
    if len(x) < 2 * group or (x <= 0).any():
        return 1.0
    groups = x[len(x) % group :].reshape(-1, group)
    if not (groups.std(axis=1) > 0).any():  # every season flat: nothing to stabilise
        return 1.0
    _, lam = BoxCox().transform_boxcox(x, method="guerrero", window_length=group, bounds=(0, 1))
    return float(np.clip(lam, 0.0, 1.0))


def boxcox_transform(y: np.ndarray, lam: np.ndarray) -> np.ndarray:
    """The Box-Cox transform ``(y ** lambda - 1) / lambda`` (``log y`` at 0; Box & Cox
    1964; ``scipy.special.boxcox``) of each row with its lambda: float64 (E, n) with lam
    (E,) -> (E, n); ``NaN`` where a value is not positive."""
    y = np.atleast_2d(np.asarray(y, dtype=np.float64))
    lam = np.asarray(lam, dtype=np.float64).reshape(-1, 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(y > 0, special.boxcox(np.where(y > 0, y, 1.0), lam), np.nan)


def boxcox_inverse(level: np.ndarray, lam: np.ndarray) -> np.ndarray:
    """The inverse of :func:`boxcox_transform` (``scipy.special.inv_boxcox``) of levels of
    shape (E, ...) with lam (E,), same shape; a level at or below ``-1 / lambda`` (whose
    inverse would not be a positive value, possible for lambda > 0) gives 0."""
    level = np.asarray(level, dtype=np.float64)
    lam = np.asarray(lam, dtype=np.float64).reshape(-1, *([1] * (level.ndim - 1)))
    floor = np.where(lam > 0, -1.0 / np.where(lam > 0, lam, 1.0), -np.inf)
    with np.errstate(over="ignore"):
        return special.inv_boxcox(np.maximum(level, floor), lam)
