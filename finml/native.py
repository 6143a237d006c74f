"""The order in which native libraries load into one process.

OR-Tools (the solver under OptBinning's optimal binning) and TensorFlow each carry their
own copies of abseil and protobuf. When TensorFlow is loaded first, OR-Tools' first solve
crashes the whole process (a segmentation fault, measured with ortools 9.15 and
tensorflow-cpu 2.21: both the CP-SAT and the MIP solver); loaded the other way round, both
work. So every process that may fit a scorecard and also import TensorFlow (the training
worker, the test processes) calls :func:`load_solvers` before anything else, and a
scorecard fit refuses to start in a process where TensorFlow came first
(:func:`check_solver_order`) instead of taking the process down.
"""

from __future__ import annotations

import sys

from finml.errors import SpecError

#: The OR-Tools module whose native library must load before TensorFlow's.
SOLVER_MODULE = "ortools.sat.python.cp_model"


def load_solvers() -> None:
    """Load OR-Tools' native solver now (about 0.4 s), before TensorFlow; a no-op when it
    is loaded already or not installed."""
    if SOLVER_MODULE in sys.modules or "tensorflow" in sys.modules:
        return
    try:
        __import__(SOLVER_MODULE)
    except ImportError:
        return


def check_solver_order() -> None:
    """Make sure OR-Tools can solve in this process (load it now if TensorFlow is not
    loaded yet).

    Raises:
        SpecError: TensorFlow was loaded before OR-Tools, so a solve would crash the
            process.
    """
    if SOLVER_MODULE in sys.modules:
        return
    if "tensorflow" in sys.modules:
        raise SpecError(
            "The scorecard's binning solver (OR-Tools) cannot start in a process that loaded "
            "TensorFlow first: it would crash it. Train the scorecard from the Train page "
            "(its worker loads the solver first), or call finml.native.load_solvers() at "
            "the start of your script."
        )
    load_solvers()
