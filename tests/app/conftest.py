"""Helpers for AppTest page tests."""

from __future__ import annotations

import re

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from finml.config import PROJECT_ROOT
from pages.common import AUTOLINK_BREAK

TIMEOUT = 120
#: What ``pages.common.text`` adds: a backslash escape, or its autolink break (read left to
#: right, so an escaped ``\:small\[\]`` of the data itself stays).
_ESCAPES = re.compile(r"\\(.)|" + re.escape(AUTOLINK_BREAK))


#: An ``[auth]`` section as a team deployment's secrets.toml has one (sign-in is on).
AUTH = {
    "redirect_uri": "http://127.0.0.1:8501/oauth2callback",
    "cookie_secret": "a-test-cookie-secret",
    "client_id": "finml",
    "client_secret": "secret",
    "server_metadata_url": "http://127.0.0.1:9/.well-known/openid-configuration",
}


def open_app(
    page: str | None = None, query: dict[str, str] | None = None, user: dict | None = None
) -> AppTest:
    """Run app.py (st.navigation) and optionally switch to ``pages/<page>.py``, as a fresh
    session (a reload) whose URL holds ``query``. With ``user`` (OpenID claims, e.g.
    ``{"sub": ..., "email": ...}``, or ``{}`` for a signed-out visitor) the app runs in
    team mode with that user signed in."""
    at = AppTest.from_file(str(PROJECT_ROOT / "app.py"), default_timeout=TIMEOUT)
    for key, value in (query or {}).items():
        at.query_params[key] = value
    if user is not None:
        at.secrets["auth"] = AUTH
        at.user = {"is_logged_in": bool(user), **user}
    at.run()
    if page:
        at.switch_page(f"pages/{page}.py")
        at.run()
    assert not at.exception, at.exception
    return at


def open_demo(name: str, task: str) -> AppTest:
    """The Data page with built-in demo ``name`` chosen; it must open on ``task`` with no
    error."""
    at = open_app()
    at.selectbox[0].set_value(name).run()
    assert at.radio(key="task_kind").value == task
    assert not at.error and not at.exception, (at.error, at.exception)
    return at


@pytest.fixture
def finished_run(german_spec):
    """A logistic-regression run trained for real and logged to the store as a worker does."""
    from tests.conftest import train_and_log

    return train_and_log(german_spec("logreg"), "logreg · German")


def open_tab(at: AppTest, key: str, label: str) -> AppTest:
    """Open the tab ``label`` of the lazy tabs under ``key`` (``pages.views.tabs.show_tabs``
    draws only the open one) as a click on it does: set its state and rerun."""
    at.session_state[key] = label
    at.run()
    assert not at.exception, at.exception
    return at


def chart_titles(at: AppTest) -> str:
    """Every plotly chart's spec on the page, as one string to look for titles in."""
    return " ".join(c.proto.spec for c in at.get("plotly_chart"))


def markdown_tables(at: AppTest):
    """Every Markdown table on the page (``finml.reporting.formats.markdown_table``), as
    (the element's first line, a DataFrame of the cells as the analyst reads them, indexed
    by the first column)."""
    for element in at.markdown:
        rows = [line for line in element.value.splitlines() if line.startswith("|")]
        if len(rows) < 2:
            continue
        cells = [[shown(c.strip()) for c in _CELL_BREAK.split(line.strip()[1:-1])] for line in rows]
        frame = pd.DataFrame(cells[2:], columns=cells[0]).set_index(cells[0][0])
        yield element.value.splitlines()[0], frame


#: A ``|`` that ends a Markdown table's cell (an escaped one, ``\|``, does not).
_CELL_BREAK = re.compile(r"(?<!\\)\|")


def metric_table(at: AppTest) -> pd.DataFrame:
    """The binary view's metric table (the Markdown table with a ``value`` column)."""
    return next(table for _, table in markdown_tables(at) if "value" in table.columns)


def confusion_cells(at: AppTest) -> tuple[pd.DataFrame, str]:
    """The binary view's confusion matrix as shown (columns ``predicted <class>``, cells
    ``"TN 412 · 88.2%"``), and the heading above it (``Confusion matrix at threshold ...``).
    """
    return next(
        (table, first)
        for first, table in markdown_tables(at)
        if str(table.columns[0]).startswith("predicted ")
    )


def shown(element) -> str:
    """The text of a message, caption or other Markdown element as the analyst reads it:
    pages escape user data for Markdown (``pages.common.text``: backslash escapes and the
    empty directive that breaks autolinks), so undo that here."""
    value = getattr(element, "value", element)
    return _ESCAPES.sub(lambda m: m.group(1) or "", str(value))


def image_captions(element) -> list[str]:
    """The captions of one ``st.image`` element (a list of images), as the analyst reads
    them."""
    return [shown(img.caption) for img in element.proto.imgs]
