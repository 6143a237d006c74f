"""The lean peer of bench_tables.py for gradient boosting (issue 24): what a data scientist
with a big loan table writes when speed matters, with finml's default boosting
hyperparameters.

Reads the CSV with pyarrow, splits 60/20/20 stratified, codes the text columns with an
``OrdinalEncoder`` (fitted on the training rows), fits ``HistGradientBoostingClassifier``
with those columns as ``categorical_features``, scores the test rows and prints the test
ROC-AUC. Usage:
    python bench/lean_tables.py CSV [DROP]
DROP: comma-separated columns left out (bench_browser.py: the protected attributes the
Data page leaves out, so both train on the same features).
"""

import sys

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import OrdinalEncoder

frame = pd.read_csv(sys.argv[1], engine="pyarrow")
if len(sys.argv) > 2 and sys.argv[2]:
    frame = frame.drop(columns=sys.argv[2].split(","))
y = (frame.pop("creditability") == "bad").to_numpy(np.int8)
text = frame.select_dtypes(exclude="number").columns.tolist()
idx = np.arange(len(frame))
rest, test = train_test_split(idx, test_size=0.2, stratify=y, random_state=42)
train, val = train_test_split(rest, test_size=0.25, stratify=y[rest], random_state=42)
codes = OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1)
x = frame.copy()
codes.fit(frame.iloc[train][text])
x[text] = codes.transform(frame[text])
model = HistGradientBoostingClassifier(
    learning_rate=0.05,
    max_iter=200,
    max_leaf_nodes=8,
    min_samples_leaf=20,
    l2_regularization=1.0,
    early_stopping=False,
    random_state=42,
    categorical_features=[c in text for c in x.columns],
)
model.fit(x.iloc[train], y[train])
print(f"test ROC-AUC {roc_auc_score(y[test], model.predict_proba(x.iloc[test])[:, 1]):.4f}")
