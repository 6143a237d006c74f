"""Shared fixtures: every test gets its own data folder; warm spare workers are off unless a
test turns them on (they would outlive the test)."""

from __future__ import annotations

import contextlib

import pytest

from finml.data.demo import demo_frame
from finml.native import load_solvers

load_solvers()  # before any test imports TensorFlow (see finml.native)

GERMAN = "German Credit (Statlog)"


def pytest_collection_modifyitems(config, items):
    """Run the slow files first: the system tests (real servers), then the browser tests.
    The two xdist workers take whole files in this order, so a slow file left for the end
    would keep one worker busy minutes after the other is done."""
    weight = {"system": 0, "e2e": 1}
    items.sort(
        key=lambda item: min(
            [weight[m.name] for m in item.iter_markers() if m.name in weight] or [2]
        )
    )


def pytest_configure(config):
    config.addinivalue_line(
        "markers",
        "shared_data: the module's tests share one data folder (a run store created once), "
        "for tests that only add to it",
    )


@pytest.fixture(scope="session")
def mlflow_tables(tmp_path_factory):
    """An empty MLflow SQLite store with its tables made once per test process: MLflow
    creates and migrates them (about 2 s) the first time a store opens, and each test's
    data folder starts from a copy of this file instead (its ``finml`` experiment, with
    the artifact folder in that data folder, is still created by the store on first use).
    MLflow's own table creation runs here, once per test process, and on PostgreSQL in
    the system tests' tracking server."""
    from mlflow.tracking import MlflowClient

    path = tmp_path_factory.mktemp("mlflow-tables") / "mlflow.db"
    MlflowClient(tracking_uri=f"sqlite:///{path}").search_experiments()  # creates the tables
    return path


def _with_tables(folder, tables):
    """``folder`` created, holding a copy of the ``mlflow_tables`` store; returns it."""
    import shutil

    folder.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(tables, folder / "mlflow.db")
    return folder


@pytest.fixture(scope="module")
def module_data_dir(tmp_path_factory, mlflow_tables):
    """One data folder for a whole module (see the ``shared_data`` marker), already in
    FINML_DATA_DIR while module-scoped fixtures are set up."""
    folder = _with_tables(tmp_path_factory.mktemp("module-data") / "finml-data", mlflow_tables)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("FINML_DATA_DIR", str(folder))
        mp.setenv("FINML_WARM_WORKER", "0")
        mp.delenv("MLFLOW_TRACKING_URI", raising=False)
        yield folder


@pytest.fixture(autouse=True)
def data_dir(tmp_path, monkeypatch, request):
    """A fresh FINML_DATA_DIR (run store, staged data, jobs) for each test, or the
    module's own one for a module marked ``shared_data`` (creating an MLflow store costs
    about a second; tests that only add runs and look at their own can share one)."""
    if request.node.get_closest_marker("shared_data"):
        folder = request.getfixturevalue("module_data_dir")
    else:
        folder = _with_tables(tmp_path / "finml-data", request.getfixturevalue("mlflow_tables"))
    monkeypatch.setenv("FINML_DATA_DIR", str(folder))
    monkeypatch.setenv("FINML_WARM_WORKER", "0")
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    return folder


@pytest.fixture(scope="session")
def german():
    """The German Credit demo as read by finml's reader."""
    return demo_frame(GERMAN)


@pytest.fixture
def german_spec(german):
    """A function making a RunSpec on the staged German Credit demo with default features."""
    from finml.data.schema import default_features, infer_schema
    from finml.data.spec import DatasetSpec
    from finml.data.staging import stage_frame
    from finml.models.registry import resolve_params
    from finml.tasks.spec import RunSpec

    numeric, categorical = default_features(infer_schema(german), "creditability")
    dataset_id = stage_frame(german)

    def make(model: str, class_weights: bool = False, **params) -> RunSpec:
        ds = DatasetSpec(
            dataset_id,
            GERMAN,
            "creditability",
            "bad",
            tuple(numeric),
            tuple(categorical),
            negative="good",
        )
        return RunSpec(ds, model, resolve_params(model, params), class_weights, 42)

    return make


@pytest.fixture
def loan_amount_spec(german):
    """A ridge RunSpec of the loan amount (the regression demo, in DM) on the staged
    German Credit table, not trained."""
    from dataclasses import replace

    from finml.data.staging import stage_frame

    spec = table_spec(german, "ridge", "credit_amount", "", drop=("creditability",))
    ds = replace(spec.dataset, dataset_id=stage_frame(german), task="regression", unit="DM")
    return replace(spec, dataset=replace(ds, name="German Credit: loan amount (regression)"))


@pytest.fixture
def loan_amount_run(loan_amount_spec):
    """The ridge regression of :func:`loan_amount_spec` trained for real and logged as a
    worker does (intervals, predictions, bundle)."""
    return train_and_log(loan_amount_spec, "ridge · loan amount")


def forecast_spec(
    model: str, horizon: int = 1, target="realcons", entity="", exog=(), known=(), **params
):
    """A forecasting RunSpec (a panel with ``entity``, exogenous ``exog``, of which ``known``
    are known in advance) on a table with a ``date`` column split 70/15/15 in time, not
    staged (dataset id of zeros)."""
    from finml.data.spec import DatasetSpec
    from finml.data.split import SplitSpec
    from finml.models.registry import resolve_params
    from finml.tasks.spec import RunSpec

    ds = DatasetSpec(
        "0" * 32,
        "macro",
        target,
        "",
        (),
        (),
        split=SplitSpec(0.7, 0.15, 0.15, time_col="date"),
        task="forecast",
        horizon=horizon,
        entity_col=entity,
        exog=tuple(exog),
        known=tuple(known),
    )
    return RunSpec(ds, model, resolve_params(model, params), seed=42)


#: Litres of wine sold more in a promotion month of :func:`wine_promotions` (the series
#: runs 13,000-40,000).
PROMO_LIFT = 6000.0


def wine_promotions():
    """Australian wine sales (``wineind``, monthly 1980-1994, from the pmdarima wheel) with
    a promotion plan drawn once (seeded, a quarter of the months) and its lift
    :data:`PROMO_LIFT` added: ``date``, ``sales``, ``promo`` (0 / 1)."""
    import numpy as np
    import pandas as pd
    from pmdarima.datasets import load_wineind

    sales = np.asarray(load_wineind(), dtype=np.float64)
    promo = (np.random.default_rng(7).random(len(sales)) < 0.25).astype(np.float64)
    dates = pd.date_range("1980-01-01", periods=len(sales), freq="MS")
    return pd.DataFrame({"date": dates, "sales": sales + PROMO_LIFT * promo, "promo": promo})


def forecast_demo_run(demo: str, target: str, horizon: int, entity_col: str = "") -> str:
    """A ridge forecaster of a packaged forecasting demo, trained for real on the staged
    demo and logged as a worker does; its run id."""
    from dataclasses import replace

    from finml.data.demo import demo_frame
    from finml.data.staging import stage_frame

    spec = forecast_spec("ridge_lags", horizon, target, entity_col)
    staged = replace(spec.dataset, dataset_id=stage_frame(demo_frame(demo)), name=demo)
    return train_and_log(replace(spec, dataset=staged), f"ridge · {target}")


@pytest.fixture
def macro_forecast_run():
    """A ridge forecaster of US real consumption, two quarters ahead."""
    return forecast_demo_run("US macroeconomic series (forecasting)", "realcons", 2)


@pytest.fixture
def macro_panel_run():
    """A global ridge forecaster of the five-series macro panel, one quarter ahead."""
    return forecast_demo_run(
        "US macroeconomic panel (forecasting per series)", "value", 1, "series"
    )


def table_spec(frame, model: str, target="creditability", positive="bad", drop=(), **kw):
    """A RunSpec on ``frame`` (not staged: for ``train_spec(spec, frame, ...)``) with the
    default features less ``drop``; ``params`` holds hyperparameters, the rest goes to
    RunSpec (``cv_folds``, ``tune_trials``, ``seed``, ...)."""
    from finml.data.schema import default_features, infer_schema
    from finml.data.spec import DatasetSpec
    from finml.models.registry import resolve_params
    from finml.tasks.spec import RunSpec

    numeric, categorical = default_features(infer_schema(frame), target)
    keep = lambda cols: tuple(c for c in cols if c not in drop)  # noqa: E731
    ds = DatasetSpec("0" * 32, "t", target, positive, keep(numeric), keep(categorical))
    return RunSpec(ds, model, resolve_params(model, kw.pop("params", {})), **kw)


def _finml_processes(data_dir) -> list[int]:
    """PIDs of finml supervisor/worker processes started for ``data_dir``."""
    import os
    from pathlib import Path

    pids = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmd = (proc / "cmdline").read_bytes()
            env = (proc / "environ").read_bytes()
        except OSError:
            continue
        if b"finml." in cmd and f"FINML_DATA_DIR={data_dir}\0".encode() in env:
            pids.append(int(proc.name))
    return [p for p in pids if p != os.getpid()]


@pytest.fixture
def reap(data_dir):
    """Kill every job process this test left behind (spares, stuck workers)."""
    import os
    import signal

    yield lambda: _finml_processes(data_dir)
    for pid in _finml_processes(data_dir):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def wait_for(predicate, timeout: float = 60.0, every: float = 0.1):
    """Poll ``predicate`` until it returns something truthy; fail after ``timeout`` s."""
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"condition not met within {timeout} s")


def train_and_log(spec, name: str | None = None, owner: str = "") -> str:
    """Train ``spec`` in this process on its staged data and log the run exactly as a
    worker does (parameters, tags, predictions, bundle), owned by ``owner`` (a user id;
    "" for the local user); return the finished run's id."""
    from finml.data.staging import load_staged, load_staged_images
    from finml.fitters.base import ListSink
    from finml.store import FINISHED, RunStore
    from finml.training.worker import log_result

    store = RunStore()
    tags = {**spec.run_tags(), **({"finml.owner": owner} if owner else {})}
    run_id = store.create_run(name or spec.model, spec.run_params(), tags)
    if spec.dataset.kind == "images":
        from finml.tasks import train_spec

        data = load_staged_images(spec.dataset.dataset_id)
        result = train_spec(spec, data, ListSink())
    else:
        frame = load_staged(spec.dataset.dataset_id)
        if spec.task == "forecast":
            from finml.tasks.forecast import run_forecast

            result = run_forecast(spec, frame, ListSink())
        else:
            from finml.tasks import train_spec

            result = train_spec(spec, frame, ListSink())
    log_result(store, run_id, spec, result)
    store.set_status(run_id, FINISHED)
    return run_id


def stage_image_folders(folders: dict[str, bytes], size: int = 32) -> str:
    """Read ``{folder/name.png: bytes}`` as an upload would be, group near-duplicates,
    stage the images, and return the dataset id."""
    from finml.data import duplicates, images
    from finml.data.staging import stage_images
    from tests import hostile_images as h

    image_set = images.read_zip(h.zip_of(folders), size=size, mode="L")
    hashes = duplicates.perceptual_hashes(image_set.images)
    groups = duplicates.split_groups(image_set, duplicates.near_duplicate_groups(hashes))
    return stage_images(image_set.images, image_set.labels, groups, image_set.names)


@pytest.fixture
def payload_run(reap):
    """A run trained on a table whose names and values are all Markdown and HTML payloads,
    imported under a payload name too."""
    from finml.data.reader import read_table
    from finml.data.schema import default_features
    from finml.data.spec import DatasetSpec
    from finml.data.staging import save_dataset_spec, stage_frame
    from finml.models.registry import resolve_params
    from finml.reporting.exchange import export_run, import_run
    from finml.store import RunStore
    from finml.tasks.spec import RunSpec
    from tests.conftest import train_and_log
    from tests.hostile import builders as b
    from tests.hostile.builders import PAYLOAD_CSV
    from tests.hostile.test_imports import _hostile, _run_json

    read = read_table(PAYLOAD_CSV, f"{b.PAYLOADS[0]}.csv")
    numeric, categorical = default_features(read.schema, "t")
    ds = DatasetSpec(
        stage_frame(read.frame),
        f"{b.PAYLOADS[1]}.csv",
        "t",
        b.PAYLOADS[1],
        tuple(numeric),
        tuple(categorical),
        negative=b.PAYLOADS[2],
    )
    save_dataset_spec(ds)
    run_id = train_and_log(RunSpec(ds, "logreg", resolve_params("logreg")), b.PAYLOADS[3])
    store = RunStore()
    import_run(_hostile(export_run(store, run_id), _run_json(name=b.PAYLOADS[0])), store)
    return run_id, ds
