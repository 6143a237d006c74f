"""Models: what can be trained, and the one fitted object that training produces.

- :mod:`~finml.models.registry`: model names, families and typed hyperparameters;
- :mod:`~finml.models.features`, :mod:`~finml.models.tabular`,
  :mod:`~finml.models.vision`: the builders (feature preparation and ColumnTransformer,
  scikit-learn and Keras classifiers, image networks);
- :mod:`~finml.models.pipeline`: :class:`~finml.models.pipeline.FittedModel`, from raw rows
  or images to class probabilities; everything downstream calls it;
- :mod:`~finml.models.bundle`, :mod:`~finml.models.safe_load`: a fitted model on disk in
  safe formats, and the exact allow-lists that keep a hostile file from running code.
"""
