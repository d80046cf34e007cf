"""The export benchmark keeps working: a smoke run at 2,000 events (no timing is asserted)."""

from __future__ import annotations

import pytest
from benchmark_run import run_benchmark


@pytest.mark.slow  # four fresh processes, each importing the app: about 15 s
def test_bench_export_prints_all_and_filtered_with_floor_ratio_and_memory():
    stdout = run_benchmark("bench_export", "--events", "2000", "--runs", "1", timeout=240)
    title, header, _rule, *lines = stdout.split("\n\n")[-1].splitlines()
    assert title.startswith("2,000 events, seed 0; medians of 1 runs;")
    assert header.split()[:4] == ["step", "app", "floor", "app/floor"]
    assert [line.split(":")[0] for line in lines] == ["Save as CSV, all", "Save as CSV, filtered"]
    everything, filtered = (int(line.split(": ")[1].split()[0].replace(",", "")) for line in lines)
    assert everything == 2000
    assert 0 < filtered < 2000  # the search word keeps some events, not all
    for line in lines:
        assert line.count(" s ") == 3  # app, floor and app CPU seconds
        assert line.count(" MB") >= 3  # file size, app and floor peak memory
