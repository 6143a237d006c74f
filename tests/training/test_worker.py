"""The worker process: what it does after a run's result is logged."""

from __future__ import annotations

import json
import subprocess
import sys

#: A process with a second thread already running (as OpenMP's pool is after a fit) lowers
#: its priority, and prints every thread's nice value before and after.
_PROBE = """
import json, os, threading
from finml.training.worker import lower_priority
def nice():
    return {t: os.getpriority(os.PRIO_PROCESS, int(t)) for t in os.listdir("/proc/self/task")}
done = threading.Event()
threading.Thread(target=done.wait, daemon=True).start()
before = nice()
lower_priority(5)
print(json.dumps([before, nice()]))
done.set()
"""


def test_lower_priority_lowers_every_thread_even_those_started_before():
    out = subprocess.run(
        [sys.executable, "-c", _PROBE], capture_output=True, text=True, check=True, timeout=120
    )
    before, after = json.loads(out.stdout.strip().splitlines()[-1])
    assert len(before) >= 2  # the main thread and the one started before the call
    assert set(after) == set(before)
    for tid, nice in before.items():
        assert after[tid] == min(19, nice + 5), (tid, before, after)
