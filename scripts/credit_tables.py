"""Print the README's credit tables, computed by finml on German Credit: the scorecard of
its five characteristics of highest IV, and the fair-lending table (age bands; sex and
marital status) of a 5-fold cross-validated scorecard, on the out-of-fold scores of the
800 non-test applicants.

The protected attributes (``personal_status_and_sex``, ``age_in_years``,
``foreign_worker``) are left out of the features, as the Data page does by default. The
threshold is the Statlog cost matrix's (a bad applicant accepted costs 5, a good one
refused 1: refuse from P(bad) >= 1/6) and, for comparison, 0.5.

Usage: ``.venv/bin/python scripts/credit_tables.py`` (about 20 s).
"""

from __future__ import annotations

from dataclasses import replace

import pandas as pd

from finml.data.demo import demo_frame
from finml.data.schema import default_features, infer_schema
from finml.data.spec import DatasetSpec
from finml.evaluation.fairness import fairness_table, groups_of, suggest_protected
from finml.fitters.base import ListSink
from finml.models.registry import resolve_params
from finml.reporting import scorecard
from finml.tasks import train_spec
from finml.tasks.spec import RunSpec

GERMAN = "German Credit (Statlog)"


def markdown(table: pd.DataFrame, digits: int = 3) -> str:
    """A table as Markdown (numbers to ``digits`` decimals)."""
    cells = table.map(lambda v: f"{v:.{digits}f}" if isinstance(v, float) else str(v))
    lines = ["| " + " | ".join(map(str, table.columns)) + " |"]
    lines.append("|" + " --- |" * len(table.columns))
    lines += ["| " + " | ".join(row) + " |" for row in cells.to_numpy().tolist()]
    return "\n".join(lines)


def main() -> None:
    frame = demo_frame(GERMAN)
    protected = tuple(suggest_protected(frame.columns))
    numeric, categorical = default_features(infer_schema(frame), "creditability", protected)
    ds = DatasetSpec(
        "0" * 32, GERMAN, "creditability", "bad", tuple(numeric), tuple(categorical),
        negative="good", protected=protected,
    )  # fmt: skip
    spec = RunSpec(ds, "scorecard", resolve_params("scorecard"), seed=42)
    result = train_spec(spec, frame, ListSink())
    model = result.model
    print(f"Test ROC-AUC {result.test_metrics['roc_auc']:.3f}; {scorecard.scaling_words(model)}")
    chars = scorecard.characteristics_table(model)
    top = chars[chars["in model"]].head(5)["characteristic"].tolist()
    points = scorecard.points_table(model)
    points = points[points["characteristic"].isin(top)]
    points = points[~points["bin"].isin(["Special", "Missing"])]
    print(markdown(chars.head(8)))
    print()
    print(markdown(points))

    cv = train_spec(replace(spec, cv_folds=5), frame, ListSink()).cv.oof
    rows = cv["row"].to_numpy()
    print(f"\nOut-of-fold scores of {len(rows)} applicants (5 folds)")
    for threshold in (1 / 6, 0.5):
        for name in ("age_in_years", "personal_status_and_sex"):
            groups = groups_of(frame[name].iloc[rows], name)
            table, summary = fairness_table(
                cv["y_true"].to_numpy(), cv["score"].to_numpy(), threshold, groups
            )
            shown = table.drop(columns=["note", "approval rate of good", "approval rate of bad"])
            print(f"\n{name}, threshold {threshold:.3f}: demographic parity difference "
                  f"{summary['demographic_parity_difference']:.3f}, equalized-odds difference "
                  f"{summary['equalized_odds_difference']:.3f}")  # fmt: skip
            print(markdown(shown, 2))


if __name__ == "__main__":
    main()
