"""Builders of the tabular models. Keras is imported only inside :func:`build_mlp`."""

from __future__ import annotations

from finml.models.registry import parse_layers


def build_sklearn(name: str, params: dict, *, class_weights: bool, seed: int):
    """Build an unfitted scikit-learn classifier.

    Args:
        name: ``"logreg"`` or ``"hgb"``.
        params: resolved hyperparameters.
        class_weights: use ``class_weight="balanced"`` (weights from the training labels).
        seed: random state.

    Returns:
        A ``LogisticRegression`` or a ``HistGradientBoostingClassifier`` (no early stopping:
        the trainer turns on the fit's per-iteration loss bookkeeping for progress, and
        ``categorical_features`` for native categories).
    """
    cw = "balanced" if class_weights else None
    if name == "logreg":
        from sklearn.linear_model import LogisticRegression

        return LogisticRegression(
            C=params["C"], max_iter=params["max_iter"], class_weight=cw, random_state=seed
        )
    from sklearn.ensemble import HistGradientBoostingClassifier

    return HistGradientBoostingClassifier(
        learning_rate=params["learning_rate"],
        max_iter=params["max_iter"],
        max_leaf_nodes=params["max_leaf_nodes"],
        min_samples_leaf=params["min_samples_leaf"],
        l2_regularization=params["l2_regularization"],
        early_stopping=False,
        class_weight=cw,
        random_state=seed,
    )


def build_mlp(n_features: int, params: dict, *, seed: int):
    """Build and compile a Keras MLP for binary classification.

    Architecture: ``Input(n_features)`` -> for each hidden size: ``Dense(units, activation,
    L2)`` + ``Dropout`` -> ``Dense(1, sigmoid)``. Loss: binary cross-entropy; optimizer:
    Adam; metric: ROC-AUC (``keras.metrics.AUC``, 200 thresholds) named ``auc``.

    Args:
        n_features: width of the preprocessed input.
        params: resolved hyperparameters (hidden, activation, dropout, l2, learning_rate).
        seed: seed of weight initialisation and dropout (``keras.utils.set_random_seed``).

    Returns:
        keras.Model: compiled.
    """
    import keras

    keras.utils.set_random_seed(seed)
    reg = keras.regularizers.L2(params["l2"]) if params["l2"] > 0 else None
    layers = [keras.Input(shape=(n_features,), name="features")]
    for units in parse_layers(params["hidden"]):
        layers.append(
            keras.layers.Dense(units, activation=params["activation"], kernel_regularizer=reg)
        )
        if params["dropout"] > 0:
            layers.append(keras.layers.Dropout(params["dropout"]))
    layers.append(keras.layers.Dense(1, activation="sigmoid", name="score"))
    model = keras.Sequential(layers, name="finml_mlp")
    model.compile(
        optimizer=keras.optimizers.Adam(params["learning_rate"]),
        loss="binary_crossentropy",
        metrics=[keras.metrics.AUC(name="auc", num_thresholds=200)],
    )
    return model
