"""Data page: pick the demo or upload a table; validation report; target, features, split."""

import hashlib

import streamlit as st

from finml.config import get_settings
from finml.data import demo, reader, schema, target
from finml.data.spec import DatasetSpec
from finml.data.split import (
    SplitSpec,
    class_report,
    make_split,
    regression_split_report,
    split_report,
    split_warnings,
)
from finml.data.staging import save_dataset_spec, stage_frame
from finml.errors import FinmlError
from finml.reporting import regression_charts
from finml.training import jobs
from pages.common import (
    dataset_ready,
    principal,
    record,
    show_error,
    show_info,
    show_warning,
    text,
)


@st.cache_data(scope="session", max_entries=8, show_spinner="Screening for leakage...")
def leakage(key, _frame, _schema, target_col: str, positive: str):
    """Single-column leakage screening, once per (table, target, positive class)."""
    return target.leakage_warnings(_frame, _schema, target_col, positive)


st.title("Data")
settings = get_settings()
task = st.radio(
    "Data type", ["Table (credit risk)", "Images (medical)"], horizontal=True, key="task"
)
if task.startswith("Images"):
    from pages import image_data_view

    image_data_view.render()
    st.stop()

source = st.radio("Source", ["Built-in demo", "Upload a file"], horizontal=True, key="source")
if source == "Built-in demo":
    name = st.selectbox("Demo dataset", demo.demo_names())
    filename, demo_target, about = demo.demo_about(name)
    st.caption(about)
    key, raw = ("demo", name), None
    encoding = delimiter = None
else:
    upload = st.file_uploader(
        "CSV, Excel (.xlsx) or Parquet", type=["csv", "txt", "tsv", "xlsx", "parquet"]
    )
    with st.expander("Reading options"):
        enc_choice = st.selectbox("Encoding", ["detect", *reader.ENCODINGS])
        delim_labels = {
            "detect": None,
            ", comma": ",",
            "; semicolon": ";",
            "tab": "\t",
            "| pipe": "|",
        }
        delim_choice = st.selectbox("Delimiter", list(delim_labels))
    if upload is None:
        st.info("Upload a table with one row per applicant and a target column.")
        st.stop()
    encoding = None if enc_choice == "detect" else enc_choice
    delimiter = delim_labels[delim_choice]
    key, raw, filename = (upload.file_id, encoding, delimiter), upload, upload.name
    demo_target = None

if st.session_state.get("table_key") != key:
    try:
        data = demo.demo_bytes(key[1]) if raw is None else raw.getvalue()
        table = reader.read_table(
            data,
            filename,
            encoding=encoding,
            delimiter=delimiter,
            **settings.read_limits(),
        )
    except FinmlError as exc:
        st.session_state.pop("table_key", None)
        show_error(exc)
        st.stop()
    st.session_state.table_key, st.session_state.table = key, table
    if raw is not None:  # who uploaded what: the file's hash and shape, never its content
        rows, columns = table.frame.shape
        digest = hashlib.sha256(data).hexdigest()
        record("upload", sha256=digest, bytes=len(data), rows=rows, columns=columns)
    st.session_state.pop("target", None)  # a new table: its own likely target first
    st.session_state.pop("task_for", None)
    st.session_state.table_name = key[1] if raw is None else filename
table = st.session_state.table
frame, table_schema = table.frame, table.schema

st.subheader("Validation report")
cols = st.columns(4)
cols[0].metric("Rows", f"{table_schema.n_rows:,}")
cols[1].metric("Columns", len(table_schema.columns))
cols[2].metric("Missing cells", f"{int(frame.isna().sum().sum()):,}")
cols[3].metric("Format", table.file_format + (f" ({table.encoding})" if table.encoding else ""))
for note in table.notes:
    show_info(note)
for warning in schema.column_warnings(table_schema):
    show_warning(warning)
with st.expander("Columns: inferred kind, missing values", expanded=False):
    st.dataframe(table_schema.to_frame(), hide_index=True, width="stretch")
with st.expander("Preview (first 20 rows)"):
    st.dataframe(frame.head(20), width="stretch")

st.subheader("Target")
candidates = [c for c in [demo_target, *table_schema.target_candidates] if c]
candidates = list(dict.fromkeys(candidates))
target_col = st.selectbox(
    "Target column",
    [*candidates, *[c for c in table_schema.names() if c not in candidates]],
    index=0,
    help="Likely targets come first: a target-like name (status, default, target, class, "
    "...) and values (good/bad, default/non-default, 0/1).",
    key="target",
)
task_labels = {
    "binary": "Binary classification",
    "multiclass": "Multi-class (3+ classes)",
    "regression": "Regression (a number)",
    "forecast": "Forecasting (a series over time)",
}
if st.session_state.get("task_for") != (key, target_col):  # a new target: guess its task
    guessed = target.infer_task(frame[target_col])
    if source == "Built-in demo" and target_col == demo_target:
        guessed = demo.DEMO_TASKS.get(name, guessed)
    # set through Session State (not a default): the browser's radio follows the guess
    st.session_state.task_kind = guessed
    st.session_state.task_for = (key, target_col)
task_kind = st.radio(
    "Task",
    list(task_labels),
    format_func=task_labels.get,
    horizontal=True,
    help="Guessed from the target: a numeric column with more than "
    f"{target.REGRESSION_MIN_DISTINCT} distinct values is a regression target.",
    key="task_kind",
)
if task_kind == "forecast":
    from pages import forecast_data

    series_defaults = demo.DEMO_SERIES.get(name) if source == "Built-in demo" else None
    forecast_data.render(frame, table_schema, target_col, settings, series_defaults)
    st.stop()
regression = task_kind == "regression"
if regression:
    try:
        y_value = target.validate_regression_target(frame, target_col)
    except FinmlError as exc:
        show_error(exc)
        st.stop()
    c1, c2 = st.columns([1, 2])
    c1.dataframe(target.target_summary(y_value).round(4), hide_index=True)
    c2.plotly_chart(regression_charts.target_histogram(y_value, target_col), width="stretch")
    positive, values = "", []
else:
    try:
        values = target.class_values(frame[target_col])
        guess = target.guess_positive(frame[target_col])
    except FinmlError as exc:
        show_error(exc)
        st.stop()
    multiclass = task_kind == "multiclass"
    positive = st.selectbox(
        "Class of interest (its one-against-the-rest view on Evaluate)"
        if multiclass
        else "Positive class (the event to predict: bad, default, ...)",
        values,
        index=values.index(guess),
        key="positive",
    )
    st.dataframe(target.class_counts(frame[target_col], positive), hide_index=True)
    try:
        if multiclass:
            target.validate_classes(frame[target_col], tuple(values))
        else:
            target.validate_target(frame, target_col, positive)
    except FinmlError as exc:
        show_error(exc)
        st.stop()
    leaks = leakage(st.session_state.table_key, frame, table_schema, target_col, positive)
    for column, auc in leaks:
        show_warning(
            f"Possible leakage: {column!r} alone predicts the target with ROC-AUC {auc:.3f}. "
            "If it is only known after the outcome, leave it out of the features."
        )

st.subheader("Split")
mode = st.radio(
    "Split",
    ["Stratified", "Group (no group on two sides)", "Out-of-time (by date)"],
    horizontal=True,
    help="Stratified keeps the class balance (a numeric target: its quintiles) alike on "
    "every side.",
    key="split_mode",
)
c1, c2, c3, c4 = st.columns(4)
train_pct = c1.number_input("Train %", 10, 90, 60, step=5)
val_pct = c2.number_input("Validation %", 5, 80, 20, step=5)
test_pct = c3.number_input("Test %", 5, 80, 20, step=5)
seed = c4.number_input("Seed", 0, 2**31 - 1, 42)
others = [c for c in frame.columns if c != target_col]
group_col = time_col = None
if mode.startswith("Group"):
    group_col = st.selectbox("Group column (customer, patient, ...)", others, key="group_col")
elif mode.startswith("Out-of-time"):
    dates = table_schema.names("date")
    if not dates:
        st.error("No column was recognised as a date; out-of-time splitting needs one.")
        st.stop()
    time_col = st.selectbox("Date column", dates, key="time_col")
stratify = True
if regression and mode == "Stratified":
    stratify = st.toggle(
        "Stratify by target quintile",
        value=True,
        help="Off: a plain random split (each side may then hold fewer of the largest "
        "or smallest values).",
        key="stratify",
    )
split_spec = SplitSpec(
    stratify=stratify,
    train=train_pct / 100,
    val=val_pct / 100,
    test=test_pct / 100,
    seed=int(seed),
    group_col=group_col,
    time_col=time_col,
)
exclude = tuple(c for c in (group_col, time_col) if c)
if source == "Built-in demo":
    exclude += demo.LEAVE_OUT.get(name, ())
numeric, categorical = schema.default_features(table_schema, target_col, exclude)
with st.expander(f"Features ({len(numeric)} numeric, {len(categorical)} categorical)"):
    numeric = st.multiselect("Numeric features", numeric, default=numeric)
    categorical = st.multiselect("Categorical features", categorical, default=categorical)
try:
    if regression:
        strata = target.quantile_strata(y_value)
        split = make_split(frame, strata, split_spec)
        report = regression_split_report(frame, y_value, strata, split, split_spec)
    elif task_kind == "multiclass":
        y = target.validate_classes(frame[target_col], tuple(values))
        split = make_split(frame, y, split_spec)
        report = class_report(y, tuple(values), split)
    else:
        y = target.validate_target(frame, target_col, positive)
        split = make_split(frame, y, split_spec)
        report = split_report(frame, y, split, split_spec)
except FinmlError as exc:
    show_error(exc)
    st.stop()
st.table(report.set_index("split"))  # numbers and dates only: nothing from the data as text
others_label = " / ".join(v for v in values if v != positive)
binary = task_kind == "binary"
for warning in split_warnings(y, (others_label, positive), split) if binary else []:
    show_warning(warning)

if not numeric and not categorical:
    st.error("Select at least one feature.")
    st.stop()
if st.button("Use this dataset for training", type="primary", key="use_dataset"):
    jobs.warm_up(settings)  # TensorFlow warms up in a spare worker while they go on
    negatives = [v for v in values if v != positive]
    st.session_state.dataset = DatasetSpec(
        dataset_id=stage_frame(frame, settings, principal().user_id),
        name=st.session_state.table_name,
        target=target_col,
        positive=positive,
        numeric=tuple(numeric),
        categorical=tuple(categorical),
        split=split_spec,
        negative=negatives[0] if len(negatives) == 1 else "",
        task=task_kind,
        classes=tuple(values) if task_kind == "multiclass" else (),
    )
    save_dataset_spec(st.session_state.dataset, settings)
ds = st.session_state.get("dataset")
if ds is not None and ds.kind == "table":
    what = {
        "regression": f"{ds.target!r} (regression)",
        "multiclass": f"{ds.target!r} ({len(ds.classes)} classes)",
    }.get(ds.task, f"{ds.target!r} = {ds.positive!r}")
    dataset_ready(text(f"Ready: {ds.name}, target {what}."), ds)
