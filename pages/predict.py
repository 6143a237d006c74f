"""Predict page: score new applicants (a table) or new images with a trained model.

Tables: the same reader and checks as the Data page, a schema check against the training
data, scores, the decision at the run's saved threshold, reason codes, PSI per feature and
for the score. Images: predicted class, probabilities and a Grad-CAM overlay. Both download
as CSV with spreadsheet formulas neutralised."""

import streamlit as st

from finml.config import get_settings
from finml.data.tabular import read_table
from finml.errors import FinmlError
from finml.explain import grad_cam, overlay
from finml.export import to_csv_bytes
from finml.predict import load_run_bundle, predict_image_files
from finml.scoring import psi_table, score_rows
from finml.store import RunStore
from pages.common import runs_with_results


def bundle_of(run_id):
    """The run's bundle, loaded once per session."""
    bundles = st.session_state.setdefault("loaded_bundles", {})
    if run_id not in bundles:
        with st.spinner("Loading the model..."):
            bundles[run_id] = load_run_bundle(store, run_id)
    return bundles[run_id]


def predict_table(run, bundle):
    """Score uploaded rows."""
    threshold = run.threshold if run.threshold is not None else 0.5
    how = "saved with the run" if run.threshold is not None else "default; save one on Evaluate"
    st.caption(f"Decision threshold {threshold:.3f} ({how}): score >= threshold is refused.")
    up = st.file_uploader(
        "New rows (CSV, Excel or Parquet)",
        type=["csv", "txt", "tsv", "xlsx", "parquet"],
        key="rows",
    )
    if up is None:
        st.stop()
    settings = get_settings()
    try:
        frame = read_table(
            up.getvalue(), up.name, max_bytes=settings.max_upload_bytes, max_rows=settings.max_rows
        ).frame
        scored, messages = score_rows(bundle, frame, threshold)
    except FinmlError as exc:
        st.error(str(exc), icon=":material/error:")
        st.stop()
    for message in messages:
        st.warning(message)
    flagged = int((scored["issues"] != "").sum())
    c1, c2, c3 = st.columns(3)
    c1.metric("Rows scored", f"{len(scored):,}")
    c2.metric("Refused", f"{int((scored['decision'] == 'refuse').sum()):,}")
    c3.metric("Rows with data issues", f"{flagged:,}")
    st.dataframe(scored, hide_index=True, width="stretch")
    st.download_button("Download as CSV", to_csv_bytes(scored), "scores.csv", "text/csv")
    st.subheader("Population stability (PSI) against the training split")
    st.dataframe(psi_table(bundle.meta, frame, scored["score"].to_numpy()), hide_index=True)
    st.caption(
        "Bands: < 0.1 stable, 0.1 to 0.25 moderate shift, > 0.25 major shift. Reason "
        "codes are an approximation: the score change when a feature alone is set to its "
        "typical training value."
    )


def predict_images(bundle):
    """Score uploaded images with Grad-CAM."""
    files = st.file_uploader(
        "Images to score",
        type=["png", "jpg", "jpeg", "dcm"],
        accept_multiple_files=True,
        key="files",
    )
    if not files:
        st.stop()
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
        title = f"{row['file']}: {row['predicted class']} ({row['probability']:.2f})"
        c1.image(batch[i], caption=title, width=224)
        c2.image(overlay(batch[i], heat), caption=f"Grad-CAM for {classes[k]}", width=224)


st.title("Predict")
store = RunStore()
runs = runs_with_results(
    store, "No trained model yet. Train one first.", "pages/data.py", "Go to Data"
)
labels_by_id = {r.run_id: r.label for r in runs}
run_id = st.selectbox("Model (run)", list(labels_by_id), format_func=labels_by_id.get, key="run")
run = next(r for r in runs if r.run_id == run_id)
try:
    bundle = bundle_of(run_id)
except FinmlError as exc:
    st.error(str(exc), icon=":material/error:")
    st.stop()
if bundle.meta.get("task") == "images":
    predict_images(bundle)
else:
    predict_table(run, bundle)
