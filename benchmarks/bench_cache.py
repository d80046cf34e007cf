"""Loading a million cached events into the frame, against pandas.read_sql and raw sqlite3.

    .venv/bin/python benchmarks/bench_cache.py [--events 1000000] [--runs 5] [--seed 0]

Builds an SQLite cache of N synthetic events once (``_synthetic.write_cache``: the app's own
insert path, pages of 10,000 as a sync stores them), then times, round-robin so that load from
other processes hits every step alike, ``--runs`` times each:

- ``CacheStore.load_frame(profile)``: every event, as the window and the exports get them;
- ``CacheStore.load_frame(profile, limit=5000)``: the newest page the window paints first;
- the same store's DBAPI path (rows off the sqlite3 cursor into Arrow), which PostgreSQL caches
  use and SQLite caches used before the ADBC read: the "before" of the same run.

Floors, on the same file, columns and order (``ORDER BY created_at DESC, id``, with the same
``LIMIT`` for the newest page): ``pandas.read_sql`` over a sqlite3 connection, and a bare
sqlite3 ``fetchall`` (Python tuples, no frame at all). Ratios are app / floor (below 1: the
app is faster than the floor). Before timing, the ADBC frame is checked to equal the DBAPI
path's frame exactly (values, dtypes, order) in every column but ``raw``, which an SQLite read
trims to each event's extra fields (``CacheStore.event_json`` has the whole text).
"""

from __future__ import annotations

import argparse
import gc
import os
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Callable
from contextlib import closing
from pathlib import Path

import pandas as pd
from _synthetic import synthetic_frame, write_cache

from audit_viewer.cache import CacheStore
from audit_viewer.events import FRAME_COLUMNS

PROFILE = "bench"
PAGE = 5000


def _sql(limit: int | None) -> str:
    columns = ", ".join(f'"{name}"' for name in FRAME_COLUMNS)
    sql = f"SELECT {columns} FROM events WHERE profile = ? ORDER BY created_at DESC, id"
    return sql if limit is None else f"{sql} LIMIT {limit}"


def _dbapi_store(path: Path) -> CacheStore:
    """A store that reads through the DBAPI cursor, as it does for a PostgreSQL cache."""
    store = CacheStore.open(path)
    store._arrow_uri = None  # the switch CacheStore sets only for SQLite files
    return store


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000, help="events (default 1M)")
    parser.add_argument("--runs", type=int, default=5, help="runs per step (default 5)")
    parser.add_argument("--seed", type=int, default=0, help="synthetic frame seed (default 0)")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.sqlite3"
        print(f"building a {args.events:,}-event cache (seed {args.seed}) ... ", end="", flush=True)
        started = time.perf_counter()
        write_cache(path, synthetic_frame(args.events, args.seed), PROFILE)
        took = time.perf_counter() - started
        print(f"{took:.0f} s, {path.stat().st_size / 1e6:,.0f} MB", flush=True)

        with (
            CacheStore.open(path) as store,
            _dbapi_store(path) as dbapi,
            closing(sqlite3.connect(path)) as conn,
        ):
            frame = store.load_frame(PROFILE)
            assert len(frame) == args.events, len(frame)
            same = [name for name in FRAME_COLUMNS if name != "raw"]
            pd.testing.assert_frame_equal(frame[same], dbapi.load_frame(PROFILE)[same])
            memory = frame.memory_usage(deep=True).sum()
            del frame
            steps: dict[str, Callable[[], object]] = {
                "all": lambda: store.load_frame(PROFILE),
                "page": lambda: store.load_frame(PROFILE, limit=PAGE),
                "dbapi all": lambda: dbapi.load_frame(PROFILE),
                "read_sql all": lambda: pd.read_sql(_sql(None), conn, params=(PROFILE,)),
                "read_sql page": lambda: pd.read_sql(_sql(PAGE), conn, params=(PROFILE,)),
                "fetchall all": lambda: conn.execute(_sql(None), (PROFILE,)).fetchall(),
                "fetchall page": lambda: conn.execute(_sql(PAGE), (PROFILE,)).fetchall(),
            }
            seconds: dict[str, list[float]] = {step: [] for step in steps}
            load = os.getloadavg()[0]
            for run in range(args.runs):
                print(f"run {run + 1} of {args.runs} ...", flush=True)
                for step, action in steps.items():
                    gc.collect()
                    begun = time.perf_counter()
                    action()
                    seconds[step].append(time.perf_counter() - begun)
            load = max(load, os.getloadavg()[0])

    median = {step: statistics.median(times) for step, times in seconds.items()}
    rows = []
    for label, step, floors in (
        (f"load_frame, all {args.events:,}", "all", "all"),
        (f"load_frame(limit={PAGE:,}), the newest page", "page", "page"),
        ("before: the DBAPI path (PostgreSQL's), all", "dbapi all", "all"),
    ):
        app, read_sql, fetchall = (
            median[step],
            median[f"read_sql {floors}"],
            median[f"fetchall {floors}"],
        )
        rows.append(
            (
                label,
                f"{app:.3f} s",
                f"{read_sql:.3f} s",
                f"{app / read_sql:.2f}",
                f"{fetchall:.3f} s",
                f"{app / fetchall:.2f}",
            )
        )
    print()
    print(
        f"{args.events:,} events, seed {args.seed}; medians of {args.runs} runs; frame "
        f"{memory / 1e6:,.0f} MB; the DBAPI path takes "
        f"{median['dbapi all'] / median['all']:.1f}x load_frame's time; load average up to "
        f"{load:.1f} on {os.cpu_count()} cores"
    )
    header = ("step", "app", "pd.read_sql", "app/read_sql", "sqlite3 fetchall", "app/fetchall")
    widths = [max(len(row[i]) for row in (header, *rows)) for i in range(len(header))]
    for row in (header, tuple("-" * w for w in widths), *rows):
        cells = [f"{row[0]:<{widths[0]}}"] + [
            f"{cell:>{width}}" for cell, width in zip(row[1:], widths[1:], strict=True)
        ]
        print("  ".join(cells), flush=True)


if __name__ == "__main__":
    main()
