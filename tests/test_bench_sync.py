"""The sync benchmark keeps working: a smoke run at 2,000 events (no timing is asserted)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).parent.parent / "benchmarks" / "bench_sync.py"


@pytest.mark.slow  # the rate-limited sync asks for one page per day of the 90: about 10 s
def test_bench_sync_prints_every_step_with_app_floor_and_ratio():
    done = subprocess.run(
        [sys.executable, str(BENCH), "--events", "2000", "--reps", "1", "--limited-reps", "1"],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    title, header, _rule, *lines = done.stdout.split("\n\n")[-1].splitlines()
    assert title.startswith("2,000 events, seed 1; medians")
    assert header.split() == ["step", "app", "floor", "app/floor"]
    rows = {line.split(",")[0]: line for line in lines}
    assert set(rows) == {
        "cache insert",
        "server alone",
        "sync without rate limits",
        "sync as shipped",
    }
    # Every measured step shows a rate; all but the server itself are set against a floor.
    for step, line in rows.items():
        rates = [word for word in line.split() if word.endswith("/s")]
        assert len(rates) == (1 if step == "server alone" else 2), line
    assert "limiter waited" in rows["sync as shipped"]
