"""The fitted model: one object from raw rows (or images) to class probabilities.

Training (:mod:`finml.training`) fits the parts with live progress and assembles a
:class:`FittedModel`; everything downstream calls it: validation and test scores,
permutation importance, SHAP values, Predict, Grad-CAM, bundles and imports.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin

from finml.errors import DataError

#: Rows scored in one eager call of a Keras model; more go through ``predict`` in batches.
EAGER_ROWS = 8192


class FittedParts(BaseEstimator):
    """What the fitted classifier and regressor share: the raw feature columns, the fitted
    ``ColumnTransformer`` and the estimator, and :meth:`transform` from raw rows to what the
    estimator sees. Not used on its own."""

    def fit(self, X=None, y=None):
        """Do nothing and return ``self``: the parts are already fitted (see the class)."""
        return self

    def __sklearn_is_fitted__(self) -> bool:
        return self.estimator is not None

    @property
    def feature_names_in_(self) -> np.ndarray:
        """The raw feature columns, numeric then categorical: object array of shape (k,).

        Raises:
            AttributeError: an image model has no feature columns.
        """
        if self.is_image_model:
            raise AttributeError("An image model has no feature columns.")
        return np.asarray([*self.numeric, *self.categorical], dtype=object)

    @property
    def is_image_model(self) -> bool:
        """True for a network that takes images (no ``ColumnTransformer``)."""
        return self.preprocessor is None

    @property
    def family(self) -> str:
        """``"sklearn"`` or ``"keras"``."""
        return "sklearn" if hasattr(self.estimator, "get_params") else "keras"

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """(size, size, channels) an image model takes."""
        return tuple(int(d) for d in self.estimator.input_shape[1:])

    @property
    def feature_names_out_(self) -> list[str]:
        """Names of the columns the estimator sees (after one-hot encoding), tables only."""
        return [str(n) for n in self.preprocessor.get_feature_names_out()]

    def transform(self, X) -> np.ndarray:
        """What the estimator sees.

        Args:
            X: a table with at least the feature columns (any extra column is ignored), or
                for an image model uint8 images of shape (n, size, size, channels).

        Returns:
            float32 array of shape (n, n_features_out), or the uint8 images as given.

        Raises:
            DataError: a feature column is missing, or images of another shape.
        """
        if self.is_image_model:
            images = np.asarray(X)
            if images.ndim != 4 or images.shape[1:] != self.image_shape:
                raise DataError(
                    f"The model takes images of shape {self.image_shape}; got {images.shape[1:]}."
                )
            return images
        from finml.models.features import codes_text, prepare_features

        arrow = codes_text(self.preprocessor)
        prepared = prepare_features(X, list(self.numeric), list(self.categorical), arrow_text=arrow)
        return self.preprocessor.transform(prepared).astype(np.float32)


class FittedModel(ClassifierMixin, FittedParts):
    """A fitted model in the style of a scikit-learn ``Pipeline``: feature preparation
    (:func:`finml.models.features.prepare_features`), the fitted ``ColumnTransformer`` and
    the estimator (a scikit-learn classifier or a Keras network). Image models have no
    ``ColumnTransformer``: the network rescales its uint8 input itself.

    ``__init__`` only stores the fitted parts. Like ``sklearn.frozen.FrozenEstimator``,
    :meth:`fit` does nothing: the parts are fitted by training, on the training split only.
    scikit-learn tools that expect a fitted classifier take it as it is, e.g.
    ``sklearn.inspection.permutation_importance(model, X, y, scoring="roc_auc")``.

    Args:
        estimator: a fitted scikit-learn classifier (``predict_proba``) or a Keras model
            whose output is one sigmoid (two classes) or a softmax over the classes.
        preprocessor: the fitted ``ColumnTransformer`` of a table model; ``None`` for images.
        numeric: numeric feature columns (tables).
        categorical: categorical feature columns (tables).
        class_names: display name of each class; probability column i is class i.
        positive: index of the class whose probability is the score of binary analyses.
        profile: the training-split profile for schema checks and PSI
            (:func:`finml.evaluation.drift.training_profile`); tables only.
        meta: provenance (model name, seed, target, steps, library versions), JSON.
        background: a summary of the preprocessed training split for SHAP explainers,
            float32 array (m, n_features_out) (:func:`finml.evaluation.shap_values
            .fit_background`); tables only, ``None`` in bundles of earlier versions.

    Attributes:
        classes_: int class indices ``0 .. k-1`` (the labels scikit-learn's scorers see).
        feature_names_in_: the raw feature columns (tables).
    """

    def __init__(
        self,
        estimator=None,
        preprocessor=None,
        numeric=(),
        categorical=(),
        class_names=("0", "1"),
        positive=1,
        profile=None,
        meta=None,
        background=None,
    ):
        self.estimator = estimator
        self.preprocessor = preprocessor
        self.numeric = numeric
        self.categorical = categorical
        self.class_names = class_names
        self.positive = positive
        self.profile = profile
        self.meta = meta
        self.background = background

    @property
    def classes_(self) -> np.ndarray:
        """Int class indices, shape (k,)."""
        return np.arange(len(self.class_names))

    def predict_proba_transformed(self, x: np.ndarray) -> np.ndarray:
        """Class probabilities of rows already passed through :meth:`transform`.

        Args:
            x: float32 array (n, n_features_out), or uint8 images for an image model.

        Returns:
            float64 array of shape (n, k); rows sum to 1.
        """
        if self.family == "sklearn":
            return np.asarray(self.estimator.predict_proba(x), dtype=np.float64)
        if self.is_image_model:
            out = self.estimator.predict(x, verbose=0, batch_size=64)
        elif len(x) <= EAGER_ROWS:  # one eager call: far cheaper than predict()'s setup
            out = self.estimator(x, training=False)
        else:
            out = self.estimator.predict(x, verbose=0, batch_size=4096)
        out = np.asarray(out, dtype=np.float64)
        if out.ndim == 2 and out.shape[1] == 1:  # one sigmoid: P(class 1)
            out = np.hstack([1.0 - out, out])
        return out

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities: float64 array of shape (n, k) (see :meth:`transform`)."""
        return self.predict_proba_transformed(self.transform(X))

    def positive_score(self, X) -> np.ndarray:
        """Probability of the positive class: float64 array of shape (n,)."""
        return self.predict_proba(X)[:, self.positive]

    def predict(self, X) -> np.ndarray:
        """Most probable class index: int64 array of shape (n,)."""
        return self.predict_proba(X).argmax(axis=1)


class FittedRegressor(RegressorMixin, FittedParts):
    """A fitted regression model on a table: feature preparation, the fitted
    ``ColumnTransformer``, the estimator (``Ridge``, ``HistGradientBoostingRegressor`` or a
    Keras network with a linear output) and the target transform it was fitted on, in the
    style of ``sklearn.compose.TransformedTargetRegressor``: the estimator learns
    ``z = (t - target_mean) / target_scale`` with ``t = log1p(y)`` when ``log_target`` (else
    ``t = y``); :meth:`predict` inverts it, so predictions are in the target's own units.

    Args:
        estimator, preprocessor, numeric, categorical, profile, meta, background: as in
            :class:`FittedModel` (the profile's score bins hold the training predictions).
        log_target: the target was log1p-transformed.
        target_mean: mean of the transformed training target.
        target_scale: its standard deviation (> 0).
        intervals: split-conformal half-widths ``{"0.9": q, ...}`` in the target's units
            (:func:`finml.evaluation.regression.conformal_half_widths`), or ``None``.
    """

    def __init__(
        self,
        estimator=None,
        preprocessor=None,
        numeric=(),
        categorical=(),
        profile=None,
        meta=None,
        background=None,
        log_target=False,
        target_mean=0.0,
        target_scale=1.0,
        intervals=None,
    ):
        self.estimator = estimator
        self.preprocessor = preprocessor
        self.numeric = numeric
        self.categorical = categorical
        self.profile = profile
        self.meta = meta
        self.background = background
        self.log_target = log_target
        self.target_mean = target_mean
        self.target_scale = target_scale
        self.intervals = intervals

    def encode_target(self, y: np.ndarray) -> np.ndarray:
        """The target as the estimator learns it: float32 (n,) of ``z`` (see the class).

        Raises:
            DataError: ``log_target`` and a value below 0.
        """
        t = np.asarray(y, dtype=np.float64)
        if self.log_target:
            if (t < 0).any():
                raise DataError(
                    "The log transform of the target needs values >= 0; the target has "
                    f"{int((t < 0).sum())} negative values. Turn the log transform off."
                )
            t = np.log1p(t)
        return ((t - self.target_mean) / self.target_scale).astype(np.float32)

    def decode_target(self, z: np.ndarray) -> np.ndarray:
        """Invert :meth:`encode_target`: float64 (n,) in the target's units."""
        t = np.asarray(z, dtype=np.float64).reshape(-1) * self.target_scale + self.target_mean
        return np.expm1(t) if self.log_target else t

    def predict_transformed(self, x: np.ndarray) -> np.ndarray:
        """Predictions for rows already passed through :meth:`transform`: float64 (n,) in
        the target's units."""
        if self.family == "sklearn":
            z = self.estimator.predict(x)
        elif len(x) <= EAGER_ROWS:
            z = self.estimator(x, training=False)
        else:
            z = self.estimator.predict(x, verbose=0, batch_size=4096)
        return self.decode_target(np.asarray(z))

    def predict(self, X) -> np.ndarray:
        """Predicted values of the rows of table ``X``: float64 (n,) in the target's units.

        Raises:
            DataError: a feature column is missing.
        """
        return self.predict_transformed(self.transform(X))

    def predict_interval(self, X, level: float = 0.9) -> pd.DataFrame:
        """Predictions with their split-conformal prediction interval.

        Args:
            X: a table with the feature columns.
            level: nominal coverage, one of the stored levels (0.8, 0.9, 0.95).

        Returns:
            DataFrame with ``prediction``, ``lower``, ``upper`` (float64, target units);
            the bounds clipped at :attr:`target_floor` where there is one (the prediction
            itself is left as the model gives it).

        Raises:
            DataError: the model has no interval at that level, or a feature is missing.
        """
        q = (self.intervals or {}).get(str(float(level)))
        if q is None:
            raise DataError(
                f"This model has no {level:.0%} prediction interval (it has "
                f"{', '.join(sorted(self.intervals or {})) or 'none'})."
            )
        pred = self.predict(X)
        lower, upper = pred - q, pred + q
        if self.target_floor is not None:  # a target never below 0 in training
            lower, upper = np.maximum(lower, self.target_floor), np.maximum(upper, 0.0)
        return pd.DataFrame({"prediction": pred, "lower": lower, "upper": upper})

    @property
    def target_floor(self) -> float | None:
        """0.0 when every training value of the target was >= 0 (an amount, a price, a
        count): prediction intervals are clipped there, since a symmetric conformal
        interval ``prediction ± q`` can reach below 0 where no value lies. ``None`` when
        the target took negative values, or the profile predates the target's range
        (:func:`finml.evaluation.drift.training_profile`)."""
        return target_floor(self.profile)


def target_floor(profile: dict | None) -> float | None:
    """The floor of a numeric target's prediction intervals from a training profile (a
    bundle's ``meta.json`` ``profile``): 0.0 when every training value was >= 0, else (or
    without the target's range) ``None``."""
    target = (profile or {}).get("target") or {}
    return 0.0 if target.get("min", -1.0) >= 0 else None
