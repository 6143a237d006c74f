"""One fitter per model family, one signature, one result (:class:`base.FitResult`).

- :mod:`.base`: the progress sink (every hook a no-op by default), the data a task hands a
  fitter (:class:`base.FitData`, with its loss and validation metric) and the result;
- :mod:`.linear`: logistic and ridge regression;
- :mod:`.scorecard`: the points scorecard on optimal WoE bins;
- :mod:`.boosting`: histogram gradient boosting with its per-iteration progress hook and
  native categories, written once for every task;
- :mod:`.networks`: the Keras MLP of a table (two classes, k classes, a number);
- :mod:`.vision`: the image CNNs on ``tf.data``;
- :mod:`.pretrained`: a head on the frozen ImageNet backbone's cached features;
- :mod:`.forecasting`: the forecasters on windows of past changes;
- :mod:`.callbacks`: the Keras callbacks that report progress and obey a stop request.

Each registry entry (:mod:`finml.models.registry`) names its fitter (:data:`FITTERS`) and
the tasks it serves; a new model family is one module here plus registry entries.
"""

from __future__ import annotations

from finml.fitters.base import Fitter
from finml.fitters.boosting import BoostingFitter
from finml.fitters.forecasting import (
    AutoFitter,
    BoostedLagsFitter,
    RidgeLagsFitter,
    SequenceNetFitter,
)
from finml.fitters.linear import LinearFitter
from finml.fitters.networks import MLPFitter
from finml.fitters.pretrained import PretrainedFitter
from finml.fitters.scorecard import ScorecardFitter
from finml.fitters.vision import ImageFitter

#: Fitter name (a registry entry's ``fitter``) -> the fitter.
FITTERS: dict[str, Fitter] = {
    "linear": LinearFitter(),
    "boosting": BoostingFitter(),
    "mlp": MLPFitter(),
    "scorecard": ScorecardFitter(),
    "image": ImageFitter(),
    "pretrained": PretrainedFitter(),
    "ridge_lags": RidgeLagsFitter(),
    "auto": AutoFitter(),
    "boosted_lags": BoostedLagsFitter(),
    "sequence_net": SequenceNetFitter(),
}


def get_fitter(model: str) -> Fitter:
    """The fitter of registry model ``model``.

    Raises:
        SpecError: unknown model.
    """
    from finml.models.registry import get_model

    return FITTERS[get_model(model).fitter]
