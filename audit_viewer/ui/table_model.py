"""The events table's model: columnar, so a million cached events scroll, sort and filter at once.

The frame (see :mod:`audit_viewer.frame`) stays as it is; the model only keeps ``_order`` (every
record index in the current sort order) and ``_visible`` (the part of ``_order`` the filter mask
lets through). Sorting and filtering are whole-column numpy/Arrow operations, never per row in
Python, and ``data()`` does O(1) work per cell: the text of a cell comes from small per-column
caches that format blocks of neighbouring records at a time (e.g. all local-time strings of 128
records in one vectorized call), evicted least recently used so memory stays bounded.

Sorting and filtering emit ``layoutAboutToBeChanged``/``layoutChanged`` with the persistent
indexes moved to the rows their events went to (and a new frame after a sync maps them by event
id), so the view keeps the user's selection and current row instead of resetting.
"""

from __future__ import annotations

import html
import re
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from PySide6.QtCore import (
    QAbstractItemModel,
    QAbstractTableModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    Qt,
    QTimeZone,
)

from audit_viewer.events import FRAME_COLUMNS, flag_sentences, format_timestamp, in_zone
from audit_viewer.frame import (
    ExtraField,
    empty_frame,
    extra_field_data,
    extra_fields,
    extra_values,
    format_extra,
    sort_order,
    take_chunks,
)

COL_TIME, COL_USER, COL_ACTION, COL_DESCRIPTION, COL_ID, COL_ACTOR, COL_EMAIL = range(7)

#: Native, comparable value of a cell (ints stay Python ints, times are UTC nanoseconds).
SortRole = Qt.ItemDataRole.UserRole
#: The row's event as a dict with the frame's columns (see :meth:`EventTableModel.record`).
RecordRole = Qt.ItemDataRole.UserRole + 1
#: The row's index into the frame (stable while the frame is, unlike the view row).
EventIndexRole = Qt.ItemDataRole.UserRole + 2
#: Compiled pattern of the search terms to highlight in this cell, or None (for the delegate).
HighlightRole = Qt.ItemDataRole.UserRole + 3

#: Records per formatted block: small, because a sorted view touches records all over the frame.
#: Marks the time of a flagged event in the table (its tooltip says why).
FLAG_BADGE = "⚠"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
_BLOCK_SHIFT = 6
#: Blocks kept per column (64 x 1024 = 65,536 formatted cells per column at most).
_MAX_BLOCKS = 1024
#: Sort orders kept for going back to a recent sort at once (8 MB each at 1M events).
_KEPT_ORDERS = 3
#: Parsed raw JSON kept for cells of extra-field columns.
_MAX_PARSED = 4096
#: The description cell never needs more than a screen's width of text; the tooltip gets more.
_DISPLAY_CHARS = 400
_TOOLTIP_CHARS = 3000
#: The most extra-field columns offered.
_MAX_EXTRA_COLUMNS = 40
_NEWLINE_MARK = " ⏎ "

# PySide picks the no-argument overload of the layout signals unless told which one.
_LAYOUT_SIGNATURE = "QList<QPersistentModelIndex>,QAbstractItemModel::LayoutChangeHint"
_HORIZONTAL = Qt.Orientation.Horizontal
_DISPLAY = Qt.ItemDataRole.DisplayRole
_TOOLTIP = Qt.ItemDataRole.ToolTipRole
#: Combined once: Python enum arithmetic per painted cell is measurable.
_CELL_FLAGS = (
    Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemNeverHasChildren
)
_ROLES = frozenset(
    int(r) for r in (_DISPLAY, _TOOLTIP, SortRole, RecordRole, EventIndexRole, HighlightRole)
)


@dataclass(frozen=True)
class Column:
    """What a column shows: ``key`` is the frame column (or the extra field's dotted path)."""

    key: str
    title: str
    kind: str  # "time" | "action" | "text" | "extra": which filter editor the header offers
    hidden: bool  # hidden until the user shows it from the header's context menu
    tooltip: str
    extra: ExtraField | None = None  # the extra field an "extra" column shows


BASE_COLUMNS: tuple[Column, ...] = (
    Column("created_at", "Time", "time", False, "When the event happened."),
    Column("user", "User", "text", False, "Who did it: e-mail, name, SCM login or System."),
    Column("action", "Action", "action", False, "What was done."),
    Column("description", "Description", "text", False, "Details the platform recorded."),
    Column("id", "ID", "text", True, "The event's unique id on the platform."),
    Column("actor_type", "Actor type", "text", True, "user, scm or system."),
    Column("user_email", "Email", "text", True, "The acting user's e-mail, when known."),
)


def system_timezone() -> tzinfo:
    """The machine's zone with its daylight-saving rules (not just today's fixed offset)."""
    zone_id = bytes(QTimeZone.systemTimeZoneId().data()).decode("ascii", "replace")
    try:
        return ZoneInfo(zone_id)
    except (ZoneInfoNotFoundError, ValueError):
        return datetime.now().astimezone().tzinfo or UTC


def zone_name(tz: tzinfo) -> str:
    """A name for the zone that holds all year: "America/New_York", not "EST", which would be
    wrong for half of the rows (their own offset is in each cell's tooltip and the detail pane)."""
    if tz is UTC or getattr(tz, "key", None) in ("UTC", "Etc/UTC"):
        return "UTC"
    return getattr(tz, "key", None) or datetime.now(tz).tzname() or str(tz)


def zone_offsets(tz: tzinfo) -> str:
    """The zone's offsets over a year: "UTC-05:00 in winter, UTC-04:00 in summer"."""
    year = datetime.now(UTC).year
    january, july = (datetime(year, month, 15, 12, tzinfo=tz) for month in (1, 7))
    names = [f"{moment:%Z} (UTC{moment:%:z})" for moment in (january, july)]
    if names[0] == names[1]:
        return names[0]
    winter, summer = names if (july.utcoffset() or 0) > (january.utcoffset() or 0) else names[::-1]
    return f"{winter} in winter, {summer} in summer"


def _dense_ranks(values: np.ndarray) -> np.ndarray:
    """0-based dense ranks of an object array's values (Python comparison, exact for big ints)."""
    if len(values) == 0:
        return np.zeros(0, np.int64)
    order = np.argsort(values, kind="stable")
    ordered = values[order]
    starts = np.ones(len(values), np.int64)
    starts[0] = 0
    starts[1:] = ordered[1:] != ordered[:-1]
    ranks = np.empty(len(values), np.int64)
    ranks[order] = np.cumsum(starts)
    return ranks


def extra_sort_order(values: list[Any], ascending: bool) -> np.ndarray:
    """Stable order of JSON values: numbers (exact), then text, then the rest; missing last.

    JSON mixes types freely, so each kind is ranked on its own (numbers numerically, text
    case-insensitively) and the kinds are stacked; ties keep their record order both ways.
    """
    kinds = np.fromiter(map(_sort_kind, values), np.int64, len(values))
    key = np.full(len(values), -1, np.int64)
    offset = 0
    for kind, comparable in enumerate(_COMPARABLE):
        members = np.flatnonzero(kinds == kind)
        if len(members) == 0:
            continue
        keyed = np.empty(len(members), object)
        keyed[:] = [comparable(values[i]) for i in members]
        ranks = _dense_ranks(keyed)
        key[members] = offset + ranks
        offset += int(ranks.max()) + 1
    missing = kinds < 0
    if not ascending:
        key = offset - 1 - key
    key[missing] = offset
    return np.argsort(key, kind="stable").astype(np.int64, copy=False)


def _sort_kind(value: Any) -> int:
    """Which block of the sort a JSON value goes to (-1: missing, sorted last)."""
    if value is None:
        return -1
    if isinstance(value, bool):
        return 2
    if isinstance(value, int | float):
        return 0
    return 1 if isinstance(value, str) else 3


#: How values of each sort kind compare among themselves.
_COMPARABLE: tuple[Callable[[Any], Any], ...] = (
    lambda v: v,
    lambda v: v.casefold(),
    lambda v: v,
    format_extra,
)


def highlight_pattern(terms: Iterable[str]) -> re.Pattern[str] | None:
    """One case-insensitive pattern for all terms, longest first so overlaps mark the most."""
    unique = sorted({t for t in terms if t}, key=len, reverse=True)
    if not unique:
        return None
    return re.compile("|".join(re.escape(t) for t in unique), re.IGNORECASE)


class _BlockCache:
    """Formatted text of one column, computed ``1 << _BLOCK_SHIFT`` records at a time (LRU)."""

    def __init__(self, fill: Callable[[int, int], list[str]]) -> None:
        self._fill = fill
        self._blocks: OrderedDict[int, list[str]] = OrderedDict()

    def get(self, record: int) -> str:
        block = record >> _BLOCK_SHIFT
        texts = self._blocks.get(block)
        if texts is None:
            start = block << _BLOCK_SHIFT
            texts = self._fill(start, start + (1 << _BLOCK_SHIFT))
            self._blocks[block] = texts
            if len(self._blocks) > _MAX_BLOCKS:
                self._blocks.popitem(last=False)
        else:
            self._blocks.move_to_end(block)
        return texts[record & ((1 << _BLOCK_SHIFT) - 1)]


class EventTableModel(QAbstractTableModel):
    """Read-only table of cached events; see the module docstring for how it stays fast."""

    def __init__(self, frame: pd.DataFrame | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._df = empty_frame()
        self._mask: np.ndarray | None = None
        self._order = np.zeros(0, np.int64)
        self._in_frame_order = True  # _order is 0, 1, 2, ...: a mask alone gives the rows
        self._orders: OrderedDict[tuple[Any, ...], np.ndarray] = OrderedDict()
        self._visible = np.zeros(0, np.int64)
        self._positions: np.ndarray | None = None
        self._extras: list[Column] = []
        self._sort_column = COL_TIME
        self._sort_order = Qt.SortOrder.DescendingOrder
        #: Further sort keys after the header's column: (column, ascending), in order.
        self._then: list[tuple[int, bool]] = []
        self._local_tz = system_timezone()
        self._utc = False
        self._highlight: re.Pattern[str] | None = None
        self._texts: dict[int, _BlockCache] = {}
        self._wall: np.ndarray | None = None
        self._created: np.ndarray | None = None
        self._parsed: OrderedDict[int, dict[tuple[str, ...], Any]] = OrderedDict()
        if frame is not None:
            self.set_frame(frame)

    # -- the data ------------------------------------------------------------------------------

    @property
    def frame(self) -> pd.DataFrame:
        """The whole frame (every cached event, unfiltered, in the frame's own order)."""
        return self._df

    def set_frame(self, frame: pd.DataFrame, *, mask: np.ndarray | None = None) -> None:
        """Show a new frame (e.g. after a sync), keeping sort, selection and current row.

        The caller recomputes the filter for the new rows and passes it as ``mask`` (or calls
        :meth:`set_mask` right after). Persistent indexes follow their events by id. Extra-field
        columns found in the new frame are appended (hidden by default); known ones stay.
        """
        old_ids = self._df["id"]
        frame = frame if _has_range_index(frame) else frame.reset_index(drop=True)
        mask = _checked_mask(mask, len(frame))

        def swap() -> np.ndarray:
            self._df, self._mask = frame, mask
            self._invalidate_caches()
            self._set_order()
            return self._filtered()

        self._relayout(swap, remap=lambda records: self._by_id(old_ids, records))
        found = [c for c in self._discover_extras() if c.key not in {e.key for e in self._extras}]
        found = found[: max(0, _MAX_EXTRA_COLUMNS - len(self._extras))]
        if found:
            first = len(BASE_COLUMNS) + len(self._extras)
            self.beginInsertColumns(QModelIndex(), first, first + len(found) - 1)
            self._extras.extend(found)
            self.endInsertColumns()

    def set_mask(self, mask: np.ndarray | None) -> None:
        """Show only the records where ``mask`` is true (``None``: all), in the current sort."""
        mask = _checked_mask(mask, len(self._df))

        def swap() -> np.ndarray:
            self._mask = mask
            return self._filtered()

        self._relayout(swap)

    def _filtered(self) -> np.ndarray:
        if self._mask is None:
            return self._order
        if self._in_frame_order:  # the default newest-first view: no gather through the order
            return np.flatnonzero(self._mask)
        return self._order[self._mask[self._order]]

    def _invalidate_caches(self) -> None:
        self._orders.clear()
        self._texts.clear()
        self._wall = None
        self._created = None
        self._parsed.clear()

    def _by_id(self, old_ids: pd.Series, records: np.ndarray) -> np.ndarray:
        """Old record indexes -> indexes of the same events in the new frame (-1: gone)."""
        if len(records) == 0:
            return records
        wanted = old_ids.take(records).tolist()
        hits = np.flatnonzero(self._df["id"].isin(wanted).to_numpy(dtype=bool))
        where = dict(zip(self._df["id"].take(hits).tolist(), hits.tolist(), strict=True))
        return np.array([where.get(event_id, -1) for event_id in wanted], np.int64)

    # -- layout changes that keep the selection ------------------------------------------------

    def _relayout(
        self,
        swap: Callable[[], np.ndarray],
        remap: Callable[[np.ndarray], np.ndarray] | None = None,
    ) -> None:
        """Change the shown rows, moving persistent indexes (selection, current) with them.

        ``swap`` changes the state and returns the new visible rows; it runs between the two
        layout signals so nothing reads a half-changed model. ``remap`` maps the old record
        indexes of persistent rows to new ones when the frame itself changed.
        """
        hint = QAbstractItemModel.LayoutChangeHint.VerticalSortHint
        self.layoutAboutToBeChanged[_LAYOUT_SIGNATURE].emit([], hint)
        persistent = self.persistentIndexList()
        records = self._visible[np.array([i.row() for i in persistent], np.int64)]
        self._visible = swap()
        self._positions = None
        if remap is not None:
            records = remap(records)
        if persistent:
            rows = self._rows_of(records)
            moved = [
                self.index(int(row), old.column()) if row >= 0 else QModelIndex()
                for old, row in zip(persistent, rows, strict=True)
            ]
            self.changePersistentIndexList(persistent, moved)
        self.layoutChanged[_LAYOUT_SIGNATURE].emit([], hint)

    def _rows_of(self, records: np.ndarray) -> np.ndarray:
        if self._positions is None:
            positions = np.full(len(self._df), -1, np.int64)
            positions[self._visible] = np.arange(len(self._visible), dtype=np.int64)
            self._positions = positions
        rows = np.full(len(records), -1, np.int64)
        valid = (records >= 0) & (records < len(self._positions))
        rows[valid] = self._positions[records[valid]]
        return rows

    # -- sorting -------------------------------------------------------------------------------

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        """Stable, whole-column sort (the header calls it); column -1 restores the frame order."""

        def swap() -> np.ndarray:
            self._sort_column = column if 0 <= column < self.columnCount() else -1
            self._sort_order = order
            self._then = []
            self._set_order()
            return self._filtered()

        self._relayout(swap)
        self._titles_changed()

    def then_sort(self, column: int) -> None:
        """Add ``column`` as the next sort key (Shift+click, Ctrl+Alt+Right), as DB Browser for
        SQLite does; again on a key already there flips its direction."""
        if not 0 <= column < self.columnCount() or column == self._sort_column:
            return
        keys = dict(self._then)
        if column in keys:
            keys[column] = not keys[column]
        else:
            initial = self.headerData(column, _HORIZONTAL, Qt.ItemDataRole.InitialSortOrderRole)
            keys[column] = initial != Qt.SortOrder.DescendingOrder

        def swap() -> np.ndarray:
            self._then = list(keys.items())
            self._set_order()
            return self._filtered()

        self._relayout(swap)
        self._titles_changed()

    @property
    def sort_keys(self) -> list[tuple[int, bool]]:
        """Every sort key, the header's first: (column, ascending)."""
        if self._sort_column < 0:
            return []
        ascending = self._sort_order == Qt.SortOrder.AscendingOrder
        return [(self._sort_column, ascending), *self._then]

    def _titles_changed(self) -> None:
        if self.columnCount():
            self.headerDataChanged.emit(_HORIZONTAL, 0, self.columnCount() - 1)

    @property
    def sort_column(self) -> int:
        return self._sort_column

    @property
    def sort_order(self) -> Qt.SortOrder:
        return self._sort_order

    def _set_order(self) -> None:
        """Sort by the current column: a whole-column sort the first time, then from memory.

        The last few orders are kept (one int64 per event each), so flipping the direction or
        going back to the previous column costs only the filter's pass over the order.
        """
        key = (self._sort_column, self._sort_order == Qt.SortOrder.AscendingOrder, *self._then)
        order = self._orders.get(key)
        if order is None:
            order = self._orders[key] = self._compute_order()
            order.flags.writeable = False
            if len(self._orders) > _KEPT_ORDERS:
                self._orders.popitem(last=False)
        else:
            self._orders.move_to_end(key)
        self._order = order
        self._in_frame_order = bool(
            len(order) == 0 or (order[0] == 0 and order[-1] == len(order) - 1 and _ascends(order))
        )

    def _compute_order(self) -> np.ndarray:
        n = len(self._df)
        if self._sort_column < 0 or n == 0:
            return np.arange(n, dtype=np.int64)
        keys = self.sort_keys
        if len(keys) == 1:
            return self._column_order(self._df, *keys[0])
        # Several keys: stable sorts from the last key to the first, each over the rows in the
        # order the previous one left (a tie on a key keeps the next key's order).
        order = np.arange(n, dtype=np.int64)
        for column, ascending in reversed(keys):
            order = order[self._column_order(self._df.take(order), column, ascending)]
        return order

    def _column_order(self, df: pd.DataFrame, column: int, ascending: bool) -> np.ndarray:
        """Row positions that sort ``df`` by one column (stable, missing values last)."""
        if column < len(BASE_COLUMNS):
            return sort_order(df, BASE_COLUMNS[column].key, ascending)
        values = extra_field_data(df, self._extra(column))
        if isinstance(values, list):
            return extra_sort_order(values, ascending)
        if pa.types.is_large_string(values.type):
            values = pc.utf8_lower(values)
        direction = "ascending" if ascending else "descending"
        indices = pc.sort_indices(values, sort_keys=[("", direction)])
        return indices.to_numpy().astype(np.int64, copy=False)

    # -- Qt model interface --------------------------------------------------------------------

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._visible)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(BASE_COLUMNS) + len(self._extras)

    def flags(self, index: QModelIndex | QPersistentModelIndex) -> Qt.ItemFlag:
        return _CELL_FLAGS if index.isValid() else Qt.ItemFlag.NoItemFlags

    def data(
        self,
        index: QModelIndex | QPersistentModelIndex,
        role: int = _DISPLAY,
    ) -> Any:
        # The view asks ~14 roles per painted cell; the unhandled ones must cost next to nothing.
        if role not in _ROLES or not index.isValid():
            return None
        row, column = index.row(), index.column()
        if role == _DISPLAY:
            return self._text(int(self._visible[row]), column)
        if role == HighlightRole:
            return None if column == COL_TIME else self._highlight
        if role == _TOOLTIP:
            return self._tooltip(int(self._visible[row]), column)
        if role == SortRole:
            return self._sort_value(int(self._visible[row]), column)
        if role == RecordRole:
            return self.record(row)
        if role == EventIndexRole:
            return int(self._visible[row])
        return None

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = _DISPLAY) -> Any:
        if orientation != _HORIZONTAL:
            return super().headerData(section, orientation, role)
        if not 0 <= section < self.columnCount():
            return None
        column = self.column(section)
        if role == _DISPLAY:
            title = column.title
            if section == COL_TIME:
                title = f"Time ({zone_name(self.display_timezone)})"
            for rank, (key, ascending) in enumerate(self._then, start=2):
                if key == section:  # a further sort key: its rank and direction
                    title += f"  {rank}{'▲' if ascending else '▼'}"
            return title
        if role == _TOOLTIP:
            if section == COL_TIME:
                tz = self.display_timezone
                zone = "UTC" if self._utc else f"{zone_name(tz)}: {zone_offsets(tz)}"
                return (
                    f"When the event happened, in {zone}. Each row's own offset is in its "
                    "tooltip. Click to sort; newest first by default."
                )
            return f"{column.tooltip} Click to sort."
        if role == Qt.ItemDataRole.InitialSortOrderRole and section == COL_TIME:
            return Qt.SortOrder.DescendingOrder
        return None

    # -- columns -------------------------------------------------------------------------------

    def column(self, section: int) -> Column:
        """The description of column ``section`` (base columns, then extra fields)."""
        if section < len(BASE_COLUMNS):
            return BASE_COLUMNS[section]
        return self._extras[section - len(BASE_COLUMNS)]

    def column_of(self, key: str) -> int | None:
        """The column showing frame column or extra field ``key``, if there is one."""
        for section in range(self.columnCount()):
            if self.column(section).key == key:
                return section
        return None

    def _discover_extras(self) -> list[Column]:
        """Extra fields seen in a sample of the raw JSON, most common first."""
        columns = []
        for extra in extra_fields(self._df):
            tooltip = f"Extra field '{extra.name}' from the event's JSON."
            columns.append(Column(extra.name, extra.name, "extra", True, tooltip, extra))
        return columns

    # -- time zone -----------------------------------------------------------------------------

    @property
    def display_timezone(self) -> tzinfo:
        """The zone the Time column shows: UTC, or the local/profile zone."""
        return UTC if self._utc else self._local_tz

    @property
    def is_utc(self) -> bool:
        return self._utc

    def set_utc(self, utc: bool) -> None:
        """Show times in UTC (True) or in the local zone (False); the header names the zone."""
        if utc != self._utc:
            self._utc = utc
            self._time_changed()

    def set_timezone(self, tz: tzinfo | None) -> None:
        """The zone shown when not in UTC (a profile's setting); None = the system's zone."""
        self._local_tz = tz if tz is not None else system_timezone()
        self._time_changed()

    def _time_changed(self) -> None:
        self._wall = None
        self._texts.pop(COL_TIME, None)
        self.headerDataChanged.emit(_HORIZONTAL, COL_TIME, COL_TIME)
        if self.rowCount():
            last = self.rowCount() - 1
            self.dataChanged.emit(self.index(0, COL_TIME), self.index(last, COL_TIME), [_DISPLAY])

    # -- highlight -----------------------------------------------------------------------------

    def set_highlight(self, terms: Iterable[str]) -> None:
        """Mark these words in the cells (the search's positive terms; empty: none)."""
        pattern = highlight_pattern(terms)
        if (pattern and pattern.pattern) == (self._highlight and self._highlight.pattern):
            return
        self._highlight = pattern
        if self.rowCount() and self.columnCount():
            bottom_right = self.index(self.rowCount() - 1, self.columnCount() - 1)
            self.dataChanged.emit(self.index(0, 0), bottom_right, [HighlightRole])

    # -- rows ----------------------------------------------------------------------------------

    def record_index(self, view_row: int) -> int:
        """The frame row shown at ``view_row``."""
        return int(self._visible[view_row])

    def view_row_of(self, record_index: int) -> int | None:
        """Where the frame row ``record_index`` is shown, or None when filtered out."""
        row = int(self._rows_of(np.array([record_index], np.int64))[0])
        return row if row >= 0 else None

    def view_row_of_id(self, event_id: str) -> int | None:
        """Where the event with this id is shown (to restore a selection), or None."""
        hits = np.flatnonzero((self._df["id"] == event_id).to_numpy(dtype=bool))
        return self.view_row_of(int(hits[0])) if len(hits) else None

    def created_at(self) -> np.ndarray:
        """The frame's ``created_at`` as datetime64[us] (UTC), one array per frame: the timeline
        recognises it and bins its times once per frame rather than once per keystroke."""
        if self._created is None:
            self._created = self._df["created_at"].to_numpy(dtype="datetime64[us]")
        return self._created

    @property
    def filter_mask(self) -> np.ndarray | None:
        """Which frame rows the filter lets through (None: all), read-only."""
        if self._mask is None:
            return None
        view = self._mask.view()
        view.flags.writeable = False
        return view

    def visible_indices(self) -> np.ndarray:
        """Frame row of every shown row, in shown order (a copy)."""
        return self._visible.copy()

    def visible_frame_chunks(self, chunk_size: int = 50_000) -> Iterator[pd.DataFrame]:
        """Exactly the shown rows in the shown order, as frames (for export, even in a thread).

        Frame and order are captured now, so later sorts or syncs do not change the export.
        """
        return take_chunks(self._df, self._visible.copy(), chunk_size)

    def record(self, view_row: int) -> dict[str, Any]:
        """The event at ``view_row``: frame columns, ``created_at`` an aware UTC datetime."""
        record = self.record_index(view_row)
        values: dict[str, Any] = {}
        for name in FRAME_COLUMNS:
            value = self._df[name].array[record]
            if name == "created_at":
                value = value.to_pydatetime().astimezone(UTC)
            values[name] = None if value is pd.NA else value
        return values

    # -- cell contents -------------------------------------------------------------------------

    def _text(self, record: int, column: int) -> str:
        if column >= len(BASE_COLUMNS):  # one JSON parse per row serves every extra column
            return format_extra(self._extras_of(record).get(self._extra(column).path))
        cache = self._texts.get(column)
        if cache is None:
            cache = self._texts[column] = _BlockCache(self._block_filler(column))
        return cache.get(record)

    def _block_filler(self, column: int) -> Callable[[int, int], list[str]]:
        if column == COL_TIME:
            return self._time_block
        values = _arrow(self._df[BASE_COLUMNS[column].key])
        if column == COL_DESCRIPTION:
            return lambda start, stop: [
                _one_line(text) for text in values.slice(start, stop - start).to_pylist()
            ]
        return lambda start, stop: [
            text or "" for text in values.slice(start, stop - start).to_pylist()
        ]

    def _time_block(self, start: int, stop: int) -> list[str]:
        if self._wall is None:
            # Wall-clock seconds in the shown zone for the whole column, once (DST-correct).
            times = self._df["created_at"].dt.tz_convert(self.display_timezone)
            self._wall = times.dt.tz_localize(None).to_numpy().astype("datetime64[s]")
        texts = [text.replace("T", " ") for text in np.datetime_as_string(self._wall[start:stop])]
        if "flags" in self._df.columns:  # the badge of a flagged event (see events.FLAGS)
            flags = _arrow(self._df["flags"]).slice(start, stop - start).to_pylist()
            texts = [f"{FLAG_BADGE} {t}" if f else t for t, f in zip(texts, flags, strict=True)]
        return texts

    def _flag_lines(self, record: int) -> list[str]:
        """What a flagged event's flags mean, a sentence each (none for most events)."""
        if "flags" not in self._df.columns:
            return []
        return flag_sentences(self._df["flags"].array[record])

    def _extras_of(self, record: int) -> dict[tuple[str, ...], Any]:
        parsed = self._parsed.get(record)
        if parsed is None:
            parsed = self._parsed[record] = extra_values(self._df["raw"].array[record])
            if len(self._parsed) > _MAX_PARSED:
                self._parsed.popitem(last=False)
        else:
            self._parsed.move_to_end(record)
        return parsed

    def _extra(self, column: int) -> ExtraField:
        extra = self._extras[column - len(BASE_COLUMNS)].extra
        assert extra is not None
        return extra

    def _sort_value(self, record: int, column: int) -> Any:
        if column == COL_TIME:
            when = self._df["created_at"].array[record].to_pydatetime()
            return (when - _EPOCH) // _MICROSECOND  # exact in any year, unlike nanoseconds
        if column >= len(BASE_COLUMNS):
            value = self._extras_of(record).get(self._extra(column).path)
            if isinstance(value, int) and not -(2**63) <= value < 2**63:
                return float(value)  # a QVariant holds at most 64 bits; order is what counts
            return value
        value = self._df[BASE_COLUMNS[column].key].array[record]
        return None if value is pd.NA else value

    def _tooltip(self, record: int, column: int) -> str | None:
        if column == COL_TIME:
            when = self._df["created_at"].array[record].to_pydatetime()
            shown = in_zone(when, self.display_timezone)
            millis = f"{when.microsecond // 1000:03d}"
            utc = format_timestamp(when)
            local = shown.strftime("%Y-%m-%d %H:%M:%S.") + millis + shown.strftime(" %Z (UTC%:z)")
            text = utc if self._utc else f"{local}\n{utc}"
            return text + "".join(f"\n{FLAG_BADGE} {line}" for line in self._flag_lines(record))
        if column == COL_USER:
            parts = [self._df[name].array[record] for name in ("user", "user_name", "user_email")]
            actor = self._df["actor_type"].array[record]
            lines = [p for p in dict.fromkeys(parts) if p is not pd.NA and p]
            return "\n".join([*lines, f"Actor: {actor}"])
        if column == COL_DESCRIPTION:
            text = self._df["description"].array[record]
            if not text:
                return None
            shown = html.escape(text[:_TOOLTIP_CHARS])
            more = len(text) - _TOOLTIP_CHARS
            tail = f"<br><i>… {more:,} more characters in the detail pane</i>" if more > 0 else ""
            return f"<p style='white-space:pre-wrap'>{shown}</p>{tail}"
        text = self._text(record, column)
        return text or None


def _arrow(series: pd.Series) -> pa.ChunkedArray:
    """The Arrow data behind a frame column (no copy for the frame's Arrow-backed strings)."""
    values = series.array.__arrow_array__()
    return values if isinstance(values, pa.ChunkedArray) else pa.chunked_array([values])


def _one_line(text: str) -> str:
    """A description as its cell shows it: a screenful of characters, line breaks as ⏎."""
    text = text[:_DISPLAY_CHARS]
    if "\n" in text or "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\n", _NEWLINE_MARK)
    return text


def _ascends(order: np.ndarray) -> bool:
    """Whether a permutation is the identity (it is, exactly when it only ever goes up by 1)."""
    return bool(np.all(order[1:] > order[:-1]))


def _checked_mask(mask: np.ndarray | None, rows: int) -> np.ndarray | None:
    if mask is None:
        return None
    mask = np.asarray(mask, dtype=bool)
    if mask.shape != (rows,):
        raise ValueError(f"mask has {mask.shape} entries, the frame {rows} rows")
    return mask


def _has_range_index(frame: pd.DataFrame) -> bool:
    index = frame.index
    return isinstance(index, pd.RangeIndex) and index.start == 0 and index.step == 1
