"""Reviewing rows: copy them (as TSV or CSV) and filter on a cell's exact value."""

from __future__ import annotations

import io
from datetime import timedelta

import numpy as np
import pandas as pd
from PySide6.QtCore import QModelIndex, QObject, QPoint, Qt, Signal
from PySide6.QtGui import QAction, QGuiApplication
from PySide6.QtWidgets import QMenu, QTableView

from audit_viewer.events import in_zone
from audit_viewer.export import write_csv
from audit_viewer.query import quote_value
from audit_viewer.ui.filter_header import FilterHeader
from audit_viewer.ui.table_model import COL_ACTION, COL_TIME, EventTableModel

#: The clipboard is for a handful of rows; larger selections belong in Save as CSV.
MAX_COPY_ROWS = 50_000


class ReviewController(QObject):
    """What Edit → Copy, Copy row as CSV and Filter on this value do to the table."""

    #: A passing message for the status bar.
    message = Signal(str, int)

    def __init__(self, table: QTableView, model: EventTableModel, header: FilterHeader) -> None:
        super().__init__(table)
        self._table, self._model, self._header = table, model, header

    def context_menu(self, pos: QPoint, actions: list[QAction | None]) -> None:
        """The table's right-click menu at ``pos`` (None: a separator)."""
        menu = QMenu(self._table)
        for action in actions:
            if action is None:
                menu.addSeparator()
            else:
                menu.addAction(action)
        menu.popup(self._table.viewport().mapToGlobal(pos))

    def visible_columns(self) -> list[int]:
        """Logical columns in the order shown, hidden ones left out."""
        header = self._header
        return [
            header.logicalIndex(v)
            for v in range(header.count())
            if not header.isSectionHidden(header.logicalIndex(v))
        ]

    def _selected_rows(self) -> list[int]:
        """Rows touched by the selection (from its ranges: cheap even after Ctrl+A)."""
        ranges = self._table.selectionModel().selection()
        rows = {r for rng in ranges for r in range(rng.top(), rng.bottom() + 1)}
        if not rows and self._table.currentIndex().isValid():
            rows = {self._table.currentIndex().row()}
        return sorted(rows)

    def _too_many(self, rows: list[int]) -> bool:
        if len(rows) <= MAX_COPY_ROWS:
            return False
        self.message.emit(
            f"{len(rows):,} rows selected: too many for the clipboard (at most "
            f"{MAX_COPY_ROWS:,}); use Save as CSV for large selections.",
            15_000,
        )
        return True

    def copy_selection(self) -> None:
        """Ctrl+C: the selected cells as TSV; with the header line when whole rows are selected."""
        focus = QGuiApplication.focusObject()
        if focus is not None and focus is not self._table and hasattr(focus, "copy"):
            focus.copy()  # a line edit or the raw JSON view: copy its own selection
            return
        selection = self._table.selectionModel()
        rows = sorted(
            {r for rng in selection.selection() for r in range(rng.top(), rng.bottom() + 1)}
        )
        if not rows or self._too_many(rows):
            return
        visible = self.visible_columns()
        whole_rows = all(selection.isRowSelected(r, QModelIndex()) for r in rows)
        if whole_rows:
            columns = visible
        else:
            chosen = {i.column() for i in selection.selectedIndexes()}
            columns = [c for c in visible if c in chosen]
        lines = ["\t".join(self._header_text(c) for c in columns)] if whole_rows else []
        for r in rows:
            cells = []
            for c in columns:
                index = self._model.index(r, c)
                selected = whole_rows or selection.isSelected(index)
                cells.append(_tsv_cell(index.data()) if selected else "")
            lines.append("\t".join(cells))
        QGuiApplication.clipboard().setText("\n".join(lines) + "\n")
        self.message.emit(f"Copied {len(rows):,} row(s)", 5000)

    def _header_text(self, column: int) -> str:
        return str(self._model.headerData(column, Qt.Orientation.Horizontal) or "")

    def copy_rows_as_csv(self) -> None:
        """The selected rows as CSV (the export's columns, quoting and formula guard)."""
        rows = self._selected_rows()
        if not rows or self._too_many(rows):
            return
        records = np.array([self._model.record_index(r) for r in rows], dtype=np.int64)
        buffer = io.StringIO()
        write_csv([self._model.frame.take(records)], buffer, formula_guard=True)
        QGuiApplication.clipboard().setText(buffer.getvalue())
        self.message.emit(f"Copied {len(rows):,} row(s) as CSV", 5000)

    def filter_on_current_value(self) -> None:
        """Set the current cell's column filter to the cell's whole, exact value."""
        index = self._table.currentIndex()
        if not index.isValid():
            return
        column = index.column()
        frame = self._model.frame
        record = self._model.record_index(index.row())
        if column == COL_TIME:
            tz = self._model.display_timezone
            moment = in_zone(frame["created_at"].iat[record].to_pydatetime(), tz)
            start = moment.replace(hour=0, minute=0, second=0, microsecond=0)
            self._header.set_filter(COL_TIME, (start, start + timedelta(days=1)))
        elif column == COL_ACTION:
            self._header.set_filter(COL_ACTION, [str(frame["action"].iat[record])])
        else:
            key = self._model.column(column).key
            if key in frame.columns:
                value = frame[key].iat[record]
                value = None if pd.isna(value) else str(value)
            else:  # an extra field: the text its cell shows is what its filter searches
                value = self._model.index(index.row(), column).data(Qt.ItemDataRole.DisplayRole)
            if value in (None, ""):
                return
            self._header.set_filter(column, "=" + quote_value(str(value)))


def _tsv_cell(value: object) -> str:
    """One TSV cell: tabs and newlines would break the grid, so they become spaces."""
    if value is None:
        return ""
    return str(value).replace("\t", " ").replace("\r\n", " ").replace("\n", " ").replace("\r", " ")
