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

#: Modules the pages import on first use.
WARM_MODULES = (
    "pandas",
    "sklearn.model_selection",
    "sklearn.metrics",
    "plotly.graph_objects",
    "mlflow.tracking",
    "pages.common",
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
    from finml.store import RunStore

    RunStore().experiment_id  # noqa: B018  (creates the store and its experiment)


@asynccontextmanager
async def lifespan(_app):
    """Warm the server up before it serves its first page."""
    await asyncio.to_thread(warm_up)
    yield


app = st.App("app.py", lifespan=lifespan)
