"""Predict page: score new rows, series or images with a trained model. The run's task
chooses the view (:mod:`pages.views`): tables get the same reader and checks as the Data
page, a schema check against the training data, scores and decisions at the run's saved
threshold (classes and probabilities; values with intervals), SHAP reasons and PSI per
feature and for the score; forecasts extend an uploaded history; images get the predicted
class, probabilities and a Grad-CAM overlay each. Downloads are CSV with spreadsheet
formulas neutralised, and the overlays as PNG."""

import streamlit as st

from pages import common
from pages.views import view_of

st.title("Predict")
runs = common.runs_with_results(
    "No trained model yet. Train one first.", "pages/data.py", "Go to Data"
)
run = common.pick_run(runs, "Model (run)", key="predict_run")
with st.spinner("Loading the model..."):
    model = common.or_stop(common.fitted_model, common.data_dir(), run.run_id)
view_of(run).predict(run, model)
