"""Helpers for AppTest page tests."""

from __future__ import annotations

import re

import pytest
from streamlit.testing.v1 import AppTest

from finml.config import PROJECT_ROOT

TIMEOUT = 120


def open_app(page: str | None = None, query: dict[str, str] | None = None) -> AppTest:
    """Run app.py (st.navigation) and optionally switch to ``pages/<page>.py``, as a fresh
    session (a reload) whose URL holds ``query``."""
    at = AppTest.from_file(str(PROJECT_ROOT / "app.py"), default_timeout=TIMEOUT)
    for key, value in (query or {}).items():
        at.query_params[key] = value
    at.run()
    if page:
        at.switch_page(f"pages/{page}.py")
        at.run()
    assert not at.exception, at.exception
    return at


@pytest.fixture
def finished_run(german_spec):
    """A logistic-regression run trained for real and logged to the store as a worker does."""
    from tests.conftest import train_and_log

    return train_and_log(german_spec("logreg"), "logreg · German")


def shown(element) -> str:
    """The text of a message, caption or other Markdown element as the analyst reads it:
    pages escape user data for Markdown (``pages.common.text``), so undo that here."""
    value = getattr(element, "value", element)
    return re.sub(r"\\(.)", r"\1", str(value)).replace("\u2060", "")


def image_captions(element) -> list[str]:
    """The captions of one ``st.image`` element (a list of images), as the analyst reads
    them."""
    return [shown(img.caption) for img in element.proto.imgs]
