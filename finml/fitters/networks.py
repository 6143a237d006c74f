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
        from finml.fitters.callbacks import fit_validated
        from finml.models.tabular import build_mlp

        k = data.n_classes
        net = build_mlp(
            data.x_train.shape[1], params, seed=spec.seed, n_classes=max(k, 2), regression=not k
        )

        def target(y):  # a single sigmoid learns float labels
            return y.astype(np.float32) if k == 2 else y

        val = (data.x_val, target(data.y_val)) if data.has_val else None
        epochs, stopped = fit_validated(
            net,
            data,
            data.x_train,
            target(data.y_train),
            val,
            params,
            sink,
            should_stop,
            meter=data.live_val() if data.has_val else None,
        )
        return FitResult(None, 0, True) if epochs == 0 else FitResult(net, epochs, stopped)
