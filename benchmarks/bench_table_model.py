"""How the columnar table model holds up on a million events, against Qt's stock approach.

Run:  .venv/bin/python benchmarks/bench_table_model.py [--rows 1000000] [--baseline-rows 100000]

Every number is the median of ``--repeat`` runs (default 5) of one user-visible operation on a
model attached to a shown QTableView (offscreen), so layout signals reach a real view and its
selection model:

- sort by Time / User / Action (a header click; directions alternate so no run repeats the last),
- apply a filter mask (``set_mask`` + the layout change the view handles),
- ``data()`` for one screen of cells, cold (a new place in a User-sorted view) and warm,
- a full repaint of the table's viewport (delegate included).

The baseline, in the same run: a QSortFilterProxyModel over the same model with only
``--baseline-rows`` events (sort by User; fixed-string filter on User), and building a
QStandardItemModel of that many rows. The ratio column says how many times longer the baseline
takes for a tenth (by default) of the data.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np
from PySide6.QtCore import QSortFilterProxyModel, Qt
from PySide6.QtGui import QStandardItem, QStandardItemModel
from PySide6.QtWidgets import QApplication, QTableView

from audit_viewer.query import FilterSet
from audit_viewer.ui.highlight import HighlightDelegate
from audit_viewer.ui.table_model import (
    COL_ACTION,
    COL_DESCRIPTION,
    COL_TIME,
    COL_USER,
    EventTableModel,
)
from benchmarks._synthetic import SYNTHETIC_NOW, synthetic_frame

ASC, DESC = Qt.SortOrder.AscendingOrder, Qt.SortOrder.DescendingOrder
SCREEN_ROWS = 40
SCREEN_COLUMNS = (COL_TIME, COL_USER, COL_ACTION, COL_DESCRIPTION)


def median_seconds(run: Callable[[int], object], repeat: int) -> float:
    """Median wall time of ``run(i)`` for i in range(repeat)."""
    times = []
    for i in range(repeat):
        start = time.perf_counter()
        run(i)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def table_for(model) -> QTableView:
    view = QTableView()
    view.setModel(model)
    view.setItemDelegate(HighlightDelegate(view))
    view.setWordWrap(False)
    view.verticalHeader().setSectionResizeMode(view.verticalHeader().ResizeMode.Fixed)
    view.resize(1200, 800)
    view.show()
    QApplication.processEvents()
    return view


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--baseline-rows", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)
    app = QApplication.instance() or QApplication([])
    repeat = args.repeat
    results: list[tuple[str, float]] = []

    start = time.perf_counter()
    frame = synthetic_frame(args.rows)
    print(f"synthetic frame: {args.rows:,} rows in {time.perf_counter() - start:.2f} s")
    start = time.perf_counter()
    model = EventTableModel(frame)
    print(f"model.set_frame: {time.perf_counter() - start:.3f} s")
    view = table_for(model)
    view.selectRow(10)  # a selection the layout changes must carry along

    for name, column in (("Time", COL_TIME), ("User", COL_USER), ("Action", COL_ACTION)):
        seconds = median_seconds(lambda i, c=column: model.sort(c, ASC if i % 2 else DESC), repeat)
        results.append((f"sort by {name} ({args.rows:,})", seconds))

    masks = [
        FilterSet(search=text).mask(frame, now=SYNTHETIC_NOW)
        for text in ("alice", "ignored -bot", "action:login", "user:smith", "false_positive")
    ]
    seconds = median_seconds(lambda i: model.set_mask(masks[i % len(masks)]), repeat)
    results.append((f"filter mask + layoutChanged ({args.rows:,})", seconds))
    model.set_mask(None)

    model.sort(COL_USER, ASC)
    rng = np.random.default_rng(1)
    tops = rng.integers(0, max(1, model.rowCount() - SCREEN_ROWS), size=repeat)

    def screen(top: int) -> None:
        for row in range(top, top + SCREEN_ROWS):
            for column in SCREEN_COLUMNS:
                model.index(row, column).data()

    cells = SCREEN_ROWS * len(SCREEN_COLUMNS)
    results.append(
        (
            f"data(), one screen cold ({cells} cells)",
            median_seconds(lambda i: screen(tops[i]), repeat),
        )
    )
    results.append(
        (
            f"data(), one screen warm ({cells} cells)",
            median_seconds(lambda i: screen(tops[0]), repeat),
        )
    )
    model.set_highlight(["alice", "false"])
    view.scrollTo(model.index(int(tops[0]), 0))
    results.append(
        (
            "repaint the viewport (highlight on)",
            median_seconds(lambda i: view.viewport().grab(), repeat),
        )
    )

    # Baseline: Qt's generic machinery over a fraction of the events.
    small = frame.iloc[: args.baseline_rows].reset_index(drop=True)
    source = EventTableModel(small)
    proxy = QSortFilterProxyModel()
    proxy.setSourceModel(source)
    proxy.setFilterKeyColumn(COL_USER)
    proxy.setFilterCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
    proxy_view = table_for(proxy)
    base: list[tuple[str, float, str]] = []
    base.append(
        (
            f"QSortFilterProxyModel sort by User ({args.baseline_rows:,})",
            median_seconds(lambda i: proxy.sort(COL_USER, ASC if i % 2 else DESC), repeat),
            f"sort by User ({args.rows:,})",
        )
    )
    words = ["alice", "smith", "bot", "garcía", "example"]
    base.append(
        (
            f"QSortFilterProxyModel filter User ({args.baseline_rows:,})",
            median_seconds(lambda i: proxy.setFilterFixedString(words[i % len(words)]), repeat),
            f"filter mask + layoutChanged ({args.rows:,})",
        )
    )
    proxy_view.close()

    def build_standard(_: int) -> None:
        items = QStandardItemModel(len(small), len(SCREEN_COLUMNS))
        columns = [
            small["created_at"].astype(str),
            small["user"],
            small["action"],
            small["description"],
        ]
        for c, values in enumerate(columns):
            for r, value in enumerate(values.tolist()):
                items.setItem(r, c, QStandardItem(value))

    base.append(
        (
            f"QStandardItemModel build ({args.baseline_rows:,})",
            median_seconds(build_standard, max(1, repeat // 2)),
            f"model.set_frame ({args.rows:,})",
        )
    )
    start = time.perf_counter()
    EventTableModel(frame)
    results.append((f"model.set_frame ({args.rows:,})", time.perf_counter() - start))

    ours = dict(results)
    width = max(len(name) for name, *_ in results + base) + 2
    print(f"\nmedian of {repeat} runs")
    for name, seconds in results:
        print(f"  {name:<{width}} {seconds * 1000:10.2f} ms")
    share = args.baseline_rows / args.rows
    print(f"\nbaseline ({args.baseline_rows:,} rows, {share:.0%} of ours), same run")
    for name, seconds, compare in base:
        ratio = seconds / ours[compare]
        print(f"  {name:<{width}} {seconds * 1000:10.2f} ms   {ratio:8.1f}x ours on {compare}")
    view.close()
    app.processEvents()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
