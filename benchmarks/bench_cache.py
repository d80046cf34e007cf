"""How fast does the cache turn a million events into the frame?

Builds a 1,000,000-event SQLite cache in a temporary folder (through ``CacheStore.upsert_events``,
like a sync would), then times ``CacheStore.load_frame`` against ``pandas.read_sql`` of the same
rows in the same order, three runs each, and prints the medians and their ratio.

    .venv/bin/python benchmarks/bench_cache.py [--events N]
"""

from __future__ import annotations

import argparse
import random
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd

from audit_viewer.cache import CacheStore
from audit_viewer.events import EventRow, normalize_event

PROFILE = "bench"
ACTIONS = (
    "Findings ignored from backlog",
    "Findings ignored from PR",
    "Export SBOM",
    "Ticket created",
    "User logged in",
    "Assigned roles",
    "Created API key",
)


def synthetic_events(count: int, seed: int = 1) -> Iterator[EventRow]:
    """Events shaped like the platform's, newest first (the order a sync stores them in).

    90 days, about one in five sharing the previous event's millisecond, descriptions with
    ``Key: 'value'`` pairs, extra fields.
    """
    rng = random.Random(seed)
    created = datetime.now(UTC)
    mean_gap_ms = 90 * 24 * 3600 * 1000 / count
    for number in range(count):
        if rng.random() >= 0.2:
            created -= timedelta(milliseconds=rng.randrange(1, int(2.5 * mean_gap_ms) + 2))
        actor = rng.choice(("user", "user", "user", "scm", "system"))
        name = f"user{rng.randrange(500)}"
        yield normalize_event(
            {
                "id": f"01JE{number:022d}",
                "created_at": created.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
                "user_name": None if actor == "system" else name,
                "user_email": f"{name}@example.com" if actor == "user" else None,
                "actor_type": actor,
                "action": rng.choice(ACTIONS),
                "description": (
                    f"{rng.randrange(1, 9)} findings ignored, Reason: 'false_positive', "
                    f"Comment: 'Not relevant {number}', "
                    f"Ignore rule ID: '{rng.getrandbits(128):032x}'"
                ),
                "ip_address": f"10.0.{rng.randrange(256)}.{rng.randrange(256)}",
                "metadata": {"tenant": "acme", "n": number},
            }
        )


def build(path: Path, count: int) -> float:
    started = time.perf_counter()
    batch: list[EventRow] = []
    with CacheStore.open(path) as store:
        for row in synthetic_events(count):
            batch.append(row)
            if len(batch) == 10_000:
                store.upsert_events(PROFILE, batch)
                batch.clear()
        store.upsert_events(PROFILE, batch)
    return time.perf_counter() - started


def median_seconds(action: Callable[[], object], runs: int = 3) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "bench.sqlite3"
        print(f"building a {args.events:,}-event cache ... ", end="", flush=True)
        print(f"{build(path, args.events):.1f} s, {path.stat().st_size / 1e6:,.0f} MB")

        with CacheStore.open(path) as store:
            frame = store.load_frame(PROFILE)
            assert len(frame) == args.events
            ours = median_seconds(lambda: store.load_frame(PROFILE))
        columns = ", ".join(f'"{name}"' for name in frame.columns)
        sql = f"SELECT {columns} FROM events WHERE profile = ? ORDER BY created_at DESC, id"
        with closing(sqlite3.connect(path)) as conn:
            baseline = median_seconds(lambda: pd.read_sql(sql, conn, params=(PROFILE,)))
        print(f"load_frame     median of 3: {ours:6.2f} s")
        print(f"pandas.read_sql median of 3: {baseline:6.2f} s")
        print(f"ratio read_sql / load_frame: {baseline / ours:5.2f}x")
        print(f"frame memory: {frame.memory_usage(deep=True).sum() / 1e6:,.0f} MB")


if __name__ == "__main__":
    main()
