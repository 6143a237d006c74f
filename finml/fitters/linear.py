"""Linear models: logistic regression for a class target (two or more classes,
multinomial), ridge regression for a numeric one. One fit, one progress step (the
training and validation loss and the task's validation metric)."""

from __future__ import annotations

from finml.fitters.base import FitData, FitResult, Fitter, one_step


class LinearFitter(Fitter):
    """Logistic regression (``sklearn.linear_model.LogisticRegression``) or ridge
    (``sklearn.linear_model.Ridge``), built by :mod:`finml.models.tabular`."""

    family = "sklearn"
    step_unit = "fit"

    def fit(self, spec, params, data: FitData, sink, should_stop) -> FitResult:
        """One fit on the training rows; see :meth:`finml.fitters.base.Fitter.fit`."""
        from finml.models.tabular import build_regressor, build_sklearn

        if data.n_classes:
            model = build_sklearn(
                spec.model, params, class_weights=bool(data.class_weight), seed=spec.seed
            )
        else:
            model = build_regressor(spec.model, params, seed=spec.seed)
        model.fit(data.x_train, data.y_train)
        return one_step(model, data, sink)
