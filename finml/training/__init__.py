"""Training: fitting a run spec with live progress, in a worker process.

- :mod:`~finml.training.spec`: the run spec (dataset, model, hyperparameters, seed);
- :mod:`~finml.training.progress`: the sink protocol and the training result;
- :mod:`~finml.training.tables`, :mod:`~finml.training.images`: fitting on tables and on
  images, reporting each step and obeying a stop request;
- :mod:`~finml.training.callbacks`: the Keras callbacks behind that;
- :mod:`~finml.training.jobs`: submit, stop, liveness and recovery of runs;
- :mod:`~finml.training.local`: the local executor (supervisor processes, worker slots,
  the warm spare);
- :mod:`~finml.training.worker`: the worker process that trains and logs a run.
"""
