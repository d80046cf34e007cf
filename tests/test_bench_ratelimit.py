"""The rate limiter benchmark keeps working: a smoke run of a few rounds (no timing is asserted)."""

from __future__ import annotations

from benchmark_run import run_benchmark


def test_bench_ratelimit_prints_both_limiters_with_the_ratio():
    stdout = run_benchmark("bench_ratelimit", "--rounds", "20", timeout=120)
    title, header, _rule, *lines = stdout.split("\n\n")[-1].strip().splitlines()
    assert title.startswith("20 rounds of 10 acquires per limiter; medians per acquire;")
    assert header.split() == ["limiter", "acquire", "vs", "in-process"]
    assert [line.split("  ")[0] for line in lines] == ["in-process (before)", "shared file (now)"]
    for line in lines:
        assert line.count(" µs") == 1
    assert lines[0].split()[-1] == "1.0"  # the baseline against itself
    assert float(lines[1].split()[-1]) > 0
