"""The cache benchmark keeps working: a smoke run at 2,000 events (no timing is asserted)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).parent.parent / "benchmarks" / "bench_cache.py"


def test_bench_cache_prints_every_load_against_both_floors():
    done = subprocess.run(
        [sys.executable, str(BENCH), "--events", "2000", "--runs", "1"],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    title, header, _rule, *lines = done.stdout.split("\n\n")[-1].splitlines()
    assert title.startswith("2,000 events, seed 0; medians of 1 runs;")
    assert header.split() == [
        "step", "app", "pd.read_sql", "app/read_sql", "sqlite3", "fetchall", "app/fetchall"
    ]  # fmt: skip
    assert [line.split(",")[0] for line in lines] == [
        "load_frame",
        "load_frame(limit=5",
        "before: the DBAPI path (PostgreSQL's)",
    ]
    for line in lines:
        assert line.count(" s ") == 3  # the app and both floors, each with its ratio
