"""Tasks: what finml trains on, each one object that declares what it supports.

- :mod:`.base`: :class:`~.base.Task`, its :class:`~.base.TaskTags` (cross-validation,
  tuning, SHAP, intervals, classes or a number, the headline metric runs are ranked on)
  and the :class:`~.base.TrainResult` of a run;
- :mod:`.table`: the one template of a table run (:class:`~.table.TableTask`), with
  hyperparameter search (:mod:`.tuning`) and k-fold cross-validation (:mod:`.cv`);
- :mod:`.binary`, :mod:`.multiclass`, :mod:`.regression`: the table tasks (small hooks);
- :mod:`.forecast`: series and panels (windows, baselines, backtests);
- :mod:`.images`: image classification;
- :mod:`.spec`: the run spec a worker trains.

:data:`TASKS` / :func:`get_task` is the one word set: dataset specs, run specs, run
parameters, bundles, the store's listing, reporting and the pages ask a task object what it
supports instead of comparing names. Adding a task is one module here (a :class:`Task`
subclass), one view in ``pages/views/`` and the registry entries of its models.
"""

from __future__ import annotations

from finml.errors import SpecError
from finml.tasks.base import Task, TaskTags, TrainResult
from finml.tasks.binary import BinaryTask
from finml.tasks.forecast import FORECAST
from finml.tasks.images import ImageTask
from finml.tasks.multiclass import MulticlassTask
from finml.tasks.regression import RegressionTask

BINARY, MULTICLASS, REGRESSION, IMAGES = (
    BinaryTask(),
    MulticlassTask(),
    RegressionTask(),
    ImageTask(),
)

#: Every task, by name, in the order the pages offer them.
TASKS: dict[str, Task] = {t.name: t for t in (BINARY, MULTICLASS, REGRESSION, FORECAST, IMAGES)}

#: Names earlier finml versions stored: a binary table run was called ``"table"``.
ALIASES = {"table": "binary"}

__all__ = [
    "ALIASES",
    "TASKS",
    "Task",
    "TaskTags",
    "TrainResult",
    "get_task",
    "task_of_bundle",
    "train_spec",
]


def get_task(name: str | None) -> Task:
    """The task called ``name`` (an alias of :data:`ALIASES` too); a run without one is a
    binary table run (the only kind before there were others).

    Raises:
        SpecError: no such task.
    """
    key = ALIASES.get(name or "binary", name or "binary")
    try:
        return TASKS[key]
    except KeyError:
        raise SpecError(f"{str(name)[:40]!r} is not a task finml knows.") from None


def task_of_bundle(meta: dict) -> Task:
    """The task of a bundle's checked ``meta.json``: its ``task`` field is the bundle
    format's own word (:attr:`Task.bundle_task`); a table bundle of three or more classes
    is a multi-class run.

    Raises:
        SpecError: a word no task writes.
    """
    matches = [t for t in TASKS.values() if t.bundle_task == meta.get("task")]
    if not matches:
        raise SpecError(f"A bundle of task {str(meta.get('task'))[:40]!r} is not one finml makes.")
    classes = len(meta.get("class_names", ()))
    return MULTICLASS if MULTICLASS in matches and classes > 2 else matches[0]


def train_spec(spec, data, sink=None, should_stop=None, **options) -> TrainResult:
    """Train run spec ``spec`` on its staged ``data`` (a table, or an image set's arrays)
    with its task (:meth:`Task.train`), in this process.

    Args:
        spec: the run spec (:class:`finml.tasks.spec.RunSpec`).
        data: what :meth:`Task.load` gives for the spec's dataset.
        sink: receives the progress (default: none kept).
        should_stop: the stop predicate (default: never).
        **options: passed to the task (``explain``, ``progress_every_s``).

    Returns:
        TrainResult.
    """
    from finml.fitters.base import Sink, never_stop

    task = get_task(spec.task)
    return task.train(spec, data, sink or Sink(), should_stop or never_stop, **options)
