"""The start-up benchmark keeps working: a smoke run of two rounds (no timing is asserted)."""

from __future__ import annotations

from benchmark_run import run_benchmark


def test_bench_cli_start_prints_every_step_with_its_ratio():
    stdout = run_benchmark("bench_cli_start", "--rounds", "2", timeout=300)
    title, header, _rule, *lines = stdout.split("\n\n")[-1].strip().splitlines()
    assert title.startswith("2 processes per step; medians from start to the first request;")
    assert header.split() == ["step", "time", "vs", "python", "-c", "pass"]
    assert [line.split("  ")[0] for line in lines] == [
        "python -c pass",
        "sync, eager imports (before)",
        "sync (now)",
    ]
    assert all(line.count(" ms") == 1 for line in lines)
    assert lines[0].split()[-1] == "1.0"  # the floor against itself
    assert all(float(line.split()[-1]) > 0 for line in lines[1:])
