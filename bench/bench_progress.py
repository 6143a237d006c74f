"""Benchmark: what live progress costs during training, on the same preprocessed arrays.

For gradient boosting: ``HistGradientBoostingClassifier.fit`` alone (no early stopping)
against finml's one fit with per-iteration losses, the progress hook writing to a real run
store (sampled), and the validation ROC-AUC curve from ``staged_predict_proba``.
For the Keras MLP: ``model.fit`` alone against the same fit with finml's callbacks (sink to
the run store, sampled; stop check after every batch).

Data: German Credit resampled to N rows (see bench_tables.make_csv). Target: <= 1.10.

Usage: python bench/bench_progress.py [SIZES] [EPOCHS]
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))


def arrays(n: int, tmp: str):
    import pandas as pd
    from bench_tables import make_csv

    from finml.data.schema import default_features, infer_schema
    from finml.data.split import SplitSpec, make_split
    from finml.data.target import validate_target
    from finml.models.features import build_preprocessor, prepare_features

    csv = Path(tmp) / "c.csv"
    make_csv(n, csv)
    frame = pd.read_csv(csv)
    numeric, categorical = default_features(infer_schema(frame), "creditability")
    y = validate_target(frame, "creditability", "bad")
    split = make_split(frame, y, SplitSpec())
    X = prepare_features(frame, numeric, categorical)
    pre = build_preprocessor(numeric, categorical)
    x_train = pre.fit_transform(X.iloc[split.train]).astype(np.float32)
    x_val = pre.transform(X.iloc[split.val]).astype(np.float32)
    return x_train, y[split.train], x_val, y[split.val]


def main() -> None:
    sizes = [int(s) for s in (sys.argv[1] if len(sys.argv) > 1 else "100000").split(",")]
    epochs = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    from finml.fitters import get_fitter
    from finml.fitters.base import SampledSink
    from finml.models.registry import resolve_params
    from finml.models.tabular import build_sklearn
    from finml.store import RunStore
    from finml.tasks import get_task
    from finml.tasks.spec import RunSpec
    from finml.training.worker import StoreSink

    with tempfile.TemporaryDirectory(ignore_cleanup_errors=True) as tmp:
        os.environ["FINML_DATA_DIR"] = tmp
        store = RunStore()
        from finml.models.tabular import build_mlp

        for n in sizes:
            x_train, y_train, x_val, y_val = arrays(n, tmp)
            # TensorFlow's one-time start-up is paid here, not by the first timed fit
            warm = build_mlp(x_train.shape[1], resolve_params("mlp"), seed=0)
            warm.fit(x_train[:1000], y_train[:1000], epochs=1, verbose=0)
            for model in ("hgb", "mlp"):
                extra = {"epochs": epochs, "patience": 1000, "batch_size": 512}
                params = resolve_params(model, extra if model == "mlp" else {})
                spec = RunSpec(None, model, params)
                t0 = time.perf_counter()
                if model == "hgb":
                    est = build_sklearn("hgb", params, class_weights=False, seed=42)
                    est.fit(x_train, y_train)
                else:
                    net = build_mlp(x_train.shape[1], params, seed=42)
                    net.fit(
                        x_train,
                        y_train.astype(np.float32),
                        validation_data=(x_val, y_val.astype(np.float32)),
                        epochs=epochs,
                        batch_size=512,
                        verbose=0,
                    )
                bare = time.perf_counter() - t0
                run_id = store.create_run(model, {}, {})
                sink = SampledSink(StoreSink(store, run_id))
                binary = get_task("binary")
                data = binary.fit_data(spec, None, x_train, y_train, x_val, y_val)
                t0 = time.perf_counter()
                get_fitter(model).fit(spec, params, data, sink, lambda: False)
                sink.flush()
                live = time.perf_counter() - t0
                print(
                    f"{n:>9,} rows  {model:<4} fit alone {bare:7.2f} s   with live progress "
                    f"{live:7.2f} s   ratio {live / bare:.2f}",
                    flush=True,
                )


if __name__ == "__main__":
    main()
