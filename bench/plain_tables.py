"""The peers of bench_tables.py: the script a data scientist writes for one of finml's
table models with finml's default hyperparameters (the MLP with the bench's epochs and
batch size), in two styles:

- plain (the default), as in a notebook: ``pd.read_csv``, split 60/20/20 stratified,
  impute, scale and one-hot (fitted on the training rows), fit, score the test rows;
- ``--lean`` (issue 24), when speed matters: ``read_csv(engine="pyarrow")``, no imputers
  (the bench's tables have no missing cells), ``StandardScaler`` and ``OneHotEncoder`` for
  the linear model and the MLP, and for boosting an ``OrdinalEncoder`` on the text columns
  with ``HistGradientBoostingClassifier(categorical_features=...)``.

Prints the test ROC-AUC. The regression models (ridge, hgb_reg, mlp_reg) predict
credit_amount (creditability left out) on a standardised target, split stratified by
target quintile, and print the test RMSE. Usage:
    python bench/plain_tables.py MODEL CSV [EPOCHS BATCH] [--lean] [--drop COLUMNS]
--drop: comma-separated columns left out (bench_browser.py: the protected attributes the
Data page leaves out, so both train on the same features).
"""

import argparse

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder, StandardScaler

parser = argparse.ArgumentParser()
parser.add_argument("model")
parser.add_argument("csv")
parser.add_argument("epochs", nargs="?", type=int, default=5)
parser.add_argument("batch", nargs="?", type=int, default=512)
parser.add_argument("--lean", action="store_true")
parser.add_argument("--drop", default="")
args = parser.parse_args()
model_name = args.model
frame = pd.read_csv(args.csv, engine="pyarrow") if args.lean else pd.read_csv(args.csv)
if args.drop:
    frame = frame.drop(columns=args.drop.split(","))
regression = model_name in ("ridge", "hgb_reg", "mlp_reg")
if regression:
    amount = frame.pop("credit_amount").to_numpy(np.float64)
    frame.pop("creditability")
    y = pd.qcut(pd.Series(amount).rank(method="first"), 5, labels=False).to_numpy()
else:
    y = (frame.pop("creditability") == "bad").to_numpy(np.int8)
numeric = frame.select_dtypes("number").columns.tolist()
categorical = [c for c in frame.columns if c not in numeric]
idx = np.arange(len(frame))
rest, test = train_test_split(idx, test_size=0.2, stratify=y, random_state=42)
train, val = train_test_split(rest, test_size=0.25, stratify=y[rest], random_state=42)
native = args.lean and model_name.startswith("hgb")


def imputed(imputer, encoder):
    """The plain script's imputer before ``encoder``; the lean script has none."""
    return encoder if args.lean else Pipeline([("i", imputer), ("e", encoder)])


if native:  # ordinal codes first, the columns' categories split natively
    codes = OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1)
    parts = [("cat", codes, categorical), ("num", "passthrough", numeric)]
else:
    median = SimpleImputer(strategy="median", add_indicator=True)
    constant = SimpleImputer(strategy="constant", fill_value="(missing)")
    onehot = OneHotEncoder(handle_unknown="ignore", sparse_output=False)
    parts = [
        ("num", imputed(median, StandardScaler()), numeric),
        ("cat", imputed(constant, onehot), categorical),
    ]
pre = ColumnTransformer(parts, sparse_threshold=0.0)
x_train = pre.fit_transform(frame.iloc[train]).astype(np.float32)
x_test = pre.transform(frame.iloc[test]).astype(np.float32)

#: finml's default boosting hyperparameters (classifier and regressor alike).
HGB = {
    "learning_rate": 0.05,
    "max_iter": 200,
    "max_leaf_nodes": 8,
    "min_samples_leaf": 20,
    "l2_regularization": 1.0,
    "early_stopping": False,
    "random_state": 42,
}
if native:  # the first len(categorical) columns are the codes
    HGB["categorical_features"] = [i < len(categorical) for i in range(x_train.shape[1])]


def fit_net(activation, loss, y_train, y_val, auc=False):
    """finml's default MLP (64, 32, ReLU, dropout 0.3, L2 1e-3, Adam 1e-3) with the bench's
    epochs and batch, early stopping on the validation loss; the test rows' outputs."""
    import keras

    epochs, batch = args.epochs, args.batch
    x_val = pre.transform(frame.iloc[val]).astype(np.float32)
    keras.utils.set_random_seed(42)
    reg = keras.regularizers.L2(1e-3)
    net = keras.Sequential(
        [
            keras.Input(shape=(x_train.shape[1],)),
            keras.layers.Dense(64, activation="relu", kernel_regularizer=reg),
            keras.layers.Dropout(0.3),
            keras.layers.Dense(32, activation="relu", kernel_regularizer=reg),
            keras.layers.Dropout(0.3),
            keras.layers.Dense(1, activation=activation),
        ]
    )
    metrics = [keras.metrics.AUC(name="auc", num_thresholds=200)] if auc else []
    net.compile(optimizer=keras.optimizers.Adam(1e-3), loss=loss, metrics=metrics)
    net.fit(
        x_train,
        y_train.astype(np.float32),
        validation_data=(x_val, y_val.astype(np.float32)),
        epochs=epochs,
        batch_size=batch,
        callbacks=[
            keras.callbacks.EarlyStopping(
                monitor="val_loss", patience=1000, restore_best_weights=True
            )
        ],
        verbose=0,
    )
    return net.predict(x_test, verbose=0, batch_size=4096).ravel()


if regression:
    mean, sd = amount[train].mean(), amount[train].std()
    z = ((amount - mean) / sd).astype(np.float32)
    if model_name == "ridge":
        from sklearn.linear_model import Ridge

        pred = Ridge(alpha=1.0).fit(x_train, z[train]).predict(x_test)
    elif model_name == "hgb_reg":
        from sklearn.ensemble import HistGradientBoostingRegressor

        pred = HistGradientBoostingRegressor(**HGB).fit(x_train, z[train]).predict(x_test)
    else:
        pred = fit_net(None, "mean_squared_error", z[train], z[val])
    rmse = np.sqrt(np.mean((amount[test] - (pred * sd + mean)) ** 2))
    print(f"test RMSE {rmse:.2f}")
    raise SystemExit(0)
if model_name == "logreg":
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression(C=1.0, max_iter=2000, random_state=42).fit(x_train, y[train])
    score = model.predict_proba(x_test)[:, 1]
elif model_name == "hgb":
    from sklearn.ensemble import HistGradientBoostingClassifier

    model = HistGradientBoostingClassifier(**HGB).fit(x_train, y[train])
    score = model.predict_proba(x_test)[:, 1]
else:
    score = fit_net("sigmoid", "binary_crossentropy", y[train], y[val], auc=True)
print(f"test ROC-AUC {roc_auc_score(y[test], score):.4f}")
