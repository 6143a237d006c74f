"""Benchmark: the Data page's reading of an upload against the lean script, at growing sizes.

Data: German Credit resampled to N rows (as ``bench_tables.py``: rows drawn with
replacement, seed 0, amounts, durations and ages jittered), written as CSV (21 columns,
about 256 bytes a row).

For each size, each in a fresh Python process (imports and start included, as an analyst's
script pays them):
- lean: ``pd.read_csv(path, engine="pyarrow")`` then ``df.describe()``;
- finml: what the Data page computes from the upload's bytes to its validation report:
  ``read_table`` (structure checks, pyarrow's parse typed as pandas would, schema
  inference, date notes), the upload's SHA-256 (the audit record), the missing-cell count,
  the column table and its warnings;
- finml, row-by-row: the same with ``row_checks=True`` (the path before pyarrow: the csv
  module checks every row, then pandas' C parser), to show what the fast path saves.

The browser's transfer of the upload to the server is not counted on either side (the
lean script reads a local file). Prints each time (median of REPEATS) and the ratio
finml / lean. Target: <= 1.3 at 1M rows.

Usage: python bench/bench_read.py [SIZES] [REPEATS]
    e.g. python bench/bench_read.py 10000,100000,1000000 3
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

LEAN = """
import sys
import pandas as pd
df = pd.read_csv(sys.argv[1], engine="pyarrow")
df.describe()
"""

FINML = """
import hashlib, sys
from pathlib import Path
from finml.data import reader, schema
data = Path(sys.argv[1]).read_bytes()
table = reader.read_table(
    data, "upload.csv", max_bytes=len(data) + 1, max_rows=2_000_000,
    row_checks=sys.argv[2] == "1",
)
hashlib.sha256(data).hexdigest()
int(table.frame.isna().sum().sum())
table.schema.to_frame()
schema.column_warnings(table.schema)
"""


def timed(script: str, *args: str) -> float:
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", script, *args], check=True, cwd=ROOT)
    return time.perf_counter() - t0


def main() -> None:
    from bench_tables import make_csv

    sizes = [int(s) for s in (sys.argv[1] if len(sys.argv) > 1 else "10000,100000").split(",")]
    repeats = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in sizes:
            csv = Path(tmp) / f"credit_{n}.csv"
            make_csv(n, csv)
            lean = statistics.median(timed(LEAN, str(csv)) for _ in range(repeats))
            fast = statistics.median(timed(FINML, str(csv), "0") for _ in range(repeats))
            slow = statistics.median(timed(FINML, str(csv), "1") for _ in range(repeats))
            rows.append((n, csv.stat().st_size / 2**20, lean, fast, slow))
            print(
                f"{n:>9,} rows: lean {lean:.2f} s, finml {fast:.2f} s (ratio {fast / lean:.2f}), "
                f"row-by-row {slow:.2f} s (ratio {slow / lean:.2f})",
                flush=True,
            )
    print("\n| rows | CSV (MiB) | lean script (s) | finml (s) | ratio | row-by-row (s) | ratio |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for n, mib, lean, fast, slow in rows:
        print(
            f"| {n:,} | {mib:.0f} | {lean:.2f} | {fast:.2f} | {fast / lean:.2f} | {slow:.2f} "
            f"| {slow / lean:.2f} |"
        )
    print(f"(median of {repeats} fresh processes each; target ratio <= 1.3)")


if __name__ == "__main__":
    main()
