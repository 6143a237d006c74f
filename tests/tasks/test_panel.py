"""Forecasting a panel (several series, an entity column) and with exogenous columns, on
the statsmodels US macro data, trained for real: the panel checks with real bad files, the
windows by hand, one global model in each entity's own units, MASE per entity averaged,
no look-ahead through an exogenous column, and bundles and Predict for panels."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from finml.data import reader
from finml.data.demo import macro_frame, macro_panel_frame
from finml.data.series import SeriesSpec, load_series, naive_scales, windows
from finml.errors import BundleError, DataError, SplitError
from finml.evaluation.forecast import by_entity
from finml.fitters.base import ListSink
from finml.tasks.forecast import run_forecast
from tests.conftest import forecast_spec


def _read(frame: pd.DataFrame) -> pd.DataFrame:
    return reader.read_table(frame.to_csv(index=False).encode(), "data.csv").frame


@pytest.fixture(scope="module")
def panel():
    return _read(macro_panel_frame())


@pytest.fixture(scope="module")
def macro():
    return _read(macro_frame())


def panel_spec(model="ridge_lags", entity="series", target="value", exog=(), **params):
    return forecast_spec(model, 1, target, entity, exog, **params)


def _panel_csv(text: str) -> pd.DataFrame:
    return reader.read_table(text.encode(), "panel.csv").frame


MONTHS = [f"{2001 + i // 12}-{i % 12 + 1:02d}-01" for i in range(36)]


@pytest.mark.parametrize(
    ("rows", "exog", "error", "phrase"),
    [
        (
            [f"a,{d},{i}" for i, d in enumerate(MONTHS)]
            + [f"b,{d},{i}" for i, d in enumerate(MONTHS)]
            + ["b,2001-03-01,7"],
            (),
            SplitError,
            "1 duplicate dates within entity 'b' (first 2001-03-01",
        ),
        (
            [f"a,{d},{i}" for i, d in enumerate(MONTHS)]
            + [f"b,{d},{i}" for i, d in enumerate(MONTHS) if i not in (4, 5)],
            (),
            SplitError,
            "Entity 'b' (column 'shop') has no row for 2 date(s) that other entities have "
            "(2001-05-01, 2001-06-01)",
        ),
        (
            [f"a,{d},{i}" for i, d in enumerate(MONTHS)] + [f",{MONTHS[0]},3"],
            (),
            SplitError,
            "The entity column 'shop' is empty on 1 rows (first at data row 37)",
        ),
        (
            [f"a,{d},{i}" for i, d in enumerate(MONTHS)],
            ("price",),
            DataError,
            "The exogenous column 'price' is not in the data",
        ),
        (
            [f"a,{d},{i}" for i, d in enumerate(MONTHS)],
            ("sales",),
            DataError,
            "The exogenous column 'sales' is the target itself",
        ),
    ],
    ids=["duplicate within entity", "unbalanced", "no entity", "no exog", "exog is target"],
)
def test_bad_panels_are_refused_with_what_where_and_how(rows, exog, error, phrase):
    frame = _panel_csv("shop,date,sales\n" + "\n".join(rows) + "\n")
    with pytest.raises(error, match=None) as caught:
        load_series(frame, SeriesSpec("date", "sales", 1, 1, 0, "shop", exog))
    assert phrase in str(caught.value)


def test_a_text_cell_in_an_exogenous_column_is_named():
    rows = [f"{d},{i},{'n/a' if i == 6 else i * 2}" for i, d in enumerate(MONTHS)]
    frame = _panel_csv("date,sales,price\n" + "\n".join(rows) + "\n")
    with pytest.raises(DataError, match=r"'price' is not a finite number on 1 rows"):
        load_series(frame, SeriesSpec("date", "sales", 1, 1, 0, "", ("price",)))


def test_a_panel_is_read_entity_by_entity_in_date_order(panel):
    shuffled = panel.sample(frac=1.0, random_state=0)
    series = load_series(shuffled, SeriesSpec("date", "value", 1, 4, 0, "series"))
    assert series.entities == ("realcons", "realdpi", "realgdp", "realgovt", "realinv")
    assert series.values.shape == (5, 203) and series.freq.startswith("QS")
    wide = macro_frame()
    np.testing.assert_allclose(series.values[2], wide["realgdp"].to_numpy())
    with pytest.raises(ValueError, match="one series per entity"):
        _ = series.y


def test_windows_by_hand_with_scales_exogenous_and_rolling():
    y = np.array([[1.0, 2, 4, 7, 11, 16], [10, 20, 40, 70, 110, 160]])
    ex = np.arange(12, dtype=float).reshape(2, 6, 1) ** 2
    x, t = windows(y, np.array([3]), 2, 2, scales=[1.0, 10.0], exog=ex, rolling=True)
    # entity 0: changes 2, 3 of y; changes of the exogenous column 4, 5 (its squares)
    np.testing.assert_allclose(x[0], [2, 4 - 1, 3, 9 - 4, 2.5, 0.5])
    np.testing.assert_allclose(t[0], [4, 9])
    # entity 1 is entity 0 times 10: the same scaled changes and targets
    np.testing.assert_allclose(x[1, [0, 2, 4, 5]], x[0, [0, 2, 4, 5]])
    np.testing.assert_allclose(t[1], t[0])
    np.testing.assert_allclose(naive_scales(y, 4), [2.0, 20.0])


def test_one_global_model_beats_naive_in_every_entity(panel):
    result = run_forecast(panel_spec(), panel, ListSink())
    test = result.test_predictions
    table = by_entity(test)
    assert len(table) == 5 and (table["forecasts"] == 30).all()
    assert (table["mase"] < table["naive_mase"]).all(), table
    # the run's MASE is the mean of the entities' MASEs (Hyndman's panel MASE)
    assert result.test_metrics["mase"] == pytest.approx(table["mase"].mean())
    # each entity's scale is its own training naive MAE: intervals widen with the series
    scales = dict(zip(result.model.entities, result.model.entity_scales, strict=True))
    assert scales["realgdp"] > 5 * scales["realgovt"]
    q = result.model.intervals["0.9"][0] * test["interval_unit"]
    inside = ((test["y_true"] - test["y_pred"]).abs() <= q).groupby(test["entity"]).mean()
    assert inside.mean() >= 0.6, inside


def test_an_entity_in_other_units_gets_the_same_forecast_in_its_units(panel):
    """Multiply one entity by 1,000: the global model is unchanged and that entity's
    forecasts are 1,000 times larger, the others' identical (each entity in its own units)."""
    spec = panel_spec()
    first = run_forecast(spec, panel, ListSink())
    bigger = panel.copy()
    rows = bigger["series"] == "realgovt"
    bigger.loc[rows, "value"] *= 1000
    second = run_forecast(spec, bigger, ListSink())
    np.testing.assert_allclose(first.model.estimator.coef_, second.model.estimator.coef_)
    a, b = first.test_predictions, second.test_predictions
    govt = a["entity"] == "realgovt"
    np.testing.assert_allclose(b.loc[govt, "y_pred"], 1000 * a.loc[govt, "y_pred"], rtol=1e-9)
    np.testing.assert_allclose(b.loc[~govt, "y_pred"], a.loc[~govt, "y_pred"], rtol=1e-9)


def test_no_test_period_exogenous_value_reaches_training(macro):
    spec = panel_spec("ridge_lags", entity="", target="realcons", exog=("realdpi", "tbilrate"))
    first = run_forecast(spec, macro, ListSink())
    assert first.model.n_inputs == 8 * 3 + 2 and first.model.exog == ["realdpi", "tbilrate"]
    test_start = first.split.test[0]
    changed = macro.copy()
    changed.loc[changed.index[test_start:], ["realdpi", "tbilrate"]] = 1e9
    second = run_forecast(spec, changed, ListSink())
    np.testing.assert_array_equal(first.model.estimator.coef_, second.model.estimator.coef_)
    pd.testing.assert_frame_equal(first.val_predictions, second.val_predictions)
    assert not first.test_predictions["y_pred"].equals(second.test_predictions["y_pred"])


def test_a_panel_bundle_round_trips_and_extends_each_entity(panel, tmp_path):
    import json

    from finml.models.bundle import load_bundle, save_bundle
    from finml.prediction.forecast import extend_series

    spec = panel_spec("hgb_lags", exog=())
    result = run_forecast(spec, panel, ListSink())
    loaded = load_bundle(save_bundle(tmp_path / "b", result.model))
    assert loaded.entities == result.model.entities and loaded.rolling is True
    # the global boosting reads the entity's code as a categorical input, the windows' last
    assert loaded.entity_feature is True and loaded.n_inputs == 8 + 2 + 1
    assert all(list(est.is_categorical_).index(True) == 8 + 2 for est in loaded.estimator)
    assert (loaded.x_mean[-1], loaded.x_scale[-1]) == (0.0, 1.0)  # a code stays a code
    # one history, one scale: the forecast still depends on the entity it is said to be
    y = panel[panel["series"] == "realgdp"]["value"].to_numpy()[:120]
    twice = loaded.window_forecasts(
        np.vstack([y, y, y]), np.array([119]), None, [1.0] * 3, entities=["realgdp", "realinv", "x"]
    )
    assert not np.allclose(twice[0], twice[1]) and np.isfinite(twice[2]).all()
    codes = loaded.inputs(
        np.vstack([y, y]), np.array([119]), scales=[1.0, 1.0], entities=["realinv", "x"]
    )[0][:, -1]
    assert list(codes) == [float(loaded.entities.index("realinv")), -1.0]
    history = panel[pd.to_datetime(panel["date"]) < "1990-01-01"]
    forecasts, past = extend_series(loaded, history, "date", "value", 0.9, "series")
    assert len(forecasts) == 5 and set(forecasts["entity"]) == set(result.model.entities)
    assert (
        len(past) == len(history) and past.groupby("entity")["date"].is_monotonic_increasing.all()
    )
    assert str(forecasts["date"].iloc[0])[:10] == "1990-01-01"
    gdp = forecasts[forecasts["entity"] == "realgdp"]
    govt = forecasts[forecasts["entity"] == "realgovt"]
    width = (gdp["upper"] - gdp["lower"]).iloc[0] / (govt["upper"] - govt["lower"]).iloc[0]
    # each entity's band is in units of its own last 8 changes (two seasons of quarters)
    last = {
        e: np.abs(np.diff(g.sort_values("date")["value"].to_numpy()[-9:])).mean()
        for e, g in history.groupby("series")
    }
    assert width == pytest.approx(last["realgdp"] / last["realgovt"])
    # an entity it was not trained on is forecast in units of its own history's changes
    other = history.assign(series=history["series"].str.replace("realinv", "exports"))
    forecasts, _ = extend_series(loaded, other, "date", "value", 0.9, "series")
    assert "exports" in set(forecasts["entity"]) and forecasts["y_pred"].notna().all()
    # a tampered scale is refused before anything is unpickled
    meta = json.loads((tmp_path / "b" / "meta.json").read_text())
    meta["forecaster"]["entity_feature"] = "yes"
    (tmp_path / "b" / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(BundleError, match="entity_feature and seasonal_difference true or false"):
        load_bundle(tmp_path / "b")
    meta["forecaster"]["entity_feature"] = True
    meta["forecaster"]["entity_scales"][0] = -1.0
    (tmp_path / "b" / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(BundleError, match="one scale > 0 per entity"):
        load_bundle(tmp_path / "b")
    # so is an interval window that is not a whole number from 0 to 10,000
    for bad in (True, -1, 2.5, "8", 10_001):
        meta["forecaster"]["entity_scales"][0] = 1.0
        meta["forecaster"]["interval_window"] = bad
        (tmp_path / "b" / "meta.json").write_text(json.dumps(meta))
        with pytest.raises(BundleError, match="interval window"):
            load_bundle(tmp_path / "b")


def test_the_entity_feature_is_for_panels_of_up_to_255_entities():
    from types import SimpleNamespace

    from finml.tasks.forecast import entity_code_note, entity_feature

    on = {"entity_feature": True}
    assert entity_feature(on, SimpleNamespace(entities=tuple("ab")))
    assert not entity_feature(on, SimpleNamespace(entities=("",)))  # one series
    assert entity_feature(on, SimpleNamespace(entities=tuple(map(str, range(255)))))
    assert not entity_feature(on, SimpleNamespace(entities=tuple(map(str, range(256)))))
    assert not entity_feature({}, SimpleNamespace(entities=tuple("ab")))
    # not silently: Evaluate says the larger panel's model went without, and how to get it
    assert entity_code_note(True, 256).startswith("Entity as a feature was asked for")
    assert "256 entities" in entity_code_note(True, 256) and "groups of at most 255" in (
        entity_code_note(True, 256)
    )
    assert entity_code_note(True, 255) == entity_code_note(False, 300) == ""
