"""The events table: a view over :class:`EventTableModel` with the filter row in its header."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QAbstractItemView, QTableView, QWidget

from audit_viewer.ui.filter_header import FilterHeader
from audit_viewer.ui.highlight import HighlightDelegate
from audit_viewer.ui.table_model import EventTableModel


class EventsTable(QTableView):
    """Cells selectable one by one or by rows, pixel scrolling, one text line per row."""

    def __init__(self, model: EventTableModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("eventsTable")
        self.filter_header = FilterHeader(self)
        self.setHorizontalHeader(self.filter_header)
        self.setModel(model)
        self.setItemDelegate(HighlightDelegate(self))
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectItems)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.setHorizontalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.setWordWrap(False)
        self.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.setAlternatingRowColors(True)
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        # The arrows walk the cells; Tab goes on to the next control (the detail pane), so
        # one Tab order covers the search bar, the filters, the table and the pane.
        self.setTabKeyNavigation(False)
        rows = self.verticalHeader()
        rows.setSectionResizeMode(rows.ResizeMode.Fixed)
        rows.setDefaultSectionSize(self.fontMetrics().height() + 8)
        rows.setMinimumSectionSize(self.fontMetrics().height() + 4)

    def scroll_to_current(self) -> None:
        """Bring the current cell into view (after a sort or a filter moved it)."""
        current = self.currentIndex()
        if current.isValid():
            self.scrollTo(current, QAbstractItemView.ScrollHint.EnsureVisible)
