"""Scoring new rows with a run's fitted model: schema check with real bad files, decisions,
reason codes, PSI."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from finml.data.reader import read_table
from finml.data.staging import load_staged
from finml.errors import DataError
from finml.evaluation.drift import psi_table
from finml.fitters.base import ListSink
from finml.models.bundle import load_bundle
from finml.prediction.tables import score_rows
from finml.tasks import train_spec
from finml.training.worker import log_result


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A logistic regression on German Credit, reloaded from its bundle, and the data."""
    from finml.data.demo import demo_frame
    from finml.data.schema import default_features, infer_schema
    from finml.data.spec import DatasetSpec
    from finml.models.bundle import save_bundle
    from finml.models.registry import resolve_params
    from finml.tasks.spec import RunSpec

    frame = demo_frame("German Credit (Statlog)")
    numeric, categorical = default_features(infer_schema(frame), "creditability")
    ds = DatasetSpec("0" * 32, "g", "creditability", "bad", tuple(numeric), tuple(categorical))
    result = train_spec(RunSpec(ds, "logreg", resolve_params("logreg")), frame, ListSink())
    result.model.set_params(meta={"model": "logreg", "target": "creditability"})
    folder = save_bundle(tmp_path_factory.mktemp("b") / "bundle", result.model)
    return load_bundle(folder), frame, result


def _csv_round_trip(frame: pd.DataFrame, tmp_path) -> pd.DataFrame:
    path = tmp_path / "new.csv"
    frame.to_csv(path, index=False)
    return read_table(path.read_bytes(), "new.csv").frame


def test_scores_match_training_and_decisions_follow_the_threshold(trained, tmp_path):
    bundle, frame, result = trained
    test = result.test_predictions
    new = _csv_round_trip(frame.iloc[test["row"]].drop(columns="creditability"), tmp_path)
    scored, messages = score_rows(bundle, new, threshold=0.4)
    assert messages == []
    np.testing.assert_allclose(scored["score"], test["score"].round(4), atol=1e-4)
    assert ((scored["score"] >= 0.4) == (scored["decision"] == "refuse")).all()
    refused = scored[scored["decision"] == "refuse"]
    assert refused["reason_1"].str.endswith("raised the risk").all()  # every refusal has one
    reasons = refused[["reason_1", "reason_2", "reason_3", "reason_4"]]
    # the reasons are SHAP values of the reloaded bundle (Linear SHAP with its background)
    from finml.evaluation.shap_values import adverse_reasons, explain_rows

    expected = adverse_reasons(explain_rows(bundle, new.loc[refused.index]), new.loc[refused.index])
    assert [[r for r in row if r] for row in reasons.values.tolist()] == expected
    assert "Status of existing checking account = " in " ".join(reasons["reason_1"])


def test_a_bad_file_is_checked_row_by_row(trained, tmp_path):
    bundle, frame, _ = trained
    new = frame.head(5).drop(columns="creditability").copy()
    new["duration_in_month"] = new["duration_in_month"].astype(object)
    new.loc[0, "duration_in_month"] = "twelve"
    new.loc[1, "credit_amount"] = 10**7
    new.loc[2, "purpose"] = "space travel"
    new["customer_note"] = "=cmd|' /C calc'!A0"
    scored, messages = score_rows(bundle, _csv_round_trip(new, tmp_path), threshold=0.5)
    text = " ".join(messages)
    assert "'duration_in_month': 1 value(s) are not numbers" in text
    assert "'purpose': 1 row(s) with categories unseen in training: 'space travel'." in text
    assert "Extra column(s) not used by the model: 'customer_note'" in text
    assert scored["issues"].iloc[0] == "duration_in_month: not a number"
    assert "credit_amount=1e+07 outside training range" in scored["issues"].iloc[1]
    assert scored["issues"].iloc[2] == "purpose='space travel' unseen in training"
    assert scored["issues"].iloc[3] == ""
    with pytest.raises(DataError, match="lacks 1 column"):
        score_rows(bundle, new.drop(columns="age_in_years"), threshold=0.5)


def test_psi_is_stable_on_training_like_data_and_flags_a_shift(trained):
    bundle, frame, result = trained
    same = frame.iloc[result.split.train]
    scores = score_rows(bundle, same, 0.5)[0]["score"].to_numpy()
    table = psi_table(bundle.profile, same, scores).set_index("variable")
    assert table["PSI"].max() < 0.01 and set(table["band"]) == {"stable"}
    shifted = same.assign(duration_in_month=same["duration_in_month"] * 3)
    scores = score_rows(bundle, shifted, 0.5)[0]["score"].to_numpy()
    table = psi_table(bundle.profile, shifted, scores).set_index("variable")
    assert table.loc["duration_in_month", "band"] == "major shift"
    assert table.loc["score", "PSI"] > 0.1  # longer loans score riskier
    assert table.loc["age_in_years", "band"] == "stable"


def test_the_worker_stores_importance_and_the_profile(german_spec):
    from finml.store import RunStore

    spec = german_spec("logreg")
    result = train_spec(spec, load_staged(spec.dataset.dataset_id), ListSink())
    store = RunStore()
    run_id = store.create_run("r", {}, {})
    log_result(store, run_id, spec, result)
    imp = store.read_frame(run_id, "explain/permutation_importance.parquet")
    assert imp["feature"].iloc[0] == "status_of_existing_checking_account"
    meta = store.read_json(run_id, "bundle/meta.json")
    assert set(meta["profile"]) == {"numeric", "categorical", "score"}
    assert meta["target"] == "creditability" and meta["class_names"] == ["good", "bad"]
    assignment = store.read_frame(run_id, "split.parquet")
    assert assignment["row"].tolist() == list(range(1000))
    assert assignment["split"].value_counts().to_dict() == {
        "train": 600,
        "validation": 200,
        "test": 200,
    }


def test_regression_and_multiclass_rows_get_shap_reasons(german):
    """Predict gives every task's rows their reasons: what raised or lowered a predicted
    loan amount (in DM), what favoured the predicted housing class."""
    from finml.prediction.tables import classify_rows, predict_rows
    from tests.tasks.test_multiclass import housing_spec
    from tests.tasks.test_regression import regression_spec

    rows = german.drop(columns=["creditability", "credit_amount"]).head(8)
    regressor = train_spec(regression_spec(german, "ridge"), german, ListSink()).model
    predicted, _ = predict_rows(regressor, rows, 0.9)
    assert predicted["reason_1"].str.contains(r" (raised|lowered) the predicted ").all()
    assert np.isfinite(predicted["prediction"]).all()
    classifier = train_spec(housing_spec(german, "logreg"), german, ListSink()).model
    classified, _ = classify_rows(classifier, german.drop(columns="housing").head(8))
    first = classified["reason_1"].tolist()
    assert all("favoured" in r for r in first), first
    assert all(f"'{c}'" in r for c, r in zip(classified["predicted class"], first, strict=True)), (
        first
    )
