"""The search bar, and the query line edit it shares with the column filters.

Filtering a million rows takes tens of milliseconds, so running it on every keystroke would make
typing stutter. :class:`QueryLineEdit` waits until the user pauses (a single-shot timer restarted
by each edit, like a throttle), then parses the text with the core's query language and either
emits it or shows the parse error on the field itself: a red border, and the message with a caret
under the offending character in the tooltip. An invalid query is never emitted, so the table
keeps the last valid result while the user finishes typing.
"""

from __future__ import annotations

import html

from PySide6.QtCore import QEvent, Qt, QTimer, Signal
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import QLineEdit, QWidget

from audit_viewer.query import QueryError, parse_query
from audit_viewer.ui.theme import error_color

#: Pause after the last keystroke before the query is applied.
DEBOUNCE_MS = 200

SEARCH_PLACEHOLDER = 'Search, e.g.  user:alice action:"ignored" -bot after:7d'
SEARCH_HELP = (
    "Words match anywhere (case-insensitive) and must all match.\n"
    '"exact phrase"   -word excludes   a OR b\n'
    "user:  action:  description:  id:  actor:user|scm|system\n"
    "after:2026-11-01   before:2026-11-02T10:00   after:24h / 7d / 2w\n"
    "Enter applies at once, Escape clears."
)


def error_tooltip(text: str, error: QueryError) -> str:
    """The error message with the query below it and a caret under the offending character."""
    caret = " " * min(max(error.position, 0), len(text)) + "^"
    return (
        f"<p>{html.escape(str(error))}</p><pre style='margin:0'>{html.escape(text)}\n{caret}</pre>"
    )


class QueryLineEdit(QLineEdit):
    """A line edit holding a query: debounced, parsed, and marked when invalid.

    ``default_fields`` are the frame columns bare words search (``None``: the query language's
    defaults, as in the search bar; a column filter passes its own column).
    """

    #: The text, each time the user settles on a different valid query ("" when cleared).
    queryChanged = Signal(str)
    #: The parse error's message for an inline label ("" once the query is valid again).
    errorMessage = Signal(str)

    def __init__(
        self,
        parent: QWidget | None = None,
        *,
        default_fields: tuple[str, ...] | None = None,
        help_text: str = "",
    ) -> None:
        super().__init__(parent)
        self._default_fields = default_fields
        self._help = help_text
        self._applied = ""
        self._error: QueryError | None = None
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(DEBOUNCE_MS)
        self._timer.timeout.connect(self.apply)
        self.textChanged.connect(self._timer.start)
        self.returnPressed.connect(self.apply)
        self.setClearButtonEnabled(True)
        self.setToolTip(help_text)

    @property
    def applied_text(self) -> str:
        """The last text emitted through :attr:`queryChanged` (what currently filters)."""
        return self._applied

    @property
    def error(self) -> QueryError | None:
        return self._error

    def apply(self) -> None:
        """Parse now (no waiting): show the error, or emit the text if it is new."""
        self._timer.stop()
        text = self.text()
        parsed = parse_query(text, default_fields=self._default_fields) if text.strip() else None
        if isinstance(parsed, QueryError):
            self.show_error(parsed)
            return
        self.show_error(None)
        if text != self._applied:
            self._applied = text
            self.queryChanged.emit(text)

    def set_query(self, text: str) -> None:
        """Replace the text and apply it at once (e.g. "Filter on this value")."""
        self.setText(text)
        self.apply()

    def show_error(self, error: QueryError | None) -> None:
        """Mark the field invalid (red border, message in the tooltip) or clear the mark."""
        self.setToolTip(error_tooltip(self.text(), error) if error is not None else self._help)
        if error == self._error:
            return
        self._error = error
        self._restyle()
        self.errorMessage.emit(str(error) if error is not None else "")

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() == Qt.Key.Key_Escape and self.text():
            self.clear()
            self.apply()
            event.accept()
            return
        super().keyPressEvent(event)

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        if event.type() == QEvent.Type.PaletteChange:
            self._restyle()

    def _restyle(self) -> None:
        sheet = ""
        if self._error is not None:
            red = error_color(self.palette()).name()
            sheet = f"QLineEdit {{ border: 2px solid {red}; border-radius: 3px; padding: 0 2px; }}"
        if sheet != self.styleSheet():  # a new sheet re-polishes; never loop on PaletteChange
            self.setStyleSheet(sheet)


class SearchBar(QueryLineEdit):
    """The search field above the table (objectName ``searchBar``); Ctrl+F focuses it."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent, help_text=SEARCH_HELP)
        self.setObjectName("searchBar")
        self.setPlaceholderText(SEARCH_PLACEHOLDER)
