"""What one acquire() of the shared rate limiter costs, against the in-process one it replaced.

    .venv/bin/python benchmarks/bench_ratelimit.py [--rounds 2000] [--round-size 10]

Every request of a sync passes the limiter, so its own cost is time not spent syncing. Both
limiters get a rate so high that they never sleep (what is timed is the bookkeeping, not the
waiting) and are timed round-robin in the same run, so load from other processes hits both
alike. Each round is ``--round-size`` acquires (default 10: what the state file holds at the
contract's 10 requests per second) on a fresh limiter and, for the shared one, a fresh state
file in a temporary folder (``AUDIT_VIEWER_RUNTIME_DIR``); a round's time divided by its size is
one sample, and the table shows the medians of ``--rounds`` samples and their ratio.
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import tempfile
import time
from collections.abc import Callable

from audit_viewer.api.ratelimit import LocalRateLimiter, RateLimiter, SharedRateLimiter
from audit_viewer.config import ENV_RUNTIME_DIR

URL = "https://bench.example.com"
NEVER_SLEEPS = 1e9  # requests per second: a burst no round comes near


def time_round(make: Callable[[], RateLimiter], size: int) -> float:
    """Seconds per acquire over ``size`` acquires of a fresh limiter."""
    limiter = make()
    started = time.perf_counter()
    for _ in range(size):
        limiter.acquire()
    return (time.perf_counter() - started) / size


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2000, help="samples per limiter")
    parser.add_argument("--round-size", type=int, default=10, help="acquires per sample")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as folder:
        os.environ[ENV_RUNTIME_DIR] = folder

        def shared() -> SharedRateLimiter:
            limiter = SharedRateLimiter(URL, "bench-client", NEVER_SLEEPS)
            assert limiter.path is not None, "the shared limiter fell back to in-process"
            os.truncate(limiter.path, 0)  # a fresh window, outside the timing
            return limiter

        steps: dict[str, Callable[[], RateLimiter]] = {
            "in-process (before)": lambda: LocalRateLimiter(NEVER_SLEEPS),
            "shared file (now)": shared,
        }
        samples: dict[str, list[float]] = {step: [] for step in steps}
        load = os.getloadavg()[0]
        gc.collect()
        for _ in range(args.rounds):
            for step, make in steps.items():
                samples[step].append(time_round(make, args.round_size))
        load = max(load, os.getloadavg()[0])

    median = {step: statistics.median(times) for step, times in samples.items()}
    baseline = median["in-process (before)"]
    rows = [
        (step, f"{seconds * 1e6:.2f} µs", f"{seconds / baseline:.1f}")
        for step, seconds in median.items()
    ]
    print()
    print(
        f"{args.rounds:,} rounds of {args.round_size} acquires per limiter; medians per acquire; "
        f"load average up to {load:.1f} on {os.cpu_count()} cores"
    )
    header = ("limiter", "acquire", "vs in-process")
    widths = [max(len(row[i]) for row in (header, *rows)) for i in range(len(header))]
    for row in (header, tuple("-" * w for w in widths), *rows):
        cells = [f"{row[0]:<{widths[0]}}"] + [
            f"{cell:>{width}}" for cell, width in zip(row[1:], widths[1:], strict=True)
        ]
        print("  ".join(cells), flush=True)


if __name__ == "__main__":
    main()
