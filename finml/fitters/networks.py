"""The Keras MLP of a table: a sigmoid output for two classes, a softmax for more, a
linear output for a numeric target (:func:`finml.models.tabular.build_mlp`), trained with
finml's progress, stop and early-stopping callbacks."""

from __future__ import annotations

import numpy as np

from finml.fitters.base import FitData, FitResult, Fitter


class MLPFitter(Fitter):
    """A Keras MLP on preprocessed table rows; early stopping on the validation loss
    (best weights restored) when there are validation rows, else a fixed number of
    epochs (a refit after cross-validation)."""

    family = "keras"

    def fit(self, spec, params, data: FitData, sink, should_stop) -> FitResult:
        """Train the network; see :meth:`finml.fitters.base.Fitter.fit`."""
        from finml.fitters.callbacks import ValidationMeter, fit_with_progress
        from finml.models.tabular import build_mlp

        k = data.n_classes
        net = build_mlp(
            data.x_train.shape[1], params, seed=spec.seed, n_classes=max(k, 2), regression=not k
        )

        def target(y):  # a single sigmoid learns float labels
            return y.astype(np.float32) if k == 2 else y

        val, extra = None, ()
        if data.has_val:
            val = (data.x_val, target(data.y_val))
            extra = (ValidationMeter(*data.live_val(), data.meter, k),)
        epochs, stopped = fit_with_progress(
            net,
            data.x_train,
            target(data.y_train),
            val,
            params,
            sink,
            should_stop,
            extra,
            data.class_weight,
        )
        return FitResult(None, 0, True) if epochs == 0 else FitResult(net, epochs, stopped)
