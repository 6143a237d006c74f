"""The interface of a task's view (:class:`TaskView`), with what most tasks share, and
what a table task's part of the Data form hands back to the page (:class:`TableTarget`)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import streamlit as st

from finml.data.split import cv_kind
from finml.reporting.runs import METRIC_NAMES
from finml.tasks import Task, get_task
from pages.common import dataset_ready, text


def _no_warnings(split) -> list[str]:
    return []


@dataclass
class TableTarget:
    """A table task's target as its part of the Data form read it: what the page's split,
    split report and dataset spec need.

    Attributes:
        strata: what a stratified split keeps alike on every side (the classes, or the
            quintiles of a number).
        report: ``(frame, split, split spec) -> DataFrame``, the split's audit table.
        warnings: ``split -> [text]``, what the page warns about the sides.
        positive: the positive class, or the class of the one-against-the-rest view.
        negative: the other class of two, else "".
        classes: every class of a multi-class target, in order.
        quantiles: the strata are quantiles of a number (the page offers a plain random
            split instead).
        unit: the unit of a numeric target (``"DM"``), or "".
    """

    strata: np.ndarray
    report: Callable
    warnings: Callable = _no_warnings
    positive: str = ""
    negative: str = ""
    classes: tuple[str, ...] = ()
    quantiles: bool = False
    unit: str = ""


def split_words(ds) -> str:
    """A dataset's split in words: ``split 60% / 20% / 20%``."""
    return f"split {ds.split.train:.0%} / {ds.split.val:.0%} / {ds.split.test:.0%}"


class TaskView(ABC):
    """What the pages show for one task; one subclass per task (``pages/views/<task>.py``),
    which overrides what differs.

    Attributes:
        task: the task (:mod:`finml.tasks`).
        choice: the Data page's word for it among the tasks of a table ("": not offered).
        cv_word: its cross-validation in the Train page's tile (``"CV"``, ``"backtest"``).
        fold_note: what the Train page adds to the caption of its live fold table.
        cv_refits: after cross-validation its model is refit on every non-test row (the
            learning curves are the refit's).
        cv_note: what the Evaluate page's cross-validation tab adds to its caption.
        importance_score: the score the permutation importance shuffles against.
        form_keys: the widget keys of its part of the Data form (forgotten with the table).
    """

    task: Task
    choice = ""
    cv_word = "CV"
    fold_note = ""
    cv_refits = True
    cv_note = ""
    importance_score = "ROC-AUC"

    #: Session State keys of the task's part of the Data form: they belong to one table,
    #: and a new table forgets them (:meth:`form_opening` sets what it opens with).
    form_keys: tuple[str, ...] = ()

    # -- Data ------------------------------------------------------------------------
    def form_opening(self, demo_name: str | None) -> dict:
        """What the task's part of the Data form opens with for a new table (widget key ->
        value, set through Session State so the browser's widgets follow); ``demo_name``
        is the built-in demo's name, else None. Nothing by default."""
        return {}

    def target_words(self, ds) -> str:
        """What the target is, after its name: ``= 'bad'``, ``(3 classes)``."""
        return ""

    def ready_text(self, ds) -> str:
        """The Data page's message once ``ds`` is chosen for training."""
        return f"Ready: {ds.name}, target {ds.target!r} {self.target_words(ds)}."

    def show_ready(self) -> None:
        """Say the session's dataset is ready, if it is one of this task (with a link on
        to Train)."""
        ds = st.session_state.get("dataset")
        if ds is not None and get_task(ds.task) is self.task:
            dataset_ready(text(self.ready_text(ds)), ds)

    # -- Train -----------------------------------------------------------------------
    def train_header(self, ds) -> None:
        """What the Train page says of the dataset (and offers for it) above the form."""
        n_features = len(ds.numeric) + len(ds.categorical)
        st.caption(
            f"Dataset: **{text(ds.name)}**, target {text(repr(ds.target))} "
            f"{text(self.target_words(ds))}, {n_features} features, {split_words(ds)}."
        )

    def cv_offer(self, ds) -> tuple[str, str, int]:
        """The Train form's cross-validation toggle: (label, help, default folds)."""
        return (
            f"k-fold cross-validation ({cv_kind(ds.split)})",
            f"Folds made {cv_kind(ds.split)}, as the Data page's split. "
            "Each fold fits its own preprocessing and model on the training and validation "
            "rows; the test split is still scored once, by the model refit on all non-test "
            "rows. Takes about k + 1 times as long.",
            5,
        )

    def tuning_help(self) -> str:
        """The help of the Train form's tuning toggle, in the task's metric words."""
        tags = self.task.tags
        metric = METRIC_NAMES.get(tags.search_metric, tags.search_metric)
        better = "" if tags.higher_is_better else ", lower is better"
        folds = ""
        if tags.cross_validation:
            folds = f" (on the folds' mean {metric} with {self.task.cv_label})"
        return (
            f"Searches the ranges marked for tuning; each trial is judged on the validation "
            f"split's {metric}{folds}{better}. The best trial is refit and tested once."
        )

    # -- Evaluate --------------------------------------------------------------------
    @abstractmethod
    def evaluate(self, run, test, val, store) -> None:
        """The Evaluate page's view of ``run`` from its stored test and validation (or
        out-of-fold) predictions."""

    def cv_chart(self, run, oof, folds) -> None:
        """A chart of the cross-validation's out-of-fold predictions (none by default)."""
        return None

    def shap_units(self, explained) -> str:
        """What the SHAP values of a run of this task are measured in, in words."""
        return "log-odds"

    def split_assignment(self, run, assignment):
        """The split assignment table as downloaded (the rows' names added where the
        task has them)."""
        return assignment

    # -- Predict ---------------------------------------------------------------------
    @abstractmethod
    def predict(self, run, model) -> None:
        """The Predict page for ``run`` and its fitted ``model``."""


class TableView(TaskView):
    """The view of a task on a table (binary, multi-class, regression, forecasting): its
    part of the Data page's form follows the target's choice."""

    @abstractmethod
    def target_form(self, frame, table_schema, target_col: str, demo_name: str | None):
        """The task's part of the Data page for target ``target_col`` of a table:
        returns a :class:`TableTarget`, or lays out the rest of the page itself and stops
        the script (forecasting). ``demo_name`` is the built-in demo's name, else None."""
