"""Shared fixtures: every test gets its own data folder; warm spare workers are off unless a
test turns them on (they would outlive the test)."""

from __future__ import annotations

import contextlib

import pytest

from finml.data.demo import demo_frame

GERMAN = "German Credit (Statlog)"


@pytest.fixture(autouse=True)
def data_dir(tmp_path, monkeypatch):
    """A fresh FINML_DATA_DIR (run store, staged data, jobs) for each test."""
    folder = tmp_path / "finml-data"
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
    from finml.data.staging import stage_frame
    from finml.data.tabular import default_features, infer_schema
    from finml.models.registry import resolve_params
    from finml.spec import DatasetSpec, RunSpec

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
