"""The local executor: training runs in worker processes on this machine.

Each run gets a folder ``<data dir>/jobs/<run id>/`` with ``spec.json``, a ``stop`` file
(a stop request), ``job.log`` (the processes' output) and ``alive.lock``.

Processes: :func:`launch` hands a queued run to a *supervisor*, a light process that waits
its turn (first in, first out: ``jobs/queue/`` holds one entry per waiting run, named by its
submit time) and one of ``FINML_MAX_WORKERS`` slots, then lets a *worker*
(:mod:`finml.training.worker`, which imports TensorFlow) train and write everything to the
run store. If the worker dies without reporting (a crash, a kill signal), the supervisor
marks the run ``failed`` with the reason.

Warm start: importing TensorFlow and MLflow takes about 4-5 s on a 2-core machine. With
``FINML_WARM_WORKER`` on, one *spare* supervisor+worker pair waits in ``jobs/spares/``
with everything imported. :func:`launch` claims it atomically (a rename of the ``ready``
file, which only one caller can win) and writes the run id to ``assign``; without a ready
spare it starts a cold supervisor. The spare starts its own replacement once its run ends,
and exits after ``FINML_WARM_IDLE_S`` unused.

Liveness needs no PID bookkeeping: ``alive.lock`` is locked with ``flock`` by the process
that starts or takes the run and is inherited by the worker; the kernel frees it when they
are gone. Slots are ``flock`` locks too, so a crashed worker never leaks one.

Follow-ups: once a worker has stored its result it calls :func:`release_slot`, which
creates ``result-stored`` in the job folder; the supervisor (which always holds the slot,
whether it started the worker or a warm one) sees it within :data:`SLOT_POLL_S` and unlocks
the slot, so the next queued run starts while the worker computes its follow-ups
(permutation importance, SHAP). Such a worker no longer counts against
``FINML_MAX_WORKERS``: it shares the CPU with the next run, the intended trade-off. The run
stays alive (``alive.lock``) until the worker exits, follow-ups included.

This module is imported by the supervisor: keep its module-level imports light.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from finml.config import PROJECT_ROOT, Settings, get_settings
from finml.errors import StoreError

#: Seconds between two attempts of a queued job to take a worker slot.
SLOT_POLL_S = 0.25


#: Seconds between two looks of a spare for its assignment.
SPARE_POLL_S = 0.05


#: Seconds a queue entry counts as waiting even before its process holds the run's lock
#: (a spare takes the lock a moment after it is claimed).
QUEUE_GRACE_S = 30.0
#: A run this young without a lock file is still being started, not interrupted.
START_GRACE_S = 30.0
#: Seconds a claimed spare waits for its assignment before giving up.
CLAIM_GRACE_S = 10.0


_RUN_ID = re.compile(r"^[0-9a-f]{32}$")


_STOP_SPARE = "STOP"


class JobFiles:
    """The files of one job in the workspace.

    Attributes:
        settings: the settings it lives under.
        run_id: the run.
        dir: the job's folder.
        spec: the run spec (JSON).
        stop: exists once a stop was requested.
        lock: held (``flock``) while the job's supervisor or worker lives.
        log: the output of the supervisor and worker.
        stored: created by the worker once its result is stored (:func:`release_slot`).

    Raises:
        StoreError: ``run_id`` is not a run id (it becomes a path).
    """

    def __init__(self, settings: Settings, run_id: str):
        if not _RUN_ID.match(run_id):
            raise StoreError(f"{run_id!r} is not a run id.")
        self.settings, self.run_id = settings, run_id
        self.dir = settings.jobs_dir / run_id
        self.spec, self.stop = self.dir / "spec.json", self.dir / "stop"
        self.lock, self.log = self.dir / "alive.lock", self.dir / "job.log"
        self.stored = self.dir / "result-stored"

    def stop_requested(self) -> bool:
        """True once :func:`request_stop` was called (one ``stat``: cheap enough per batch)."""
        return self.stop.exists()


def server_pid() -> int:
    """The web server this process works for: ``FINML_SERVER_PID`` in its children (set by
    :func:`_child_env`), else this process itself (the server)."""
    return int(os.environ.get("FINML_SERVER_PID") or os.getpid())


def _child_env(settings: Settings) -> dict[str, str]:
    env = {**os.environ, **settings.environment(), "FINML_SERVER_PID": str(server_pid())}
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PROJECT_ROOT), env.get("PYTHONPATH")]))
    return env


def _spawn(args: list[str], settings: Settings, log: Path, pass_fds: tuple[int, ...] = ()):
    with open(log, "ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", *args],
            pass_fds=pass_fds,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            cwd=PROJECT_ROOT,
            env=_child_env(settings),
        )
    threading.Thread(target=proc.wait, daemon=True).start()  # reap it: no zombie
    return proc


def launch(settings: Settings, run_id: str, spec) -> None:
    """Start run ``run_id`` (status ``queued``): write its spec to the job folder, give it
    to the ready spare, or start a cold supervisor. Returns at once; the supervisor or spare
    holds the run's ``alive.lock`` from here on.

    Raises:
        OSError: the job folder could not be written (e.g. a full disk).
    """
    job = JobFiles(settings, run_id)
    job.dir.mkdir(parents=True, exist_ok=True)
    job.spec.write_text(spec.to_json())
    _enqueue(settings, run_id)
    fd = os.open(job.lock, os.O_CREAT | os.O_RDWR, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        if not (settings.warm_worker and _claim_spare(settings, run_id)):
            os.write(fd, b"cold\n")  # a non-empty lock file: no handover grace (see jobs)
            _spawn(["finml.training.local", "run", run_id, str(fd)], settings, job.log, (fd,))
    finally:
        os.close(fd)  # a cold supervisor inherited the lock; a spare takes it itself


def request_stop(settings: Settings, run_id: str) -> None:
    """Ask a run to stop: a running worker ends after its current batch, a queued one never
    starts. Both keep status ``stopped`` and what they logged."""
    job = JobFiles(settings, run_id)
    job.dir.mkdir(parents=True, exist_ok=True)
    job.stop.touch()


def _lock_held(path: Path) -> bool:
    try:
        fd = os.open(path, os.O_RDWR)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # closing also releases a lock we just took
    return False


def is_alive(settings: Settings, run_id: str) -> bool:
    """True while the run's supervisor or worker process lives (its lock is held)."""
    return _lock_held(JobFiles(settings, run_id).lock)


def handing_over(settings: Settings, run_id: str) -> bool:
    """True while the run's lock file is missing or empty: handed to a spare that has not
    locked it yet (it writes a line), or not created yet."""
    lock = JobFiles(settings, run_id).lock
    return not lock.exists() or lock.stat().st_size == 0


def ended(settings: Settings, run) -> tuple[str, str] | None:
    """(``interrupted``, why) for an active run whose processes are gone (a dead supervisor
    reports a dead worker itself, so only a dead server or machine leaves one); None while
    they live or the run is still being handed over (:data:`START_GRACE_S`)."""
    if is_alive(settings, run.run_id):
        return None
    if handing_over(settings, run.run_id) and time.time() - run.submitted < START_GRACE_S:
        return None
    from finml.store import INTERRUPTED

    return INTERRUPTED, "The worker ended without reporting back (the server or machine stopped)."


# -- supervisor ------------------------------------------------------------------------------
def _training(settings: Settings) -> bool:
    """True while a worker slot is held: a run trains on this machine (until its result is
    stored, :func:`release_slot`)."""
    slots = settings.jobs_dir / "slots"
    return any(_lock_held(slots / f"slot-{i}.lock") for i in range(settings.max_workers))


def _take_slot(settings: Settings) -> int | None:
    slots = settings.jobs_dir / "slots"
    slots.mkdir(parents=True, exist_ok=True)
    for i in range(settings.max_workers):
        fd = os.open(slots / f"slot-{i}.lock", os.O_CREAT | os.O_RDWR, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return fd
        except BlockingIOError:
            os.close(fd)
    return None


def release_slot(settings: Settings, run_id: str) -> None:
    """Called by the worker of ``run_id`` once its result is stored and its status set,
    before its follow-ups: hand its worker slot to the next queued run.

    It creates the job's ``result-stored`` file; the run's supervisor, which holds the
    slot on both paths (a cold worker inherits it too, a warm one never had it), unlocks
    the slot within :data:`SLOT_POLL_S`. Idempotent, and best effort: it never raises (a
    run whose job folder is gone, or one not run by this executor, keeps its slot until
    its worker exits, as without the call; so does a cold worker whose supervisor was
    killed: it holds the inherited slot alone). A worker that dies before the call frees
    its slot with its supervisor, as ever.
    """
    with contextlib.suppress(OSError, StoreError):
        JobFiles(settings, run_id).stored.touch()


def _free_slot(slot: int) -> None:
    """Unlock and close a slot descriptor. ``LOCK_UN``, not just ``close``: a cold worker
    shares the lock (the same open file description) through its inherited copy."""
    try:
        fcntl.flock(slot, fcntl.LOCK_UN)
    finally:
        os.close(slot)


def _wait_worker(job: JobFiles, worker: subprocess.Popen, slot: int) -> int:
    """Wait for ``worker`` to exit and return its exit code. The slot is freed as soon as
    the worker has stored its result (:func:`release_slot`), else when it exits; exactly
    once either way."""
    held = True
    try:
        while True:
            try:
                return worker.wait(timeout=SLOT_POLL_S)
            except subprocess.TimeoutExpired:
                if job.stored.exists():
                    break
        held = False  # before freeing: never twice, even if freeing fails
        _free_slot(slot)
        return worker.wait()
    finally:
        if held:
            _free_slot(slot)


def _queue_dir(settings: Settings) -> Path:
    path = settings.jobs_dir / "queue"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _enqueue(settings: Settings, run_id: str) -> None:
    """Take a place in the queue at submit time: an empty file named by the submit time in
    nanoseconds, so runs start in the order they were submitted."""
    (_queue_dir(settings) / f"{time.time_ns():020d}-{run_id}").touch()


def _first_in_queue(settings: Settings, run_id: str) -> bool:
    """True if no run submitted before ``run_id`` still waits. Entries of runs whose
    processes are gone (past the handover grace) are cleared on the way."""
    for entry in sorted(_queue_dir(settings).iterdir()):
        other = entry.name.partition("-")[2]
        if other == run_id:
            return True
        try:
            recent = time.time() - entry.stat().st_mtime < QUEUE_GRACE_S
        except FileNotFoundError:
            continue  # it just took its slot
        if recent or is_alive(settings, other):
            return False
        entry.unlink(missing_ok=True)  # left by a supervisor that died while waiting
    return True


def _dequeue(settings: Settings, run_id: str) -> None:
    for entry in _queue_dir(settings).glob(f"*-{run_id}"):
        entry.unlink(missing_ok=True)


def _wait_for_slot(settings: Settings, job: JobFiles) -> int | None:
    """Block until this run is first in the queue and a worker slot is free; None if a
    stop was requested meanwhile."""
    try:
        while True:
            if job.stop_requested():
                from finml.store import STOPPED, RunStore

                RunStore(settings).set_status(job.run_id, STOPPED, "Stopped while queued.")
                return None
            if _first_in_queue(settings, job.run_id):
                slot = _take_slot(settings)
                if slot is not None:
                    return slot
            time.sleep(SLOT_POLL_S)
    finally:
        _dequeue(settings, job.run_id)


def _tail(path: Path, n: int = 8) -> str:
    try:
        lines = path.read_text(errors="replace").strip().splitlines()
    except OSError:
        return ""
    return "\n".join(lines[-n:])


def _report_death(settings: Settings, job: JobFiles, rc: int) -> None:
    """Mark the run failed if its worker died (``rc != 0``) without reporting."""
    if rc == 0:
        return
    from finml.store import ACTIVE, FAILED, RunStore

    store = RunStore(settings)
    if store.get_run(job.run_id).status not in ACTIVE:
        return
    if rc < 0:
        why = f"The worker process was killed by signal {signal.Signals(-rc).name}."
    else:
        why = f"The worker process exited with code {rc}."
    tail = _tail(job.log)
    store.set_status(job.run_id, FAILED, why + (f"\nLast output:\n{tail}" if tail else ""))


def supervise(run_id: str, lock_fd: int) -> int:
    """Body of a cold supervisor: wait for a slot, start a worker, report its death.

    Args:
        run_id: the run.
        lock_fd: inherited descriptor of the job's locked ``alive.lock``, passed on.

    Returns:
        int: process exit code.
    """
    settings = get_settings()
    job = JobFiles(settings, run_id)
    slot = _wait_for_slot(settings, job)
    if slot is None:
        return 0
    job.stored.unlink(missing_ok=True)  # only this run's worker may release the slot
    proc = subprocess.Popen(  # it inherits the slot: held even if this supervisor dies
        [sys.executable, "-m", "finml.training.worker", run_id],
        pass_fds=(lock_fd, slot),
        stdin=subprocess.DEVNULL,
        cwd=PROJECT_ROOT,
    )
    _report_death(settings, job, _wait_worker(job, proc, slot))
    return 0


# -- warm spare ------------------------------------------------------------------------------
def _spares_dir(settings: Settings) -> Path:
    path = settings.jobs_dir / "spares"
    path.mkdir(parents=True, exist_ok=True)
    return path


def ensure_spare(settings: Settings | None = None) -> None:
    """Start a warm spare worker unless one is warming or ready, or a run is training on
    this machine (no-op if warm start is off).

    A spare's start imports TensorFlow (a core for several seconds): started while a run
    trains, it slowed a 10,000-row boosting run in the browser from about 1 s to 20 s on
    2 cores, so the next spare starts once the worker slots are free again (the pages ask
    on every render, the supervisor when its run ends). Cheap: a few lock probes.
    """
    settings = settings or get_settings()
    if not settings.warm_worker or _training(settings):
        return
    spares = _spares_dir(settings)
    if not _lock_held(spares / "spare.lock"):  # it watches this process: the web server
        args = ["finml.training.local", "spare", str(server_pid())]
        _spawn(args, settings, spares / "spare.log")


def _claim_spare(settings: Settings, run_id: str) -> bool:
    """Give ``run_id`` to the ready spare, if there is one. Only one caller can win it."""
    spares = _spares_dir(settings)
    if not _lock_held(spares / "spare.lock"):
        (spares / "ready").unlink(missing_ok=True)  # left by a spare that died
        return False
    try:
        os.rename(spares / "ready", spares / "claimed")
    except FileNotFoundError:
        return False
    tmp = spares / "assign.tmp"
    tmp.write_text(run_id)
    os.rename(tmp, spares / "assign")
    return True


def stop_spare(settings: Settings | None = None, wait_s: float = 10.0) -> bool:
    """Make a ready spare exit (tests, shutdown) and wait up to ``wait_s`` until it has.
    Returns True if one was ready."""
    settings = settings or get_settings()
    if not _claim_spare(settings, _STOP_SPARE):
        return False
    deadline = time.monotonic() + wait_s
    while _lock_held(_spares_dir(settings) / "spare.lock") and time.monotonic() < deadline:
        time.sleep(SPARE_POLL_S)
    return True


def run_spare(server_pid: int | None = None) -> int:
    """Body of a spare supervisor: start a warm worker, wait for a run, then supervise it.

    Args:
        server_pid: the web server that asked for the spare; an idle spare exits within
            a poll (:data:`SPARE_POLL_S`) once that process is gone, so it never outlives
            its server by more than a moment (it holds TensorFlow: about 800 MB).
    """
    settings = get_settings()
    spares = _spares_dir(settings)
    spare_fd = os.open(spares / "spare.lock", os.O_CREAT | os.O_RDWR, 0o600)
    try:
        fcntl.flock(spare_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return 0  # another spare is already there
    warm = spares / f"warm-{os.getpid()}"
    worker = subprocess.Popen(
        [sys.executable, "-m", "finml.training.worker", "--standby", str(warm)],
        stdin=subprocess.PIPE,
        cwd=PROJECT_ROOT,
    )
    while not warm.exists():
        if worker.poll() is not None:
            return 1  # the standby worker could not start; submit falls back to cold starts
        time.sleep(SPARE_POLL_S)
    warm.unlink()
    (spares / "claimed").unlink(missing_ok=True)
    (spares / "ready").write_text(str(os.getpid()))
    run_id = _wait_for_assignment(spares, settings.warm_idle_s, server_pid)
    os.close(spare_fd)  # from here on, a new spare may start
    if run_id is None or run_id == _STOP_SPARE:
        worker.kill()
        return 0
    return _supervise_spare(settings, run_id, worker)


def _alive(pid: int | None) -> bool:
    """True if process ``pid`` exists (``None``: nothing to watch)."""
    if pid is None:
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, another user's
        return True
    return True


def _wait_for_assignment(spares: Path, idle_s: float, server_pid: int | None = None) -> str | None:
    """Wait for a run id in ``assign``; None after ``idle_s`` unclaimed, once the web
    server ``server_pid`` is gone, or if the data folder was removed (a spare must never
    outlive its workspace nor its server)."""
    deadline = time.monotonic() + idle_s
    assign = spares / "assign"
    while not assign.exists():
        if not spares.is_dir():
            return None
        if time.monotonic() > deadline or not _alive(server_pid):
            try:
                os.rename(spares / "ready", spares / "retired")
                return None
            except FileNotFoundError:  # claimed just now: the assignment follows at once
                deadline, server_pid = time.monotonic() + CLAIM_GRACE_S, None
                if not (spares / "claimed").exists():
                    return None
        time.sleep(SPARE_POLL_S)
    run_id = assign.read_text().strip()
    assign.unlink()
    return run_id


def _supervise_spare(settings: Settings, run_id: str, worker: subprocess.Popen) -> int:
    job = JobFiles(settings, run_id)
    lock_fd = os.open(job.lock, os.O_CREAT | os.O_RDWR, 0o600)
    fcntl.flock(lock_fd, fcntl.LOCK_EX)
    os.write(lock_fd, b"spare\n")  # marks the run as taken by this process
    slot = _wait_for_slot(settings, job)
    if slot is None:
        worker.kill()
        return 0
    job.stored.unlink(missing_ok=True)  # only this run's worker may release the slot
    try:
        worker.stdin.write(f"{run_id}\n".encode())
        worker.stdin.close()
    except OSError:  # the standby worker died while waiting: run the job cold
        worker = subprocess.Popen(
            [sys.executable, "-m", "finml.training.worker", run_id],
            pass_fds=(slot,),
            cwd=PROJECT_ROOT,
        )
    _report_death(settings, job, _wait_worker(job, worker, slot))
    ensure_spare(settings)
    return 0


if __name__ == "__main__":
    if sys.argv[1] == "spare":
        sys.exit(run_spare(int(sys.argv[2]) if len(sys.argv) > 2 else None))
    sys.exit(supervise(sys.argv[2], int(sys.argv[3])))
