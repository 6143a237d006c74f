"""AppTest of exogenous columns known in advance: chosen on the Data page among the
exogenous ones, said on Train, and Predict reading the planned rows after the uploaded
history (or saying what to add when they are missing)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd

from finml.data.staging import stage_frame
from tests.app.conftest import open_app, shown
from tests.app.test_forecast_pages import upload_as_forecast
from tests.conftest import forecast_spec, train_and_log, wine_promotions


def test_the_data_page_marks_a_column_known_in_advance():
    at = upload_as_forecast(wine_promotions(), "sales")
    assert at.multiselect(key="series_known").disabled  # no exogenous column yet
    at.multiselect(key="series_exog").set_value(["promo"]).run()
    at.multiselect(key="series_known").set_value(["promo"]).run()
    at.multiselect(key="series_exog").set_value([]).run()  # dropped: no longer known either
    assert not at.exception and at.multiselect(key="series_known").value == []
    at.multiselect(key="series_exog").set_value(["promo"]).run()
    at.multiselect(key="series_known").set_value(["promo"]).run()
    at.button(key="use_dataset").click().run()
    assert not at.exception, at.exception
    ds = at.session_state["dataset"]
    assert (ds.exog, ds.known) == (("promo",), ("promo",))
    assert any("with promo (promo known in advance)" in shown(s) for s in at.success)
    at.switch_page("pages/train.py").run()
    assert any("planned changes of 'promo' ahead" in shown(c) for c in at.caption)


def test_predict_reads_the_plan_after_the_history_or_asks_for_it():
    frame = wine_promotions()
    spec = forecast_spec("ridge_lags", 3, "sales", exog=("promo",), known=("promo",))
    staged = replace(spec.dataset, dataset_id=stage_frame(frame), name="wine")
    train_and_log(replace(spec, dataset=staged), "ridge · sales")
    evaluate = open_app("evaluate")  # the run's leaderboard and charts open
    assert not evaluate.exception and evaluate.dataframe, evaluate.exception
    at = open_app("predict")
    assert any("'promo' filled in: the model reads them" in shown(c) for c in at.caption)
    plan = frame.iloc[150:153].assign(sales=np.nan)
    data = pd.concat([frame.iloc[:150], plan]).to_csv(index=False).encode()
    at.file_uploader(key="rows").set_value(("plan.csv", data, "text/csv")).run()
    assert not at.exception and not at.error, (at.exception, at.error)
    out = at.dataframe[0].value
    assert out["step"].tolist() == [1, 2, 3] and np.isfinite(out["forecast"]).all()
    history = frame.iloc[:150].to_csv(index=False).encode()
    at.file_uploader(key="rows").set_value(("history.csv", history, "text/csv")).run()
    assert not at.exception, at.exception
    assert "add a row for each of them after the history" in shown(at.error[0])
