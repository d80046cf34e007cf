"""Does the window stay instant on a million events? App against naive Qt model and floor.

Run:  .venv/bin/python benchmarks/bench_table.py --events 1000000 [--repeat 5] [--naive-repeat 1]

It builds a cache of N synthetic events (fixed seed, through the app's own insert path), then
measures three things on the same data in separate processes, so one's memory is not the other's
peak:

- app: the real window (``create_window(["--cache", ...])``, the real model, header, search bar and
  delegate), shown offscreen at 1400x850. Each operation is timed from the user's action to the
  visible rows painted (``viewport().repaint()`` plus the events it posts). Query results the
  engine remembers are forgotten before every repetition, so each search is a new one.
- naive: QStandardItemModel + QSortFilterProxyModel (filterKeyColumn -1, case-insensitive) over
  the same four visible columns, in a shown QTableView. At a million rows every step takes seconds,
  so it runs ``--naive-repeat`` times (default 1 above 200,000 events).
- floor: the same vectorized operation alone (the query engine's mask and the sort order, no Qt).

It prints one table of medians with the ratios app/naive and app/floor.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PROFILE = "bench"
#: The searches an admin types: common word, phrase, rare word (filled in from the data),
#: a qualifier and a negation.
SEARCHES = {
    "common word": "ignored",
    "phrase": '"not relevant"',
    "rare word": None,
    "qualifier": "user:alice",
    "negation": "-ignored",
}
TYPED = "ignored"
PREFIXES = range(1, len(TYPED) + 1)  # "i", "ig", ... "ignored"
#: Column filters as the filter row sets them: (label, column key, value).
COLUMN_FILTERS = [
    ("filter User", "user", "alice"),
    ("filter Action", "action", ["Ticket created"]),
    ("filter Description", "description", "reason"),
]
SORT_KEYS = ["created_at", "user", "action", "description", "id", "actor_type", "user_email"]


def typing_results(runs: list[list[float]]) -> dict[str, float]:
    """Medians over runs of typing TYPED key by key: the first key starts a new search, every
    later one extends the last (the case the engine can narrow)."""
    return {
        f"typing '{TYPED}': 1st key": median_of([keys[0] for keys in runs]),
        f"typing '{TYPED}': worst next key": median_of([max(keys[1:]) for keys in runs]),
        f"typing '{TYPED}': all keys": median_of([sum(keys) for keys in runs]),
    }


def rare_word(path: Path) -> str:
    """A word found in one event only: the rule id in the middle event's description."""
    from audit_viewer.cache import CacheStore

    with CacheStore.open(path) as store:
        frame = store.load_frame(PROFILE)
    for description in frame["description"].iloc[len(frame) // 3 :].tolist():
        if "Ignore rule ID: '" in description:
            return description.split("Ignore rule ID: '")[1][:12]
    return "zzzzzzzz"


def peak_rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def timed(action: Callable[[], object]) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def median_of(times: list[float]) -> float:
    return statistics.median(times)


# --- app -----------------------------------------------------------------------------------


def type_search(window, text: str) -> None:
    """What typing ``text`` into the search bar and pressing Enter does (without the keys)."""
    window.search_bar.setText(text)
    window.search_bar.apply()


def run_app(path: Path, repeat: int, searches: dict[str, str]) -> dict[str, float]:
    os.environ["AUDIT_VIEWER_HOME"] = tempfile.mkdtemp(prefix="bench-home-")
    from PySide6.QtWidgets import QApplication

    from audit_viewer import query
    from audit_viewer.app import create_window
    from audit_viewer.ui.application import application

    app = application()
    results: dict[str, float] = {}

    def settle() -> None:
        for _ in range(3):
            QApplication.processEvents()

    def open_window():
        start = time.perf_counter()
        window = create_window(["--cache", str(path), "--profile", PROFILE])
        window.resize(1400, 850)
        window.show()
        while True:
            QApplication.processEvents()
            if window.model.rowCount():
                window.table.viewport().repaint()
                first = time.perf_counter() - start
                break
            time.sleep(0.001)
        while window.loader.loading:
            QApplication.processEvents()
            time.sleep(0.001)
        settle()
        window.table.viewport().repaint()
        return window, first, time.perf_counter() - start

    # One window a process, as in the app: its peak memory is the session's own. The driver
    # runs this part once per repetition of the opening and once more for the operations.
    window, first, whole = open_window()
    results["open → first rows painted"] = first
    results["open → all events filterable"] = whole
    if repeat == 0:  # only the opening was asked for
        return results
    model, table, header = window.model, window.table, window.header

    def forget() -> None:
        for kept in list(query._KEPT.values()):
            kept.recent.clear()

    def painted(action: Callable[[], object]) -> float:
        start = time.perf_counter()
        action()
        table.viewport().repaint()
        settle()
        return time.perf_counter() - start

    def reset() -> None:
        window.filtering.clear()
        forget()
        settle()

    for label, text in searches.items():
        times = []
        for _ in range(repeat):
            reset()
            times.append(painted(lambda text=text: type_search(window, text)))
        results[f"search: {label}"] = median_of(times)

    def typed() -> list[float]:
        reset()
        return [painted(lambda n=n: type_search(window, TYPED[:n])) for n in PREFIXES]

    results.update(typing_results([typed() for _ in range(repeat)]))

    for label, key, value in COLUMN_FILTERS:
        column = model.column_of(key)
        times = []
        for _ in range(repeat):
            reset()
            times.append(painted(lambda c=column, v=value: header.set_filter(c, v)))
        results[label] = median_of(times)
    newest = window.frame["created_at"].iloc[0].to_pydatetime()
    span = (newest - timedelta(days=20), newest - timedelta(days=10))
    for label, value in (("time preset 7 days", "7d"), ("time range (10 days)", span)):
        times = []
        for _ in range(repeat):
            reset()
            times.append(painted(lambda v=value: header.set_filter(0, v)))
        results[label] = median_of(times)

    times = []
    for _ in range(repeat):
        reset()
        type_search(window, "ignored")
        header.set_filter(model.column_of("user"), "a")
        header.set_filter(0, "30d")
        times.append(painted(window.filtering.clear))
    results["clear all filters"] = median_of(times)

    reset()
    from PySide6.QtCore import Qt

    orders = (Qt.SortOrder.AscendingOrder, Qt.SortOrder.DescendingOrder)
    for key in SORT_KEYS:
        column = model.column_of(key)
        if table.isColumnHidden(column):
            table.setColumnHidden(column, False)
        first = painted(lambda c=column: table.sortByColumn(c, orders[0]))
        again = [
            painted(lambda c=column, i=i: table.sortByColumn(c, orders[(i + 1) % 2]))
            for i in range(repeat)
        ]
        results[f"sort by {key} (first time)"] = first
        results[f"sort by {key}"] = median_of(again)
    results["peak RSS (MB)"] = peak_rss_mb()
    window.close()
    settle()
    del app
    return results


# --- naive ---------------------------------------------------------------------------------


def run_naive(path: Path, repeat: int, searches: dict[str, str]) -> dict[str, float]:
    from PySide6.QtCore import QRegularExpression, QSortFilterProxyModel, Qt
    from PySide6.QtGui import QStandardItem, QStandardItemModel
    from PySide6.QtWidgets import QApplication, QTableView

    from audit_viewer.cache import CacheStore

    app = QApplication.instance() or QApplication([])
    results: dict[str, float] = {}
    view = QTableView()
    view.resize(1400, 850)
    view.show()

    def settle() -> None:
        for _ in range(3):
            QApplication.processEvents()

    def painted(action: Callable[[], object]) -> float:
        start = time.perf_counter()
        action()
        view.viewport().repaint()
        settle()
        return time.perf_counter() - start

    def open_model() -> QSortFilterProxyModel:
        with CacheStore.open(path) as store:
            frame = store.load_frame(PROFILE)
        times = frame["created_at"].dt.strftime("%Y-%m-%d %H:%M:%S").tolist()
        columns = [times] + [frame[k].tolist() for k in ("user", "action", "description")]
        source = QStandardItemModel(len(frame), 4)
        source.setHorizontalHeaderLabels(["Time", "User", "Action", "Description"])
        for row, cells in enumerate(zip(*columns, strict=True)):
            for col, text in enumerate(cells):
                source.setItem(row, col, QStandardItem(text))
        proxy = QSortFilterProxyModel()
        proxy.setSourceModel(source)
        proxy.setFilterKeyColumn(-1)
        proxy.setFilterCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        proxy.setSortCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        view.setModel(proxy)
        view.viewport().repaint()
        return proxy

    start = time.perf_counter()
    proxy = open_model()
    results["open → first rows painted"] = time.perf_counter() - start
    results["open → all events filterable"] = results["open → first rows painted"]
    source_model = proxy.sourceModel()

    def fixed(text: str, column: int = -1) -> Callable[[], None]:
        def apply() -> None:
            proxy.setFilterKeyColumn(column)
            proxy.setFilterFixedString(text)

        return apply

    def regex(pattern: str, column: int = -1) -> Callable[[], None]:
        def apply() -> None:
            proxy.setFilterKeyColumn(column)
            proxy.setFilterRegularExpression(
                QRegularExpression(pattern, QRegularExpression.PatternOption.CaseInsensitiveOption)
            )

        return apply

    def reset() -> None:
        proxy.setFilterKeyColumn(-1)
        proxy.setFilterFixedString("")
        settle()

    naive_searches = {
        "common word": fixed(searches["common word"]),
        "phrase": fixed(searches["phrase"].strip('"')),
        "rare word": fixed(searches["rare word"]),
        "qualifier": fixed(searches["qualifier"].split(":", 1)[1], 1),
        "negation": regex(f"^(?!.*{searches['negation'][1:]}).*$"),
    }
    for label, action in naive_searches.items():
        times = []
        for _ in range(repeat):
            reset()
            times.append(painted(action))
        results[f"search: {label}"] = median_of(times)

    def typed() -> list[float]:
        reset()
        return [painted(fixed(TYPED[:n])) for n in PREFIXES]

    results.update(typing_results([typed() for _ in range(repeat)]))

    filters = {
        "filter User": fixed("alice", 1),
        "filter Action": regex("^Ticket created$", 2),
        "filter Description": fixed("reason", 3),
    }
    newest = source_model.index(0, 0).data()[:10]
    from datetime import date

    day0 = date.fromisoformat(newest)
    week = "|".join(f"^{(day0 - timedelta(days=d)).isoformat()}" for d in range(8))
    days = "|".join(f"^{(day0 - timedelta(days=d)).isoformat()}" for d in range(10, 21))
    filters["time preset 7 days"] = regex(week, 0)
    filters["time range (10 days)"] = regex(days, 0)
    for label, action in filters.items():
        times = []
        for _ in range(repeat):
            reset()
            times.append(painted(action))
        results[label] = median_of(times)

    times = []
    for _ in range(repeat):
        fixed("ignored")()
        settle()
        times.append(painted(fixed("")))
    results["clear all filters"] = median_of(times)
    reset()

    orders = (Qt.SortOrder.AscendingOrder, Qt.SortOrder.DescendingOrder)
    for column, key in enumerate(SORT_KEYS[:4]):
        first = painted(lambda c=column: proxy.sort(c, orders[0]))
        again = [
            painted(lambda c=column, i=i: proxy.sort(c, orders[(i + 1) % 2])) for i in range(repeat)
        ]
        results[f"sort by {key} (first time)"] = first
        results[f"sort by {key}"] = median_of(again)
    results["peak RSS (MB)"] = peak_rss_mb()
    del app
    return results


# --- floor ---------------------------------------------------------------------------------


def run_floor(path: Path, repeat: int, searches: dict[str, str]) -> dict[str, float]:
    from datetime import UTC, datetime

    import numpy as np

    from audit_viewer import query
    from audit_viewer.cache import CacheStore
    from audit_viewer.filters import FilterState
    from audit_viewer.frame import return_freed_memory, sort_order
    from audit_viewer.query import prepare
    from audit_viewer.ui.workers import LoadWorker  # only for its page size: Qt stays idle

    results: dict[str, float] = {}
    return_freed_memory()  # as the window does
    with CacheStore.open(path) as store:
        pages, loads = [], []
        frame = None
        for _ in range(repeat):
            pages.append(timed(lambda: store.load_frame(PROFILE, limit=LoadWorker.FIRST_PAGE)))
            frame = None  # one frame at a time, as the window holds them
            start = time.perf_counter()
            frame = store.load_frame(PROFILE)
            prepare(frame)
            loads.append(time.perf_counter() - start)
    results["open → first rows painted"] = median_of(pages)
    results["open → all events filterable"] = median_of(loads)
    order = np.arange(len(frame), dtype=np.int64)
    now = datetime.now(UTC)

    def forget() -> None:
        for kept in list(query._KEPT.values()):
            kept.recent.clear()

    def shown(fs: FilterState) -> np.ndarray:
        mask = fs.evaluate(frame, now=now).mask  # the window counts facets lazily too
        return order if mask is None else order[mask[order]]

    def median_cold(make: Callable[[], FilterState]) -> float:
        times = []
        for _ in range(repeat):
            forget()
            fs = make()
            times.append(timed(lambda fs=fs: shown(fs)))
        return median_of(times)

    for label, text in searches.items():
        results[f"search: {label}"] = median_cold(lambda text=text: FilterState(search=text))

    def typed() -> list[float]:
        forget()
        return [timed(lambda n=n: shown(FilterState(search=TYPED[:n]))) for n in PREFIXES]

    results.update(typing_results([typed() for _ in range(repeat)]))
    for label, key, value in COLUMN_FILTERS:
        if key == "action":
            results[label] = median_cold(lambda v=value: FilterState(actions=frozenset(v)))
        else:
            results[label] = median_cold(lambda k=key, v=value: FilterState(text_filters={k: v}))
    newest = frame["created_at"].iloc[0].to_pydatetime()
    span = (newest - timedelta(days=20), newest - timedelta(days=10))
    results["time preset 7 days"] = median_cold(lambda: FilterState(time_preset="7d"))
    results["time range (10 days)"] = median_cold(lambda: FilterState(time_range=span))
    results["clear all filters"] = median_cold(FilterState)
    for key in SORT_KEYS:
        times = [timed(lambda k=key, i=i: sort_order(frame, k, i % 2 == 0)) for i in range(repeat)]
        results[f"sort by {key} (first time)"] = times[0]
        results[f"sort by {key}"] = median_of(times)
    results["peak RSS (MB)"] = peak_rss_mb()
    return results


# --- driver --------------------------------------------------------------------------------

TARGETS = {
    "open → first rows painted": 1.5,
    "search: common word": 0.1,
    "search: phrase": 0.1,
    "search: rare word": 0.1,
    "search: qualifier": 0.1,
    "search: negation": 0.1,
    f"typing '{TYPED}': 1st key": 0.1,
    f"typing '{TYPED}': worst next key": 0.03,
    "filter User": 0.05,
    "filter Action": 0.05,
    "clear all filters": 0.05,
    **{f"sort by {key}": 0.1 for key in SORT_KEYS},
    "peak RSS (MB)": 700,
}


def app_part(path: Path, repeat: int, searches: dict[str, str]) -> dict[str, float]:
    """The operations in one process, and the opening in ``repeat`` fresh processes."""
    results = part("app", path, repeat, searches)
    opens = [part("app", path, 0, searches) for _ in range(repeat - 1)]
    for label in ("open → first rows painted", "open → all events filterable"):
        results[label] = median_of([results[label], *(one[label] for one in opens)])
    return results


def part(name: str, path: Path, repeat: int, searches: dict[str, str]) -> dict[str, float]:
    """Run one part in a fresh interpreter; its results come back as JSON on stdout."""
    command = [sys.executable, __file__, "--part", name, "--cache", str(path)]
    command += ["--repeat", str(repeat), "--searches", json.dumps(searches)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        sys.stderr.write(done.stderr)
        raise SystemExit(f"the {name} part failed (exit {done.returncode})")
    return json.loads(done.stdout.strip().splitlines()[-1])


def show(value: float | None, label: str) -> str:
    if value is None:
        return "—"
    return f"{value:,.0f}" if "RSS" in label else f"{value * 1000:,.1f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000, help="events in the cache")
    parser.add_argument("--seed", type=int, default=0, help="seed of the synthetic events")
    parser.add_argument(
        "--mix", choices=["project", "heavy"], default="project", help="the synthetic events' mix"
    )
    parser.add_argument("--repeat", type=int, default=5, help="repetitions of app and floor")
    parser.add_argument("--naive-repeat", type=int, help="repetitions of the naive model")
    parser.add_argument("--no-naive", action="store_true", help="skip the naive model")
    parser.add_argument("--cache", type=Path, help="use (or build once) this cache file")
    parser.add_argument("--part", choices=["app", "naive", "floor"], help=argparse.SUPPRESS)
    parser.add_argument("--searches", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.part:
        runner = {"app": run_app, "naive": run_naive, "floor": run_floor}[args.part]
        print(json.dumps(runner(args.cache, args.repeat, json.loads(args.searches))))
        return 0

    folder = tempfile.TemporaryDirectory(prefix="bench-table-")
    path = args.cache or Path(folder.name) / "cache.sqlite3"
    if not path.exists():
        from benchmarks._synthetic import synthetic_frame, write_cache

        print(
            f"building a cache of {args.events:,} {args.mix} events (seed {args.seed}) …",
            flush=True,
        )
        started = time.perf_counter()
        write_cache(path, synthetic_frame(args.events, args.seed, args.mix), PROFILE)
        print(f"  {time.perf_counter() - started:.1f} s, {path.stat().st_size / 1e6:,.0f} MB")
    searches = dict(SEARCHES, **{"rare word": rare_word(path)})
    naive_repeat = args.naive_repeat or (1 if args.events > 200_000 else args.repeat)

    print(f"app: the real window, {args.repeat} repetitions …", flush=True)
    app = app_part(path, args.repeat, searches)
    print(f"floor: the same operations without Qt, {args.repeat} repetitions …", flush=True)
    floor = part("floor", path, args.repeat, searches)
    naive: dict[str, float] = {}
    if not args.no_naive:
        print(f"naive: QStandardItemModel + QSortFilterProxyModel, {naive_repeat} "
              f"repetition{'s' if naive_repeat > 1 else ''} …", flush=True)  # fmt: skip
        naive = part("naive", path, naive_repeat, searches)

    print()
    print(f"{args.events:,} {args.mix} events; medians in ms (RSS in MB); searches: {searches}")
    head = f"{'operation':<34} {'app':>9} {'naive':>10} {'floor':>9} {'naive/app':>10} "
    print(head + f"{'app/floor':>10} {'target':>8}  met")
    for label, value in app.items():
        other, base = naive.get(label), floor.get(label)
        vs_naive = f"{other / value:,.0f}×" if other and value else "—"
        if "RSS" in label and other:
            vs_naive = f"{value / other:.2f}"
        vs_floor = f"{value / base:.2f}" if base else "—"
        target = TARGETS.get(label)
        met = "" if target is None else ("yes" if value <= target else "NO")
        shown_target = "" if target is None else show(target, label)
        print(
            f"{label:<34} {show(value, label):>9} {show(other, label):>10} "
            f"{show(base, label):>9} {vs_naive:>10} {vs_floor:>10} {shown_target:>8}  {met}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
