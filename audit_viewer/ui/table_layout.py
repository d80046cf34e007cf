"""The table's columns as the admin arranged them: order, widths, hidden ones and the sort."""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, QObject, Qt, QTimer
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMenu

from audit_viewer.ui.events_table import EventsTable
from audit_viewer.ui.filter_header import FilterHeader
from audit_viewer.ui.settings import ColumnState, TableState
from audit_viewer.ui.table_model import (
    COL_ACTION,
    COL_DESCRIPTION,
    COL_TIME,
    COL_USER,
    EventTableModel,
)

_DEFAULT_WIDTHS = {COL_TIME: 150, COL_USER: 200, COL_ACTION: 210, COL_DESCRIPTION: 240}


class TableLayout(QObject):
    """Resets, saves and restores the columns; extra-field columns a sync adds start hidden."""

    def __init__(self, table: EventsTable, model: EventTableModel, header: FilterHeader) -> None:
        super().__init__(table)
        self._table, self._model, self._header = table, model, header
        self._menu_source: QMenu | None = None
        model.columnsInserted.connect(self._hide_new_columns)
        header.thenSortRequested.connect(self.then_sort)
        # After the view has re-sorted (it reacts to the same signal), bring the selection back.
        header.sortIndicatorChanged.connect(
            lambda *_: QTimer.singleShot(0, table.scroll_to_current)
        )

    def sort_current(self, ascending: bool) -> None:
        """Sort by the current cell's column (the keyboard's way to click a header)."""
        column = self._table.currentIndex().column()
        if column >= 0:
            order = Qt.SortOrder.AscendingOrder if ascending else Qt.SortOrder.DescendingOrder
            self._table.sortByColumn(column, order)

    def then_sort_current(self) -> None:
        """Add the current cell's column as the next sort key (the keyboard's Shift+click)."""
        self.then_sort(self._table.currentIndex().column())

    def then_sort(self, column: int) -> None:
        """Sort by ``column`` next, keeping the current cell in view as a plain sort does."""
        if column >= 0:
            self._model.then_sort(column)
            self._table.scroll_to_current()

    def _key(self, column: int) -> str:
        return self._model.column(column).key

    def _hide_new_columns(self, _parent: QModelIndex, first: int, last: int) -> None:
        for column in range(first, last + 1):
            self._header.setSectionHidden(column, self._model.column(column).hidden)

    def fill_menu(self, menu: QMenu, reset: QAction) -> None:
        """View → Columns and the toolbar's Columns: the header's own show/hide menu."""
        self._menu_source = self._header.column_menu()  # owns the actions; keep it alive
        menu.clear()
        menu.addActions(self._menu_source.actions())
        menu.addSeparator()
        menu.addAction(reset)

    def reset(self) -> None:
        """Default widths/order/visibility: Time, User, Action, Description; newest first."""
        header = self._header
        for column in range(self._model.columnCount()):
            header.moveSection(header.visualIndex(column), column)
            header.setSectionHidden(column, self._model.column(column).hidden)
        for column, width in _DEFAULT_WIDTHS.items():
            header.resizeSection(column, width)
        self._table.sortByColumn(COL_TIME, Qt.SortOrder.DescendingOrder)

    def visible_count(self) -> int:
        return sum(not self._header.isSectionHidden(c) for c in range(self._header.count()))

    def apply(self, table: TableState) -> None:
        header = self._header
        keys = {self._key(c): c for c in range(self._model.columnCount())}
        ordered = sorted(
            (state.visual, keys[key], state) for key, state in table.columns.items() if key in keys
        )
        for visual, column, state in ordered:
            if visual < header.count():
                header.moveSection(header.visualIndex(column), visual)
            header.setSectionHidden(column, state.hidden)
            if state.width > 0:
                header.resizeSection(column, state.width)
        if self.visible_count() == 0:
            header.setSectionHidden(COL_TIME, False)
        if table.sort_column in keys:
            ascending = Qt.SortOrder.AscendingOrder
            order = ascending if table.sort_ascending else Qt.SortOrder.DescendingOrder
            self._table.sortByColumn(keys[table.sort_column], order)

    def state(self) -> TableState:
        header = self._header
        columns = {
            self._key(c): ColumnState(
                visual=header.visualIndex(c),
                width=header.sectionSize(c) if not header.isSectionHidden(c) else 0,
                hidden=header.isSectionHidden(c),
            )
            for c in range(self._model.columnCount())
        }
        sort_column = header.sortIndicatorSection()
        return TableState(
            columns=columns,
            sort_column=self._key(sort_column)
            if 0 <= sort_column < self._model.columnCount()
            else None,
            sort_ascending=header.sortIndicatorOrder() == Qt.SortOrder.AscendingOrder,
        )
