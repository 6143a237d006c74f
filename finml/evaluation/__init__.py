"""Evaluation from stored predictions (nothing here retrains).

- :mod:`~finml.evaluation.metrics`: binary and per-class metrics, confusion matrices;
- :mod:`~finml.evaluation.thresholds`: threshold choice, costs and operating points;
- :mod:`~finml.evaluation.credit`: the credit-risk pack (KS curve, lift and gains,
  calibration, Hosmer-Lemeshow);
- :mod:`~finml.evaluation.bootstrap`: confidence intervals and the ROC band;
- :mod:`~finml.evaluation.drift`: the training profile and population stability (PSI);
- :mod:`~finml.evaluation.explain`: permutation importance and Grad-CAM.
"""
