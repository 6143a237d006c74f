"""A worker's slot goes to the next queued run once its result is stored
(:func:`finml.training.local.release_slot`), on both paths: a cold supervisor's worker and a
warm spare's. Real supervisors and workers, a real run store.

The worker calls ``release_slot`` right after its result is stored, before its follow-ups.
Here a separate process makes that same call while the first run still trains: to the
supervisor the two are the same (a first run in its follow-up), and the test need not
wait for a training to end.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from finml.config import PROJECT_ROOT, get_settings
from finml.store import RunStore
from finml.training import jobs, local
from tests.conftest import wait_for

#: A run that trains until it is stopped (and reports an epoch every moment).
LONG = {"epochs": 2000, "patience": 1000}


def _status(store, run_id):
    return store.get_run(run_id).status


def _ended(store, run_id):
    status = _status(store, run_id)
    return status if status not in ("queued", "running") else None


def _pids(pattern: str, reap) -> list[int]:
    """This test's job processes (``reap()``) whose command line has ``pattern``."""
    out = []
    for pid in reap():
        try:
            if pattern.encode() in Path(f"/proc/{pid}/cmdline").read_bytes():
                out.append(pid)
        except OSError:
            continue
    return out


def _release(run_id: str) -> None:
    """Call ``release_slot`` in a process of its own, exactly as the run's worker does."""
    code = (
        "import sys\n"
        "from finml.config import get_settings\n"
        "from finml.training import local\n"
        "local.release_slot(get_settings(), sys.argv[1])\n"
    )
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
    subprocess.run(
        [sys.executable, "-c", code, run_id], check=True, cwd=PROJECT_ROOT, env=env, timeout=30
    )


def _slot_taken(settings) -> bool:
    """True if no worker slot is free (probed by taking one and giving it back)."""
    fd = local._take_slot(settings)
    if fd is None:
        return True
    os.close(fd)
    return False


def _trains_on(store, run_id) -> None:
    """Wait until run ``run_id`` logs another epoch: its worker lives and works."""
    steps = len(store.history(run_id))
    wait_for(lambda: len(store.history(run_id)) > steps, timeout=30)


def _kill_group(pattern: str, reap) -> None:
    """SIGKILL the process group of the one supervisor whose command line has ``pattern``
    (the supervisor and its worker die at once: only the kernel frees their locks)."""
    (supervisor,) = _pids(pattern, reap)
    os.killpg(os.getpgid(supervisor), signal.SIGKILL)


def test_release_slot_is_best_effort():
    settings = get_settings()
    local.release_slot(settings, "0" * 32)  # no job folder (e.g. deleted): nothing, no error
    local.release_slot(settings, "../not-a-run")  # not a run id: nothing, no error
    assert not (settings.jobs_dir / ("0" * 32)).exists()


def test_a_worker_hands_its_slot_to_the_next_run_before_its_follow_ups(
    german_spec, reap, monkeypatch
):
    """One slot. Run A goes to the warm spare (its worker started before the slot was
    taken: the spare supervisor holds the slot), B and C to cold supervisors (their
    workers inherit the slot). A's release starts B, B's release starts C, while A and B
    still train: a run in its follow-up no longer counts against FINML_MAX_WORKERS."""
    monkeypatch.setenv("FINML_MAX_WORKERS", "1")
    monkeypatch.setenv("FINML_WARM_WORKER", "1")
    settings, store = get_settings(), RunStore()
    spares = settings.jobs_dir / "spares"
    local.ensure_spare(settings)
    wait_for(lambda: (spares / "ready").exists(), timeout=90)
    a = jobs.submit(german_spec("mlp", **LONG), store)
    assert not (spares / "ready").exists()  # A claimed the spare
    b, c = (jobs.submit(german_spec("mlp", **LONG), store) for _ in "bc")  # no spare: cold
    lock = local.JobFiles(settings, a).lock
    wait_for(lambda: lock.exists() and lock.read_text() == "spare\n", timeout=10)
    wait_for(lambda: len(store.history(a)) >= 1, timeout=60)
    time.sleep(3 * local.SLOT_POLL_S)
    assert _status(store, b) == _status(store, c) == "queued" and _slot_taken(settings)

    # warm path: the spare supervisor unlocks the slot it holds for A's worker
    _release(a)
    wait_for(lambda: _status(store, b) == "running", timeout=60)
    assert _status(store, a) == "running" and jobs.is_alive(a)
    _trains_on(store, a)  # A's worker lives on beside B's
    assert _status(store, c) == "queued" and _slot_taken(settings)  # B holds the one slot

    # cold path: the supervisor unlocks the slot it shares with B's worker
    _release(b)
    wait_for(lambda: _status(store, c) == "running", timeout=60)
    assert _status(store, b) == "running" and jobs.is_alive(b)
    _trains_on(store, b)
    _trains_on(store, a)

    # idempotent: A's and B's supervisors released their slots once; C's stays held
    _release(a)
    _release(b)
    time.sleep(3 * local.SLOT_POLL_S)
    assert _slot_taken(settings) and _status(store, c) == "running"

    # a worker that dies before its release frees the slot all the same
    (worker,) = _pids(f"finml.training.worker\0{c}", reap)
    os.kill(worker, signal.SIGKILL)
    assert wait_for(lambda: _ended(store, c)) == "failed"
    slot = wait_for(lambda: local._take_slot(settings), timeout=10)
    try:
        # A and B end (their supervisors and workers killed): the slot held here stays
        # held, nothing released twice; their runs are no longer alive
        _kill_group("finml.training.local\0spare", reap)
        _kill_group(f"finml.training.local\0run\0{b}", reap)
        wait_for(lambda: not jobs.is_alive(a) and not jobs.is_alive(b), timeout=30)
        assert _slot_taken(settings)
    finally:
        os.close(slot)
    assert not _slot_taken(settings)  # nothing leaked


def test_no_spare_starts_while_a_run_holds_a_worker_slot(reap, monkeypatch):
    """A spare's start imports TensorFlow (a core for seconds): the pages ask for one on
    every render, but none starts beside a training run; it starts once the slot is free."""
    monkeypatch.setenv("FINML_MAX_WORKERS", "1")
    monkeypatch.setenv("FINML_WARM_WORKER", "1")
    settings = get_settings()
    spares = settings.jobs_dir / "spares"
    slot = local._take_slot(settings)  # a run training: its supervisor holds the slot
    assert slot is not None
    try:
        for _ in range(3):
            jobs.warm_up(settings)
        time.sleep(1.0)
        assert not reap() and not (spares / "ready").exists()  # no spare process at all
    finally:
        local._free_slot(slot)
    jobs.warm_up(settings)
    wait_for(lambda: (spares / "ready").exists(), timeout=90)
    assert local.stop_spare(settings)
