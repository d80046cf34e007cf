"""The detail pane follows the table's current row, and Enter on a row opens it."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QModelIndex, QObject, Qt
from PySide6.QtGui import QAction, QKeyEvent
from PySide6.QtWidgets import QTableView, QWidget

from audit_viewer.cache import CacheError
from audit_viewer.ui.detail_pane import DetailPane
from audit_viewer.ui.session import Session
from audit_viewer.ui.table_model import EventTableModel, RecordRole


class DetailController(QObject):
    """Shows the current row's whole event in the pane, or nothing when no row is current."""

    def __init__(
        self,
        table: QTableView,
        model: EventTableModel,
        detail: DetailPane,
        session: Session,
        show_pane: QAction,
    ) -> None:
        super().__init__(table)
        self._table, self._model, self._detail = table, model, detail
        self._session, self._show_pane = session, show_pane
        table.selectionModel().currentRowChanged.connect(self.show_row)
        table.installEventFilter(self)

    def show_row(self, current: QModelIndex, _previous: QModelIndex | None = None) -> None:
        record = current.data(RecordRole) if current.isValid() else None
        if record is not None:
            record["raw"] = self._event_json(record)
        self._detail.show_record(record, self._model.display_timezone)

    def refresh(self) -> None:
        """Show the current row again (the zone changed)."""
        self.show_row(self._table.currentIndex())

    def clear(self) -> None:
        self._detail.show_record(None, self._model.display_timezone)

    def follow(self) -> None:
        """After a filter pass: the current row's event, or nothing once the filter removed it."""
        current = self._table.currentIndex()
        shown = self._detail.record()
        if not current.isValid():
            if shown is not None:
                self.clear()
            return
        shown_id = self._model.frame["id"].array[self._model.record_index(current.row())]
        if shown is None or shown.get("id") != str(shown_id):
            self.show_row(current)

    def _event_json(self, record: dict[str, object]) -> object:
        """The event's whole JSON: frames loaded from SQLite carry only its extra fields, and
        the detail pane shows and copies the event as it arrived. Other caches' frames have it
        already, so moving through rows costs them no query."""
        store, name = self._session.store, self._session.profile_name
        if name is None or store.frames_hold_whole_json:
            return record["raw"]
        try:
            stored = store.event_json(name, str(record["id"]))
        except CacheError:
            stored = None
        return record["raw"] if stored is None else stored

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if (
            watched is self._table
            and event.type() == QEvent.Type.KeyPress
            and isinstance(event, QKeyEvent)
            and event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter)
            and self._table.currentIndex().isValid()
        ):
            if not self._detail.isVisible():
                self._show_pane.setChecked(True)
            text = self._detail.findChild(QWidget, "detailText")
            if text is not None:
                text.setFocus(Qt.FocusReason.ShortcutFocusReason)
            return True
        return super().eventFilter(watched, event)
