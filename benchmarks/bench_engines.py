"""Which engine answers the window's questions past memory? Candidates measured on one cache.

Run:  .venv/bin/python benchmarks/bench_engines.py --cache FILE [--events N] [--mix heavy]

Issue 12 asks for a window whose memory follows a budget instead of the archive's size. Each
candidate answers what the window asks on every keystroke: how many events match a search and
which are the first rows on screen (newest first), the Action counts under it, and the first
rows sorted by a column. Each runs in a fresh process on the same cache, so one's memory is not
another's peak:

- frame: today's design and the baseline; the whole frame in memory, searched by the query
  engine (``FilterState.evaluate``), the first rows taken from the mask.
- duckdb: a columnar mirror of the cache in its own DuckDB file (lowercased copies of the text
  columns beside the originals), ``memory_limit`` set, every question one SQL statement;
  built once from the cache through ``CacheStore.iter_frames``.
- polars: the same columns in an Arrow IPC file, memory-mapped and scanned lazily by polars.

Printed: medians in ms, the build time and size of the mirrors, and peak RSS against the frame
(RSS counts a mapped file's touched pages; RssAnon is the heap alone).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PROFILE = "bench"
PAGE = 60  # rows a 1400x850 window shows, and then some
#: The searches of bench_table.py, each as the frame's query and as SQL over lowercased columns.
SEARCHES = {
    "common word": "ignored",
    "phrase": '"not relevant"',
    "qualifier": "user:alice",
    "negation": "-ignored",
}
TYPED = "ignored"
TEXT = ("user", "user_name", "user_email", "action", "description", "id", "actor_type")
USER = ("user", "user_name", "user_email")


def _any(columns: tuple[str, ...], word: str) -> str:
    literal = word.replace("'", "''")
    return "(" + " OR ".join(f"contains({c}_lc, '{literal}')" for c in columns) + ")"


SQL = {
    "common word": _any(TEXT, "ignored"),
    "phrase": _any(TEXT, "not relevant"),
    "qualifier": _any(USER, "alice"),
    "negation": f"NOT {_any(TEXT, 'ignored')}",
}


def peak_rss() -> dict[str, float]:
    status = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines())
    return {
        "peak RSS (MB)": int(status["VmHWM"].split()[0]) / 1024,
        "RssAnon now (MB)": int(status["RssAnon"].split()[0]) / 1024,
    }


def timed(action: Callable[[], object]) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def median(times: list[float]) -> float:
    return statistics.median(times)


def questions(
    results: dict[str, float],
    repeat: int,
    ask: Callable[[str], object],
    facets: Callable[[str], object],
    sort_first: Callable[[], object],
    forget: Callable[[], None] = lambda: None,
) -> None:
    """The same questions of every candidate: searches, typing, facets, a first sort."""
    for label in SEARCHES:
        times = []
        for _ in range(repeat):
            forget()
            times.append(timed(lambda label=label: ask(label)))
        results[f"search: {label}"] = median(times)
    keys: list[list[float]] = []
    for _ in range(repeat):
        forget()
        keys.append([timed(lambda n=n: ask(TYPED[:n])) for n in range(1, len(TYPED) + 1)])
    results["typing: 1st key"] = median([k[0] for k in keys])
    results["typing: worst next key"] = median([max(k[1:]) for k in keys])
    results["facets under 'ignored'"] = median([timed(lambda: facets("ignored")) for _ in keys])
    results["sort by user: first rows"] = timed(sort_first)


# --- candidates ------------------------------------------------------------------------------


def run_frame(cache: Path, repeat: int) -> dict[str, float]:
    import numpy as np

    from audit_viewer import query
    from audit_viewer.cache import CacheStore
    from audit_viewer.filters import FilterState
    from audit_viewer.frame import return_freed_memory, sort_order

    return_freed_memory()
    results: dict[str, float] = {}
    start = time.perf_counter()
    with CacheStore.open(cache) as store:
        frame = store.load_frame(PROFILE)
    query.prepare(frame)
    results["open → all searchable"] = time.perf_counter() - start

    def ask(label_or_text: str) -> object:
        text = SEARCHES.get(label_or_text, label_or_text)
        mask = FilterState(search=text).evaluate(frame).mask
        rows = np.flatnonzero(mask)
        return len(rows), first_rows(rows)

    def first_rows(rows: np.ndarray) -> list[dict[str, object]]:
        """The cells of the first rows, read as the table model reads them (no ``take``: on
        chunked Arrow columns it concatenates every chunk first)."""
        columns = {name: frame[name].array for name in frame.columns}
        return [{n: values[i] for n, values in columns.items()} for i in rows[:PAGE].tolist()]

    def facets(text: str) -> object:
        return FilterState(search=text).evaluate(frame).facets()

    def forget() -> None:
        for kept in list(query._KEPT.values()):
            kept.recent.clear()

    def sort_first() -> object:
        return first_rows(sort_order(frame, "user"))

    questions(results, repeat, ask, facets, sort_first, forget)
    results.update(peak_rss())
    return results


MIRROR_COLUMNS = ("id", "created_at", *TEXT[:-2], "actor_type", "flags", "raw")


def build_duckdb(cache: Path, target: Path, memory_mb: int) -> float:
    import duckdb
    import pyarrow as pa
    import pyarrow.compute as pc

    from audit_viewer.cache import CacheStore

    start = time.perf_counter()
    con = duckdb.connect(str(target), config={"memory_limit": f"{memory_mb}MB"})
    with CacheStore.open(cache) as store:
        for number, chunk in enumerate(store.iter_frames(PROFILE, chunk_size=200_000)):
            batch = pa.Table.from_pandas(chunk, preserve_index=False)
            for name in TEXT:
                batch = batch.append_column(f"{name}_lc", pc.utf8_lower(batch[name]))
            con.register("batch", batch)
            if number == 0:
                con.execute("CREATE TABLE events AS SELECT * FROM batch")
            else:
                con.execute("INSERT INTO events SELECT * FROM batch")
    con.close()
    return time.perf_counter() - start


def run_duckdb(path: Path, repeat: int, memory_mb: int) -> dict[str, float]:
    import duckdb

    results: dict[str, float] = {}
    start = time.perf_counter()
    con = duckdb.connect(str(path), read_only=True, config={"memory_limit": f"{memory_mb}MB"})
    con.execute("SELECT * FROM events ORDER BY created_at DESC LIMIT ?", [PAGE]).to_arrow_table()
    results["open → all searchable"] = time.perf_counter() - start

    def where(label_or_text: str) -> str:
        return SQL.get(label_or_text) or _any(TEXT, label_or_text)

    def ask(label_or_text: str) -> object:
        condition = where(label_or_text)
        count = con.execute(f"SELECT count(*) FROM events WHERE {condition}").fetchone()
        page = con.execute(
            f"SELECT * FROM events WHERE {condition} ORDER BY created_at DESC, id LIMIT {PAGE}"
        ).to_arrow_table()
        return count, page

    def facets(text: str) -> object:
        condition = where(text)
        return con.execute(
            f"SELECT action, count(*) FROM events WHERE {condition} GROUP BY action"
        ).fetchall()

    def sort_first() -> object:
        return con.execute(
            f"SELECT * FROM events ORDER BY user_lc, created_at DESC LIMIT {PAGE}"
        ).to_arrow_table()

    questions(results, repeat, ask, facets, sort_first)
    results.update(peak_rss())
    return results


def build_ipc(cache: Path, target: Path) -> float:
    import pyarrow as pa
    import pyarrow.compute as pc

    from audit_viewer.cache import CacheStore

    start = time.perf_counter()
    writer = None
    with CacheStore.open(cache) as store:
        for chunk in store.iter_frames(PROFILE, chunk_size=200_000):
            table = pa.Table.from_pandas(chunk, preserve_index=False)
            for name in TEXT:
                table = table.append_column(f"{name}_lc", pc.utf8_lower(table[name]))
            if writer is None:
                writer = pa.ipc.new_file(str(target), table.schema)
            writer.write_table(table)
    if writer is not None:
        writer.close()
    return time.perf_counter() - start


def run_polars(path: Path, repeat: int) -> dict[str, float]:
    import polars as pl

    results: dict[str, float] = {}
    start = time.perf_counter()
    lazy = pl.scan_ipc(path)  # memory-maps an uncompressed file
    lazy.head(PAGE).collect()
    results["open → all searchable"] = time.perf_counter() - start

    def expr(label_or_text: str) -> pl.Expr:
        words = {"common word": ("ignored", TEXT), "phrase": ("not relevant", TEXT)}
        words |= {"qualifier": ("alice", USER), "negation": ("ignored", TEXT)}
        word, columns = words.get(label_or_text, (label_or_text, TEXT))
        found = pl.any_horizontal(
            [pl.col(f"{c}_lc").str.contains(word, literal=True).fill_null(False) for c in columns]
        )
        return ~found if label_or_text == "negation" else found

    def ask(label_or_text: str) -> object:
        matching = lazy.filter(expr(label_or_text))
        count = matching.select(pl.len()).collect()
        page = matching.head(PAGE).collect()  # the file is newest first already
        return count, page

    def facets(text: str) -> object:
        return lazy.filter(expr(text)).group_by("action").len().collect()

    def sort_first() -> object:
        return lazy.sort("user_lc").head(PAGE).collect()

    questions(results, repeat, ask, facets, sort_first)
    results.update(peak_rss())
    return results


# --- driver ----------------------------------------------------------------------------------


def part(*args: str) -> dict[str, float]:
    command = [sys.executable, __file__, *args]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        sys.stderr.write(done.stderr)
        raise SystemExit(f"the part {args} failed (exit {done.returncode})")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", type=Path, required=True, help="use (or build once) this cache")
    parser.add_argument("--events", type=int, default=1_000_000, help="events, when building")
    parser.add_argument("--mix", choices=["project", "heavy"], default="project")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--memory-mb", type=int, default=500, help="DuckDB's memory_limit")
    parser.add_argument("--part", choices=["frame", "duckdb", "polars"], help=argparse.SUPPRESS)
    parser.add_argument("--mirror", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.part == "frame":
        print(json.dumps(run_frame(args.cache, args.repeat)))
        return 0
    if args.part == "duckdb":
        print(json.dumps(run_duckdb(args.mirror, args.repeat, args.memory_mb)))
        return 0
    if args.part == "polars":
        print(json.dumps(run_polars(args.mirror, args.repeat)))
        return 0

    if not args.cache.exists():
        from benchmarks._synthetic import synthetic_frame, write_cache

        print(f"building a cache of {args.events:,} {args.mix} events …", flush=True)
        write_cache(args.cache, synthetic_frame(args.events, 0, args.mix), PROFILE)
    with tempfile.TemporaryDirectory(prefix="bench-engines-") as folder:
        duck, ipc = Path(folder) / "mirror.duckdb", Path(folder) / "mirror.arrow"
        print("building the mirrors …", flush=True)
        built = {
            "duckdb": build_duckdb(args.cache, duck, args.memory_mb),
            "polars": build_ipc(args.cache, ipc),
        }
        sizes = {"duckdb": duck.stat().st_size / 1e6, "polars": ipc.stat().st_size / 1e6}
        print("measuring …", flush=True)
        found = {
            "frame": part(
                "--part", "frame", "--cache", str(args.cache), "--repeat", str(args.repeat),
            ),
            "duckdb": part(
                "--part", "duckdb", "--cache", str(args.cache), "--mirror", str(duck),
                "--repeat", str(args.repeat), "--memory-mb", str(args.memory_mb),
            ),
            "polars": part(
                "--part", "polars", "--cache", str(args.cache), "--mirror", str(ipc),
                "--repeat", str(args.repeat),
            ),
        }  # fmt: skip
    print()
    print(f"{args.cache} ({args.cache.stat().st_size / 1e6:,.0f} MB); medians in ms, RSS in MB")
    print(f"mirror build: duckdb {built['duckdb']:.1f} s ({sizes['duckdb']:,.0f} MB), "
          f"polars/IPC {built['polars']:.1f} s ({sizes['polars']:,.0f} MB)")  # fmt: skip
    print(f"{'question':<28} {'frame':>9} {'duckdb':>9} {'polars':>9} {'duck/frame':>11} "
          f"{'polars/frame':>13}")  # fmt: skip
    for label, base in found["frame"].items():
        cells = [found[name].get(label) for name in ("frame", "duckdb", "polars")]
        mb = "MB" in label
        shown = [f"{v:,.0f}" if mb else f"{v * 1000:,.1f}" for v in cells if v is not None]
        ratios = [f"{v / base:.2f}" for v in cells[1:] if v is not None and base]
        print(f"{label:<28} " + " ".join(f"{s:>9}" for s in shown) + " " + " ".join(
            f"{r:>12}" for r in ratios))  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
