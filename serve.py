"""The studio as a Streamlit ``st.App``: the pages of ``app.py``, served by
``streamlit run serve.py`` (``scripts/run.sh`` does), with a lifespan hook that gets the
server ready before it accepts the first browser.

Without it, the first visitor waits for everything the pages import on first use
(pandas, scikit-learn, SciPy, plotly, MLflow: about 3 s on 2 cores) and for the run store
to be created. The hook does that work while the server starts, so the health check turns
green only when pages can be served at full speed. TensorFlow is never imported here.
"""

import asyncio
from contextlib import asynccontextmanager

import streamlit as st
from streamlit.runtime.pages_manager import PagesManager

# Streamlit treats a folder named pages/ beside the main script as the legacy multipage
# layout until the first st.navigation call clears this flag (st.navigation's own first
# line). Until then a deep link such as /evaluate?run=... on a fresh server would run
# pages/evaluate.py directly: without app.py's error boundary and page config, and with
# every file in pages/ offered as a page. app.py always calls st.navigation; clear the
# flag before the first visitor, as that call would.
PagesManager.uses_pages_directory = False

#: Modules the pages import on first use.
WARM_MODULES = (
    "pandas",
    "sklearn.model_selection",
    "sklearn.metrics",
    "plotly.graph_objects",
    "mlflow.tracking",
    "pages.common",
    "finml.data.demo",
    "PIL.Image",
    "finml.data.reader",
    "finml.reporting.charts",
    "finml.reporting.report",
    "finml.models.bundle",
)


def warm_up() -> None:
    """Import the pages' libraries and open (or create) the run store."""
    import importlib

    for name in WARM_MODULES:
        importlib.import_module(name)
    from finml.tasks import TASKS
    from pages.views import get_view

    for task in TASKS.values():  # each task's view module (the Data page lists them all)
        get_view(task)
    from finml.training import jobs

    jobs.housekeeping()  # creates the store if new; drops staged datasets past retention


@asynccontextmanager
async def lifespan(_app):
    """Warm the server up before it serves its first page."""
    await asyncio.to_thread(warm_up)
    yield


app = st.App("app.py", lifespan=lifespan)
