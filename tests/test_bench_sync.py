"""The sync benchmark keeps working: a smoke run at 2,000 events (no timing is asserted)."""

from __future__ import annotations

import pytest
from benchmark_run import run_benchmark


@pytest.mark.slow  # the rate-limited sync asks for one page per day of the 90: about 10 s
def test_bench_sync_prints_every_step_with_app_floor_and_ratio():
    stdout = run_benchmark(
        "bench_sync", "--events", "2000", "--reps", "1", "--limited-reps", "1", timeout=240
    )
    title, header, _rule, *lines = stdout.split("\n\n")[-1].splitlines()
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
