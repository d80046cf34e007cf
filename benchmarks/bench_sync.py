"""How fast does a sync fill the cache, and what limits it: the server, the network, or us?

Starts the sandbox platform server in its own process (so it never competes with the sync for
the GIL) with ``--events`` synthetic events from a fixed seed, then measures in one run:

1. the server alone: every page of the 90 days, day by day like the sync asks for them, over one
   keep-alive connection, the bodies discarded unparsed (events/s);
2. a first sync into a fresh SQLite cache (events/s), once as shipped (the client's own limit of
   10 requests per 1.05 s against a server that enforces the contract's limit; the time the
   limiter slept is shown) and once with both limits off and 1,000-event pages (the contract's
   maximum);
3. the cache's insert: ``CacheStore.commit_page`` of pre-built rows (the sandbox's events,
   normalized) in pages of 1,000 into a fresh file (rows/s), against a floor of raw ``sqlite3``
   ``executemany`` of the same values into the same schema with the same PRAGMAs, one
   transaction per page like the app (which also writes its progress record in each).

Prints one table of medians with app, floor and the ratio app/floor.

    .venv/bin/python benchmarks/bench_sync.py [--events N] [--seed N] [--reps N] [--limited-reps N]
"""

from __future__ import annotations

import argparse
import http.client
import json
import math
import multiprocessing
import os
import re
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from multiprocessing.connection import Connection
from pathlib import Path
from urllib.parse import urlencode, urlsplit

from audit_viewer.api import PlatformClient
from audit_viewer.api.client import LIST_PATH, LOGIN_PATH, MAX_PAGE_SIZE
from audit_viewer.cache import CacheStore, SyncState
from audit_viewer.cache.schema import EPOCH, events
from audit_viewer.cache.store import event_values
from audit_viewer.events import EventRow, format_timestamp, normalize_event
from audit_viewer.sandbox import Faults, SandboxServer
from audit_viewer.sync import SyncEngine

PROFILE = "bench"
INSERT_PAGE = 1000  # rows per transaction, as a sync with the contract's biggest page commits
RETENTION = timedelta(days=90)
DAY = timedelta(days=1)
_COLUMNS = tuple(column.name for column in events.columns)  # the schema's order
# The last page's cursor is null; any other page ends with {"count":N,"after":"<cursor>"}}.
_TAIL = re.compile(rb'"count":(\d+),"after":(?:null|"([^"]*)")\}\}$')


# -- the server, in its own process ---------------------------------------------------------


def _serve(events: int, seed: int, enforce_rate_limit: bool, pipe: Connection) -> None:
    """Child process: run a sandbox until the parent says stop (or goes away)."""
    faults = Faults(enforce_rate_limit=enforce_rate_limit)
    with SandboxServer(events=events, seed=seed, faults=faults) as server:
        pipe.send((server.url, server.client_id, server.secret))
        with suppress(EOFError):  # the parent went away: stop too
            pipe.recv()


@dataclass(frozen=True)
class Server:
    url: str
    client_id: str
    secret: str  # the sandbox's public demo credentials, never a real secret


@contextmanager
def sandbox_process(events: int, seed: int, *, enforce_rate_limit: bool) -> Iterator[Server]:
    context = multiprocessing.get_context("spawn")
    ours, theirs = context.Pipe()
    process = context.Process(
        target=_serve, args=(events, seed, enforce_rate_limit, theirs), daemon=True
    )
    process.start()
    try:
        deadline = time.monotonic() + 120
        while not ours.poll(0.2):
            if not process.is_alive():
                raise RuntimeError(f"the sandbox server process exited ({process.exitcode})")
            if time.monotonic() > deadline:
                raise RuntimeError("the sandbox server did not start within 120 s")
        yield Server(*ours.recv())
    finally:
        with suppress(OSError):  # it may be gone already
            ours.send("stop")
        process.join(10)
        if process.is_alive():
            process.terminate()
            process.join()


# -- 1. the server alone --------------------------------------------------------------------


def day_ranges(now: datetime) -> list[tuple[datetime, datetime]]:
    """[now - 90 days, now) cut on UTC days, newest first: the ranges a first sync reads."""
    start = now - RETENTION
    boundary = EPOCH + ((start - EPOCH) // DAY) * DAY
    ranges = []
    while boundary < now:
        ranges.append((max(start, boundary), min(now, boundary + DAY)))
        boundary += DAY
    return ranges[::-1]


def serve_only(server: Server) -> int:
    """Fetch every page of the window and discard it; returns the events served."""
    address = urlsplit(server.url)
    conn = http.client.HTTPConnection(address.hostname, address.port, timeout=60)
    try:
        body = json.dumps({"clientId": server.client_id, "secret": server.secret})
        conn.request("POST", LOGIN_PATH, body, {"Content-Type": "application/json"})
        token = json.loads(conn.getresponse().read())["accessToken"]
        headers = {"Authorization": f"Bearer {token}"}
        served = 0
        for start, end in day_ranges(datetime.now(UTC)):
            params = {
                "start_time": format_timestamp(start),
                "end_time": format_timestamp(end),
                "limit": MAX_PAGE_SIZE,
            }
            after: str | None = None
            while True:
                query = params if after is None else {**params, "after": after}
                conn.request("GET", f"{LIST_PATH}?{urlencode(query)}", headers=headers)
                response = conn.getresponse()
                page = response.read()
                if response.status != 200:
                    raise RuntimeError(f"the sandbox answered HTTP {response.status}")
                match = _TAIL.search(page)
                if match is None:
                    raise RuntimeError("the sandbox page does not end in its metadata")
                served += int(match[1])
                if match[2] is None:
                    break
                after = match[2].decode()
        return served
    finally:
        conn.close()


# -- 2. the sync ----------------------------------------------------------------------------


@dataclass(frozen=True)
class SyncRun:
    seconds: float
    limiter_seconds: float  # spent waiting in the client's own rate limiter
    limit_bound: float  # seconds the limiter alone needs for this many requests
    stored: int


def sync_once(server: Server, folder: Path, *, rate_limited: bool) -> SyncRun:
    """A first sync into a fresh SQLite cache."""
    client = PlatformClient(
        server.url,
        server.client_id,
        server.secret,
        page_size=MAX_PAGE_SIZE,
        **({} if rate_limited else {"max_requests_per_second": 1e9}),
    )
    limiter = client._limiter  # timed, not changed
    acquire = limiter.acquire
    waited = 0.0
    requests = 0

    def timed_acquire() -> None:
        nonlocal waited, requests
        started = time.perf_counter()
        acquire()
        waited += time.perf_counter() - started
        requests += 1

    limiter.acquire = timed_acquire  # type: ignore[method-assign]
    path = folder / f"sync-{time.monotonic_ns()}.sqlite3"
    with client, CacheStore.open(path) as store:
        started = time.perf_counter()
        result = SyncEngine(client, store, PROFILE).run()
        seconds = time.perf_counter() - started
    path.unlink()
    # Bursts of ``_burst`` requests, each burst but the first a window after the one before.
    bound = (math.ceil(requests / limiter._burst) - 1) * limiter._window
    return SyncRun(seconds, waited, bound, result.total_cached)


# -- 3. the insert --------------------------------------------------------------------------


def sandbox_rows(events: int, seed: int) -> list[EventRow]:
    """The rows a sync of the sandbox stores, in the order it stores them (newest first)."""
    server = SandboxServer(events=events, seed=seed)  # never started: only its events
    return [normalize_event(event) for event in server.all_events()]


def pages_of(rows: list[EventRow]) -> list[list[EventRow]]:
    return [rows[i : i + INSERT_PAGE] for i in range(0, len(rows), INSERT_PAGE)]


def insert_app(rows: list[EventRow], folder: Path) -> float:
    """Seconds for commit_page of every page (with a progress record each, like a sync)."""
    path = folder / f"app-{time.monotonic_ns()}.sqlite3"
    now = datetime.now(UTC)
    plan = tuple(day_ranges(now))
    state = SyncState(PROFILE, plan=plan, current_range=plan[0])
    with CacheStore.open(path) as store:
        started = time.perf_counter()
        new = sum(store.commit_page(state, page) for page in pages_of(rows))
        seconds = time.perf_counter() - started
        assert new == store.count(PROFILE) == len({row.id for row in rows}), "rows went missing"
    path.unlink()
    return seconds


def floor_tuples(rows: list[EventRow]) -> list[tuple[object, ...]]:
    return event_values(PROFILE, rows, time.time_ns() // 1000)


def insert_floor(values: list[tuple[object, ...]], folder: Path) -> float:
    """Seconds for raw sqlite3 executemany of the same values, same schema and PRAGMAs."""
    path = folder / f"floor-{time.monotonic_ns()}.sqlite3"
    CacheStore.open(path).close()  # the app's own schema (and page size), nothing else
    sql = (
        f"INSERT INTO events ({', '.join(f'"{name}"' for name in _COLUMNS)}) "
        f"VALUES ({', '.join('?' * len(_COLUMNS))})"
    )
    with closing(sqlite3.connect(path, isolation_level=None)) as conn:
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        started = time.perf_counter()
        for i in range(0, len(values), INSERT_PAGE):
            conn.execute("BEGIN IMMEDIATE")
            conn.executemany(sql, values[i : i + INSERT_PAGE])
            conn.execute("COMMIT")
        seconds = time.perf_counter() - started
    path.unlink()
    return seconds


def bench_insert(rows: list[EventRow], folder: Path, reps: int) -> tuple[float, float]:
    """Median seconds of the app's insert and of the floor, alternating so drift hits both."""
    values = floor_tuples(rows)
    print(f"cache insert, pages of {INSERT_PAGE}, {reps} reps ...", flush=True)
    app, floor = [], []
    for _ in range(reps):
        app.append(insert_app(rows, folder))
        floor.append(insert_floor(values, folder))
    return statistics.median(app), statistics.median(floor)


# -- the run --------------------------------------------------------------------------------


def median(action: Callable[[], float], reps: int) -> float:
    return statistics.median(action() for _ in range(reps))


def timed(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000, help="events (default 200,000)")
    parser.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    parser.add_argument("--reps", type=int, default=5, help="repetitions per step (default 5)")
    parser.add_argument(
        "--limited-reps",
        type=int,
        default=3,
        help="repetitions of the rate-limited sync, which takes long (default 3)",
    )
    args = parser.parse_args(argv)
    n, reps = args.events, args.reps
    rows_out: list[tuple[str, str, str, str]] = []

    def rate(count: int, seconds: float) -> str:
        return f"{count / seconds:,.0f}/s"

    load = os.getloadavg()[0]  # other work on the machine moves every figure; say how much
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)

        print(f"building {n:,} rows (seed {args.seed}) ...", flush=True)
        app, floor = bench_insert(sandbox_rows(n, args.seed), folder, reps)
        rows_out.append(
            (
                f"cache insert, commit_page vs raw sqlite3 executemany ({reps} reps)",
                rate(n, app),
                rate(n, floor),
                f"{floor / app:.2f} (target >= 0.60)",
            )
        )

        with sandbox_process(n, args.seed, enforce_rate_limit=False) as server:
            print(f"server alone, {reps} reps ...", flush=True)
            served = serve_only(server)  # also warms the server's caches once
            serve = median(lambda: timed(lambda: serve_only(server)), reps)
            print(f"sync, no rate limits, {reps} reps ...", flush=True)
            runs = [sync_once(server, folder, rate_limited=False) for _ in range(reps)]
            assert all(run.stored == served for run in runs), "a sync stored other events"
            fast = statistics.median(run.seconds for run in runs)
        serve_rate = rate(served, serve)
        rows_out.append(
            (f"server alone, pages of {MAX_PAGE_SIZE} ({reps} reps)", serve_rate, "", "")
        )
        rows_out.append(
            (
                f"sync without rate limits, pages of {MAX_PAGE_SIZE} ({reps} reps)",
                rate(served, fast),
                serve_rate,
                f"{serve / fast:.2f}",
            )
        )

        with sandbox_process(n, args.seed, enforce_rate_limit=True) as server:
            print(f"sync as shipped (rate limited), {args.limited_reps} reps ...", flush=True)
            runs = [sync_once(server, folder, rate_limited=True) for _ in range(args.limited_reps)]
        limited = statistics.median(run.seconds for run in runs)
        slept = statistics.median(run.limiter_seconds for run in runs)
        # As shipped, the floor is the slower of the server and the rate limit alone.
        bound = max(serve, statistics.median(run.limit_bound for run in runs))
        rows_out.append(
            (
                f"sync as shipped, limiter waited {slept:.1f} s of {limited:.1f} s "
                f"({args.limited_reps} reps; floor: the server or 10 requests/1.05 s)",
                rate(served, limited),
                rate(served, bound),
                f"{bound / limited:.2f}",
            )
        )

    print()
    load = max(load, os.getloadavg()[0])
    print(
        f"{n:,} events, seed {args.seed}; medians; a sync's floor is the server alone; "
        f"load average up to {load:.1f} on {os.cpu_count()} cores"
    )
    widths = [max(len(row[i]) for row in rows_out) for i in range(4)]
    header = ("step", "app", "floor", "app/floor")
    widths = [max(w, len(h)) for w, h in zip(widths, header, strict=True)]
    for row in (header, tuple("-" * w for w in widths), *rows_out):
        print(
            f"{row[0]:<{widths[0]}}  {row[1]:>{widths[1]}}  {row[2]:>{widths[2]}}  {row[3]}",
            flush=True,
        )


if __name__ == "__main__":
    sys.exit(main())
