"""Plain, JSON-serialisable specifications of a dataset and of a training run."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field

from finml.split import SplitSpec


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
    def class_labels(self) -> tuple[str, ...]:
        """Display names of the classes, in output order."""
        return self.classes

    @property
    def input_shape(self) -> tuple[int, int, int]:
        """(size, size, channels) of the model input."""
        return (self.size, self.size, 1 if self.mode == "L" else 3)


@dataclass(frozen=True)
class RunSpec:
    """Everything a worker needs to train one model.

    Attributes:
        dataset: the dataset spec.
        model: a name from :func:`finml.models.registry.model_names`.
        params: hyperparameters (resolved, see :func:`finml.models.registry.resolve_params`).
        class_weights: weight classes inversely to their frequency in the training split.
        seed: random seed of model initialisation and shuffling.
    """

    dataset: DatasetSpec | ImageDatasetSpec
    model: str
    params: dict = field(default_factory=dict)
    class_weights: bool = False
    seed: int = 42

    def to_json(self) -> str:
        """Serialise to JSON text."""
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> RunSpec:
        """Parse what :meth:`to_json` wrote."""
        raw = json.loads(text)
        ds = raw["dataset"]
        ds["split"] = SplitSpec(**ds["split"])
        if ds.get("kind") == "images":
            ds["classes"] = tuple(ds["classes"])
            raw["dataset"] = ImageDatasetSpec(**ds)
        else:
            ds["numeric"], ds["categorical"] = tuple(ds["numeric"]), tuple(ds["categorical"])
            raw["dataset"] = DatasetSpec(**ds)
        return cls(**raw)
