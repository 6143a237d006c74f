"""Data page: pick the demo or upload a table; validation report; target, features, split."""

import hashlib

import streamlit as st

from finml.config import get_settings
from finml.data import demo, reader, schema, target
from finml.data.spec import DatasetSpec
from finml.data.split import SplitSpec, make_split
from finml.data.staging import save_dataset_spec, stage_frame
from finml.errors import FinmlError
from finml.evaluation import fairness
from finml.tasks import TASKS
from finml.training import jobs
from pages.common import or_stop, principal, record, show_error, show_info, show_warning, text
from pages.views import get_view

#: What a new table's split opens with (widget key -> value).
SPLIT_OPENING = {
    "split_mode": "Stratified",
    "split_train": 60,
    "split_val": 20,
    "split_test": 20,
    "split_seed": 42,
    "stratify": True,
}
#: Session State keys of the choices that belong to one table: the page's widgets, the
#: target the task was guessed for, and each task view's part of the form (its
#: ``form_keys``: the class of interest, the series settings). A new table forgets them all.
TABLE_CHOICES = ("target", "task_kind", "task_for", *SPLIT_OPENING, "group_col", "time_col")


def open_table(demo_name: str | None) -> None:
    """Start the form afresh for a new table: forget every choice made for the old one,
    and set the openings the page knows through Session State, so that the browser's
    widgets follow too (deleting a widget's key resets the script's value only; the
    browser goes on showing, and sending, its old choice). The target and its task are
    set once the table's columns are known.

    Args:
        demo_name: the built-in demo's name (a task view may open its part of the form
            with the demo's settings, e.g. a forecasting demo's series), else None.
    """
    views = [get_view(task) for task in TASKS.values()]
    for choice in {*TABLE_CHOICES, *(key for view in views for key in view.form_keys)}:
        st.session_state.pop(choice, None)
    st.session_state.update(SPLIT_OPENING)
    for view in views:
        st.session_state.update(view.form_opening(demo_name))


st.title("Data")
settings = get_settings()
data_type = st.radio(
    "Data type", ["Table (credit risk)", "Images (medical)"], horizontal=True, key="task"
)
if data_type.startswith("Images"):  # the image task reads, reports and splits its own data
    get_view(TASKS["images"]).data_page()
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
    open_table(key[1] if raw is None else None)  # a new table: none of the old choices
    st.session_state.table_name = key[1] if raw is None else filename
table = st.session_state.table
frame, table_schema = table.frame, table.schema

st.subheader("Validation report")
cols = st.columns(4)
cols[0].metric("Rows", f"{table_schema.n_rows:,}")
cols[1].metric("Columns", len(table_schema.columns))
cols[2].metric("Missing cells", f"{int(frame.isna().sum().sum()):,}")
cols[3].metric("Format", table.file_format.upper())  # a tile of 130 px at 1024: the word only
if table.encoding:
    cols[3].caption(f"encoding {text(table.encoding)}")
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
options = [*candidates, *[c for c in table_schema.names() if c not in candidates]]
if st.session_state.get("target") not in options:  # a new table: a demo's own target, or
    st.session_state.target = options[0]  # the likeliest; set through Session State
target_col = st.selectbox(
    "Target column",
    options,
    help="Likely targets come first: a target-like name (status, default, target, class, "
    "...) and values (good/bad, default/non-default, 0/1).",
    key="target",
)
# the tasks of a table, each in the Data page's word (their views say it)
choices = {t.name: get_view(t).choice for t in TASKS.values() if get_view(t).choice}
if st.session_state.get("task_for") != (key, target_col):  # a new target: guess its task
    guessed = target.infer_task(frame[target_col])
    if source == "Built-in demo" and target_col == demo_target:
        guessed = demo.DEMO_TASKS.get(name, guessed)
    # set through Session State (not a default): the browser's radio follows the guess
    st.session_state.task_kind = guessed
    st.session_state.task_for = (key, target_col)
task = TASKS[
    st.radio(
        "Task",
        list(choices),
        format_func=choices.get,
        horizontal=True,
        help="Guessed from the target: a numeric column with more than "
        f"{target.REGRESSION_MIN_DISTINCT} distinct values is a regression target.",
        key="task_kind",
    )
]
view = get_view(task)
# the task's part: its target checked and shown (forecasting lays out the rest and stops)
chosen = view.target_form(
    frame, table_schema, target_col, name if source == "Built-in demo" else None
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
train_pct = c1.number_input(
    "Train %", 10, 90, SPLIT_OPENING["split_train"], step=5, key="split_train"
)
val_pct = c2.number_input(
    "Validation %", 5, 80, SPLIT_OPENING["split_val"], step=5, key="split_val"
)
test_pct = c3.number_input("Test %", 5, 80, SPLIT_OPENING["split_test"], step=5, key="split_test")
seed = c4.number_input("Seed", 0, 2**31 - 1, SPLIT_OPENING["split_seed"], key="split_seed")
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
if chosen.quantiles and mode == "Stratified":
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
protected: tuple[str, ...] = ()
if task.tags.fairness:  # the fair-lending analysis on Evaluate reads these
    columns = [c for c in frame.columns if c not in (target_col, *exclude)]
    marked = hashlib.sha256(repr((key, target_col)).encode()).hexdigest()[:16]
    protected = tuple(
        st.multiselect(
            "Protected attributes (fair-lending analysis)",
            columns,
            default=fairness.suggest_protected(columns),
            key=f"protected.{marked}",
            help="Age, sex, marital status, race, national origin, religion... (ECOA). "
            "Evaluate shows approval rates and adverse impact ratios by group of each. "
            "Suggested from the column names; they are left out of the features unless "
            "you keep them in.",
        )
    )
    if protected and st.toggle(
        "Keep the protected attributes in the model", value=False, key="keep_protected"
    ):
        show_warning(
            "The model may use protected attributes: a lender may not base credit decisions "
            "on them (ECOA / Regulation B), and a model using them needs a documented, "
            "legitimate reason. Evaluate's fair-lending tab still reads them."
        )
    else:
        exclude += protected
numeric, categorical = schema.default_features(table_schema, target_col, exclude)
# keyed on the table and the defaults (target, columns left out): either new, the choice too
features = hashlib.sha256(repr((key, numeric, categorical)).encode()).hexdigest()[:16]
with st.expander(f"Features ({len(numeric)} numeric, {len(categorical)} categorical)"):
    numeric = st.multiselect(
        "Numeric features", numeric, default=numeric, key=f"numeric.{features}"
    )
    categorical = st.multiselect(
        "Categorical features", categorical, default=categorical, key=f"categorical.{features}"
    )
split = or_stop(make_split, frame, chosen.strata, split_spec)
report = or_stop(chosen.report, frame, split, split_spec)
st.table(report.set_index("split"))  # numbers and dates only: nothing from the data as text
for warning in chosen.warnings(split):
    show_warning(warning)

if not numeric and not categorical:
    st.error("Select at least one feature.")
    st.stop()
if st.button("Use this dataset for training", type="primary", key="use_dataset"):
    jobs.warm_up(settings)  # TensorFlow warms up in a spare worker while they go on
    st.session_state.dataset = DatasetSpec(
        dataset_id=stage_frame(frame, settings, principal().user_id),
        name=st.session_state.table_name,
        target=target_col,
        positive=chosen.positive,
        numeric=tuple(numeric),
        categorical=tuple(categorical),
        split=split_spec,
        negative=chosen.negative,
        task=task.name,
        classes=chosen.classes,
        protected=protected,
        unit=chosen.unit,
    )
    save_dataset_spec(st.session_state.dataset, settings)
view.show_ready()
