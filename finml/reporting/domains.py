"""The words of each field: a credit run speaks of approving and refusing applicants and
shows the credit pack; a medical-imaging run speaks of missed findings and false alarms and
shows clinical operating points (sensitivity at a fixed specificity)."""

from __future__ import annotations

from dataclasses import dataclass

from finml.tasks import get_task


@dataclass(frozen=True)
class Domain:
    """Labels of one field.

    Attributes:
        name: ``"credit"`` or ``"medical"``.
        fp_label: what a false positive is, with ``{negative}`` for the negative class.
        fn_label: what a false negative is, with ``{positive}`` for the positive class.
        positive_action: what a score at or above the threshold leads to.
        negative_action: what a score below it leads to.
        pack: title of the field's own tab and report section.
        metrics: the binary metrics its tables show (keys of
            :data:`finml.evaluation.metrics.METRIC_LABELS`): a medical run reads
            sensitivity, specificity, PPV, NPV, accuracy and ROC-AUC, not the credit
            scorecard's Gini and KS.
    """

    name: str
    fp_label: str
    fn_label: str
    positive_action: str
    negative_action: str
    pack: str
    metrics: tuple[str, ...] = ()

    def shown_metrics(self, values: dict[str, float]) -> dict[str, float]:
        """The metrics of ``values`` (:func:`finml.evaluation.metrics.binary_metrics`) that
        the field's tables show (:attr:`metrics`; all of them when it names none)."""
        if not self.metrics:
            return dict(values)
        return {k: values[k] for k in self.metrics if k in values}

    def cost_labels(self, negative: str, positive: str) -> tuple[str, str]:
        """Labels of the two cost inputs: (false positive, false negative)."""
        return (
            f"Cost of a false positive ({self.fp_label.format(negative=negative)})",
            f"Cost of a false negative ({self.fn_label.format(positive=positive)})",
        )


#: The words of each field: false positive, false negative, the action at and below the
#: threshold, and the title of the field's own pack.
_WORDS = {
    "credit": (
        "refusing a {negative} applicant",
        "approving a {positive} applicant",
        "refuse",
        "approve",
        "Credit pack",
    ),
    "medical": (
        "a false alarm on a {negative} case",
        "a missed finding: a {positive} case called negative",
        "flag",
        "clear",
        "Clinical operating points",
    ),
}
#: The binary metrics each field's tables show (empty: every one).
_METRICS = {
    "credit": (),
    "medical": ("recall", "specificity", "precision", "npv", "accuracy", "f1", "roc_auc", "brier"),
}
CREDIT, MEDICAL = (Domain(name, *words, _METRICS[name]) for name, words in _WORDS.items())
#: Each field by name (:attr:`finml.tasks.base.Task.domain`).
DOMAINS = {d.name: d for d in (CREDIT, MEDICAL)}
#: Specificities (and sensitivities) at which the clinical table reads the other rate.
CLINICAL_TARGETS = (0.80, 0.90, 0.95)


def domain_of(params: dict[str, str]) -> Domain:
    """The field of a run, from its logged parameters: its task's
    (:attr:`finml.tasks.base.Task.domain`: image runs are medical, tables are credit)."""
    return DOMAINS[get_task(params.get("task")).domain]
