"""Training as jobs: a run is submitted, queued, trained in a worker and recovered if its
process dies. Nothing here branches on the task: the worker asks the run's task
(:mod:`finml.tasks`) how to load, train and explain it.

- :mod:`~finml.training.jobs`: submit, stop, liveness, queue places and recovery, over one
  executor interface (``launch``, ``request_stop``, ``is_alive``, ``ended``,
  ``ensure_spare``);
- :mod:`~finml.training.local`: the local executor (supervisor processes, worker slots,
  the warm spare);
- :mod:`~finml.training.ray_jobs`: the Ray executor (one Ray job per run);
- :mod:`~finml.training.worker`: the worker process that trains and logs a run.
"""
