"""Layout pieces shared by several pages (not a page of its own)."""

import streamlit as st

from finml import jobs


def runs_with_results(store, empty: str, page: str, label: str) -> list:
    """The runs that have test results, newest first; if there are none, say so, link to
    ``page`` and stop the script."""
    runs = [r for r in jobs.list_runs(store) if r.has_results]
    if not runs:
        st.info(empty)
        st.page_link(page, label=label, icon=":material/arrow_forward:")
        st.stop()
    return runs


def memo(key: tuple, compute):
    """``compute()`` once per session and ``key`` (the inputs it depends on): slow analyses
    must not rerun on every widget change."""
    cache = st.session_state.setdefault("memo", {})
    if key not in cache:
        cache[key] = compute()
    return cache[key]
