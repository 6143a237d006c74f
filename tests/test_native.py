"""OR-Tools after TensorFlow crashes a process (finml.native): a fresh process that loads
TensorFlow first gets a clear error from a scorecard fit instead of a crash, and one that
loads the solver first (as the worker and the tests do) fits."""

from __future__ import annotations

import subprocess
import sys

SCRIPT = """
import sys
import numpy as np
if sys.argv[1] == "tensorflow first":
    import tensorflow
else:
    from finml.native import load_solvers
    load_solvers()
    import tensorflow
from finml.errors import SpecError
from finml.models.scorecard import ScorecardClassifier
rng = np.random.default_rng(0)
x = rng.normal(size=(1000, 1))
y = (rng.random(1000) < 1 / (1 + np.exp(-2 * x[:, 0]))).astype(int)
try:
    ScorecardClassifier(names=("x",), n_numeric=1).fit(x, y)
    print("fitted")
except SpecError as exc:
    print("refused:", exc)
"""


def _run(order: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", SCRIPT, order], capture_output=True, text=True, timeout=300
    )


def test_a_process_that_loaded_tensorflow_first_is_refused_not_crashed():
    done = _run("tensorflow first")
    assert done.returncode == 0, done.stderr[-2000:]
    assert "refused: The scorecard's binning solver (OR-Tools)" in done.stdout


def test_a_process_that_loads_the_solver_first_fits():
    done = _run("solver first")
    assert done.returncode == 0, done.stderr[-2000:]
    assert "fitted" in done.stdout
