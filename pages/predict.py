"""Predict page: score new images (PNG, JPEG, DICOM) with a trained image model; predicted
class, probabilities and a Grad-CAM overlay per image; download the table as CSV."""

import streamlit as st

from finml import jobs
from finml.errors import FinmlError
from finml.explain import grad_cam, overlay
from finml.export import to_csv_bytes
from finml.predict import load_run_bundle, predict_image_files
from finml.store import EVALUABLE, RunStore

st.title("Predict")
store = RunStore()
runs = [
    r
    for r in jobs.list_runs(store)
    if r.status in EVALUABLE and r.params.get("task") == "images" and "test_roc_auc" in r.metrics
]
if not runs:
    st.info("No trained image model yet. Train one on image data first.")
    st.page_link("pages/data.py", label="Go to Data", icon=":material/table_view:")
    st.stop()
labels_by_id = {r.run_id: r.label for r in runs}
run_id = st.selectbox("Model (run)", list(labels_by_id), format_func=labels_by_id.get, key="run")
files = st.file_uploader(
    "Images to score", type=["png", "jpg", "jpeg", "dcm"], accept_multiple_files=True, key="files"
)
if not files:
    st.stop()

bundles = st.session_state.setdefault("loaded_bundles", {})
try:
    if run_id not in bundles:
        with st.spinner("Loading the model..."):
            bundles[run_id] = load_run_bundle(store, run_id)
except FinmlError as exc:
    st.error(str(exc), icon=":material/error:")
    st.stop()
bundle = bundles[run_id]
table, batch, skipped = predict_image_files(bundle, [(f.name, f.getvalue()) for f in files])
for name, why in skipped:
    st.warning(f"{name}: {why}")
if table.empty:
    st.stop()
st.dataframe(table, hide_index=True, width="stretch")
st.download_button("Download as CSV", to_csv_bytes(table), "predictions.csv", "text/csv")
classes = bundle.meta["classes"]
for i, row in table.iterrows():
    heat, k = grad_cam(bundle.model, batch[i])
    c1, c2 = st.columns(2)
    c1.image(
        batch[i],
        caption=f"{row['file']}: {row['predicted class']} ({row['probability']:.2f})",
        width=224,
    )
    c2.image(overlay(batch[i], heat), caption=f"Grad-CAM for {classes[k]}", width=224)
