"""The points scorecard of a binary table: characteristics binned into ranges (optimal
binning with a monotone event rate, OptBinning), each bin's weight of evidence (WoE) and
each characteristic's information value (IV), a variable selection on IV and on the
correlation of the WoE values, a logistic regression on the WoE values, and points per bin
scaled by points to double the odds (PDO).

The fitted scorecard is data, not code: the bins, WoE values, coefficients and points are
plain lists (:meth:`ScorecardClassifier.to_dict`), stored as JSON in a bundle and rebuilt
and checked on load (:meth:`ScorecardClassifier.from_dict`). Scores are computed here from
that table, never by OptBinning's ``Scorecard.score`` (OptBinning issue #412: with
per-variable metrics it reads truncated WoE values as bin indices), so a stored run scores
exactly as it did when it was trained, whatever OptBinning later bins differently
(OptBinning issues #299, #310).

Conventions (Siddiqi, *Credit Risk Scorecards*, 2006, ch. 6; OptBinning's binning table):

- the event is class 1 (the positive class: a default, "bad");
- ``WoE = ln(share of non-events in the bin / share of events in the bin)``: a bin with a
  lower event rate than average has a positive WoE;
- ``IV = sum over bins of (non-event share - event share) * WoE``;
- ``factor = PDO / ln 2``, ``offset = base points - factor * ln(base odds)``, the odds
  being non-events to events (good:bad); with ``n`` characteristics in the model, the
  points of bin ``i`` of characteristic ``j`` are
  ``round(offset / n - factor * (intercept / n + coef_j * WoE_ij))``, and an applicant's
  score is the sum of their bins' points;
- the event probability of a score ``s`` is ``1 / (1 + exp((s - offset) / factor))``, so
  the model that is evaluated is the rounded scorecard that is handed over.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin

from finml.errors import BundleError, SpecError
from finml.models.registry import TRENDS, parse_codes

#: Format of :meth:`ScorecardClassifier.to_dict`.
SCORECARD_FORMAT = 1
#: Most characteristics, bins per characteristic and categories a stored scorecard may hold.
MAX_CHARACTERISTICS = 2_000
MAX_BINS = 100
MAX_CATEGORIES = 10_000
#: Longest bin label of a category list, characters.
MAX_LABEL = 120
#: IV above which a characteristic is flagged as suspicious (often a leak of the outcome;
#: Siddiqi 2006, p. 81).
SUSPICIOUS_IV = 0.5


class ScorecardClassifier(ClassifierMixin, BaseEstimator):
    """A points scorecard, fitted like a scikit-learn classifier.

    It takes the raw characteristics as floats: numeric columns as they are (missing as
    NaN), then categorical columns as category codes (``OrdinalEncoder``: 0..k-1, an unseen
    category -1, missing NaN). ``fit`` bins each characteristic on the rows it is given
    (the training split only) with ``optbinning.OptimalBinning``.

    Args:
        names: the characteristics' names, in column order.
        n_numeric: how many leading columns are numeric; the rest are categorical.
        min_bin_size: smallest share of the rows in one bin (0.01-0.5).
        max_n_bins: most bins per characteristic (missing and special bins aside).
        monotonic_trend: the trend of the event rate over a numeric characteristic's bins
            (:data:`TRENDS`), or a dict of name -> trend for some characteristics.
        special_codes: values of numeric characteristics that get a bin of their own.
        min_iv: characteristics with a lower IV are left out of the regression.
        max_corr: of two characteristics whose WoE values correlate above this (absolute
            Pearson), the one with the lower IV is left out.
        C: inverse L2 regularisation of the logistic regression.
        pdo: points to double the odds.
        base_points: the score at odds ``base_odds``.
        base_odds: non-events to events (good:bad) at ``base_points``.
        class_weight: the logistic regression's class weights, or ``None``.
        excluded: characteristics the analyst leaves out of the regression (still binned,
            their IV shown).
        user_bins: an analyst's own bins, fixed as given (:mod:`finml.models.bin_edits`):
            name -> cut points (floats, increasing) of a numeric characteristic, or groups
            of category codes (lists of floats) of a categorical one; ``None`` for none.

    Attributes:
        characteristics_: one dict per characteristic (:meth:`to_dict`'s ``characteristics``).
        intercept_: the regression's intercept (float).
        classes_: ``array([0, 1])``.
    """

    def __init__(
        self,
        names=(),
        n_numeric=0,
        min_bin_size=0.05,
        max_n_bins=20,
        monotonic_trend="auto",
        special_codes=(),
        min_iv=0.02,
        max_corr=0.8,
        C=1.0,
        pdo=20.0,
        base_points=600.0,
        base_odds=50.0,
        class_weight=None,
        user_bins=None,
        excluded=(),
    ):
        self.names = names
        self.n_numeric = n_numeric
        self.min_bin_size = min_bin_size
        self.max_n_bins = max_n_bins
        self.monotonic_trend = monotonic_trend
        self.special_codes = special_codes
        self.min_iv = min_iv
        self.max_corr = max_corr
        self.C = C
        self.pdo = pdo
        self.base_points = base_points
        self.base_odds = base_odds
        self.class_weight = class_weight
        self.user_bins = user_bins
        self.excluded = excluded

    # -- fitting ----------------------------------------------------------------------------
    def fit(self, X, y):
        """Bin every characteristic, select, regress and scale to points.

        Args:
            X: float array (n, k): numeric columns then category codes.
            y: int 0/1 array (n,): 1 is the event (the positive class).

        Returns:
            self.

        Raises:
            SpecError: fewer columns than names, bins set by hand that cannot be fitted
                (a bin without rows, or without events or non-events), no characteristic
                left after the selection (lower the minimum IV), or a process that loaded
                TensorFlow before OR-Tools (:mod:`finml.native`).
        """
        from sklearn.linear_model import LogisticRegression

        chars, woe, kept = self.bin_and_select(X, y)
        y = np.asarray(y).astype(np.int64)
        if not kept:
            raise SpecError(
                f"No characteristic has an IV of {self.min_iv:g} or more (among those not "
                "left out), so the scorecard has nothing to score. Lower the minimum IV on "
                "the Train page, or keep more characteristics in."
            )
        lr = LogisticRegression(C=self.C, max_iter=5000, class_weight=self.class_weight)
        lr.fit(woe[:, kept], y)
        self.intercept_ = float(lr.intercept_[0])
        for c in chars:
            c["coef"] = 0.0
        for j, coef in zip(kept, lr.coef_[0], strict=True):
            chars[j]["coef"] = float(coef)
        self.characteristics_ = chars
        self._scale()
        return self

    def bin_and_select(self, X, y) -> tuple[list[dict], np.ndarray, list[int]]:
        """Bin every characteristic and select those that enter the regression (the
        first steps of :meth:`fit`, also the IV table an analyst reads before training).

        Args:
            X: float array (n, k): numeric columns then category codes.
            y: int 0/1 array (n,).

        Returns:
            (one dict per characteristic, marked ``selected`` with the ``reason`` of each
            left out; their WoE values, float (n, k); the positions selected).

        Raises:
            SpecError: see :meth:`fit`.
        """
        from finml.native import check_solver_order

        check_solver_order()  # OR-Tools loaded after TensorFlow would crash the process
        X = np.asarray(X, dtype=np.float64)
        y = np.asarray(y).astype(np.int64)
        names = [str(n) for n in self.names] or [f"x{i}" for i in range(X.shape[1])]
        if X.ndim != 2 or X.shape[1] != len(names):
            raise SpecError(f"The scorecard has {len(names)} characteristics; got {X.shape}.")
        self.classes_ = np.array([0, 1])
        chars = [self._bin(X[:, j], y, name, j < self.n_numeric) for j, name in enumerate(names)]
        woe = np.column_stack([_woe_of(c, X[:, j]) for j, c in enumerate(chars)])
        kept = _select(chars, woe, self.min_iv, self.max_corr, set(self.excluded or ()))
        return chars, woe, kept

    def _bin(self, x: np.ndarray, y: np.ndarray, name: str, numeric: bool) -> dict:
        """One characteristic's optimal bins (or the analyst's own, :attr:`user_bins`) and
        their statistics on the fitting rows."""
        from optbinning import OptimalBinning

        trend = self.monotonic_trend
        if isinstance(trend, dict):
            trend = trend.get(name, "auto")
        kwargs = {
            "name": name,
            "dtype": "numerical" if numeric else "categorical",
            "min_bin_size": self.min_bin_size,
            "max_n_bins": self.max_n_bins,
        }
        if numeric:
            kwargs["monotonic_trend"] = None if trend == "none" else trend
            if self.special_codes:
                kwargs["special_codes"] = [float(c) for c in self.special_codes]
        fixed = (self.user_bins or {}).get(name)
        if fixed is not None:  # the analyst's bins, as given: no trend, size or count limit
            splits = [float(v) for v in fixed] if numeric else [np.asarray(g) for g in fixed]
            kwargs.update(min_bin_size=None, max_n_bins=None, monotonic_trend=None)
            kwargs.update(user_splits=splits, user_splits_fixed=[True] * len(splits))
        x_fit = x if numeric else np.where(x < 0, np.nan, x)  # no unseen codes in training
        try:
            ob = OptimalBinning(**kwargs).fit(x_fit, y)
        except ValueError as exc:
            if fixed is None:
                raise
            raise SpecError(
                f"The bins set by hand for {name!r} cannot be fitted on the training split "
                f"({exc}). Each bin needs rows of both outcomes: move or drop a cut point, "
                "or merge the category into a larger group."
            ) from None
        table = ob.binning_table.build(add_totals=False)
        n_regular = len(table) - 2  # then the special bin and the missing bin
        if numeric:
            edges = {"splits": [float(s) for s in ob.splits]}
        else:
            edges = {"groups": [sorted(float(v) for v in g) for g in ob.splits]}
        if fixed is not None and n_regular != len(fixed) + numeric:
            raise SpecError(
                f"The bins set by hand for {name!r} leave a bin without training rows; "
                "give cut points inside the range of the training values."
            )
        stats = {
            key: [float(v) for v in table[col].to_numpy()]
            for key, col in (
                ("count", "Count"),
                ("events", "Event"),
                ("event_rate", "Event rate"),
                ("woe", "WoE"),
                ("iv", "IV"),
            )
        }
        stats["woe"] = [v if math.isfinite(v) else 0.0 for v in stats["woe"]]
        stats["event_rate"] = [v if math.isfinite(v) else 0.0 for v in stats["event_rate"]]
        return {
            "name": name,
            "kind": "numeric" if numeric else "categorical",
            **edges,
            "special_codes": [float(c) for c in self.special_codes] if numeric else [],
            "n_regular": n_regular,
            **stats,
            "total_iv": float(np.sum(stats["iv"])),
            "selected": False,
            "reason": "",
            "edited": fixed is not None,
        }

    def _scale(self) -> None:
        """Points per bin from the coefficients (see the module's formulas)."""
        factor, offset = self.scaling()
        n = sum(c["selected"] for c in self.characteristics_)
        for c in self.characteristics_:
            if not c["selected"]:
                c["points"] = [0] * len(c["woe"])
                c["unseen_points"] = 0
                continue
            share = offset / n - factor * self.intercept_ / n
            c["points"] = [round(share - factor * c["coef"] * w) for w in c["woe"]]
            c["unseen_points"] = round(share)  # an unseen category: WoE 0

    def scaling(self) -> tuple[float, float]:
        """``(factor, offset)``: ``PDO / ln 2`` and ``base points - factor * ln(base odds)``."""
        factor = float(self.pdo) / math.log(2.0)
        return factor, float(self.base_points) - factor * math.log(float(self.base_odds))

    # -- scoring ----------------------------------------------------------------------------
    def bin_indices(self, X) -> np.ndarray:
        """Each row's bin per characteristic: int64 (n, k); regular bins count from 0, then
        ``n_regular`` is the special bin, ``n_regular + 1`` the missing bin and -1 an
        unseen category."""
        X = np.asarray(X, dtype=np.float64)
        out = np.empty(X.shape, dtype=np.int64)
        for j, c in enumerate(self.characteristics_):
            out[:, j] = _bin_of(c, X[:, j])
        return out

    def points(self, X) -> np.ndarray:
        """Points per characteristic of each row: int64 (n, k), 0 for a characteristic the
        model left out."""
        bins = self.bin_indices(X)
        out = np.zeros(bins.shape, dtype=np.int64)
        for j, c in enumerate(self.characteristics_):
            table = np.asarray([*c["points"], c["unseen_points"]], dtype=np.int64)
            out[:, j] = table[bins[:, j]]  # -1 (unseen) takes the last entry
        return out

    def score(self, X) -> np.ndarray:
        """Each row's total score (points): int64 (n,)."""
        return self.points(X).sum(axis=1)

    def predict_proba(self, X) -> np.ndarray:
        """``[P(non-event), P(event)]`` of each row from its total score: float64 (n, 2)."""
        factor, offset = self.scaling()
        p = 1.0 / (1.0 + np.exp((self.score(X) - offset) / factor))
        return np.column_stack([1.0 - p, p])

    def predict(self, X) -> np.ndarray:
        """1 where the event is more likely than not: int64 (n,)."""
        return (self.predict_proba(X)[:, 1] > 0.5).astype(np.int64)

    def __sklearn_is_fitted__(self) -> bool:
        return hasattr(self, "characteristics_")

    def selected(self) -> list[int]:
        """Positions of the characteristics in the model."""
        return [j for j, c in enumerate(self.characteristics_) if c["selected"]]

    def points_lost(self, X) -> np.ndarray:
        """Points each row lost against the best bin of each characteristic in the model:
        int64 (n, k), 0 for one left out (the adverse-action reason codes of a scorecard,
        "points below maximum")."""
        best = np.asarray([max(c["points"]) if c["selected"] else 0 for c in self.characteristics_])
        return best[None, :] - self.points(X)

    # -- storage ----------------------------------------------------------------------------
    def to_dict(self) -> dict:
        """The fitted scorecard as JSON-ready data (lists, numbers, text)."""
        return {
            "format": SCORECARD_FORMAT,
            "params": {
                k: (list(v) if isinstance(v, tuple) else v)
                for k, v in self.get_params().items()
                if k != "class_weight"
            },
            "intercept": self.intercept_,
            "characteristics": self.characteristics_,
        }

    @classmethod
    def from_dict(cls, data: dict) -> ScorecardClassifier:
        """Rebuild a fitted scorecard from :meth:`to_dict`'s data, checked field by field.

        Raises:
            BundleError: a field missing, of another type, out of range, or inconsistent
                (bin statistics of another length than the bins, points that do not follow
                from the coefficients).
        """
        _check(isinstance(data, dict) and data.get("format") == SCORECARD_FORMAT, "format")
        params = data.get("params")
        _check(isinstance(params, dict), "params")
        model = cls()
        allowed = set(model.get_params()) - {"class_weight"}
        _check(set(params) <= allowed, "params")
        try:
            model.set_params(**params)
            model.names = tuple(str(n) for n in model.names)
            model.special_codes = parse_codes(",".join(map(str, model.special_codes)))
            model.user_bins = _checked_user_bins(model.user_bins, model.names)
            model.excluded = tuple(str(n) for n in model.excluded)
            _check(set(model.excluded) <= set(model.names), "params")
            trend = model.monotonic_trend
            trends = trend.values() if isinstance(trend, dict) else [trend]
            _check(all(isinstance(t, str) and t in TRENDS for t in trends), "params")
            _check(not isinstance(trend, dict) or set(trend) <= set(model.names), "params")
            for value in (model.pdo, model.base_odds, model.base_points, model.C):
                _check(_finite(value), "params")
            _check(model.pdo > 0 and model.base_odds > 0, "params")
        except (TypeError, ValueError, SpecError):
            raise BundleError("scorecard.json: params are not ones finml writes.") from None
        chars = data.get("characteristics")
        _check(isinstance(chars, list) and 0 < len(chars) <= MAX_CHARACTERISTICS, "characteristics")
        _check(len(chars) == len(model.names), "characteristics")
        model.intercept_ = data.get("intercept")
        _check(_finite(model.intercept_), "intercept")
        model.characteristics_ = [_checked_char(c, i) for i, c in enumerate(chars)]
        _check(any(c["selected"] for c in model.characteristics_), "characteristics")
        model.classes_ = np.array([0, 1])
        stored = [(c["points"], c["unseen_points"]) for c in model.characteristics_]
        model._scale()
        now = [(c["points"], c["unseen_points"]) for c in model.characteristics_]
        _check(stored == now, "points")
        return model


def _finite(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _check(ok: bool, field: str) -> None:
    if not ok:
        raise BundleError(f"scorecard.json: {field} is not what finml writes.")


def _checked_user_bins(user_bins, names) -> dict | None:
    """A stored scorecard's ``user_bins`` parameter, checked: ``None``, or characteristic
    name -> a list of numbers or of lists of category codes."""
    if user_bins is None:
        return None
    _check(isinstance(user_bins, dict) and set(user_bins) <= set(names), "params")
    for bins in user_bins.values():
        _check(isinstance(bins, list) and 0 < len(bins) <= MAX_BINS, "params")
        flat = [v for g in bins for v in (g if isinstance(g, list) else [g])]
        _check(len(flat) <= MAX_CATEGORIES and all(_finite(v) for v in flat), "params")
    return user_bins


def _checked_char(c, i: int) -> dict:
    """One stored characteristic, checked (see :meth:`ScorecardClassifier.from_dict`)."""
    where = f"characteristic {i + 1}"
    _check(isinstance(c, dict), where)
    kind = c.get("kind")
    _check(kind in ("numeric", "categorical") and isinstance(c.get("name"), str), where)
    n = c.get("n_regular")
    _check(isinstance(n, int) and 1 <= n <= MAX_BINS, where)
    if kind == "numeric":
        splits = c.get("splits")
        _check(isinstance(splits, list) and len(splits) == n - 1, where)
        _check(all(_finite(s) for s in splits) and splits == sorted(splits), where)
        codes = c.get("special_codes")
        _check(isinstance(codes, list) and all(_finite(s) for s in codes), where)
    else:
        groups = c.get("groups")
        _check(isinstance(groups, list) and len(groups) == n, where)
        _check(all(isinstance(g, list) for g in groups), where)
        _check(sum(len(g) for g in groups) <= MAX_CATEGORIES, where)
        _check(
            all(_finite(v) and v >= 0 and float(v).is_integer() for g in groups for v in g), where
        )
    for key in ("count", "events", "event_rate", "woe", "iv", "points"):
        values = c.get(key)
        _check(isinstance(values, list) and len(values) == n + 2, f"{where} {key}")
        _check(all(_finite(v) for v in values), f"{where} {key}")
    _check(all(isinstance(p, int) for p in c["points"]), f"{where} points")
    for key in ("coef", "total_iv"):
        _check(_finite(c.get(key)), f"{where} {key}")
    _check(isinstance(c.get("unseen_points"), int), f"{where} points")
    _check(isinstance(c.get("selected"), bool) and isinstance(c.get("reason"), str), where)
    known = {
        "name", "kind", "splits", "groups", "special_codes", "n_regular", "count", "events",
        "event_rate", "woe", "iv", "points", "unseen_points", "coef", "total_iv", "selected",
        "reason", "edited",
    }  # fmt: skip
    _check(set(c) <= known, where)
    _check(isinstance(c.get("edited", False), bool), where)
    return c


def _bin_of(c: dict, x: np.ndarray) -> np.ndarray:
    """Bin index of each value of one characteristic (see :meth:`bin_indices`)."""
    n = c["n_regular"]
    missing = np.isnan(x)
    if c["kind"] == "numeric":
        out = np.searchsorted(np.asarray(c["splits"], dtype=np.float64), x, side="right")
        if c["special_codes"]:
            out[np.isin(x, c["special_codes"])] = n
    else:
        codes = [int(v) for g in c["groups"] for v in g]
        lookup = np.full(max(codes, default=0) + 2, -1, dtype=np.int64)  # last: unseen
        for i, g in enumerate(c["groups"]):
            lookup[np.asarray(g, dtype=np.int64)] = i
        known = ~missing & (x >= 0) & (x < len(lookup) - 1)
        out = lookup[np.where(known, x, -1).astype(np.int64)]  # -1: the last entry, unseen
    out[missing] = n + 1
    return out.astype(np.int64)


def _woe_of(c: dict, x: np.ndarray) -> np.ndarray:
    """The WoE of each value of one characteristic (an unseen category: 0)."""
    table = np.asarray([*c["woe"], 0.0])
    return table[_bin_of(c, x)]


def _select(
    chars: list[dict], woe: np.ndarray, min_iv: float, max_corr: float, excluded=frozenset()
) -> list[int]:
    """Mark the characteristics that enter the regression, with the reason of each left
    out: the analyst's choice (``excluded``), IV below ``min_iv``, or WoE values correlated
    above ``max_corr`` with a kept one of higher IV (a greedy pass in order of IV)."""
    kept: list[int] = []
    for j in sorted(range(len(chars)), key=lambda j: -chars[j]["total_iv"]):
        c = chars[j]
        if c["name"] in excluded:
            c["reason"] = "left out by the analyst"
            continue
        if c["total_iv"] < min_iv:
            c["reason"] = f"IV {c['total_iv']:.3f} below {min_iv:g}"
            continue
        if np.std(woe[:, j]) == 0:
            c["reason"] = "one bin only"
            continue
        corr = [abs(np.corrcoef(woe[:, j], woe[:, k])[0, 1]) for k in kept]
        if corr and max(corr) > max_corr:
            other = chars[kept[int(np.argmax(corr))]]["name"]
            c["reason"] = f"WoE correlated {max(corr):.2f} with {other}"
            continue
        c["selected"] = True
        if c["total_iv"] > SUSPICIOUS_IV:
            c["reason"] = f"IV above {SUSPICIOUS_IV}: check for a leak of the outcome"
        kept.append(j)
    return sorted(kept)


def scorecard_of(model) -> ScorecardClassifier | None:
    """The scorecard inside a fitted model (:class:`finml.models.pipeline.FittedModel`),
    or ``None`` for any other model."""
    est = getattr(model, "estimator", None)
    return est if isinstance(est, ScorecardClassifier) else None


def _fmt(value: float) -> str:
    return f"{value:,.6g}"


def bin_labels(model, j: int) -> list[str]:
    """The labels of characteristic ``j``'s bins: its regular bins (``[8.5, 11.5)`` or the
    category names), then ``Special (codes)`` and ``Missing``.

    Args:
        model: a fitted model whose estimator is a scorecard.
        j: the characteristic's position (numeric characteristics first).
    """
    card = scorecard_of(model)
    c = card.characteristics_[j]
    if c["kind"] == "numeric":
        edges = [-np.inf, *c["splits"], np.inf]
        labels = [
            f"{'(' if lo == -np.inf else '['}{_fmt(lo)}, {_fmt(hi)})"
            for lo, hi in itertools.pairwise(edges)
        ]
        codes = ", ".join(_fmt(v) for v in c["special_codes"])
        special = f"Special ({codes})" if codes else "Special"
    else:
        names = category_names(model, c["name"])
        labels = []
        for group in c["groups"]:
            text = ", ".join(names[int(v)] if int(v) < len(names) else "?" for v in group)
            labels.append(text if len(text) <= MAX_LABEL else text[: MAX_LABEL - 1] + "…")
        special = "Special"
    return [*labels, special, "Missing"]


def category_names(model, column: str) -> list[str]:
    """The categories of ``column`` in code order (the preprocessor's ``OrdinalEncoder``)."""
    from finml.models.features import category_lists

    return category_lists(model.preprocessor, list(model.categorical))[column]
