"""Save as CSV of a million events: seconds and peak memory, against pyarrow's CSV writer.

    .venv/bin/python benchmarks/bench_export.py [--events 1000000] [--runs 5] [--seed 0]

Two app steps, each the path the window's Save as CSV takes (``take_chunks`` over the view's
visible rows in the window's chunks of ``EXPORT_CHUNK`` rows into ``write_csv`` with the formula
guard, to a temporary file that is fsynced and renamed; ``write_csv`` is also what
``audit-viewer export`` calls):

- all rows, unfiltered and in the default order;
- the rows a search word leaves (:data:`SEARCH`; the mask is computed before the clock starts,
  as the window has it before Save is chosen).

The floor of each is ``pyarrow.csv.write_csv`` of the same seven columns of the same rows
(``take`` of the filtered rows included), to a file that is then fsynced too. pyarrow quotes
every text cell and applies no formula guard, so its file is not the app's, only its speed
limit. "app CPU" is the app's processor time per run (all threads): on a shared machine,
wall time above it is time spent waiting for a core or the disk.

Every step runs in a fresh process that first loads the frame from an Arrow file written once;
"peak RSS +" is how far the process's peak resident memory (VmHWM, reset just before the first
run where Linux allows it; else ru_maxrss) rose above its size before the runs, so neither the
frame's construction nor another step's peak hides a step's own. The first run's one-off costs
(Arrow kernels initialised, buffers first allocated) are included.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pa_csv
from _synthetic import SYNTHETIC_NOW, synthetic_frame

from audit_viewer.export import CSV_COLUMNS, write_csv
from audit_viewer.filters import FilterState
from audit_viewer.frame import frame_from_arrow, take_chunks
from audit_viewer.ui.export_controller import EXPORT_CHUNK  # no window: only the constant

#: The filtered export's search bar text.
SEARCH = "ignored"
STEPS = ("app all", "floor all", "app filtered", "floor filtered")
TARGET_SECONDS, TARGET_MB = 2.0, 150


def _reset_peak() -> None:
    """Make the kernel's peak-RSS mark the current RSS (Linux >= 4.0; elsewhere a no-op)."""
    with contextlib.suppress(OSError), open("/proc/self/clear_refs", "w") as out:
        out.write("5")


def _peak_bytes() -> int:
    """This process's peak resident memory so far."""
    with contextlib.suppress(OSError), open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024  # macOS counts bytes, Linux KiB


def _floor(table: pa.Table, target: Path) -> None:
    with pa.OSFile(str(target), "wb") as out:  # Arrow's own file: no Python file in the way
        pa_csv.write_csv(table, out, write_options=pa_csv.WriteOptions(eol="\r\n"))
    descriptor = os.open(target, os.O_RDONLY)
    try:
        os.fsync(descriptor)  # on disk, as the app's file is before its rename
    finally:
        os.close(descriptor)


def run_step(step: str, frame_file: Path, runs: int, folder: Path) -> dict[str, object]:
    """One step's runs in this (fresh) process: seconds of each, peak RSS growth, rows, bytes."""
    with pa.OSFile(str(frame_file)) as source:  # read into memory, as a loaded frame is
        frame = frame_from_arrow(pa.ipc.open_file(source).read_all())
    if step.endswith("filtered"):
        visible = np.flatnonzero(FilterState(search=SEARCH).mask(frame, SYNTHETIC_NOW))
    else:
        visible = np.arange(len(frame))
    target = folder / f"{step.replace(' ', '-')}.csv"
    action: Callable[[], object]
    if step.startswith("app"):
        action = lambda: write_csv(take_chunks(frame, visible, EXPORT_CHUNK), target)  # noqa: E731
    else:
        columns = pa.Table.from_pandas(frame[list(CSV_COLUMNS)], preserve_index=False)
        if step.endswith("filtered"):
            action = lambda: _floor(columns.take(visible), target)  # noqa: E731
        else:
            action = lambda: _floor(columns, target)  # noqa: E731
    gc.collect()
    _reset_peak()
    before = _peak_bytes()
    seconds, cpu = [], []
    for _ in range(runs):
        started, used = time.perf_counter(), time.process_time()
        action()
        seconds.append(time.perf_counter() - started)
        cpu.append(time.process_time() - used)
    growth = _peak_bytes() - before
    return {
        "seconds": seconds,
        "cpu": cpu,
        "growth": growth,
        "rows": len(visible),
        "bytes": target.stat().st_size,
    }


def _measure(step: str, frame_file: Path, runs: int, folder: Path) -> dict[str, object]:
    print(f"{step}, {runs} runs in a fresh process ...", flush=True)
    done = subprocess.run(
        [sys.executable, __file__, "--step", step, "--frame-file", str(frame_file),
         "--runs", str(runs), "--folder", str(folder)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return json.loads(done.stdout.splitlines()[-1])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000, help="events (default 1M)")
    parser.add_argument("--runs", type=int, default=5, help="runs per step (default 5)")
    parser.add_argument("--seed", type=int, default=0, help="synthetic frame seed (default 0)")
    parser.add_argument("--step", choices=STEPS, help=argparse.SUPPRESS)
    parser.add_argument("--frame-file", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--folder", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.step is not None:  # a child process measuring one step
        print(json.dumps(run_step(args.step, args.frame_file, args.runs, args.folder)))
        return

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        frame_file = folder / "frame.arrow"
        print(f"building {args.events:,} events (seed {args.seed}) ...", flush=True)
        frame = synthetic_frame(args.events, args.seed)
        table = pa.Table.from_pandas(frame, preserve_index=False)
        with pa.OSFile(str(frame_file), "wb") as sink, pa.ipc.new_file(sink, table.schema) as out:
            out.write_table(table)
        del frame, table
        load = os.getloadavg()[0]
        results = {step: _measure(step, frame_file, args.runs, folder) for step in STEPS}
        load = max(load, os.getloadavg()[0])

    def median(step: str, what: str = "seconds") -> float:
        return statistics.median(results[step][what])  # type: ignore[arg-type]

    def growth(step: str) -> str:
        return f"{int(results[step]['growth']) / 1e6:,.0f} MB"  # type: ignore[call-overload]

    table_rows = []
    for kind in ("all", "filtered"):
        app, floor = median(f"app {kind}"), median(f"floor {kind}")
        rows = int(results[f"app {kind}"]["rows"])  # type: ignore[call-overload]
        size = int(results[f"app {kind}"]["bytes"])  # type: ignore[call-overload]
        table_rows.append(
            (
                f"Save as CSV, {kind}: {rows:,} rows, {size / 1e6:,.0f} MB",
                f"{app:.2f} s",
                f"{floor:.2f} s",
                f"{app / floor:.2f}",
                f"{median(f'app {kind}', 'cpu'):.2f} s",
                f"{size / app / 1e6:,.0f} MB/s",
                growth(f"app {kind}"),
                growth(f"floor {kind}"),
            )
        )
    print()
    print(
        f"{args.events:,} events, seed {args.seed}; medians of {args.runs} runs; filtered = "
        f"search {SEARCH!r}; floor = pyarrow.csv.write_csv; target <= {TARGET_SECONDS:.0f} s "
        f"and <= {TARGET_MB} MB at 1M; load average up to {load:.1f} on {os.cpu_count()} cores"
    )
    header = (
        "step", "app", "floor", "app/floor", "app CPU", "app rate", "app peak RSS +",
        "floor peak RSS +",
    )  # fmt: skip
    widths = [max(len(row[i]) for row in (header, *table_rows)) for i in range(len(header))]
    for row in (header, tuple("-" * w for w in widths), *table_rows):
        cells = [f"{row[0]:<{widths[0]}}"] + [
            f"{cell:>{width}}" for cell, width in zip(row[1:], widths[1:], strict=True)
        ]
        print("  ".join(cells), flush=True)


if __name__ == "__main__":
    main()
