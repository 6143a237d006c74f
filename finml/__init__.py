"""finml: the core of the finml studio (data, splits, models, jobs, run store, evaluation).

This package never imports streamlit; every step a page performs is a function here that a
test can call without a browser. TensorFlow is imported lazily, only by training and
prediction code.
"""

__version__ = "0.1.0"
