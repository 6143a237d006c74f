"""What each task shows on the pages: one module per task, each a
:class:`~pages.views.base.TaskView` (its part of the Data form, what Train says of its
dataset and offers, its Evaluate view, its Predict view), found by :func:`get_view`.

The pages hold the flow and ask the task (:mod:`finml.tasks`: its tags and attributes) or
its view; they never compare task names. Adding a task is a module here and its entry in
:data:`VIEWS`.
"""

from __future__ import annotations

import importlib

from finml.tasks import Task, get_task
from pages.views.base import TaskView

#: The module of each task's view, by task name. A view is imported on first use, so a
#: page loads only the views it shows.
VIEWS = {
    "binary": "pages.views.binary",
    "multiclass": "pages.views.multiclass",
    "regression": "pages.views.regression",
    "forecast": "pages.views.forecast",
    "images": "pages.views.images",
}


def get_view(task: Task) -> TaskView:
    """The view of ``task`` (its module's ``VIEW``)."""
    return importlib.import_module(VIEWS[task.name]).VIEW


def view_of(run) -> TaskView:
    """The view of a run's task (``params["task"]``; a run of an earlier finml says
    ``"table"`` for a binary run, or nothing)."""
    return get_view(get_task(run.params.get("task")))
