"""Helpers for AppTest page tests."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from finml.config import PROJECT_ROOT

TIMEOUT = 120


def open_app(page: str | None = None) -> AppTest:
    """Run app.py (st.navigation) and optionally switch to ``pages/<page>.py``."""
    at = AppTest.from_file(str(PROJECT_ROOT / "app.py"), default_timeout=TIMEOUT)
    at.run()
    if page:
        at.switch_page(f"pages/{page}.py")
        at.run()
    assert not at.exception, at.exception
    return at


@pytest.fixture
def finished_run(german_spec):
    """A logistic-regression run trained for real and logged to the store as a worker does."""
    from finml.data.staging import load_staged
    from finml.jobs import submit  # noqa: F401  (same store layout as real jobs)
    from finml.store import FINISHED, RunStore
    from finml.train import ListSink, run_training
    from finml.worker import log_result

    spec = german_spec("logreg")
    store = RunStore()
    run_id = store.create_run(
        "logreg · German",
        {"model": "logreg", "positive_class": "bad", "dataset": "German Credit (Statlog)"},
        {"finml.model": "logreg", "finml.dataset": "German Credit (Statlog)"},
    )
    result = run_training(spec, load_staged(spec.dataset.dataset_id), ListSink())
    log_result(store, run_id, spec, result)
    store.set_status(run_id, FINISHED)
    return run_id
