"""finml: the core of the finml studio. It never imports streamlit; every step a page
performs is a function here that a test can call without a browser.

Layers (imports run one way, down this list; ``tests/test_layers.py`` enforces it):

- :mod:`finml.training`, :mod:`finml.prediction`, :mod:`finml.reporting`: fitting a run in
  a worker process, scoring new data, and charts, reports and exports;
- :mod:`finml.models`, :mod:`finml.evaluation`: the model registry, builders and the one
  fitted pipeline with its safe bundles; metrics, thresholds and costs, the credit pack,
  bootstrap intervals, drift and explanations;
- :mod:`finml.data`: reading tables and images, the schema and target checks, splits,
  staging;
- :mod:`finml.store`, :mod:`finml.config`, :mod:`finml.errors`: the run store over MLflow,
  settings, and the error types.

TensorFlow is imported lazily, only by training and by code that runs a Keras model.
"""

__version__ = "0.1.0"
