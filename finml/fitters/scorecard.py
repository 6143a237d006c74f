"""The points scorecard (:class:`finml.models.scorecard.ScorecardClassifier`): optimal
bins per characteristic, a logistic regression on their WoE values and points per bin,
in one fit and one progress step (the training and validation loss, the validation
ROC-AUC). It takes the characteristics as they are (the ``"raw"`` encoding of
:func:`finml.models.features.build_preprocessor`), never scaled or one-hot."""

from __future__ import annotations

from finml.fitters.base import FitData, FitResult, Fitter, one_step
from finml.models.registry import parse_codes, parse_names, parse_trends


class ScorecardFitter(Fitter):
    """Fits a scorecard on the training rows (bins included: they are fitted on the
    training split only)."""

    family = "sklearn"
    step_unit = "fit"

    def fit(self, spec, params, data: FitData, sink, should_stop) -> FitResult:
        """One fit; see :meth:`finml.fitters.base.Fitter.fit`.

        Raises:
            SpecError: no characteristic passes the selection, or bins set by hand
                (``bin_edits``) that name a category the training split lacks or cannot be
                fitted.
        """
        model = scorecard(spec, params, data.categories, bool(data.class_weight))
        model.fit(data.x_train, data.y_train)
        return one_step(model, data, sink)


def scorecard(spec, params: dict, categories: dict | None, balanced: bool = False):
    """The unfitted :class:`finml.models.scorecard.ScorecardClassifier` of a run: its
    characteristics (numeric then categorical), the form's binning, selection and scaling,
    the trend per characteristic over the form's default, the characteristics left out and
    the bins set by hand (category names as the preprocessor's codes, ``categories``).

    Raises:
        SpecError: bins set by hand that name a category the training split lacks.
    """
    from finml.models.bin_edits import edits_as_codes, parse_bin_edits
    from finml.models.scorecard import ScorecardClassifier

    ds = spec.dataset
    edits = parse_bin_edits(params.get("bin_edits", ""))
    trend = params["monotonic_trend"]
    per_column = parse_trends(params.get("trends", ""))
    if per_column:  # the form's trend for every numeric characteristic it does not name
        trend = {**dict.fromkeys(ds.numeric, trend), **per_column}
    return ScorecardClassifier(
        names=(*ds.numeric, *ds.categorical),
        n_numeric=len(ds.numeric),
        min_bin_size=params["min_bin_size"],
        max_n_bins=params["max_n_bins"],
        monotonic_trend=trend,
        special_codes=parse_codes(params["special_codes"]),
        min_iv=params["min_iv"],
        max_corr=params["max_corr"],
        C=params["C"],
        pdo=params["pdo"],
        base_points=params["base_points"],
        base_odds=params["base_odds"],
        class_weight="balanced" if balanced else None,
        user_bins=edits_as_codes(edits, categories or {}) or None,
        excluded=parse_names(params.get("excluded", "")),
    )
