"""The cache benchmark keeps working: a smoke run at 2,000 events (no timing is asserted)."""

from __future__ import annotations

from benchmark_run import run_benchmark


def test_bench_cache_prints_every_load_against_both_floors():
    stdout = run_benchmark("bench_cache", "--events", "2000", "--runs", "1", timeout=240)
    title, header, _rule, *lines = stdout.split("\n\n")[-1].splitlines()
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
