"""CSV export speed and memory on a synthetic frame, against pandas' ``DataFrame.to_csv``.

    .venv/bin/python benchmarks/bench_export.py [--rows 1000000] [--runs 5] [--alternatives]

``write_csv`` gets the frame the way ``CacheStore.iter_frames`` hands it over: 50,000-row
chunks. It writes a temporary file on disk, fsyncs it and renames it, as in real use. Baseline
in the same run: ``df[CSV_COLUMNS].to_csv(path, index=False, lineterminator="\\r\\n")`` on the
whole frame, no formula guard. Times are medians of ``--runs`` runs; "peak RSS +" is the
largest growth of the process's resident memory during one run over its size before it
(sampled every 2 ms from /proc/self/statm, so Linux only; elsewhere it is not shown).

``--alternatives`` also times the other ways of writing the same CSV that were considered:
the ``csv`` module (cells converted to Python strings, ``writerows``), and
``pyarrow.csv.write_csv`` (fast, but quotes every text cell, so its output is not the minimal
RFC 4180 form the ``csv`` module and ``write_csv`` produce).
"""

from __future__ import annotations

import argparse
import csv
import os
import statistics
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pa_csv
from _synthetic import synthetic_frame

from audit_viewer.export import CSV_COLUMNS, _csv_pieces, _iso_utc, _strings, write_csv

CHUNK = 50_000


class PeakRss:
    """Largest resident-set growth while the block runs, from a sampling thread."""

    def __init__(self) -> None:
        self.page = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
        self.available = Path("/proc/self/statm").exists()
        self.growth = 0

    def _rss(self) -> int:
        with open("/proc/self/statm", "rb") as statm:
            return int(statm.read().split()[1]) * self.page

    def __enter__(self) -> PeakRss:
        if self.available:
            self.start = self._rss()
            self.peak = self.start
            self.stop = threading.Event()
            self.thread = threading.Thread(target=self._sample, daemon=True)
            self.thread.start()
        return self

    def _sample(self) -> None:
        while not self.stop.wait(0.002):
            self.peak = max(self.peak, self._rss())

    def __exit__(self, *exc: object) -> None:
        if self.available:
            self.stop.set()
            self.thread.join()
            self.growth = max(self.peak, self._rss()) - self.start


def measure(action: Callable[[], object], runs: int) -> tuple[float, int]:
    """Median seconds and the largest peak-RSS growth over ``runs`` runs."""
    times, growth = [], 0
    for _ in range(runs):
        with PeakRss() as rss:
            start = time.perf_counter()
            action()
            times.append(time.perf_counter() - start)
        growth = max(growth, rss.growth)
    return statistics.median(times), growth


def chunks(df: pd.DataFrame) -> Iterator[pd.DataFrame]:
    for start in range(0, len(df), CHUNK):
        yield df.iloc[start : start + CHUNK]


def encode_only(df: pd.DataFrame) -> None:
    """write_csv's CSV building without the file: what the disk and fsync add is the rest."""
    for part in chunks(df):
        _csv_pieces(part, True)


def csv_module(df: pd.DataFrame, path: Path) -> None:
    """The csv module on Python strings (formula guard applied by write_csv's own kernels)."""
    with open(path, "w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(CSV_COLUMNS)
        for part in chunks(df):
            columns = [
                _iso_utc(part[name]).to_pylist()
                if name == "created_at"
                else _strings(part[name]).to_pylist()
                for name in CSV_COLUMNS
            ]
            writer.writerows(zip(*columns, strict=True))


def arrow_writer(df: pd.DataFrame, path: Path) -> None:
    """pyarrow.csv's writer on the same cells (every text cell ends up quoted)."""
    options = pa_csv.WriteOptions(eol="\r\n", quoting_style="needed")
    schema = pa.schema([(name, pa.large_string()) for name in CSV_COLUMNS])
    with pa_csv.CSVWriter(str(path), schema, write_options=options) as writer:
        for part in chunks(df):
            arrays = [
                _iso_utc(part[name]) if name == "created_at" else _strings(part[name])
                for name in CSV_COLUMNS
            ]
            writer.write_table(pa.table(arrays, schema=schema))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--alternatives", action="store_true")
    args = parser.parse_args()

    start = time.perf_counter()
    df = synthetic_frame(args.rows)
    print(f"synthetic frame: {args.rows:,} rows in {time.perf_counter() - start:.1f} s")
    with tempfile.TemporaryDirectory() as folder:
        target = Path(folder) / "export.csv"
        rows: list[tuple[str, Callable[[], object]]] = [
            ("write_csv (50k chunks, guard on)", lambda: write_csv(chunks(df), target)),
            (
                "baseline DataFrame.to_csv",
                lambda: df[list(CSV_COLUMNS)].to_csv(target, index=False, lineterminator="\r\n"),
            ),
        ]
        if args.alternatives:
            rows += [
                ("encode only (no disk)", lambda: encode_only(df)),
                ("csv module writerows", lambda: csv_module(df, target)),
                ("pyarrow.csv CSVWriter", lambda: arrow_writer(df, target)),
            ]
        print(f"median of {args.runs} runs; file on disk in {folder}\n")
        print(f"{'writer':36} {'seconds':>8} {'rows/s':>11} {'MB':>7} {'peak RSS +':>11}")
        results = {}
        for name, action in rows:
            target.unlink(missing_ok=True)
            seconds, growth = measure(action, args.runs)
            size = f"{target.stat().st_size / 1e6:7.0f}" if target.exists() else "      -"
            results[name] = seconds
            rss = f"{growth / 1e6:8.0f} MB" if growth else "       n/a"
            print(f"{name:36} {seconds:8.2f} {args.rows / seconds:11,.0f} {size} {rss}")
        ours, baseline = results[rows[0][0]], results[rows[1][0]]
        print(f"\nwrite_csv is {baseline / ours:.1f}x faster than DataFrame.to_csv")


if __name__ == "__main__":
    main()
