"""The Ray executor: each training run is a Ray job on a cluster (``FINML_RAY_ADDRESS``).

:func:`launch` submits ``python -m finml.training.worker RUN_ID`` through Ray's Jobs API
(:class:`ray.job_submission.JobSubmissionClient`), with this project's code as the job's
``working_dir`` and the tracking server's address in its environment. The worker reads its
spec and its staged dataset from the tracking server and writes everything back there, so
the cluster's machines need no disk shared with the web server, only an environment with
``requirements.txt`` installed.

Each run asks Ray for ``FINML_RAY_CPUS`` CPUs (and one GPU if its spec says so); a job Ray
cannot place yet stays ``PENDING`` and its run ``queued``, so how many runs train at once
follows the cluster's free resources. Ray fails a job still pending after
``RAY_JOB_START_TIMEOUT_SECONDS`` (15 minutes by default, an environment variable of the
head node): raise it on the head for long queues.

Stop: :func:`request_stop` calls Ray's ``stop_job``, which sends the worker ``SIGTERM``;
the worker takes it as a stop request, ends after its current batch and logs what it has.
Ray kills it after ``RAY_JOB_STOP_WAIT_TIME_S`` (set to :data:`STOP_WAIT_S` for our jobs).

A job that ends without its run reporting (killed, out of memory, a lost node) is found by
:func:`ended`, which gives the run's final status with Ray's message and the log's tail.

Token authentication (on by default in Ray 2.60): the web server needs ``RAY_AUTH_MODE=token``
and the cluster's token (``RAY_AUTH_TOKEN`` or ``~/.ray/auth_token``) in its environment;
:class:`~ray.job_submission.JobSubmissionClient` sends it.
"""

from __future__ import annotations

import json
import re
import time
from typing import TYPE_CHECKING

from finml.errors import StoreError

if TYPE_CHECKING:
    from finml.config import Settings
    from finml.store import RunInfo

#: Seconds Ray waits after SIGTERM before it kills a stopped job's worker (the worker logs
#: its partial result meanwhile: the current batch, the test metrics, the bundle).
STOP_WAIT_S = 60
#: Seconds a run just submitted may be unknown to Ray without being called lost.
SUBMIT_GRACE_S = 30.0
#: Where a job's worker keeps its node-local cache (datasets fetched from the tracking server).
NODE_DATA_DIR = "/tmp/finml-ray-worker"
#: What the job's ``working_dir`` leaves out (besides what ``.gitignore`` names).
EXCLUDES = [".git", ".venv", "data", "tests", "bench", "__pycache__", "*.pyc"]
#: Environment variables passed on to jobs when the web server has them (the tracking
#: server's credentials).
PASSED_ON = ("MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD", "MLFLOW_TRACKING_TOKEN")

_ACTIVE_JOB = ("PENDING", "RUNNING")
_clients: dict[str, object] = {}  # address -> client (a connection, no user data)


def job_id(run_id: str) -> str:
    """The Ray submission id of run ``run_id``: ``finml-<run id>``."""
    return f"finml-{run_id}"


def client(settings: Settings):
    """The Jobs API client of the cluster at ``settings.ray_address`` (one per address).

    Raises:
        StoreError: Ray is not installed, or the cluster does not answer.
    """
    address = settings.ray_address
    if address not in _clients:
        try:
            from ray.job_submission import JobSubmissionClient
        except ImportError as exc:
            raise StoreError(
                "FINML_RAY_ADDRESS is set but Ray is not installed here: "
                'pip install "ray[default]==2.60.0", or unset FINML_RAY_ADDRESS.'
            ) from exc
        try:
            _clients[address] = JobSubmissionClient(address)
        except Exception as exc:  # ConnectionError, an auth error, a bad address
            raise StoreError(_unreachable(address, exc)) from exc
    return _clients[address]


def _unreachable(address: str, exc: Exception) -> str:
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return (
        f"The Ray cluster at {address} did not answer ({first[:300]}). Check that its head "
        "is running and, with token authentication, that RAY_AUTH_MODE=token and the "
        "cluster's RAY_AUTH_TOKEN are set for this server."
    )


def job_environment(settings: Settings) -> dict[str, str]:
    """The environment of a run's job on the cluster: this server's settings, a node-local
    data folder, and Ray's stop grace (:data:`STOP_WAIT_S`)."""
    import os

    env = {
        **settings.environment(),
        "FINML_DATA_DIR": NODE_DATA_DIR,
        "FINML_WARM_WORKER": "0",
        "RAY_JOB_STOP_WAIT_TIME_S": str(STOP_WAIT_S),
        "TF_CPP_MIN_LOG_LEVEL": "2",
        "PYTHONUNBUFFERED": "1",
    }
    env.update({k: os.environ[k] for k in PASSED_ON if os.environ.get(k)})
    return env


def launch(settings: Settings, run_id: str, spec) -> None:
    """Submit run ``run_id`` (status ``queued``) as a Ray job; return at once.

    The spec goes to the tracking server as the run's ``spec.json`` (the worker reads it
    from there). The job asks for ``settings.ray_cpus`` CPUs and ``spec.gpus`` GPUs.

    Args:
        settings: the settings (``ray_address`` set, an ``http(s)`` tracking URI).
        run_id: the run, created in the store.
        spec: its :class:`~finml.tasks.spec.RunSpec`.

    Raises:
        StoreError: the tracking store is not a server, or the cluster refused the job or
            did not answer.
    """
    from finml.config import PROJECT_ROOT
    from finml.data import remote
    from finml.store import RunStore

    if not remote.is_remote(settings):
        raise StoreError(
            "Training on a Ray cluster (FINML_RAY_ADDRESS) needs a tracking server that the "
            "cluster can reach: set MLFLOW_TRACKING_URI=http://… (see the README, "
            "'Deploy for a team')."
        )
    RunStore(settings).log_json(run_id, json.loads(spec.to_json()), "spec.json")
    jobs = client(settings)
    try:
        jobs.submit_job(
            entrypoint=f"python -m finml.training.worker {run_id}",
            submission_id=job_id(run_id),
            runtime_env={
                "working_dir": str(PROJECT_ROOT),
                "excludes": EXCLUDES,
                "env_vars": job_environment(settings),
            },
            entrypoint_num_cpus=settings.ray_cpus,
            entrypoint_num_gpus=int(getattr(spec, "gpus", 0) or 0),
            metadata={"finml_run": run_id},
        )
    except Exception as exc:  # the cluster's answer, or no answer
        raise StoreError(_unreachable(settings.ray_address, exc)) from exc


def _info(settings: Settings, run_id: str):
    """Ray's record of the run's job; None if Ray does not know it. Raises StoreError if
    the cluster does not answer."""
    try:
        return client(settings).get_job_info(job_id(run_id))
    except StoreError:
        raise
    except Exception as exc:
        if "does not exist" in str(exc):
            return None
        raise StoreError(_unreachable(settings.ray_address, exc)) from exc


def request_stop(settings: Settings, run_id: str) -> None:
    """Stop run ``run_id``'s job: a pending one never starts (its run becomes ``stopped``
    at once), a running one gets SIGTERM and ends after its current batch.

    Raises:
        StoreError: the cluster does not answer.
    """
    from finml.store import QUEUED, STOPPED, RunStore

    try:
        client(settings).stop_job(job_id(run_id))
    except StoreError:
        raise
    except Exception as exc:
        if "does not exist" not in str(exc):
            raise StoreError(_unreachable(settings.ray_address, exc)) from exc
    store = RunStore(settings)
    if store.get_run(run_id).status == QUEUED:
        store.set_status(run_id, STOPPED, "Stopped while queued.")


def is_alive(settings: Settings, run_id: str) -> bool:
    """True while the run's job is pending or running (or the cluster does not answer:
    nothing is known, so nothing is concluded)."""
    try:
        info = _info(settings, run_id)
    except StoreError:
        return True
    return info is not None and str(info.status) in _ACTIVE_JOB


def ended(settings: Settings, run: RunInfo) -> tuple[str, str] | None:
    """The final status and reason of an active run whose job is over without it reporting;
    None while the job lives, was just submitted, or the cluster does not answer.

    Returns:
        tuple[str, str] | None: (``failed``, Ray's message and the log's last lines) for a
        failed job; (``stopped``, why) for a job stopped on the cluster; (``interrupted``,
        why) for a job Ray no longer knows or that ended quietly.
    """
    from finml.store import FAILED, INTERRUPTED, QUEUED, STOPPED

    try:
        info = _info(settings, run.run_id)
    except StoreError:
        return None
    if info is None:
        if time.time() - run.submitted < SUBMIT_GRACE_S:
            return None
        return INTERRUPTED, "The Ray cluster no longer knows this run's job (it was restarted)."
    status = str(info.status)
    if status in _ACTIVE_JOB:
        return None
    if status == "STOPPED":
        if run.status == QUEUED:
            return STOPPED, "Stopped while queued."
        return STOPPED, "Stopped on the Ray cluster before the run could save its results."
    if status == "FAILED":
        tail = log_tail(settings, run.run_id)
        why = f"The Ray job failed: {_first_line(info.message)}"
        return FAILED, why + (f"\nLast output:\n{tail}" if tail else "")
    return INTERRUPTED, "The Ray job ended without the run reporting its results."


def _first_line(message: str | None) -> str:
    lines = (message or "no message").strip().splitlines()
    return re.sub(r"\s+", " ", lines[0])[:500] if lines else "no message"


def log_tail(settings: Settings, run_id: str, n: int = 8) -> str:
    """The last ``n`` lines of the run's job log on the cluster ('' if it has none)."""
    try:
        text = client(settings).get_job_logs(job_id(run_id))
    except Exception:  # the log is a courtesy: the status is already known
        return ""
    return "\n".join(text.strip().splitlines()[-n:])


def ensure_spare(settings: Settings) -> None:
    """No warm spare on a cluster (each job imports TensorFlow on its node)."""
