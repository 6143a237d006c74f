"""Prediction: scoring new rows or images with a run's fitted model.

- :mod:`~finml.prediction.tables`: schema check against the training data, scores,
  decisions at the saved threshold, SHAP adverse-action reasons;
- :mod:`~finml.prediction.images`: predicted classes and probabilities of new images.
"""
