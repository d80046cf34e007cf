"""The search bar, and the query line edit it shares with the column filters.

Filtering a million rows takes tens of milliseconds, so running it on every keystroke would make
typing stutter. :class:`QueryLineEdit` waits until the user pauses (a single-shot timer restarted
by each edit, like a throttle), then hands the text on. It does not parse it: the window's one
filter state (:class:`audit_viewer.filters.FilterState`) does, once, and the window renders the
parse error back here with :meth:`QueryLineEdit.show_error`: a red border, and the message with a
caret under the offending character in the tooltip.
"""

from __future__ import annotations

import html

from PySide6.QtCore import QEvent, Qt, QTimer, Signal
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import QLineEdit, QWidget

from audit_viewer.query import QueryError
from audit_viewer.ui.theme import error_color

#: Pause after the last keystroke before the query is applied.
DEBOUNCE_MS = 200

SEARCH_PLACEHOLDER = 'Search, e.g.  user:alice action:"ignored" -bot after:7d'
SEARCH_HELP = (
    "Words match anywhere (case-insensitive) and must all match.\n"
    '"a phrase"   -word excludes   a OR b   action:="Export SBOM" is the whole value\n'
    "user:  email:  name:  action:  description:  id:  actor:user|scm|system  flag:any\n"
    "target:bob@example.com  the value an action embeds (Removed user … from account)\n"
    "after:2026-11-01   before:2026-11-02T10:00   after:24h / 7d / 2w\n"
    "created:>=2026-11-01   created:<7d   created:2026-11-01..2026-11-07   created:2026-11-01\n"
    "Every extra field the platform sends is a qualifier too, e.g. ip_address:203.0.113.7\n"
    "Enter applies at once, Escape clears."
)


def error_tooltip(text: str, error: QueryError) -> str:
    """The error message with the query below it and a caret under the offending character."""
    caret = " " * min(max(error.position, 0), len(text)) + "^"
    return (
        f"<p>{html.escape(str(error))}</p><pre style='margin:0'>{html.escape(text)}\n{caret}</pre>"
    )


class QueryLineEdit(QLineEdit):
    """A line edit holding a query: debounced, and marked when the window says it is invalid."""

    #: The text, each time the user settles on a different one ("" when cleared).
    queryChanged = Signal(str)

    def __init__(self, parent: QWidget | None = None, *, help_text: str = "") -> None:
        super().__init__(parent)
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
    def error(self) -> QueryError | None:
        return self._error

    def apply(self) -> None:
        """Hand the text on now (no waiting), if it is not the one handed on last."""
        self._timer.stop()
        text = self.text()
        if text != self._applied:
            self._applied = text
            self.queryChanged.emit(text)

    def show_query(self, text: str, error: QueryError | None) -> None:
        """Render the filter state's text and its parse error, without emitting anything.

        The text is left alone when it already reads so, so the cursor does not jump while the
        user types; a pending debounce for another text is dropped (the state won).
        """
        if text != self.text():
            # Not with signals blocked: the line edit's own clear button follows textChanged,
            # and stayed shown on a filter emptied that way. The pause restarted by this
            # change is dropped, and the text counts as handed on, so nothing is emitted.
            self.setText(text)
            self._timer.stop()
        self._applied = text
        self.show_error(error)

    def show_error(self, error: QueryError | None) -> None:
        """Mark the field invalid (red border, message in the tooltip) or clear the mark."""
        self.setToolTip(error_tooltip(self.text(), error) if error is not None else self._help)
        if error == self._error:
            return
        self._error = error
        self._restyle()

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
