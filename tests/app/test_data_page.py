"""AppTest of the Data page: demo path, uploads of real bad files, target checks."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from finml.config import PROJECT_ROOT
from tests.app.conftest import open_app, shown
from tests.badfiles import BAD_FILES


def _upload(at, filename: str, content: bytes):
    at.radio(key="source").set_value("Upload a file").run()
    at.file_uploader[0].set_value((filename, content, "application/octet-stream")).run()
    assert not at.exception, at.exception
    return at


def test_demo_is_read_with_sensible_defaults_and_can_be_used():
    at = open_app()
    assert [m.value for m in at.metric][:2] == ["1,000", "21"]
    # the format tile holds one short word (a 130-px tile at 1024 px); the encoding below it
    assert at.metric[3].value == "CSV"
    assert any(shown(c).startswith("encoding utf") for c in at.caption)
    assert at.selectbox(key="target").value == "creditability"  # target
    assert at.selectbox(key="positive").value == "bad"  # positive class
    assert not at.error
    at.button(key="use_dataset").click().run()
    ds = at.session_state["dataset"]
    assert (ds.target, ds.positive, ds.negative) == ("creditability", "bad", "good")
    # 20 attributes, of which three protected ones are kept for the fair-lending analysis
    assert len(ds.numeric) + len(ds.categorical) == 17 and len(ds.protected) == 3
    assert any("Ready" in shown(s) for s in at.success)


# Streamlit's uploader itself refuses extensions outside its `type` list (in the browser
# too), so that case is covered by the reader tests only.
UPLOADABLE = sorted(c for c in BAD_FILES if c != "unsupported extension")


@pytest.mark.parametrize("case", UPLOADABLE)
def test_a_bad_upload_shows_its_message_and_nothing_breaks(case):
    filename, content, phrase = BAD_FILES[case]
    at = _upload(open_app(), filename, content)
    assert len(at.error) == 1 and phrase in shown(at.error[0])
    assert "dataset" not in at.session_state


def _csv(rows: list[str]) -> bytes:
    return ("x,grade,target\n" + "\n".join(rows) + "\n").encode()


def test_a_one_class_target_is_refused_before_training():
    at = _upload(open_app(), "one.csv", _csv([f"{i},{'AB'[i % 2]},good" for i in range(50)]))
    at.selectbox(key="target").set_value("target").run()
    assert "single value" in shown(at.error[0])
    assert not [b for b in at.button if b.key == "use_dataset"]  # no way on to training


def test_a_class_with_too_few_rows_is_refused():
    rows = [f"{i},{'AB'[i % 2]},{'bad' if i < 5 else 'good'}" for i in range(60)]
    at = _upload(open_app(), "few.csv", _csv(rows))
    at.selectbox(key="target").set_value("target").run()
    assert "only 5 rows" in shown(at.error[0])


def test_leaky_and_id_columns_are_warned_about():
    rows = [f"{i},{'AB'[i % 2]},{'bad' if i % 3 == 0 else 'good'},{i % 3 == 0}" for i in range(60)]
    content = ("x,grade,target,written_off\n" + "\n".join(rows) + "\n").encode()
    at = _upload(open_app(), "leak.csv", content)
    at.selectbox(key="target").set_value("target").run()
    texts = " ".join(shown(w) for w in at.warning)
    assert "Possible leakage: 'written_off'" in texts
    assert "ID-like column(s) 'x'" in texts


def test_group_split_shows_groups_per_side():
    rows = [f"{i},{'ABCDEFGHIJ'[i % 10]},{'bad' if i % 3 == 0 else 'good'}" for i in range(90)]
    at = _upload(open_app(), "g.csv", _csv(rows))
    at.selectbox(key="target").set_value("target").run()
    at.radio(key="split_mode").set_value("Group (no group on two sides)").run()
    at.selectbox(key="group_col").set_value("grade").run()
    table = at.table[-1].value
    assert table["groups shared"].tolist() == [0, 0, 0]


def test_rendering_the_data_page_does_not_import_tensorflow(tmp_path):
    script = textwrap.dedent(
        f"""
        import sys
        from streamlit.testing.v1 import AppTest
        at = AppTest.from_file({str(PROJECT_ROOT / "app.py")!r}, default_timeout=120)
        at.run()
        assert not at.exception, at.exception
        at.button(key="use_dataset").click().run()
        print("tensorflow" in sys.modules, "keras" in sys.modules)
        """
    )
    env = {"FINML_DATA_DIR": str(tmp_path), "PATH": "/usr/bin:/bin", "FINML_WARM_WORKER": "0"}
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=300
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "False False"


def test_uploaded_bytes_never_reach_disk_under_the_client_filename(data_dir):
    rows = [f"{i},{'AB'[i % 2]},{'bad' if i % 3 == 0 else 'good'}" for i in range(60)]
    at = _upload(open_app(), "clients_secret_loans.csv", _csv(rows))
    at.selectbox(key="target").set_value("target").run()
    at.button(key="use_dataset").click().run()
    assert at.session_state["dataset"].name == "clients_secret_loans.csv"
    written = [p.name for p in data_dir.rglob("*")]
    assert written and not [n for n in written if "secret" in n]


def test_size_and_row_caps_are_enforced_in_the_page(monkeypatch):
    monkeypatch.setenv("FINML_MAX_UPLOAD_MB", "1")
    big = _csv([f"{i},{'AB'[i % 2]},good" for i in range(120_000)])
    assert len(big) > 2**20
    assert "the limit is 1 MiB" in shown(_upload(open_app(), "big.csv", big).error[0])
    monkeypatch.setenv("FINML_MAX_UPLOAD_MB", "200")
    monkeypatch.setenv("FINML_MAX_ROWS", "10")
    long = _csv([f"{i},A,good" for i in range(20)])
    assert "more than 10 data rows" in shown(_upload(open_app(), "long.csv", long).error[0])


def test_out_of_time_split_uses_the_date_column():
    rows = [
        f"{i},{'AB'[i % 2]},{'bad' if i % 3 == 0 else 'good'},2021-{1 + i % 12:02d}-{1 + i % 9:02d}"
        for i in range(90)
    ]
    content = ("x,grade,target,opened\n" + "\n".join(rows) + "\n").encode()
    at = _upload(open_app(), "dates.csv", content)
    at.selectbox(key="target").set_value("target").run()
    at.radio(key="split_mode").set_value("Out-of-time (by date)").run()
    assert at.selectbox(key="time_col").value == "opened"
    table = at.table[-1].value
    assert (
        table["to"].iloc[0] <= table["from"].iloc[1] <= table["to"].iloc[1] <= table["from"].iloc[2]
    )


#: Each demo, in the order a user tries them, with the target and task it opens on.
DEMO_OPENINGS = [
    ("German Credit: loan amount (regression)", "credit_amount", "regression"),
    ("US macroeconomic series (forecasting)", "realcons", "forecast"),
    ("US macroeconomic panel (forecasting per series)", "value", "forecast"),
    ("German Credit (Statlog)", "creditability", "binary"),
]


def test_each_demo_opens_on_its_own_target_and_task_whatever_came_before():
    at = open_app()
    for name, target_col, task in DEMO_OPENINGS:
        at.selectbox[0].set_value(name).run()
        assert not at.exception and not at.error, (name, at.exception, at.error)
        box, radio = at.selectbox(key="target"), at.radio(key="task_kind")
        assert (box.value, radio.value) == (target_col, task), name
        # sent as set values, so the browser's boxes show them (not their old choice)
        assert box.proto.set_value and radio.proto.set_value, name
        at.button(key="use_dataset").click().run()
        ds = at.session_state["dataset"]
        assert (ds.name, ds.target, ds.task) == (name, target_col, task)
    assert ds.positive == "bad"


def test_the_panel_demo_after_the_series_demo_is_one_series_per_entity():
    at = open_app()
    at.selectbox[0].set_value("US macroeconomic series (forecasting)").run()
    at.number_input(key="series_horizon").set_value(2).run()
    at.selectbox[0].set_value("US macroeconomic panel (forecasting per series)").run()
    assert not at.error, [shown(e) for e in at.error]
    assert at.selectbox(key="series_entity").value == "series"
    assert at.number_input(key="series_horizon").value == 1
    at.button(key="use_dataset").click().run()
    ds = at.session_state["dataset"]
    assert (ds.entity_col, ds.horizon) == ("series", 1)


def test_a_new_table_forgets_the_split_and_features_chosen_for_the_old_one():
    at = open_app()
    at.radio(key="split_mode").set_value("Group (no group on two sides)").run()
    at.selectbox(key="group_col").set_value("purpose").run()
    numeric = next(m for m in at.multiselect if m.label == "Numeric features")
    numeric.set_value(numeric.value[:2]).run()
    for label, value in (("Train %", 70), ("Validation %", 15), ("Test %", 15), ("Seed", 7)):
        next(n for n in at.number_input if n.label == label).set_value(value)
    at.run()
    at.selectbox[0].set_value("German Credit: loan amount (regression)").run()
    assert not at.exception and not at.error, (at.exception, at.error)
    assert at.radio(key="split_mode").value == "Stratified"
    assert at.radio(key="split_mode").proto.set_value  # the browser's radio follows
    assert at.toggle(key="stratify").value is True
    at.button(key="use_dataset").click().run()
    ds = at.session_state["dataset"]
    assert (ds.split.train, ds.split.val, ds.split.test, ds.split.seed) == (0.6, 0.2, 0.2, 42)
    assert ds.split.group_col is None
    assert "creditability" not in ds.categorical  # known only after the loan: left out
    assert len(ds.numeric) + len(ds.categorical) == 19  # every other column again
    # an upload is a new table too
    rows = [f"{i},{'AB'[i % 2]},{'bad' if i % 3 == 0 else 'good'}" for i in range(60)]
    at.radio(key="split_mode").set_value("Group (no group on two sides)").run()
    _upload(at, "mine.csv", _csv(rows))
    assert at.selectbox(key="target").value == "target"
    assert at.radio(key="task_kind").value == "binary"
    assert at.radio(key="split_mode").value == "Stratified"
