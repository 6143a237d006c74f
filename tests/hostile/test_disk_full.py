"""A full disk, for real: the data folder lives on a 4 MiB tmpfs mounted in a private mount
namespace (``unshare``), so writes fail with ENOSPC as they would on a full server.

Staging says "disk full", removes its half-written file, and a run that cannot start leaves
no orphan behind."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap

import pytest

from finml.config import PROJECT_ROOT

SCRIPT = textwrap.dedent(
    """
    import json, os, sys
    os.environ["FINML_DATA_DIR"] = sys.argv[1]
    os.environ["FINML_WARM_WORKER"] = "0"
    import numpy as np, pandas as pd
    from finml.data.staging import stage_frame
    from finml.errors import StoreError
    from finml.store import RunStore
    out = {}
    store = RunStore()
    store.experiment_id  # the store fits on the small disk
    filler = os.path.join(sys.argv[1], "filler")
    try:
        with open(filler, "wb") as fh:  # fill the disk up
            while True:
                fh.write(b"x" * 65536)
    except OSError as exc:
        out["filled"] = exc.errno
    noise = pd.DataFrame(np.random.default_rng(0).random((20000, 20)))
    try:
        stage_frame(noise)
    except StoreError as exc:
        out["stage"] = str(exc)
    staged = os.path.join(sys.argv[1], "datasets")  # files, in each owner folder too
    out["tmp_left"] = [f for _, _, files in os.walk(staged) for f in files]
    from finml.data.spec import DatasetSpec
    from finml.models.registry import resolve_params
    from finml.training import jobs
    from finml.tasks.spec import RunSpec
    ds = DatasetSpec("a" * 32, "d", "t", "1", ("x",), ())
    try:
        jobs.submit(RunSpec(ds, "logreg", resolve_params("logreg")), store)
    except StoreError as exc:
        out["submit"] = str(exc)
    os.remove(filler)
    out["runs_after"] = len(store.list_runs())
    print(json.dumps(out))
    """
)


def _runner() -> list[str] | None:
    """How to run a command with a private tmpfs: as root directly in a new mount namespace,
    else in a user namespace."""
    if shutil.which("unshare") is None:
        return None
    for prefix in (["unshare", "-m"], ["unshare", "-rm"]):
        probe = subprocess.run(
            [*prefix, "sh", "-c", "mount -t tmpfs -o size=64k tmpfs /mnt && umount /mnt"],
            capture_output=True,
        )
        if probe.returncode == 0:
            return prefix
    return None


def test_a_full_disk_is_said_plainly_and_leaves_nothing_half_written(tmp_path):
    prefix = _runner()
    if prefix is None:
        pytest.skip(
            "no private tmpfs on this machine (unshare needs CAP_SYS_ADMIN or user namespaces)"
        )
    disk = tmp_path / "disk"
    disk.mkdir()
    command = f"mount -t tmpfs -o size=4m tmpfs {disk} && {sys.executable} -c '{SCRIPT}' {disk}"
    out = subprocess.run(
        [*prefix, "sh", "-c", command],
        capture_output=True,
        text=True,
        cwd=PROJECT_ROOT,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["filled"] == 28  # ENOSPC: the disk really was full
    assert result["stage"].startswith("The disk is full: The table could not be saved")
    assert result["tmp_left"] == []  # the half-written file was removed
    assert "disk is full" in result["submit"]
    assert result["runs_after"] == 0  # no orphan run
