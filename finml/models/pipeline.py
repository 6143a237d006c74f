"""The fitted model: one object from raw rows (or images) to class probabilities.

Training (:mod:`finml.training`) fits the parts with live progress and assembles a
:class:`FittedModel`; everything downstream calls it: validation and test scores,
permutation importance, SHAP values, Predict, Grad-CAM, bundles and imports.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin

from finml.errors import DataError

#: Rows scored in one eager call of a Keras model; more go through ``predict`` in batches.
EAGER_ROWS = 8192


class FittedModel(ClassifierMixin, BaseEstimator):
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

    def fit(self, X=None, y=None):
        """Do nothing and return ``self``: the parts are already fitted (see the class)."""
        return self

    def __sklearn_is_fitted__(self) -> bool:
        return self.estimator is not None

    @property
    def classes_(self) -> np.ndarray:
        """Int class indices, shape (k,)."""
        return np.arange(len(self.class_names))

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
        return "sklearn" if hasattr(self.estimator, "predict_proba") else "keras"

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
        from finml.models.features import prepare_features

        prepared = prepare_features(X, list(self.numeric), list(self.categorical))
        return self.preprocessor.transform(prepared).astype(np.float32)

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
