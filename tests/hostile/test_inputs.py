"""Every hostile input of :mod:`tests.hostile.cases` gets its specific message or skip
reason, never an unexpected exception, and stays under a memory bound.

Memory: before each input the process's peak RSS is reset (``/proc/self/clear_refs``,
value 5); after it, the peak minus the RSS before is what the input cost."""

from __future__ import annotations

import re

import pandas as pd
import pytest

from finml.data import images, reader, schema, target
from finml.data.staging import load_staged, stage_frame
from finml.errors import FinmlError
from tests.hostile.cases import READ, REFUSED, SKIPPED, Case, all_cases

#: Most memory one hostile input may take on top of what the process held, MiB.
MEMORY_BOUND_MIB = 256


def _status(key: str) -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(key):
                return int(line.split()[1]) // 1024
    raise KeyError(key)


def measured(fn):
    """Run ``fn`` and return (its result or exception, peak MiB above the RSS before)."""
    with open("/proc/self/clear_refs", "w") as fh:
        fh.write("5")  # reset the peak (VmHWM) to the current RSS
    before = _status("VmRSS:")
    try:
        out = fn()
    except Exception as exc:
        out = exc
    return out, _status("VmHWM:") - before


@pytest.fixture(scope="module")
def scorer(german):
    """A logistic regression on German Credit, and rows like its training data."""
    from finml.data.spec import DatasetSpec
    from finml.fitters.base import ListSink
    from finml.models.registry import resolve_params
    from finml.tasks import train_spec
    from finml.tasks.spec import RunSpec

    numeric, categorical = schema.default_features(schema.infer_schema(german), "creditability")
    ds = DatasetSpec("0" * 32, "g", "creditability", "bad", tuple(numeric), tuple(categorical))
    model = train_spec(RunSpec(ds, "logreg", resolve_params("logreg")), german, ListSink()).model
    return model, german.drop(columns="creditability").head(20)


def _predict_rows(instruction: str, rows: pd.DataFrame) -> bytes:
    rows = rows.copy()
    verb, _, arg = instruction.partition(":")
    if verb == "drop":
        rows = rows.drop(columns=arg)
    elif verb == "set":
        column, _, value = arg.partition("=")
        rows[column] = rows[column].astype(object)
        rows.loc[rows.index[:3], column] = value
    elif verb == "blank":
        rows = pd.DataFrame(None, index=rows.index, columns=rows.columns)
    elif verb == "extra":
        rows["note"] = arg
    elif verb == "wide":
        rows = pd.concat([rows, pd.DataFrame(0, index=rows.index, columns=range(10_001))], axis=1)
    return rows.to_csv(index=False).encode()


def run_case(case: Case, scorer, data=None):
    """Feed the input (``data``, built by ``case.build()`` unless given) to finml the way its
    page does; return what finml returned."""
    options = dict(case.options)
    data = case.build() if data is None else data
    if case.kind == "table":
        read = reader.read_table(data, case.filename, **options)
        stage_frame(read.frame)  # the Data page's "use this dataset": it must stage too
        table = read.schema
        for name in table.target_candidates[:1]:
            target.leakage_warnings(
                read.frame, table, name, target.guess_positive(read.frame[name])
            )
        return read
    if case.kind == "target":
        frame = reader.read_table(data, case.filename).frame
        positive = target.guess_positive(frame["t"])
        return target.validate_target(frame, "t", positive)
    if case.kind == "files":
        return images.read_files(data, size=32, mode="L")
    if case.kind == "zip":
        return images.read_zip(data, name=case.filename, **{"size": 32, **options})
    if case.kind == "predict":
        from finml.prediction.tables import score_rows

        model, rows = scorer
        frame = reader.read_table(_predict_rows(data, rows), "new.csv").frame
        return score_rows(model, frame, 0.5)
    raise AssertionError(case.kind)


def _said(out) -> str:
    """Everything finml told the analyst about the input."""
    if isinstance(out, images.ImageSet):
        return " ".join(f"{n}: {r}" for n, r in out.skipped) + " ".join(out.notes)
    if isinstance(out, tuple):  # score_rows: (table, messages)
        return " ".join(out[1])
    if isinstance(out, reader.TableRead):
        return " ".join(out.notes)
    return ""


CASES = all_cases()


def test_the_suite_holds_at_least_a_hundred_inputs():
    from tests.hostile.test_imports import IMPORT_CASES

    assert len(CASES) + len(IMPORT_CASES) >= 100, len(CASES) + len(IMPORT_CASES)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_a_hostile_input_gets_its_message_and_stays_small(case, scorer):
    data = case.build()  # outside the measurement: the input itself is not finml's cost
    out, peak = measured(lambda: run_case(case, scorer, data))
    if case.outcome == REFUSED:
        assert isinstance(out, FinmlError), f"expected a refusal, got {out!r}"
        assert case.expect in str(out), str(out)
        assert len(str(out)) < 2000  # messages that list things are capped
    else:
        assert not isinstance(out, Exception), f"{type(out).__name__}: {out}"
        said = _said(out)
        if case.outcome == SKIPPED:
            assert out.skipped, "nothing was skipped"
            assert case.expect in said, said
        elif case.kind in ("files", "zip"):
            assert not out.skipped, out.skipped
        if case.outcome == READ and case.expect:
            assert case.expect in said, said
    assert peak < MEMORY_BOUND_MIB, f"{case.id} took {peak} MiB"


def test_every_skip_names_its_file(scorer):
    for case in (c for c in CASES if c.outcome == SKIPPED):
        out = run_case(case, scorer)
        assert all(re.search(r"\.(png|jpe?g|dcm)$", name) for name, _ in out.skipped), case.id


def test_nested_parquet_columns_read_stage_and_profile(scorer):
    from tests.hostile import builders as b

    for kind in ("list", "struct", "map"):
        read = reader.read_table(b.nested_parquet(kind), f"{kind}.parquet")
        assert read.schema.kind_of("nested") in ("categorical", "id")
        staged = load_staged(stage_frame(read.frame))
        assert staged["nested"].notna().all() and len(staged) == 40
