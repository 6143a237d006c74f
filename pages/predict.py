"""Predict page: score new applicants (a table) or new images with a trained model.

Tables: the same reader and checks as the Data page, a schema check against the training
data, scores, the decision at the run's saved threshold, SHAP reasons, PSI per feature and
for the score. Images: predicted class, probabilities and a Grad-CAM overlay per image.
Downloads are CSV with spreadsheet formulas neutralised, and the overlays as PNG."""

import hashlib
import io
import zipfile

import streamlit as st

from finml.config import get_settings
from finml.data.reader import read_table
from finml.errors import FinmlError
from finml.evaluation.drift import psi_table
from finml.prediction.images import predict_image_files
from finml.prediction.tables import classify_rows, predict_rows, score_rows
from finml.reporting.domains import domain_of
from finml.reporting.exports import png_bytes, to_csv_bytes
from pages import common


def uploaded_rows():
    """The uploaded table of new rows, read with the Data page's reader and limits (stops
    the script until there is one, or with the reader's message)."""
    up = st.file_uploader(
        "New rows (CSV, Excel or Parquet)",
        type=["csv", "txt", "tsv", "xlsx", "parquet"],
        key="rows",
    )
    if up is None:
        st.stop()
    try:
        frame = read_table(up.getvalue(), up.name, **get_settings().read_limits()).frame
    except FinmlError as exc:
        common.show_error(exc)
        st.stop()
    scored_once(up.file_id, [up.getvalue()], rows=len(frame))
    return frame


def csv_download(run, table, file_name: str) -> None:
    """The "Download as CSV" button of a results table (spreadsheet formulas neutralised,
    the download recorded in the audit trail)."""
    common.download(
        st, "Download as CSV", to_csv_bytes(table), file_name, "text/csv", "csv", run.run_id
    )


def scored_once(file_key, contents: list[bytes], **shape) -> None:
    """Record in the audit trail, once per upload and model, that this user scored it
    (the files' hash and the shape, never their content)."""
    key = (st.session_state.get("predict_run"), str(file_key))
    done = st.session_state.setdefault("_scored", set())
    if key in done:
        return
    digest = hashlib.sha256()
    for content in contents:
        digest.update(hashlib.sha256(content).digest())
    common.record("score", key[0] or "", sha256=digest.hexdigest(), **shape)
    done.add(key)


def interval_level(model) -> str:
    """The interval level to show (a slider over the levels the model carries, 90% when it
    has one); stops the page with a message if the model carries none."""
    levels = sorted(model.intervals or {}, key=float)
    if not levels:
        common.show_error("This model carries no prediction intervals; train it again.")
        st.stop()
    return st.select_slider(
        "Prediction interval (split-conformal, calibrated on the validation split)",
        levels,
        value="0.9" if "0.9" in levels else levels[-1],
        format_func=lambda v: f"{float(v):.0%}",
        key="interval_level",
    )


def predict_values(run, model):
    """Predict a numeric target for uploaded rows, with prediction intervals."""
    level = interval_level(model)
    frame = uploaded_rows()
    try:
        predicted, messages = predict_rows(model, frame, float(level))
    except FinmlError as exc:
        common.show_error(exc)
        st.stop()
    for message in messages:
        common.show_warning(message)
    c1, c2 = st.columns(2)
    c1.metric("Rows predicted", f"{len(predicted):,}")
    c2.metric("Rows with data issues", f"{int((predicted['issues'] != '').sum()):,}")
    st.dataframe(predicted, hide_index=True, width="stretch")
    csv_download(run, predicted, "predictions.csv")
    st.subheader("Population stability (PSI) against the training split")
    values = predicted["prediction"].to_numpy()
    st.dataframe(psi_table(model.profile, frame, values), hide_index=True)
    st.caption(
        f"'score' is the prediction of {common.text(run.params.get('target', 'the target'))}. "
        "Bands: < 0.1 stable, 0.1 to 0.25 moderate shift, > 0.25 major shift."
    )


def predict_forecast(run, model):
    """Extend an uploaded history h periods with the run's forecaster."""
    from finml.reporting.regression_charts import forecast_chart
    from pages import forecast_view

    date_col, target = run.params.get("time_col", ""), run.params.get("target", "")
    entity_col = run.params.get("entity_col", "")
    needs = [f"its date column {date_col!r}"]
    if entity_col:
        needs.append(f"the entity column {entity_col!r} (one series per entity)")
    if model.exog:
        needs.append(f"the exogenous columns {', '.join(map(repr, model.exog))}")
    st.caption(
        f"Upload the history of {common.text(repr(target))} with "
        f"{common.text('; '.join(needs))}, one row per period; the model forecasts the next "
        f"{model.horizon} period(s)."
    )
    level = interval_level(model)
    forecasts, history = forecast_view.extended_upload(run, model, float(level), scored_once)
    shown, past, of = forecasts, history, ""
    if entity_col:
        names = sorted(forecasts["entity"].unique())
        entity = st.selectbox("Entity shown", names, key="predict_entity")
        shown = forecasts[forecasts["entity"] == entity]
        past, of = history[history["entity"] == entity], f" ({entity})"
    title = f"{target}{of}: history and the next {model.horizon} period(s)"
    st.plotly_chart(forecast_chart(past["date"], past["y"], shown, title), width="stretch")
    st.dataframe(forecasts, hide_index=True, width="stretch")
    csv_download(run, forecasts, "forecast.csv")


def predict_classes(run, model):
    """Classify uploaded rows with a multi-class model."""
    frame = uploaded_rows()
    try:
        classified, messages = classify_rows(model, frame)
    except FinmlError as exc:
        common.show_error(exc)
        st.stop()
    for message in messages:
        common.show_warning(message)
    st.dataframe(classified, hide_index=True, width="stretch")
    csv_download(run, classified, "classes.csv")
    st.subheader("Population stability (PSI) against the training split")
    top = classified["probability"].to_numpy()
    st.dataframe(psi_table(model.profile, frame, top), hide_index=True)
    st.caption("'score' is the probability of the predicted class.")


def predict_table(run, model):
    """Score uploaded rows."""
    domain = domain_of(run.params)
    threshold = run.threshold if run.threshold is not None else 0.5
    how = "saved with the run" if run.threshold is not None else "default; save one on Evaluate"
    st.caption(
        f"Decision threshold {threshold:.3f} ({how}): score >= threshold is "
        f"{domain.positive_action}."
    )
    frame = uploaded_rows()
    try:
        outcome = "the risk" if domain.name == "credit" else "the score"
        with st.spinner("Scoring and explaining (SHAP)..."):
            scored, messages = score_rows(model, frame, threshold, outcome)
    except FinmlError as exc:
        common.show_error(exc)
        st.stop()
    for message in messages:
        common.show_warning(message)
    flagged = int((scored["issues"] != "").sum())
    c1, c2, c3 = st.columns(3)
    c1.metric("Rows scored", f"{len(scored):,}")
    c2.metric("Refused", f"{int((scored['decision'] == 'refuse').sum()):,}")
    c3.metric("Rows with data issues", f"{flagged:,}")
    st.dataframe(scored, hide_index=True, width="stretch")
    csv_download(run, scored, "scores.csv")
    st.subheader("Population stability (PSI) against the training split")
    st.dataframe(psi_table(model.profile, frame, scored["score"].to_numpy()), hide_index=True)
    st.caption(
        "Bands: < 0.1 stable, 0.1 to 0.25 moderate shift, > 0.25 major shift. Reasons: the "
        "features whose SHAP values raised the log-odds most for that row (up to four), "
        "against a summary of the training data."
    )


def predict_images(run, model):
    """Score uploaded images, with a Grad-CAM overlay of each (cached per image)."""
    from finml.evaluation.explain import grad_cam, overlay

    files = st.file_uploader(
        "Images to score",
        type=["png", "jpg", "jpeg", "dcm"],
        accept_multiple_files=True,
        key="files",
    )
    if not files:
        st.stop()
    contents = [f.getvalue() for f in files]
    table, batch, skipped = predict_image_files(
        model, [(f.name, c) for f, c in zip(files, contents, strict=True)]
    )
    scored_once(tuple(f.file_id for f in files), contents, images=len(table))
    for name, why in skipped:
        common.show_warning(f"{name}: {why}")
    if table.empty:
        st.stop()
    st.dataframe(table, hide_index=True, width="stretch")
    csv_download(run, table, "predictions.csv")
    classes = list(model.class_names)
    bar, update = common.progress_callback("Grad-CAM")
    overlays = []
    for i in range(len(table)):
        update(i, len(table))
        digest = hashlib.sha256(batch[i].tobytes()).hexdigest()
        heat, k = common.memo(
            (run.run_id, "gradcam", digest), lambda i=i: grad_cam(model.estimator, batch[i])
        )
        overlays.append((overlay(batch[i], heat), classes[k]))
    bar.empty()
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zf:
        for i, (blended, _) in enumerate(overlays):
            zf.writestr(f"grad-cam-{i + 1:03d}.png", png_bytes(blended))
    common.download(
        st,
        "Download the Grad-CAM overlays (ZIP of PNG)",
        archive.getvalue(),
        "grad-cam.zip",
        "application/zip",
        "gradcam_zip",
        run.run_id,
    )
    for i, row in table.iterrows():
        c1, c2 = st.columns(2)
        title = f"{row['file']}: {row['predicted class']} ({row['probability']:.2f})"
        c1.image(batch[i], caption=common.text(title), width=224)
        c2.image(overlays[i][0], caption=common.text(f"Grad-CAM for {overlays[i][1]}"), width=224)


st.title("Predict")
runs = common.runs_with_results(
    "No trained model yet. Train one first.", "pages/data.py", "Go to Data"
)
run = common.pick_run(runs, "Model (run)", key="predict_run")
try:
    with st.spinner("Loading the model..."):
        model = common.fitted_model(common.data_dir(), run.run_id)
except FinmlError as exc:
    common.show_error(exc)
    st.stop()
if run.params.get("task") == "forecast":
    predict_forecast(run, model)
elif model.is_image_model:
    predict_images(run, model)
elif run.params.get("task") == "regression":
    predict_values(run, model)
elif run.params.get("task") == "multiclass":
    predict_classes(run, model)
else:
    predict_table(run, model)
