"""Multi-class classification (a table, 3 to 20 classes): the Data form's class of
interest; Evaluate's k-class confusion matrix, one-vs-rest ROC and per-class metrics, with
any one class against the rest (the binary view) one click away, which the image view
reuses; Predict's classes, probabilities and SHAP reasons."""

from __future__ import annotations

import streamlit as st

from finml.data import target
from finml.data.spec import parse_list
from finml.data.split import class_report
from finml.evaluation import metrics
from finml.reporting import charts
from finml.tasks import get_task
from pages.views import binary, uploads
from pages.views import tabs as run_parts
from pages.views.base import TableTarget, TableView

ALL_CLASSES, ONE_CLASS = "All classes", "One class against the rest"


def classes_view(run, test, val, store, classes, cases=None, more=None) -> None:
    """All classes (:func:`class_view`, then ``more(proba, y)``), or one class against
    the rest (:func:`pages.views.binary.binary_view`, its cases shown by ``cases``)."""
    view = st.segmented_control(
        "View", [ALL_CLASSES, ONE_CLASS], default=ALL_CLASSES, key="class_view"
    )
    if view == ONE_CLASS:
        chosen = st.selectbox("Class against the rest", classes, key="ovr_class")
        binary.binary_view(run, test, val, store, chosen, cases)
        return
    proba, y = class_view(run, test, classes)
    if more is not None:
        more(proba, y)


def class_view(run, test, classes):
    """The k-class confusion matrix, one-vs-rest ROC and per-class metrics."""
    proba = test[[f"p_{i}" for i in range(len(classes))]].to_numpy()
    y = test["y_true"].to_numpy()
    left, right = st.columns(2)
    cm = metrics.multiclass_confusion(y, proba.argmax(axis=1), len(classes))
    left.plotly_chart(charts.multiclass_confusion(cm, classes), width="stretch")
    right.plotly_chart(charts.ovr_roc_curves(metrics.ovr_roc(y, proba), classes), width="stretch")
    per_class = metrics.per_class_metrics(y, proba, tuple(classes)).round(4)
    st.dataframe(per_class, width="stretch")  # class names: plain text, not Markdown
    return proba, y


class MulticlassView(TableView):
    """Three or more classes of a table."""

    task = get_task("multiclass")
    choice = "Multi-class (3+ classes)"
    cv_note = " Accuracy and macro F1 take each row's most probable class."
    importance_score = "macro one-vs-rest ROC-AUC"
    form_keys = ("positive",)

    def target_form(self, frame, table_schema, target_col, demo_name):
        """The class of interest, every class checked (enough rows of each)."""
        positive, values, y = binary.class_target(
            frame,
            table_schema,
            target_col,
            "Class of interest (its one-against-the-rest view on Evaluate)",
            lambda values, positive: target.validate_classes(frame[target_col], tuple(values)),
        )
        return TableTarget(
            strata=y,
            report=lambda fr, split, spec: class_report(y, tuple(values), split),
            positive=positive,
            classes=tuple(values),
        )

    def target_words(self, ds) -> str:
        return f"({len(ds.classes)} classes)"

    def evaluate(self, run, test, val, store) -> None:
        classes = parse_list(run.params.get("classes"))
        classes_view(run, test, val, store, classes)
        run_parts.show_tabs(run_parts.run_tabs(run, val, self, store), "run_tabs")

    def cv_chart(self, run, oof, folds) -> None:
        """The ROC curve of each fold for the class of interest against the rest."""
        positive = run.params.get("positive_class", "")
        names = parse_list(run.params.get("classes"))
        if positive not in names:
            return
        k = names.index(positive)
        curves = {}
        for fold, part in oof.groupby("fold"):
            y = (part["y_true"] == k).to_numpy(int)
            fpr, tpr = metrics.roc_points(y, part[f"p_{k}"])
            curves[f"fold {fold}"] = (
                fpr,
                tpr,
                metrics.threshold_free_metrics(y, part[f"p_{k}"])["roc_auc"],
            )
        title = f"ROC curve of each fold: {positive} against the rest (out-of-fold rows)"
        st.plotly_chart(charts.overlay_roc(curves, title), width="stretch")

    def shap_units(self, explained) -> str:
        return (
            "the class's centred log-probability (its mean log-odds against each other "
            "class; the difference of two classes' values is their log-odds)"
        )

    def predict(self, run, model) -> None:
        """Classify uploaded rows: each class's probability and SHAP reasons."""
        from finml.prediction.tables import classify_rows

        frame = uploads.uploaded_rows()
        classified = uploads.predicted("Classifying", classify_rows, model, frame)
        uploads.results(
            run,
            model,
            frame,
            classified,
            "classes.csv",
            "probability",
            "'score' is the probability of the predicted class. Reasons: the features whose "
            "SHAP values favoured the predicted class most (up to four).",
        )


VIEW = MulticlassView()
