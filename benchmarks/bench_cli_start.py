"""How long `audit-viewer sync` takes to send its first request, against Python's own start.

    .venv/bin/python benchmarks/bench_cli_start.py [--rounds 15]

A sync needs the HTTP client and SQLAlchemy; the readers of the cache (pandas, pyarrow, the
ADBC driver) and Alembic (only for migrating a cache) are imported when first used. Each round
starts, in turn and in fresh processes:

- ``python -c pass``: the interpreter alone, the floor;
- ``sync, eager imports (before)``: the same sync after importing pandas, pyarrow, ADBC and
  Alembic first, which is what the sync path loaded before they were made lazy;
- ``sync (now)``: ``python -m audit_viewer sync`` as an admin runs it.

A local HTTP server answers the first request (the token request) with 401, so each sync ends
at once with exit code 3, having written nothing; the time is from starting the process to
that request's arrival, on this process's monotonic clock. Every sync opens the same cache, as
a daily sync does: by default a small one the untimed first round creates, or ``--cache PATH``
(say, a million events from ``benchmarks/_synthetic.py``; its integrity check now runs beside
the requests instead of before them). The table shows medians over ``--rounds`` and the ratio
to ``python -c pass``.
"""

from __future__ import annotations

import argparse
import http.server
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import ClassVar

EAGER = "import pandas, pyarrow, pyarrow.compute, adbc_driver_sqlite, alembic.command"


class _FirstRequest(http.server.BaseHTTPRequestHandler):
    arrivals: ClassVar[list[float]] = []

    def do_POST(self) -> None:
        self.arrivals.append(time.monotonic())
        body = b'{"message": "benchmark: bad credentials"}'
        self.send_response(401)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15, help="processes per step")
    parser.add_argument("--cache", type=Path, help="an existing cache to sync into")
    args = parser.parse_args(argv)

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _FirstRequest)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    with tempfile.TemporaryDirectory() as home:
        env = dict(
            os.environ,
            AUDIT_VIEWER_HOME=home,
            AUDIT_VIEWER_CLIENT_SECRET="benchmark-secret-not-real",
            PYTHON_KEYRING_BACKEND="keyring.backends.fail.Keyring",
        )
        cache = str(args.cache or Path(home, "cache.sqlite3"))
        sync_args = ["sync", "--base-url", url, "--client-id", "bench", "--cache", cache]

        def interpreter() -> float:
            started = time.monotonic()
            subprocess.run([sys.executable, "-c", "pass"], env=env, check=True)
            return time.monotonic() - started

        def first_request(command: list[str]) -> float:
            _FirstRequest.arrivals.clear()
            started = time.monotonic()
            done = subprocess.run(command, env=env, capture_output=True, text=True)
            if done.returncode != 3 or not _FirstRequest.arrivals:
                raise SystemExit(f"the sync did not reach the server: {done.stderr.strip()}")
            return _FirstRequest.arrivals[0] - started

        def eager() -> float:
            code = (
                f"{EAGER}\nfrom audit_viewer.cli import main\nraise SystemExit(main({sync_args!r}))"
            )
            return first_request([sys.executable, "-c", code])

        def now() -> float:
            return first_request([sys.executable, "-m", "audit_viewer", *sync_args])

        steps = {
            "python -c pass": interpreter,
            "sync, eager imports (before)": eager,
            "sync (now)": now,
        }
        samples: dict[str, list[float]] = {step: [] for step in steps}
        for step in steps.values():  # warm the file cache and the bytecode once, untimed
            step()
        load = os.getloadavg()[0]
        for _ in range(args.rounds):
            for step, run in steps.items():
                samples[step].append(run())
        load = max(load, os.getloadavg()[0])
    server.shutdown()

    median = {step: statistics.median(times) for step, times in samples.items()}
    floor = median["python -c pass"]
    rows = [
        (step, f"{seconds * 1000:.0f} ms", f"{seconds / floor:.1f}")
        for step, seconds in median.items()
    ]
    print()
    print(
        f"{args.rounds} processes per step; medians from start to the first request; "
        f"load average up to {load:.1f} on {os.cpu_count()} cores"
    )
    header = ("step", "time", "vs python -c pass")
    widths = [max(len(row[i]) for row in (header, *rows)) for i in range(len(header))]
    for row in (header, tuple("-" * w for w in widths), *rows):
        cells = [f"{row[0]:<{widths[0]}}"] + [
            f"{cell:>{width}}" for cell, width in zip(row[1:], widths[1:], strict=True)
        ]
        print("  ".join(cells), flush=True)


if __name__ == "__main__":
    main()
