"""Real servers for the system tests, started by the tests on 127.0.0.1: a throwaway
PostgreSQL cluster from Debian's packages (run as an unprivileged user: initdb refuses
root) and an ``mlflow server`` keeping its runs in it and serving the artifacts."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest

from tests.e2e.conftest import _free_port


def _pg_bin(name: str) -> str:
    """A PostgreSQL program: on PATH, else Debian's /usr/lib/postgresql/<version>/bin."""
    found = shutil.which(name) or next(
        iter(sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)), None
    )
    if found is None:
        pytest.fail(f"PostgreSQL's {name} is missing: install Debian's postgresql (.ci/run does)")
    return found


def _as_user() -> list[str]:
    """Run a command as ``nobody`` when we are root (PostgreSQL refuses to run as root)."""
    return ["runuser", "-u", "nobody", "--"] if os.geteuid() == 0 else []


def _wait(check, what: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, f"{what} did not come up in {seconds:.0f} s"
        time.sleep(0.2)


@pytest.fixture(scope="session")
def postgres():
    """A fresh PostgreSQL cluster on a free port; yields its SQLAlchemy URL of database
    ``mlflow`` (driver psycopg 3)."""
    root = Path(tempfile.mkdtemp(prefix="finml-pg-"))
    root.chmod(0o777)  # the cluster's user must reach it
    data, sock = root / "data", root / "sock"
    sock.mkdir()
    sock.chmod(0o777)
    user = "nobody" if os.geteuid() == 0 else os.environ.get("USER", "postgres")
    subprocess.run(
        [*_as_user(), _pg_bin("initdb"), "-D", str(data), "-U", user, "-A", "trust"],
        check=True,
        capture_output=True,
    )
    port = _free_port()
    log = open(root / "postgres.log", "wb")  # noqa: SIM115
    args = ["-D", str(data), "-p", str(port), "-h", "127.0.0.1", "-k", str(sock)]
    server = subprocess.Popen(
        [*_as_user(), _pg_bin("postgres"), *args],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    ready = [_pg_bin("pg_isready"), "-h", "127.0.0.1", "-p", str(port), "-q"]
    _wait(lambda: subprocess.run(ready).returncode == 0, "PostgreSQL")
    create = [_pg_bin("createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", user, "mlflow"]
    subprocess.run(create, check=True, capture_output=True)
    yield f"postgresql+psycopg://{user}@127.0.0.1:{port}/mlflow"
    server.terminate()
    server.wait(timeout=30)
    log.close()
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def tracking_server(postgres):
    """``mlflow server`` on PostgreSQL with ``--serve-artifacts``; yields its http URL."""
    root = Path(tempfile.mkdtemp(prefix="finml-mlflow-"))
    port = _free_port()
    log = open(root / "mlflow.log", "wb")  # noqa: SIM115
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "mlflow",
            "server",
            "--backend-store-uri",
            postgres,
            "--serve-artifacts",
            "--artifacts-destination",
            str(root / "artifacts"),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "1",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        # finml needs no MLflow server jobs: no huey consumers (five processes) to start
        env={
            **os.environ,
            "MLFLOW_TRACKING_URI": "",
            "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",
        },
    )
    url = f"http://127.0.0.1:{port}"

    def healthy() -> bool:
        assert server.poll() is None, (root / "mlflow.log").read_text()[-3000:]
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as r:
                return r.status == 200
        except OSError:
            return False

    _wait(healthy, "mlflow server", 120)
    yield url
    server.terminate()
    server.wait(timeout=30)
    log.close()
    shutil.rmtree(root, ignore_errors=True)


def _ray_ports() -> list[str]:
    """Explicit free ports for one Ray node's servers (two nodes share this machine)."""
    names = (
        "--node-manager-port",
        "--object-manager-port",
        "--dashboard-agent-listen-port",
        "--dashboard-agent-grpc-port",
        "--runtime-env-agent-port",
        "--metrics-export-port",
    )
    return [arg for name in names for arg in (name, str(_free_port()))]


@pytest.fixture(scope="module")
def ray_cluster(tmp_path_factory):
    """A real Ray cluster on 127.0.0.1: ``ray start --head`` plus one extra worker node, one
    CPU each, with token authentication on (Ray's default): yields ``(dashboard address,
    environment a client needs)``. Pending jobs may wait an hour (RAY_JOB_START_TIMEOUT_SECONDS)."""
    import secrets

    ray = str(Path(sys.executable).parent / "ray")
    temp = tempfile.mkdtemp(prefix="ray-", dir="/tmp")  # Ray's socket paths must stay short
    auth = {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(16)}
    env = {
        **os.environ,
        **auth,
        "RAY_JOB_START_TIMEOUT_SECONDS": "3600",
        "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]),
    }
    gcs, dashboard = _free_port(), _free_port()
    common = ["--node-ip-address", "127.0.0.1", "--num-cpus", "1", "--num-gpus", "0"]
    log = tmp_path_factory.mktemp("ray") / "ray.log"

    def start(*args: str) -> None:
        with open(log, "ab") as out:
            done = subprocess.run(
                [ray, "start", *common, *_ray_ports(), *args],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                timeout=180,
            )
        assert done.returncode == 0, log.read_text()[-3000:]

    start(
        "--head",
        "--port",
        str(gcs),
        "--dashboard-host",
        "127.0.0.1",
        "--dashboard-port",
        str(dashboard),
        "--disable-usage-stats",
        "--temp-dir",
        temp,
        "--include-dashboard",
        "true",
    )
    start("--address", f"127.0.0.1:{gcs}")
    status = [ray, "status", "--address", f"127.0.0.1:{gcs}"]

    def two_nodes() -> bool:
        out = subprocess.run(status, env=env, capture_output=True, text=True).stdout
        return out.count(" node_") >= 2

    _wait(two_nodes, "the second Ray node", 120)
    try:
        yield f"http://127.0.0.1:{dashboard}", auth
    finally:
        subprocess.run([ray, "stop", "--force"], env=env, capture_output=True, timeout=120)
        shutil.rmtree(temp, ignore_errors=True)
