"""The analyst's choices on the Data page as plain, JSON-serialisable dataclasses."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field

from finml.data.split import SplitSpec


@dataclass(frozen=True)
class DatasetSpec:
    """What the analyst chose on the Data page.

    Attributes:
        dataset_id: id of the staged table in the workspace (see :mod:`finml.data.staging`).
        name: display name (the demo's name or the uploaded file's name; never a path).
        target: target column.
        positive: positive class of the target, as text (the event: "bad", default).
        numeric: numeric feature columns.
        categorical: categorical feature columns.
        split: how to split the rows.
        negative: display name of the other class ("good"), or "" for "not <positive>".
        kind: ``"table"``.
        task: a table task's name (:data:`finml.tasks.TASKS`): ``"binary"`` (a class
            target), ``"multiclass"`` (3 to 20 classes),
            ``"regression"`` (a numeric target; then
            ``positive`` and ``negative`` are empty) or ``"forecast"`` (a numeric series
            ordered by ``split.time_col``, forecast ``horizon`` steps ahead).
        horizon: steps ahead of a forecast (``"forecast"`` only).
        classes: the class names of a ``"multiclass"`` target (index i = class i);
            ``positive`` is then the class of the one-against-the-rest view.
        entity_col: the id column of a forecast panel (one series per entity), or ``""``.
        exog: the exogenous columns of a forecast (their past changes are inputs).
        known: those of ``exog`` known in advance (holidays, promotions, planned prices):
            their changes from the origin to each step ahead are inputs too, and Predict
            reads their planned values in the rows to forecast.
        unit: the unit of a numeric target (``"DM"``, ``"EUR"``, ``"days"``), shown after
            its amounts, or "".
        protected: protected attributes (age, sex, marital status, ...) for the
            fair-lending analysis of a binary run (:mod:`finml.evaluation.fairness`); left
            out of the features unless the analyst kept one in.
    """

    dataset_id: str
    name: str
    target: str
    positive: str
    numeric: tuple[str, ...]
    categorical: tuple[str, ...]
    split: SplitSpec = field(default_factory=SplitSpec)
    negative: str = ""
    kind: str = "table"
    task: str = "binary"
    horizon: int = 0
    classes: tuple[str, ...] = ()
    entity_col: str = ""
    exog: tuple[str, ...] = ()
    known: tuple[str, ...] = ()
    protected: tuple[str, ...] = ()
    unit: str = ""

    @property
    def class_labels(self) -> tuple[str, str]:
        """Display names of class 0 and class 1 (the positive class)."""
        return (self.negative or f"not {self.positive}", self.positive)


@dataclass(frozen=True)
class ImageDatasetSpec:
    """What the researcher chose on the Data page in image mode.

    Attributes:
        dataset_id: id of the staged images (see :func:`finml.data.staging.stage_images`).
        name: display name ("Br35H brain MRI" or the upload's name; never a path).
        classes: class names; the model's output index i is ``classes[i]``.
        positive: the class whose probability is the score of binary analyses (ROC, threshold).
        size: side of the square images, pixels.
        mode: ``"L"`` (1 channel) or ``"RGB"`` (3 channels).
        split: how to split; ``group_col="group"`` keeps each patient / near-duplicate group
            on one side.
    """

    dataset_id: str
    name: str
    classes: tuple[str, ...]
    positive: str
    size: int
    mode: str
    split: SplitSpec = field(default_factory=SplitSpec)
    kind: str = "images"

    @property
    def task(self) -> str:
        """The task of an image set (:data:`finml.tasks.TASKS`)."""
        return "images"

    @property
    def class_labels(self) -> tuple[str, ...]:
        """Display names of the classes, in output order."""
        return self.classes

    @property
    def input_shape(self) -> tuple[int, int, int]:
        """(size, size, channels) of the model input."""
        return (self.size, self.size, 1 if self.mode == "L" else 3)


def dataset_spec_to_dict(spec: DatasetSpec | ImageDatasetSpec) -> dict:
    """A dataset spec as plain JSON-serialisable data."""
    return asdict(spec)


def dataset_spec_from_dict(raw: dict) -> DatasetSpec | ImageDatasetSpec:
    """Rebuild what :func:`dataset_spec_to_dict` wrote.

    Raises:
        TypeError, KeyError: ``raw`` is not such a dict.
    """
    raw = dict(raw)
    raw["split"] = SplitSpec(**raw["split"])
    if raw.get("kind") == ImageDatasetSpec.kind:
        raw["classes"] = tuple(raw["classes"])
        return ImageDatasetSpec(**raw)
    raw["numeric"], raw["categorical"] = tuple(raw["numeric"]), tuple(raw["categorical"])
    raw["classes"] = tuple(raw.get("classes", ()))
    raw["exog"] = tuple(raw.get("exog", ()))
    raw["known"] = tuple(raw.get("known", ()))
    raw["protected"] = tuple(raw.get("protected", ()))
    return DatasetSpec(**raw)


def format_list(items) -> str:
    """A list run parameter's text (``classes``, ``exog``, ``known``, ``protected``):
    comma-separated, as finml has always written it, unless an item holds a comma or the
    text would start with ``[``: then a JSON array, so a class such as ``"10,000-20,000"``
    or a column ``"rate, %"`` comes back whole (:func:`parse_list`).

    Args:
        items: the names, in order (any iterable of str).

    Returns:
        str: ``"a,b,c"`` or ``'["10,000-20,000", "more"]'``; ``""`` for none.
    """
    names = [str(i) for i in items]
    if any("," in n for n in names) or (names and names[0].startswith("[")):
        return json.dumps(names, ensure_ascii=False)
    return ",".join(names)


def parse_list(text: str | None) -> list[str]:
    """The names of a list run parameter written by :func:`format_list` (or, for runs
    logged before it, by a plain comma join: text that is not a JSON array of text is
    split at its commas).

    Args:
        text: the parameter's text; ``None`` or ``""`` for none.

    Returns:
        list[str]: the names, in order.
    """
    text = str(text or "")
    if text.startswith("["):
        try:
            names = json.loads(text)
        except ValueError:
            names = None
        if isinstance(names, list) and all(isinstance(n, str) for n in names):
            return names
    return text.split(",") if text else []
