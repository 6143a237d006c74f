"""The peer of bench_mlp.py: a plain Keras script, as an analyst would write it in a notebook.

Same data (German Credit), same 60/20/20 stratified split, same preprocessing, same MLP and
callbacks as finml's defaults. Prints the test ROC-AUC. Usage:
    python bench/plain_keras_mlp.py CSV EPOCHS
"""

import sys

import keras
import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

csv, epochs = sys.argv[1], int(sys.argv[2])
frame = pd.read_csv(csv)
y = (frame.pop("creditability") == "bad").to_numpy(np.int8)
numeric = frame.select_dtypes("number").columns.tolist()
categorical = [c for c in frame.columns if c not in numeric]
idx = np.arange(len(frame))
rest, test = train_test_split(idx, test_size=0.2, stratify=y, random_state=42)
train, val = train_test_split(rest, test_size=0.25, stratify=y[rest], random_state=42)
pre = ColumnTransformer(
    [
        (
            "num",
            Pipeline(
                [
                    ("i", SimpleImputer(strategy="median", add_indicator=True)),
                    ("s", StandardScaler()),
                ]
            ),
            numeric,
        ),
        (
            "cat",
            Pipeline(
                [
                    ("i", SimpleImputer(strategy="constant", fill_value="(missing)")),
                    ("o", OneHotEncoder(handle_unknown="ignore", sparse_output=False)),
                ]
            ),
            categorical,
        ),
    ],
    sparse_threshold=0.0,
)
x_train = pre.fit_transform(frame.iloc[train]).astype(np.float32)
x_val = pre.transform(frame.iloc[val]).astype(np.float32)
keras.utils.set_random_seed(42)
reg = keras.regularizers.L2(1e-3)
model = keras.Sequential(
    [
        keras.Input(shape=(x_train.shape[1],)),
        keras.layers.Dense(64, activation="relu", kernel_regularizer=reg),
        keras.layers.Dropout(0.3),
        keras.layers.Dense(32, activation="relu", kernel_regularizer=reg),
        keras.layers.Dropout(0.3),
        keras.layers.Dense(1, activation="sigmoid"),
    ]
)
model.compile(
    keras.optimizers.Adam(1e-3),
    "binary_crossentropy",
    metrics=[keras.metrics.AUC(name="auc", num_thresholds=200)],
)
model.fit(
    x_train,
    y[train].astype(np.float32),
    validation_data=(x_val, y[val].astype(np.float32)),
    epochs=epochs,
    batch_size=32,
    verbose=0,
    callbacks=[keras.callbacks.EarlyStopping(patience=1000, restore_best_weights=True)],
)
x_test = pre.transform(frame.iloc[test]).astype(np.float32)
print(f"test ROC-AUC {roc_auc_score(y[test], model.predict(x_test, verbose=0).ravel()):.4f}")
