"""Builders of the tabular models. Keras is imported only inside :func:`build_mlp`."""

from __future__ import annotations

from finml.models.registry import parse_layers
from finml.models.safe_load import check_network_size


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

    return HistGradientBoostingClassifier(**hgb_kwargs(params, seed), class_weight=cw)


def hgb_kwargs(params: dict, seed: int) -> dict:
    """The boosting hyperparameters finml sets on a ``HistGradientBoosting*`` estimator
    (no early stopping: the trainer turns on the per-iteration bookkeeping itself)."""
    return {
        "learning_rate": params["learning_rate"],
        "max_iter": params["max_iter"],
        "max_leaf_nodes": params["max_leaf_nodes"],
        "min_samples_leaf": params["min_samples_leaf"],
        "l2_regularization": params["l2_regularization"],
        "early_stopping": False,
        "random_state": seed,
    }


#: Keras loss of each regression loss choice (the target is standardised first, so Huber's
#: delta of 1 is one standard deviation of the training target).
KERAS_LOSSES = {"MSE": "mean_squared_error", "MAE": "mean_absolute_error", "Huber": "huber"}
#: scikit-learn boosting loss of each regression loss choice.
HGB_LOSSES = {"MSE": "squared_error", "MAE": "absolute_error"}


def build_regressor(name: str, params: dict, *, seed: int):
    """Build an unfitted scikit-learn regressor.

    Args:
        name: ``"ridge"`` or ``"hgb_reg"``.
        params: resolved hyperparameters.
        seed: random state.

    Returns:
        A ``Ridge`` or a ``HistGradientBoostingRegressor`` (no early stopping, as in
        :func:`build_sklearn`).
    """
    if name == "ridge":
        from sklearn.linear_model import Ridge

        return Ridge(alpha=params["alpha"])
    from sklearn.ensemble import HistGradientBoostingRegressor

    loss = HGB_LOSSES[params.get("loss", "MSE")]
    return HistGradientBoostingRegressor(loss=loss, **hgb_kwargs(params, seed))


def build_mlp(
    n_features: int, params: dict, *, seed: int, regression: bool = False, n_classes: int = 2
):
    """Build and compile a Keras MLP for binary classification or regression.

    Architecture: ``Input(n_features)`` -> for each hidden size: ``Dense(units, activation,
    L2)`` + ``Dropout`` -> ``Dense(1, sigmoid)`` (classification; loss binary cross-entropy,
    metric ROC-AUC, ``keras.metrics.AUC`` with 200 thresholds, named ``auc``) or
    ``Dense(1)`` with a linear output (regression; loss from :data:`KERAS_LOSSES` on the
    standardised target). Optimizer: Adam.

    Args:
        n_features: width of the preprocessed input.
        params: resolved hyperparameters (hidden, activation, dropout, l2, learning_rate;
            ``loss`` for regression).
        seed: seed of weight initialisation and dropout (``keras.utils.set_random_seed``).
        regression: a linear output for a numeric target.
        n_classes: more than 2: a softmax over the classes (loss sparse categorical
            cross-entropy, metric accuracy) for a multi-class target.

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
    if regression:
        layers.append(keras.layers.Dense(1, name="value"))
        model = keras.Sequential(layers, name="finml_mlp_regressor")
        check_network_size(model)
        model.compile(
            optimizer=keras.optimizers.Adam(params["learning_rate"]),
            loss=KERAS_LOSSES[params["loss"]],
        )
        return model
    if n_classes > 2:
        layers.append(keras.layers.Dense(n_classes, activation="softmax", name="proba"))
        model = keras.Sequential(layers, name="finml_mlp_multiclass")
        check_network_size(model)
        model.compile(
            optimizer=keras.optimizers.Adam(params["learning_rate"]),
            loss="sparse_categorical_crossentropy",
            metrics=["accuracy"],
        )
        return model
    layers.append(keras.layers.Dense(1, activation="sigmoid", name="score"))
    model = keras.Sequential(layers, name="finml_mlp")
    check_network_size(model)
    model.compile(
        optimizer=keras.optimizers.Adam(params["learning_rate"]),
        loss="binary_crossentropy",
        metrics=[keras.metrics.AUC(name="auc", num_thresholds=200)],
    )
    return model


def monotone_cst(params: dict, numeric, categorical, n_columns: int, n_classes: int):
    """The ``monotonic_cst`` of a boosting model from its ``monotone`` hyperparameter, laid
    out over the preprocessed columns (:func:`finml.models.features.build_preprocessor`:
    the numeric columns first, or after the category codes with native categories; their
    missing indicators and the categories unconstrained).

    Args:
        params: resolved hyperparameters (``monotone``, ``categories``).
        numeric, categorical: the feature columns.
        n_columns: columns of the preprocessed matrix.
        n_classes: classes of a class target (0: a number).

    Returns:
        int8 array (n_columns,) of -1/0/+1, or ``None`` without constraints.

    Raises:
        SpecError: a constraint on a column that is not a numeric feature, or on a target
            of more than two classes (scikit-learn's boosting cannot).
    """
    import numpy as np

    from finml.errors import SpecError
    from finml.models.registry import parse_monotone

    pairs = parse_monotone(params.get("monotone", ""))
    if not pairs:
        return None
    check_monotone(pairs, numeric)
    if n_classes > 2:
        raise SpecError(
            "Monotone constraints apply to two classes or a number; gradient boosting "
            "cannot constrain a multi-class model. Clear them on the Train page."
        )
    start = len(categorical) if params.get("categories") == "native" else 0
    cst = np.zeros(n_columns, dtype=np.int8)
    for name, sign in pairs.items():
        cst[start + list(numeric).index(name)] = sign
    return cst


def check_monotone(pairs: dict, numeric, what: str = "Monotone constraints") -> None:
    """Refuse constraints (``what``) on columns that are not numeric features.

    Raises:
        SpecError: naming the columns and the numeric features there are.
    """
    from finml.errors import SpecError, listing

    unknown = [n for n in pairs if n not in set(numeric)]
    if unknown:
        raise SpecError(
            f"{what} on {listing(unknown, 3)}: not numeric "
            f"features of this dataset. Constrain numeric features only: "
            f"{listing(list(numeric), 8, str) or 'none'}."
        )
