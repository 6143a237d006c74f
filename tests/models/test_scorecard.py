"""The points scorecard: it scores as well as a plain OptBinning scorecard on the same
folds, its points reproduce by hand from the stored table, special codes, missing values
and unseen categories get bins of their own, and a stored table is checked on load."""

from __future__ import annotations

import json
import math
from bisect import bisect_right

import numpy as np
import pytest

from finml.errors import BundleError, SpecError
from finml.fitters.base import ListSink
from finml.models.bundle import load_bundle, save_bundle
from finml.models.scorecard import ScorecardClassifier
from finml.tasks import train_spec
from tests.conftest import table_spec
from tests.tasks.test_quality import CREDIT


@pytest.fixture(scope="module")
def run(german):
    """A scorecard trained on German Credit through the binary task (seed 42 split)."""
    spec = table_spec(german, "scorecard", seed=42)
    return spec, train_spec(spec, german, ListSink(), explain=False)


@pytest.mark.parametrize(
    ("name", "target", "positive", "drop"),
    [
        ("German Credit", "creditability", "bad", ()),
        ("hmda_boston.csv", "deny", "yes", ("black",)),
        ("uci_credit_card_sample.csv", "default", "1", ()),
    ],
)
def test_cv_roc_auc_is_within_001_of_a_plain_optbinning_scorecard_on_the_same_folds(
    name, target, positive, drop, german
):
    """The same 5 stratified folds of three public credit tables; the peer is OptBinning's
    own ``Scorecard`` with default binning and a default logistic regression (what its
    tutorial runs), fitted on the raw frame."""
    from optbinning import BinningProcess, Scorecard
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedKFold

    from finml.data.reader import read_table
    from finml.models.features import fit_preprocessing, prepare_features

    frame = (
        german if name == "German Credit" else read_table((CREDIT / name).read_bytes(), name).frame
    )
    spec = table_spec(frame, "scorecard", target, positive, drop=drop)
    ds = spec.dataset
    y = (frame[target].astype(str) == positive).to_numpy().astype(int)
    X = prepare_features(frame, list(ds.numeric), list(ds.categorical))
    raw = X.copy()  # the peer reads the same typed columns
    ours, peer = [], []
    for tr, va in StratifiedKFold(5, shuffle=True, random_state=0).split(raw, y):
        _, x_tr, x_va = fit_preprocessing(
            X, ds.numeric, ds.categorical, spec.params, tr, va, model="scorecard"
        )
        model = ScorecardClassifier(names=(*ds.numeric, *ds.categorical), n_numeric=len(ds.numeric))
        ours.append(roc_auc_score(y[va], model.fit(x_tr, y[tr]).predict_proba(x_va)[:, 1]))
        plain = Scorecard(
            binning_process=BinningProcess(
                list(raw.columns), categorical_variables=list(ds.categorical)
            ),
            estimator=LogisticRegression(),
            scaling_method="pdo_odds",
            scaling_method_params={"pdo": 20, "odds": 50, "scorecard_points": 600},
        )
        plain.fit(raw.iloc[tr], y[tr])
        peer.append(roc_auc_score(y[va], plain.predict_proba(raw.iloc[va])[:, 1]))
    print(
        f"{name} 5-fold ROC-AUC: finml scorecard {np.mean(ours):.4f} ± {np.std(ours):.3f}, "
        f"OptBinning {np.mean(peer):.4f} ± {np.std(peer):.3f}"
    )
    assert abs(np.mean(ours) - np.mean(peer)) <= 0.01


def test_points_reproduce_by_hand_for_three_applicants(run, german):
    """For three test applicants: find each characteristic's bin in the stored table by
    hand (numeric cut points, category lists by name), add the points, and turn the score
    into a probability with the PDO formula."""
    spec, result = run
    model = result.model
    card = json.loads(json.dumps(model.estimator.to_dict()))
    encoder = model.preprocessor.named_transformers_["cat"]
    names = {
        c: list(cats) for c, cats in zip(spec.dataset.categorical, encoder.categories_, strict=True)
    }
    pdo, points0, odds0 = (card["params"][k] for k in ("pdo", "base_points", "base_odds"))
    factor = pdo / math.log(2)
    offset = points0 - factor * math.log(odds0)
    rows = result.test_predictions["row"].to_numpy()[:3]
    for row, score in zip(rows, result.test_predictions["score"].to_numpy()[:3], strict=True):
        applicant = german.iloc[row]
        total = 0
        for c in card["characteristics"]:
            value = applicant[c["name"]]
            if c["kind"] == "numeric":
                i = bisect_right(c["splits"], float(value))
            else:
                code = names[c["name"]].index(str(value))
                i = next(k for k, g in enumerate(c["groups"]) if code in g)
            total += c["points"][i] if c["selected"] else 0
        assert model.estimator.score(model.transform(german.iloc[[row]]))[0] == total
        assert score == pytest.approx(1 / (1 + math.exp((total - offset) / factor)), rel=1e-9)
    kept = [c for c in card["characteristics"] if c["selected"]]
    assert 5 <= len(kept) < len(card["characteristics"])  # the IV filter left some out
    assert all(c["reason"].startswith("IV") for c in card["characteristics"] if not c["selected"])


def test_a_scorecard_scores_within_002_of_the_one_hot_logistic_regression_on_its_split(run, german):
    """The baseline a credit modeller runs beside a scorecard: a logistic regression on
    one-hot categories, trained on the same split (seed 42)."""
    _, result = run
    baseline = train_spec(table_spec(german, "logreg", seed=42), german, ListSink(), explain=False)
    assert np.array_equal(baseline.split.test, result.split.test)
    gap = baseline.test_metrics["roc_auc"] - result.test_metrics["roc_auc"]
    assert gap < 0.02, (result.test_metrics["roc_auc"], baseline.test_metrics["roc_auc"])


def test_special_codes_missing_values_and_unseen_categories_have_bins_of_their_own():
    rng = np.random.default_rng(0)
    n = 4000
    income = rng.normal(50, 15, n)
    y = (rng.random(n) < 1 / (1 + np.exp((income - 50) / 10))).astype(int)
    income[:300] = -999.0  # no record: a riskier group
    y[:300] = (rng.random(300) < 0.6).astype(int)
    income[300:500] = np.nan
    grade = rng.integers(0, 4, n).astype(float)
    y = np.where(grade == 3, 1, y)
    X = np.column_stack([income, grade])
    model = ScorecardClassifier(names=("income", "grade"), n_numeric=1, special_codes=(-999.0,))
    model.fit(X, y)
    income_char = model.characteristics_[0]
    special, missing = income_char["n_regular"], income_char["n_regular"] + 1
    assert income_char["count"][special] == 300 and income_char["count"][missing] == 200
    assert all(s > -999 for s in income_char["splits"])  # -999 is not a cut point
    bins = model.bin_indices(np.array([[-999.0, 0.0], [np.nan, 7.0], [60.0, -1.0]]))
    assert bins[0, 0] == special and bins[1, 0] == missing
    assert bins[1, 1] == bins[2, 1] == -1  # a category never seen in training
    points = model.points(np.array([[60.0, 7.0]]))
    assert points[0, 1] == model.characteristics_[1]["unseen_points"]
    # the event rate of the special bin is learnt, not set to average
    assert income_char["event_rate"][special] == pytest.approx(y[:300].mean(), abs=1e-9)


def test_a_bundle_keeps_the_table_and_refuses_one_that_was_changed(run, german, tmp_path):
    _, result = run
    folder = save_bundle(tmp_path / "b", result.model)
    assert (folder / "scorecard.json").exists() and not (folder / "model.skops").exists()
    again = load_bundle(folder)
    rows = german.head(50)
    assert np.array_equal(
        again.estimator.score(again.transform(rows)),
        result.model.estimator.score(result.model.transform(rows)),
    )
    card = json.loads((folder / "scorecard.json").read_text())
    changes = {
        "points that do not follow from the coefficients": lambda c: c["characteristics"][0][
            "points"
        ].__setitem__(0, 999),
        "cut points out of order": lambda c: c["characteristics"][0]["splits"].reverse(),
        "an unknown field": lambda c: c["characteristics"][0].__setitem__("code", "import os"),
        "a non-finite WoE": lambda c: c["characteristics"][0]["woe"].__setitem__(0, float("inf")),
    }
    for what, change in changes.items():
        bad = json.loads(json.dumps(card))
        change(bad)
        (folder / "scorecard.json").write_text(json.dumps(bad))
        with pytest.raises(BundleError, match=r"scorecard\.json"):
            load_bundle(folder)
        print("refused:", what)


def test_no_characteristic_above_the_minimum_iv_is_a_clear_error(german):
    spec = table_spec(german, "scorecard", params={"min_iv": 0.9})
    with pytest.raises(SpecError, match="Lower the minimum IV"):
        train_spec(spec, german, ListSink(), explain=False)


def test_bad_special_codes_are_refused_on_the_form():
    from finml.models.registry import resolve_params

    assert resolve_params("scorecard", {"special_codes": "-999,-1"})["special_codes"] == "-999, -1"
    with pytest.raises(SpecError, match="comma-separated numbers"):
        resolve_params("scorecard", {"special_codes": "-999; none"})


def test_cross_validation_and_tuning_run_on_a_scorecard(german):
    spec = table_spec(german, "scorecard", cv_folds=3, tune_trials=3, seed=1)
    result = train_spec(spec, german, ListSink(), explain=False)
    assert len(result.cv.folds) == 3 and (result.cv.folds["roc_auc"] > 0.65).all()
    trials = result.tuning.trials
    assert trials["state"].tolist() == ["complete"] * 3
    assert trials["val_roc_auc"].between(0.65, 1).all()
    assert trials["min_bin_size"].between(0.02, 0.1).all() and trials["C"].nunique() == 3


def test_a_trend_per_characteristic_is_kept_and_one_of_a_categorical_column_refused(german):
    """The bad rate over duration_in_month's bins falls when asked to (OptBinning's
    "auto" would let it rise), credit_amount's rises; the other characteristics keep the
    form's trend; a trend for a categorical column is refused before training."""
    from finml.reporting.scorecard import bins_table
    from finml.tasks import get_task

    trends = "duration_in_month:descending, credit_amount:ascending"
    spec = table_spec(german, "scorecard", seed=42, params={"trends": trends})
    model = train_spec(spec, german, ListSink(), explain=False).model
    for name, sign in (("duration_in_month", -1), ("credit_amount", 1)):
        table = bins_table(model, name)
        rates = table["event rate"].to_numpy()[
            : model.estimator.characteristics_[list(model.estimator.names).index(name)]["n_regular"]
        ]
        assert (sign * np.diff(rates) >= -1e-12).all(), (name, rates)
    assert model.estimator.monotonic_trend["age_in_years"] == "auto"  # the form's trend
    bad = table_spec(german, "scorecard", params={"trends": "purpose:ascending"})
    with pytest.raises(SpecError, match="Trends on 'purpose'"):
        get_task("binary").check_spec(bad)


def test_characteristics_left_out_are_binned_but_not_regressed_and_checked(run, german):
    """The analyst's own selection: a characteristic left out keeps its bins and IV but
    gets no points; an unknown name is refused before training and in a stored table."""
    from finml.tasks import get_task

    spec = table_spec(german, "scorecard", seed=42, params={"excluded": "duration_in_month"})
    card = train_spec(spec, german, ListSink(), explain=False).model.estimator
    c = card.characteristics_[list(card.names).index("duration_in_month")]
    assert not c["selected"] and c["reason"] == "left out by the analyst"
    assert c["total_iv"] > 0.3 and set(c["points"]) == {0}
    _, result = run  # the same split without it: the top characteristic was in the model
    plain = result.model.estimator
    assert plain.characteristics_[list(plain.names).index("duration_in_month")]["selected"]
    bad = table_spec(german, "scorecard", params={"excluded": "no_such_column"})
    with pytest.raises(SpecError, match="not features of this dataset"):
        get_task("binary").check_spec(bad)
    stored = json.loads(json.dumps(card.to_dict()))
    stored["params"]["excluded"] = ["no_such_column"]
    with pytest.raises(BundleError, match="params"):
        ScorecardClassifier.from_dict(stored)
